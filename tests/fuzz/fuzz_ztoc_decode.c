/* fuzz_ztoc_decode.c -- hostile ztocs and zinfo blobs
 *
 * Part A: the input is a ztoc.  ztoc_decode must refuse it or yield a ztoc
 * whose every field can be read; then zinfo_parse, the span math over all
 * spans, zinfo_check, a few ranges extracted through span_inflate (the
 * compressed bytes served from the input itself), and ztoc_encode: a decoded
 * ztoc must re-encode, decode to the same values and re-encode to the same
 * bytes.
 *
 * Part B: the same bytes describe a small zinfo directly (flags, archive
 * sizes, up to 7 checkpoint records with their windows), so the span math
 * and span_inflate see arbitrary checkpoints without 32 KiB per record of
 * fuzz input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extract.h"
#include "span_inflate.h"
#include "zinfo.h"
#include "ztoc.h"

#define FAIL(...)                                                                             \
    do {                                                                                      \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fputc('\n', stderr);                                                                  \
        abort();                                                                              \
    } while (0)

#define MAX_SPAN_WORK ((int64_t)1 << 20)  /* skip extraction of bigger spans */
#define MAX_SPAN_SCAN 4096                /* span math on this many spans at each end */

static volatile uint64_t sink;

static void touch(struct strv s)
{
    size_t i;
    uint64_t h = s.len;

    for (i = 0; i < s.len; i++)
        h = h * 31 + (uint8_t)s.ptr[i];
    sink += h;
}

static int strv_eq(struct strv a, struct strv b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* ---- extraction with the input as the layer ---- */

struct src {
    const uint8_t *data;
    size_t size;
};

/* byte k of the layer is data[k % size] (zeros for an empty input); copied
 * in runs, since spans of up to MAX_SPAN_WORK bytes come through here */
static int read_cyclic(void *ctx, int64_t off, size_t n, uint8_t *buf, struct error *err)
{
    const struct src *s = ctx;
    size_t at;

    (void)err;
    if (s->size == 0) {
        memset(buf, 0, n);
        return 0;
    }
    at = (size_t)((uint64_t)off % s->size);
    while (n > 0) {
        size_t k = s->size - at < n ? s->size - at : n;
        memcpy(buf, s->data + at, k);
        buf += k;
        n -= k;
        at = 0;
    }
    return 0;
}

static int write_sink(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    (void)ctx;
    (void)err;
    if (n > 0)
        sink += data[0] + data[n - 1] + n;
    return 0;
}

/* span math on span i, with the invariants zinfo_check promised */
static void span_math(const struct zinfo *zi, int32_t i, int checked)
{
    int64_t cs = zinfo_span_compressed_start(zi, i), ce = zinfo_span_compressed_end(zi, i);
    int64_t us = zinfo_span_uncompressed_start(zi, i), ue = zinfo_span_uncompressed_end(zi, i);
    uint8_t bits = zinfo_span_bits(zi, i);
    const uint8_t *w = zinfo_span_window(zi, i);

    sink += (uint64_t)(cs ^ ce ^ us ^ ue) + bits + w[0] + w[ZINFO_WINDOW_SIZE - 1];
    if (bits > 7)
        FAIL("span %d: %u bits", i, bits);
    if (!checked)
        return;
    if (cs < 0 || ce > zi->compressed_size || us < 0 || ue > zi->uncompressed_size || cs > ce || us > ue)
        FAIL("span %d escaped zinfo_check", i);
    if (zinfo_span_of(zi, us) != i && us < ue)
        FAIL("span_of(start of span %d) = %d", i, zinfo_span_of(zi, us));
    if (us < ue && zinfo_span_of(zi, ue - 1) != i)
        FAIL("span_of(end of span %d) = %d", i, zinfo_span_of(zi, ue - 1));
}

static void exercise_zinfo(const struct zinfo *zi, const struct ztoc *z, const uint8_t *data,
                           size_t size)
{
    struct error err;
    int32_t i, lo_end, hi_start;
    int checked;

    lo_end = zi->nspans < MAX_SPAN_SCAN ? zi->nspans : MAX_SPAN_SCAN;
    hi_start = zi->nspans - MAX_SPAN_SCAN > lo_end ? zi->nspans - MAX_SPAN_SCAN : lo_end;
    checked = zinfo_check(zi, z, &err) == 0;
    if (!checked && (err.msg[0] == '\0' || strchr(err.msg, '\n')))
        FAIL("bad zinfo_check message");
    for (i = 0; i < lo_end; i++)
        span_math(zi, i, checked);
    for (i = hi_start; i < zi->nspans; i++)
        span_math(zi, i, checked);
    sink += (uint64_t)zinfo_span_of(zi, -1) + (uint64_t)zinfo_span_of(zi, INT64_MAX) +
            (uint64_t)zinfo_span_of(zi, zi->uncompressed_size / 2);
    if (!checked || zi->nspans < 1)
        return;

    /* extract up to three spans' worth at a few places, when small */
    {
        struct src s = {data, size};
        struct extract_source src = {z, zi, read_cyclic, &s, 0};
        int32_t picks[3] = {0, zi->nspans / 2, zi->nspans - 1};
        int k;

        for (k = 0; k < 3; k++) {
            int32_t first = picks[k], last = first + 2 < zi->nspans ? first + 2 : zi->nspans - 1, j;
            int64_t off, len;
            int small = 1;

            for (j = first; j <= last; j++)
                small &= zinfo_span_compressed_end(zi, j) - zinfo_span_compressed_start(zi, j) <= MAX_SPAN_WORK &&
                         zinfo_span_uncompressed_end(zi, j) - zinfo_span_uncompressed_start(zi, j) <= MAX_SPAN_WORK;
            if (!small)
                continue;
            off = zinfo_span_uncompressed_start(zi, first);
            len = zinfo_span_uncompressed_end(zi, last) - off;
            src.verify = k == 1 && z->nspan_digests == (size_t)zi->nspans;
            if (extract_range(&src, off, len, write_sink, NULL, &err) != 0 &&
                (err.msg[0] == '\0' || strchr(err.msg, '\n')))
                FAIL("bad extract message");
            /* and one span straight through span_inflate */
            {
                struct span_inflater *si = span_inflater_new();
                int64_t cs = zinfo_span_compressed_start(zi, first), ce = zinfo_span_compressed_end(zi, first);
                int64_t us = zinfo_span_uncompressed_start(zi, first), ue = zinfo_span_uncompressed_end(zi, first);
                uint8_t *in = malloc((size_t)(ce - cs) + 1), *out = malloc((size_t)(ue - us) + 1);
                if (si == NULL || in == NULL || out == NULL)
                    abort();
                read_cyclic(&s, cs, (size_t)(ce - cs), in, &err);
                if (span_inflate(si, zi, first, first, in, (size_t)(ce - cs), out, (size_t)(ue - us), &err) == 0)
                    write_sink(NULL, out, (size_t)(ue - us), &err);
                /* out-of-range spans are refused, not read */
                if (span_inflate(si, zi, -1, first, in, (size_t)(ce - cs), out, (size_t)(ue - us), &err) == 0 ||
                    span_inflate(si, zi, first, zi->nspans, in, (size_t)(ce - cs), out, (size_t)(ue - us), &err) == 0)
                    FAIL("span_inflate accepted a span range outside the zinfo");
                span_inflater_free(si);
                free(in);
                free(out);
            }
        }
    }
}

/* ---- part A ---- */

static void same_ztoc(const struct ztoc *a, const struct ztoc *b)
{
    size_t i, j;

    if (!strv_eq(a->version, b->version) || !strv_eq(a->build_tool, b->build_tool) ||
        a->compressed_size != b->compressed_size || a->uncompressed_size != b->uncompressed_size ||
        a->nentries != b->nentries || a->algorithm != b->algorithm ||
        a->max_span_id != b->max_span_id || a->nspan_digests != b->nspan_digests ||
        !strv_eq(a->checkpoints, b->checkpoints))
        FAIL("round trip changed the ztoc header");
    for (i = 0; i < a->nspan_digests; i++)
        if (!strv_eq(a->span_digests[i], b->span_digests[i]))
            FAIL("round trip changed span digest %zu", i);
    for (i = 0; i < a->nentries; i++) {
        const struct ztoc_entry *x = &a->entries[i], *y = &b->entries[i];
        if (!strv_eq(x->name, y->name) || !strv_eq(x->type, y->type) ||
            !strv_eq(x->linkname, y->linkname) || !strv_eq(x->uname, y->uname) ||
            !strv_eq(x->gname, y->gname) || !strv_eq(x->mod_time, y->mod_time) ||
            x->offset != y->offset || x->size != y->size || x->mode != y->mode ||
            x->devmajor != y->devmajor || x->devminor != y->devminor || x->uid != y->uid ||
            x->gid != y->gid || x->npax != y->npax || x->tar_header_offset != y->tar_header_offset)
            FAIL("round trip changed entry %zu", i);
        for (j = 0; j < x->npax; j++)
            if (!strv_eq(x->pax[j].key, y->pax[j].key) || !strv_eq(x->pax[j].value, y->pax[j].value))
                FAIL("round trip changed PAX record %zu of entry %zu", j, i);
    }
}

static void part_a(const uint8_t *data, size_t size)
{
    struct ztoc z, z2;
    struct zinfo zi;
    struct error err;
    uint8_t *enc = NULL, *enc2 = NULL;
    size_t enc_len = 0, enc2_len = 0, i, j;
    int64_t prev = 0;

    err.msg[0] = '\0';
    if (ztoc_decode(data, size, &z, &err) != 0) {
        if (err.msg[0] == '\0' || strchr(err.msg, '\n'))
            FAIL("bad decode message");
        return;
    }
    touch(z.version);
    touch(z.build_tool);
    touch(z.checkpoints);
    if (z.compressed_size < 0 || z.uncompressed_size < 0 ||
        (z.algorithm != ZTOC_GZIP && z.algorithm != ZTOC_UNCOMPRESSED))
        FAIL("decode let through a bad header");
    for (i = 0; i < z.nspan_digests; i++)
        touch(z.span_digests[i]);
    for (i = 0; i < z.nentries; i++) {
        const struct ztoc_entry *e = &z.entries[i];
        touch(e->name);
        touch(e->type);
        touch(e->linkname);
        touch(e->uname);
        touch(e->gname);
        touch(e->mod_time);
        for (j = 0; j < e->npax; j++) {
            touch(e->pax[j].key);
            touch(e->pax[j].value);
        }
        sink += (uint64_t)(e->offset ^ e->size ^ e->mode ^ e->devmajor ^ e->devminor) + e->uid + e->gid;
        /* docs/format.md §1.5: sorted by offset, header offsets recomputed, no overlap */
        if (e->offset < prev || e->tar_header_offset > e->offset || e->size < 0)
            FAIL("decode let through entry %zu out of order", i);
        prev = e->offset;
    }

    if (zinfo_parse(&zi, &z, &err) == 0)
        exercise_zinfo(&zi, &z, data, size);
    else if (err.msg[0] == '\0' || strchr(err.msg, '\n'))
        FAIL("bad zinfo_parse message");

    if (ztoc_encode(&z, &enc, &enc_len, &err) == 0) {
        if (ztoc_decode(enc, enc_len, &z2, &err) != 0)
            FAIL("a re-encoded ztoc does not decode: %s", err.msg);
        same_ztoc(&z, &z2);
        if (ztoc_encode(&z2, &enc2, &enc2_len, &err) != 0)
            FAIL("second encode failed: %s", err.msg);
        if (enc_len != enc2_len || memcmp(enc, enc2, enc_len) != 0)
            FAIL("encode(decode(encode(z))) differs from encode(z)");
        ztoc_release(&z2);
        free(enc);
        free(enc2);
    }
    ztoc_release(&z);
}

/* ---- part B ---- */

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    while (n-- > 0)
        v = v << 8 | p[n];
    return v;
}

static void part_b(const uint8_t *data, size_t size)
{
    struct zinfo zi;
    struct ztoc z;
    struct strv digests[8];
    struct error err;
    uint8_t *blob, flags;
    size_t blob_len, i, need;
    int64_t csize, usize;
    int nrec;

    if (size < 29)
        return;
    flags = data[0];
    csize = (int64_t)le(data + 1, 8);
    usize = (int64_t)le(data + 9, 8);
    memset(&z, 0, sizeof(z));
    memset(digests, 0, sizeof(digests));
    if (flags & 1) {
        /* tar: a well-formed TarZinfo from two input numbers, or raw bytes */
        uint8_t tz[128];
        if (flags & 2) {
            /* span size: 4 bytes; tar size: 7 bytes */
            if (zinfo_tar_encode((int64_t)le(data + 17, 4), (int64_t)(le(data + 21, 8) >> 8), tz,
                                 sizeof(tz), &blob_len, &err) != 0)
                return;
            blob = tz;
        } else {
            blob = (uint8_t *)data + 17;
            blob_len = size - 17;
        }
        z.algorithm = ZTOC_UNCOMPRESSED;
        if (zinfo_parse_blob(&zi, ZTOC_UNCOMPRESSED, blob, blob_len, csize, usize, &err) != 0)
            return;
        z.max_span_id = (flags & 4) ? zi.nspans - 1 : (int32_t)le(data + 17, 4);
        z.nspan_digests = zi.nspans >= 0 && zi.nspans <= 8 ? (size_t)zi.nspans : 0;
        z.span_digests = digests;
        z.compressed_size = csize;
        z.uncompressed_size = usize;
        exercise_zinfo(&zi, &z, data, size);
        return;
    }

    /* gzip: header then records built from 17-byte input chunks */
    nrec = (flags >> 2) & 7;
    need = ZINFO_HEADER_SIZE + (size_t)nrec * ZINFO_RECORD_SIZE;
    blob = calloc(1, need + 1);
    if (blob == NULL)
        abort();
    memcpy(blob, data + 17, ZINFO_HEADER_SIZE);
    if (!(flags & 32)) /* a consistent count: v2, or v1 with one more */
        zinfo_gzip_put_header(blob, nrec + ((flags & 2) ? 1 : 0), (int64_t)le(data + 21, 8));
    for (i = 0; i < (size_t)nrec; i++) {
        uint8_t *r = blob + ZINFO_HEADER_SIZE + i * ZINFO_RECORD_SIZE;
        size_t src = 29 + i * 17, k;
        for (k = 0; k < 17; k++)
            r[k] = src + k < size ? data[src + k] : 0;
        if (flags & 64) { /* a window from the input: data[(7k + i) % size] */
            size_t at = i % size;
            for (k = 0; k < ZINFO_WINDOW_SIZE; k++) {
                r[17 + k] = data[at];
                for (at += 7; at >= size; at -= size) /* no division per byte */
                    ;
            }
        }
    }
    blob_len = need;
    if (zinfo_parse_blob(&zi, ZTOC_GZIP, blob, blob_len, csize, usize, &err) == 0) {
        z.algorithm = ZTOC_GZIP;
        z.max_span_id = (flags & 128) ? (int32_t)le(data + 17, 4) : zi.nspans - 1;
        z.nspan_digests = (size_t)zi.nspans;
        z.span_digests = digests;
        z.compressed_size = csize;
        z.uncompressed_size = usize;
        exercise_zinfo(&zi, &z, data, size);
    }
    free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    part_a(data, size);
    part_b(data, size);
    return 0;
}
