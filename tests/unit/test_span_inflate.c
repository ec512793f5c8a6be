/* test_span_inflate.c -- spans decompress from their checkpoints (docs/format.md §2.5)
 *
 * A tar built in memory is gzipped with zlib in several ways (levels, tiny
 * blocks, stored blocks, flushes that leave checkpoints inside a byte, a
 * header with FNAME/FEXTRA, several members), indexed with the layer indexer,
 * and then every span, and runs of spans, are inflated on their own from the
 * checkpoints and compared with the tar.  Span digests are checked against
 * the compressed bytes too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "digest.h"
#include "layer_index.h"
#include "sha256.h"
#include "span_inflate.h"
#include "tar_build.h"
#include "zinfo.h"
#include "ztoc.h"

/* ---- a small ustar writer ---- */

struct bytes {
    uint8_t *p;
    size_t len, cap;
};

static void grow(struct bytes *b, size_t more)
{
    if (b->len + more > b->cap) {
        b->cap = (b->len + more) * 2;
        b->p = realloc(b->p, b->cap);
    }
}

static void append(struct bytes *b, const void *p, size_t n)
{
    grow(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void tar_file(struct bytes *t, const char *name, const uint8_t *data, size_t n)
{
    uint8_t h[512];

    tar_build_header(h, name, n);
    append(t, h, 512);
    append(t, data, n);
    memset(h, 0, sizeof(h));
    append(t, h, (512 - n % 512) % 512);
}

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static struct bytes make_tar(void)
{
    static const char *words[] = {"layer ", "span ", "checkpoint ", "inflate ", "window ",
                                  "gzip\n", "tar ", "zran ", "soci ", "lazy "};
    struct bytes t = {0}, f = {0};
    uint8_t zero[1024] = {0};
    size_t i;

    /* compressible text */
    while (f.len < 200000) {
        const char *w = words[next_rand() % 10];
        append(&f, w, strlen(w));
    }
    tar_file(&t, "text.txt", f.p, f.len);
    /* incompressible bytes */
    f.len = 0;
    for (i = 0; i < 90000; i++) {
        uint8_t c = (uint8_t)next_rand();
        append(&f, &c, 1);
    }
    tar_file(&t, "random.bin", f.p, f.len);
    /* zeros, and an empty file */
    f.len = 0;
    grow(&f, 50000);
    memset(f.p, 0, 50000);
    f.len = 50000;
    tar_file(&t, "zeros", f.p, f.len);
    tar_file(&t, "empty", f.p, 0);
    /* more text, so late spans have long back-references */
    f.len = 0;
    while (f.len < 60000) {
        const char *w = words[next_rand() % 4];
        append(&f, w, strlen(w));
    }
    tar_file(&t, "tail.txt", f.p, f.len);
    append(&t, zero, sizeof(zero));
    free(f.p);
    return t;
}

/* ---- gzip with zlib ---- */

struct gz_opts {
    const char *what;
    int level, mem_level, strategy;
    size_t flush_every;     /* 0: no flushes */
    int with_header;        /* FNAME + FEXTRA */
    int members;            /* split into this many gzip members */
    int64_t span_size;
    int threaded;
};

static struct bytes gzip_layer(const struct bytes *tar, const struct gz_opts *o, size_t *starts)
{
    struct bytes out = {0};
    int m;

    for (m = 0; m < o->members; m++) {
        size_t from = tar->len * (size_t)m / (size_t)o->members + (m ? 777 : 0);
        size_t to = m + 1 == o->members ? tar->len : tar->len * (size_t)(m + 1) / (size_t)o->members + 777;
        size_t pos = from;
        z_stream s;
        gz_header head;
        int flip = 0;

        starts[m] = out.len;
        memset(&s, 0, sizeof(s));
        if (deflateInit2(&s, o->level, Z_DEFLATED, 31, o->mem_level, o->strategy) != Z_OK)
            abort();
        if (o->with_header) {
            memset(&head, 0, sizeof(head));
            head.name = (Bytef *)"layer.tar";
            head.extra = (Bytef *)"XYZW1234";
            head.extra_len = 8;
            head.hcrc = 1;
            deflateSetHeader(&s, &head);
        }
        while (1) {
            size_t piece = o->flush_every ? o->flush_every : to - pos;
            int flush;
            if (piece > to - pos)
                piece = to - pos;
            flush = pos + piece == to ? Z_FINISH : (flip ^= 1) ? Z_BLOCK : Z_FULL_FLUSH;
            s.next_in = tar->p + pos;
            s.avail_in = (uInt)piece;
            pos += piece;
            do {
                grow(&out, 65536);
                s.next_out = out.p + out.len;
                s.avail_out = 65536;
                deflate(&s, flush);
                out.len += 65536 - s.avail_out;
            } while (s.avail_out == 0 || (flush == Z_FINISH && s.avail_in > 0));
            if (flush == Z_FINISH)
                break;
        }
        deflateEnd(&s);
    }
    return out;
}

/* ---- the checks ---- */

static int bits_seen, member_crossings, runs_checked;

static void index_layer(const uint8_t *layer, size_t n, int64_t span_size, int threaded,
                        struct layer_index_result *res)
{
    struct layer_index_opts o = {span_size, "test", threaded};
    struct error err;
    struct layer_indexer *li = layer_indexer_new(&o, &err);
    size_t pos = 0, step = 1;

    CHECK(li != NULL);
    /* odd-sized pieces, to cross every internal boundary */
    while (pos < n) {
        size_t k = n - pos < step ? n - pos : step;
        CHECK_MSG(layer_indexer_feed(li, layer + pos, k, &err) == 0, "%s", err.msg);
        pos += k;
        step = step * 3 + 1;
        if (step > 100000)
            step = 5;
    }
    CHECK_MSG(layer_indexer_finish(li, res, &err) == 0, "%s", err.msg);
    layer_indexer_free(li);
}

static void verify(const char *what, const struct bytes *tar, const uint8_t *layer, size_t n,
                   const size_t *member_starts, int nmembers, int64_t span_size, int threaded,
                   int algorithm)
{
    struct layer_index_result res;
    struct ztoc z;
    struct zinfo zi;
    struct error err;
    struct span_inflater *si = span_inflater_new();
    uint8_t *out = malloc(tar->len + 1);
    int32_t s, k;
    uint8_t raw[32];

    index_layer(layer, n, span_size, threaded, &res);
    if (check_failures)
        return;
    CHECK(res.algorithm == algorithm && res.blob_size == (int64_t)n && res.nentries == 5);
    CHECK(res.uncompressed_size == (int64_t)tar->len);
    sha256_buf(layer, n, raw);
    CHECK(memcmp(raw, res.blob_digest, 32) == 0);
    CHECK_MSG(ztoc_decode(res.ztoc, res.ztoc_len, &z, &err) == 0, "%s", err.msg);
    CHECK_MSG(zinfo_parse(&zi, &z, &err) == 0 && zinfo_check(&zi, &z, &err) == 0, "%s", err.msg);
    CHECK(zi.nspans == res.nspans && zi.nspans > 3);
    printf("%s: %zu -> %zu bytes, %d spans\n", what, tar->len, n, zi.nspans);

    for (s = 0; s < zi.nspans; s++) {
        int64_t cs = zinfo_span_compressed_start(&zi, s), ce = zinfo_span_compressed_end(&zi, s);
        int64_t us = zinfo_span_uncompressed_start(&zi, s), ue = zinfo_span_uncompressed_end(&zi, s);
        char hex[DIGEST_STR_SIZE];
        int m;

        sha256_buf(layer + cs, (size_t)(ce - cs), raw);
        digest_format(raw, hex);
        CHECK_MSG(z.span_digests[s].len == 71 && memcmp(z.span_digests[s].ptr, hex, 71) == 0,
                  "%s: span %d digest", what, s);
        CHECK_MSG(span_inflate(si, &zi, s, s, layer + cs, (size_t)(ce - cs), out, (size_t)(ue - us), &err) == 0,
                  "%s: span %d: %s", what, s, err.msg);
        CHECK_MSG(memcmp(out, tar->p + us, (size_t)(ue - us)) == 0, "%s: span %d differs", what, s);
        if (zinfo_span_bits(&zi, s))
            bits_seen++;
        for (m = 1; m < nmembers; m++)
            if (s + 1 < zi.nspans && cs < (int64_t)member_starts[m] && (int64_t)member_starts[m] < ce)
                member_crossings++;
    }
    /* runs of spans from one checkpoint: 2, 3 and all of them */
    for (k = 2; k <= 4; k++) {
        int32_t len = k == 4 ? zi.nspans : k;
        for (s = 0; s + len <= zi.nspans; s += (k == 4 ? 1 : len)) {
            int32_t last = s + len - 1;
            int64_t cs = zinfo_span_compressed_start(&zi, s), ce = zinfo_span_compressed_end(&zi, last);
            int64_t us = zinfo_span_uncompressed_start(&zi, s), ue = zinfo_span_uncompressed_end(&zi, last);
            CHECK_MSG(span_inflate(si, &zi, s, last, layer + cs, (size_t)(ce - cs), out, (size_t)(ue - us), &err) == 0,
                      "%s: spans %d..%d: %s", what, s, last, err.msg);
            CHECK_MSG(memcmp(out, tar->p + us, (size_t)(ue - us)) == 0, "%s: spans %d..%d differ", what, s, last);
            runs_checked++;
        }
    }

    /* misuse is refused */
    {
        int64_t cs = zinfo_span_compressed_start(&zi, 1), ce = zinfo_span_compressed_end(&zi, 1);
        int64_t us = zinfo_span_uncompressed_start(&zi, 1), ue = zinfo_span_uncompressed_end(&zi, 1);
        CHECK(span_inflate(si, &zi, 1, 1, layer + cs, (size_t)(ce - cs) - 1, out, (size_t)(ue - us), &err) != 0);
        CHECK(span_inflate(si, &zi, 1, 1, layer + cs, (size_t)(ce - cs), out, (size_t)(ue - us) + 1, &err) != 0);
        CHECK(span_inflate(si, &zi, -1, 1, layer, n, out, tar->len, &err) != 0);
        CHECK(span_inflate(si, &zi, 2, 1, layer, n, out, tar->len, &err) != 0);
        CHECK(span_inflate(si, &zi, 0, zi.nspans, layer, n, out, tar->len, &err) != 0);
        CHECK(span_inflate(si, &zi, INT32_MIN, INT32_MAX, layer, n, out, tar->len, &err) != 0);
        /* corrupt compressed bytes: an error or different bytes, never a crash */
        if (algorithm == ZTOC_GZIP) {
            uint8_t *bad = malloc((size_t)(ce - cs));
            memcpy(bad, layer + cs, (size_t)(ce - cs));
            memset(bad + (ce - cs) / 2, 0xff, (size_t)(ce - cs) / 4);
            if (span_inflate(si, &zi, 1, 1, bad, (size_t)(ce - cs), out, (size_t)(ue - us), &err) == 0)
                CHECK(memcmp(out, tar->p + us, (size_t)(ue - us)) != 0);
            free(bad);
        }
        /* and the inflater still works afterwards */
        CHECK(span_inflate(si, &zi, 1, 1, layer + cs, (size_t)(ce - cs), out, (size_t)(ue - us), &err) == 0 &&
              memcmp(out, tar->p + us, (size_t)(ue - us)) == 0);
    }
    ztoc_release(&z);
    layer_index_result_free(&res);
    span_inflater_free(si);
    free(out);
}

/* a tar zinfo claiming more uncompressed bytes than the layer has must not
 * make span_inflate read past its input */
static void tar_overclaim(void)
{
    uint8_t blob[128], in[1000] = {0}, out[2000];
    size_t len;
    struct zinfo zi;
    struct error err;
    struct span_inflater *si = span_inflater_new();

    CHECK(zinfo_tar_encode(65536, 1000, blob, sizeof(blob), &len, &err) == 0);
    CHECK(zinfo_parse_blob(&zi, ZTOC_UNCOMPRESSED, blob, len, 1000, 2000, &err) == 0);
    CHECK(span_inflate(si, &zi, 0, 0, in, sizeof(in), out, sizeof(out), &err) != 0);
    CHECK(zinfo_parse_blob(&zi, ZTOC_UNCOMPRESSED, blob, len, 1000, 900, &err) == 0);
    CHECK(span_inflate(si, &zi, 0, 0, in, sizeof(in), out, 900, &err) == 0);
    span_inflater_free(si);
}

int main(void)
{
    static const struct gz_opts variants[] = {
        {"gzip -6", 6, 8, Z_DEFAULT_STRATEGY, 0, 0, 1, 16384, 0},
        {"gzip -1, tiny blocks", 1, 1, Z_DEFAULT_STRATEGY, 0, 0, 1, 8192, 1},
        {"gzip -9, 3 members", 9, 8, Z_DEFAULT_STRATEGY, 0, 0, 3, 16384, 1},
        {"gzip -6, 7 members, small spans", 6, 8, Z_DEFAULT_STRATEGY, 0, 0, 7, 4096, 0},
        {"stored blocks", 0, 8, Z_DEFAULT_STRATEGY, 0, 0, 1, 16384, 0},
        {"huffman only", 6, 8, Z_HUFFMAN_ONLY, 0, 0, 1, 16384, 1},
        {"fixed codes", 6, 8, Z_FIXED, 0, 0, 1, 32768, 0},
        {"flushes mid-byte and aligned", 6, 8, Z_DEFAULT_STRATEGY, 3001, 0, 1, 2048, 0},
        {"FNAME+FEXTRA+FHCRC, 2 members", 6, 8, Z_DEFAULT_STRATEGY, 20000, 1, 2, 16384, 1},
        {"span 1 byte", 6, 9, Z_DEFAULT_STRATEGY, 50000, 0, 2, 1, 0},
    };
    struct bytes tar = make_tar();
    size_t i, starts[8];

    for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        const struct gz_opts *o = &variants[i];
        struct bytes gz = gzip_layer(&tar, o, starts);
        verify(o->what, &tar, gz.p, gz.len, starts, o->members, o->span_size, o->threaded, ZTOC_GZIP);
        free(gz.p);
    }
    /* an uncompressed tar layer: spans are slices */
    verify("plain tar", &tar, tar.p, tar.len, starts, 1, 65536, 0, ZTOC_UNCOMPRESSED);
    verify("plain tar, odd span", &tar, tar.p, tar.len, starts, 1, 10007, 1, ZTOC_UNCOMPRESSED);
    tar_overclaim();

    printf("%d checkpoints inside a byte, %d spans across a member boundary, %d runs\n", bits_seen,
           member_crossings, runs_checked);
    CHECK(bits_seen > 0);
    CHECK(member_crossings > 0);
    free(tar.p);
    return check_exit();
}
