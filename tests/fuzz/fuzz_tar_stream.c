/* fuzz_tar_stream.c -- arbitrary bytes into the tar push parser, in slices
 *
 * The first 4 bytes seed the slicing; the rest is the tar stream.  It is fed
 * twice: in randomly sized slices (1 byte .. several blocks) and in one piece.
 * The callback reads every field of every header and checks the invariants
 * the TOC builder relies on; both feedings must report the same entries, the
 * same end offset and the same error, since the parser claims to accept any
 * slicing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tar_stream.h"

struct seen {
    uint64_t hash;        /* FNV-1a over every field of every entry */
    size_t entries;
    int64_t last_data_end;   /* end of the previous entry's data */
    int64_t next_header_min; /* ... and of its padding */
};

static void mix(struct seen *s, const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        s->hash = (s->hash ^ b[i]) * 0x100000001b3ULL;
}

static void mix_strv(struct seen *s, struct strv v)
{
    if (v.len > 0 && v.ptr == NULL)
        abort();
    mix(s, &v.len, sizeof(v.len));
    mix(s, v.ptr, v.len);
}

static int on_entry(void *ctx, const struct tar_header *h, struct error *err)
{
    struct seen *s = ctx;
    size_t i;

    (void)err;
    mix_strv(s, h->name);
    mix_strv(s, h->linkname);
    mix_strv(s, h->uname);
    mix_strv(s, h->gname);
    mix(s, &h->typeflag, 1);
    mix(s, &h->size, sizeof(h->size));
    mix(s, &h->mode, sizeof(h->mode));
    mix(s, &h->uid, sizeof(h->uid));
    mix(s, &h->gid, sizeof(h->gid));
    mix(s, &h->mtime_sec, sizeof(h->mtime_sec));
    mix(s, &h->mtime_nsec, sizeof(h->mtime_nsec));
    mix(s, &h->devmajor, sizeof(h->devmajor));
    mix(s, &h->devminor, sizeof(h->devminor));
    mix(s, &h->header_offset, sizeof(h->header_offset));
    mix(s, &h->data_offset, sizeof(h->data_offset));
    for (i = 0; i < h->npax; i++) {
        mix_strv(s, h->pax[i].key);
        mix_strv(s, h->pax[i].value);
        /* keys non-empty, sorted and unique */
        if (h->pax[i].key.len == 0)
            abort();
        if (i > 0) {
            const struct strv *a = &h->pax[i - 1].key, *b = &h->pax[i].key;
            size_t n = a->len < b->len ? a->len : b->len;
            int d = memcmp(a->ptr, b->ptr, n);
            if (d > 0 || (d == 0 && a->len >= b->len))
                abort();
        }
    }
    /* the parser's promises: headers on block boundaries, data after its
     * header(s), entries in stream order, sizes non-negative */
    if (h->size < 0 || h->header_offset % 512 != 0 || h->data_offset % 512 != 0 ||
        h->data_offset < h->header_offset + 512 || h->header_offset < s->next_header_min)
        abort();
    if (h->mtime_nsec <= -1000000000 || h->mtime_nsec >= 1000000000)
        abort();
    {
        int header_only = h->typeflag >= '1' && h->typeflag <= '6';
        int64_t n = header_only ? 0 : h->size;
        if (n > INT64_MAX - 511 - h->data_offset)
            abort(); /* the parser refuses sizes it cannot skip */
        s->last_data_end = h->data_offset + n;
        s->next_header_min = h->data_offset + ((n + 511) & ~(int64_t)511);
    }
    s->entries++;
    return 0;
}

struct outcome {
    struct seen seen;
    int rc;
    int64_t end;
    char msg[ERROR_MSG_MAX];
};

static uint32_t next(uint32_t *r)
{
    *r ^= *r << 13;
    *r ^= *r >> 17;
    *r ^= *r << 5;
    return *r;
}

static void run(const uint8_t *data, size_t size, uint32_t seed, struct outcome *o)
{
    struct tar_stream *ts;
    struct error err;
    size_t pos = 0;

    memset(o, 0, sizeof(*o));
    o->seen.hash = 0xcbf29ce484222325ULL;
    ts = tar_stream_new(on_entry, &o->seen);
    if (ts == NULL)
        abort();
    err.msg[0] = '\0';
    while (pos < size) {
        size_t k = size - pos;
        if (seed) {
            uint32_t r = next(&seed);
            switch (r & 3) {
            case 0: k = 1 + (r >> 2) % 16; break;
            case 1: k = 1 + (r >> 2) % 700; break;
            case 2: k = 512; break;
            default: k = 1 + (r >> 2) % 4096; break;
            }
            if (k > size - pos)
                k = size - pos;
        }
        if (tar_stream_feed(ts, data + pos, k, &err) != 0) {
            o->rc = -1;
            break;
        }
        pos += k;
    }
    if (o->rc == 0 && tar_stream_finish(ts, &o->end, &err) != 0)
        o->rc = -2;
    if (o->rc == 0) {
        if (o->end < 0 || o->end > (int64_t)size || o->end < o->seen.last_data_end)
            abort();
        /* finished: more bytes change nothing once the end marker was seen */
        if (tar_stream_done(ts) && tar_stream_feed(ts, data, size, &err) != 0)
            abort();
    } else {
        /* every failure says something, on one line */
        if (err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL)
            abort();
    }
    snprintf(o->msg, sizeof(o->msg), "%s", o->rc ? err.msg : "");
    tar_stream_free(ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome a, b;
    uint32_t seed;

    if (size < 4)
        return 0;
    memcpy(&seed, data, 4);
    seed |= 1; /* xorshift needs a non-zero state */
    data += 4;
    size -= 4;

    run(data, size, seed, &a);
    run(data, size, 0, &b);
    if (a.rc != b.rc || a.seen.hash != b.seen.hash || a.seen.entries != b.seen.entries ||
        (a.rc == 0 && a.end != b.end) || strcmp(a.msg, b.msg) != 0) {
        fprintf(stderr, "slicing changed the outcome: rc %d/%d, %zu/%zu entries, end %lld/%lld\n  %s\n  %s\n",
                a.rc, b.rc, a.seen.entries, b.seen.entries, (long long)a.end, (long long)b.end,
                a.msg, b.msg);
        abort();
    }
    return 0;
}
