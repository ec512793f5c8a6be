/* fuzz_stream.c -- arbitrary bytes into the record stream reader
 *
 * The first byte chooses a split point; the bytes before it are handed to
 * the reader as already read (ztoc-gen's sniffed prefix), the rest come
 * from a memory file.  Every record returned must have its raw bytes
 * inside the input, and decoding the input in one piece must give the same
 * records and the same outcome: the frame scanner claims to resume at any
 * byte.  The reader allocates nothing a header merely declares, so
 * -rss_limit_mb catches a count that slips through.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stream_io.h"

struct outcome {
    uint64_t hash;
    size_t records;
    int last;
};

static void mix(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 0x100000001b3ULL;
}

static struct outcome run(const uint8_t *data, size_t size, size_t split)
{
    struct outcome o = {0xcbf29ce484222325ULL, 0, 0};
    struct stream_record *rec = malloc(sizeof(*rec));
    struct stream_reader *r;
    struct error err;
    int fd = memfd_create("fuzz", 0);

    if (fd < 0 || rec == NULL)
        abort();
    if (size > split && write(fd, data + split, size - split) != (ssize_t)(size - split))
        abort();
    lseek(fd, 0, SEEK_SET);
    r = stream_reader_new(fd, data, split);
    if (r == NULL)
        abort();
    while ((o.last = stream_read(r, rec, &err)) == 1) {
        const uint8_t *raw;
        size_t len;
        if (stream_reader_raw(r, &raw, &len, &err) != 0 || len == 0 || len > size)
            abort();
        if (rec->data_len > len || rec->manifest_data_len > len || rec->nexisting > STREAM_MAX_EXISTING)
            abort();
        mix(&o.hash, raw, len);
        mix(&o.hash, &rec->type, sizeof(rec->type));
        o.records++;
    }
    if (o.last < 0 && (err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL))
        abort();
    stream_reader_free(r);
    free(rec);
    close(fd);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome a, b;
    size_t split;

    if (size < 1)
        return 0;
    split = size > 1 ? data[0] % size : 0;
    a = run(data + 1, size - 1, split > size - 1 ? size - 1 : split);
    b = run(data + 1, size - 1, 0);
    if (a.hash != b.hash || a.records != b.records || a.last != b.last)
        abort();
    return 0;
}
