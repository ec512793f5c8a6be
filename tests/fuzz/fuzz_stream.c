/* fuzz_stream.c -- arbitrary bytes into the record stream reader
 *
 * The first byte chooses a split point; the bytes before it are handed to
 * the reader as already read (ztoc-gen's sniffed prefix), the rest come
 * from a memory file in small reads (the fuzz build's STREAM_READ_CHUNK).
 * Every record returned must have its raw bytes inside the input, and the
 * buffer decoder given the whole input at once, with no refill, must give
 * the same records and the same outcome: the frame scanner claims to
 * resume at any byte.  The reader allocates nothing a header merely
 * declares, so -rss_limit_mb catches a count that slips through.  (The
 * one-piece run takes no system call: those cost microseconds each here.)
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

/* the lengths a decoded record gives lie within its bytes; only the part of
 * its own type is filled, so only that part is looked at */
static int fields_inside(const struct stream_record *rec, size_t len)
{
    switch (rec->type) {
    case REC_IMAGE: return rec->image.manifest_data_len <= len;
    case REC_LAYER: return rec->layer.nexisting <= STREAM_MAX_EXISTING;
    case REC_CHUNK: return rec->chunk.data_len <= len;
    case REC_ZTOC: return rec->ztoc.data_len <= len;
    default: return 1;
    }
}

typedef int (*next_fn)(void *src, struct stream_record *rec, struct error *err);
typedef int (*raw_fn)(void *src, const uint8_t **raw, size_t *len, struct error *err);

/* every record of src, each checked (its raw bytes a piece of the input)
 * and hashed; the outcome */
static struct outcome drain(void *src, next_fn next, raw_fn raw, size_t size)
{
    struct outcome o = {0xcbf29ce484222325ULL, 0, 0};
    struct stream_record *rec = malloc(sizeof(*rec));
    struct error err;

    if (rec == NULL)
        abort();
    while ((o.last = next(src, rec, &err)) == 1) {
        const uint8_t *p;
        size_t len;
        if (raw(src, &p, &len, &err) != 0 || len == 0 || len > size)
            abort();
        if (!fields_inside(rec, len))
            abort();
        mix(&o.hash, p, len);
        mix(&o.hash, &rec->type, sizeof(rec->type));
        o.records++;
    }
    if (o.last < 0 && (err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL))
        abort();
    free(rec);
    return o;
}

static int fd_next(void *r, struct stream_record *rec, struct error *err) { return stream_read(r, rec, err); }
static int fd_raw(void *r, const uint8_t **raw, size_t *len, struct error *err)
{
    return stream_reader_raw(r, raw, len, err);
}
static int dec_next(void *d, struct stream_record *rec, struct error *err)
{
    return stream_decoder_next(d, rec, err);
}
static int dec_raw(void *d, const uint8_t **raw, size_t *len, struct error *err)
{
    return stream_decoder_raw(d, raw, len, err);
}

/* through lib/stream_io: data[0, split) as the sniffed prefix, the rest
 * read from a memfd */
static struct outcome run_fd(const uint8_t *data, size_t size, size_t split)
{
    struct stream_reader *r;
    struct outcome o;
    int fd = memfd_create("fuzz", 0);

    if (fd < 0)
        abort();
    if (size > split && write(fd, data + split, size - split) != (ssize_t)(size - split))
        abort();
    lseek(fd, 0, SEEK_SET);
    r = stream_reader_new(fd, data, split);
    if (r == NULL)
        abort();
    o = drain(r, fd_next, fd_raw, size);
    stream_reader_free(r);
    close(fd);
    return o;
}

/* the buffer decoder with the whole input and its end at once */
static struct outcome run_whole(const uint8_t *data, size_t size)
{
    struct stream_decoder *d = stream_decoder_new(data, size);
    struct outcome o;

    if (d == NULL)
        abort();
    stream_decoder_end(d);
    o = drain(d, dec_next, dec_raw, size);
    stream_decoder_free(d);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome a, b;
    size_t split;

    if (size < 1)
        return 0;
    split = size > 1 ? data[0] % size : 0;
    a = run_fd(data + 1, size - 1, split > size - 1 ? size - 1 : split);
    b = run_whole(data + 1, size - 1);
    if (a.hash != b.hash || a.records != b.records || a.last != b.last)
        abort();
    return 0;
}
