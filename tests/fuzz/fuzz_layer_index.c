/* fuzz_layer_index.c -- bytes through the whole layer indexer (threaded = 0)
 *
 * Input: 1 mode byte, 4 seed bytes (slicing, span size, gzip settings), then
 * the payload.  Modes:
 *   0  the payload is the layer, as is (gzip, tar or junk);
 *   1  the payload gzipped here, in 1-3 members with flushes: valid gzip, so
 *      any failure must come from the tar parser;
 *   2  as 1, then truncated or given a trailing byte: must fail.
 * Each layer is indexed twice, with zlib and (when built with ISA-L) with
 * ISA-L inflating (gzip_index.h): both must fail, or both give the same
 * ztoc bytes and result.
 * When a ztoc comes out, it must pass our own reader and checks, re-encode to
 * the same bytes, carry the right digests, find every entry's tar header in
 * the layer where it says, and every span must inflate from its checkpoint
 * to the bytes a plain inflate of the layer gives.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "digest.h"
#include "gzip_index.h"
#include "layer_index.h"
#include "sha256.h"
#include "span_inflate.h"
#include "zinfo.h"
#include "ztoc.h"

#define FAIL(...)                                                                             \
    do {                                                                                      \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fputc('\n', stderr);                                                                  \
        abort();                                                                              \
    } while (0)

static uint32_t next(uint32_t *r)
{
    *r ^= *r << 13;
    *r ^= *r >> 17;
    *r ^= *r << 5;
    return *r;
}

/* gzip the payload in 1 or up to 3 members, with Z_BLOCK / Z_FULL_FLUSH points */
static uint8_t *gzip_payload(const uint8_t *p, size_t n, uint32_t *seed, int single,
                             size_t *out_len)
{
    size_t cap = n * 2 + 4096, len = 0, from = 0;
    uint8_t *out = malloc(cap);
    int members = single ? 1 : 1 + (int)(next(seed) % 3), m;
    int level = (int)(next(seed) % 10);

    if (out == NULL)
        abort();
    for (m = 0; m < members; m++) {
        size_t to = m + 1 == members ? n : from + (n - from) * (next(seed) % 100) / 100;
        z_stream s;

        memset(&s, 0, sizeof(s));
        if (deflateInit2(&s, level, Z_DEFLATED, 31, 1 + (int)(next(seed) % 9), Z_DEFAULT_STRATEGY) != Z_OK)
            abort();
        while (1) {
            size_t piece = to - from;
            int flush = Z_FINISH;
            uint32_t r = next(seed);
            if ((r & 3) != 0 && piece > 1) {
                piece = 1 + (r >> 2) % piece;
                flush = (r & 3) == 1 ? Z_BLOCK : (r & 3) == 2 ? Z_FULL_FLUSH : Z_NO_FLUSH;
            }
            s.next_in = (Bytef *)p + from;
            s.avail_in = (uInt)piece;
            from += piece;
            if (from == to)
                flush = Z_FINISH;
            do {
                if (cap - len < 1024) {
                    cap *= 2;
                    out = realloc(out, cap);
                    if (out == NULL)
                        abort();
                }
                s.next_out = out + len;
                s.avail_out = (uInt)(cap - len);
                deflate(&s, flush);
                len = cap - s.avail_out;
            } while (s.avail_out == 0 || (flush == Z_FINISH && s.avail_in > 0));
            if (flush == Z_FINISH)
                break;
        }
        deflateEnd(&s);
    }
    *out_len = len;
    return out;
}

/* the uncompressed stream by plain zlib, all members; NULL when not gzip */
static uint8_t *inflate_all(const uint8_t *in, size_t n, size_t *out_len)
{
    size_t cap = 65536, len = 0;
    uint8_t *out = malloc(cap);
    z_stream s;
    int ret;

    memset(&s, 0, sizeof(s));
    if (out == NULL || inflateInit2(&s, 47) != Z_OK)
        abort();
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)n;
    for (;;) {
        if (cap - len < 65536) {
            cap *= 2;
            out = realloc(out, cap);
            if (out == NULL)
                abort();
        }
        s.next_out = out + len;
        s.avail_out = (uInt)(cap - len);
        ret = inflate(&s, Z_NO_FLUSH);
        len = cap - s.avail_out;
        if (ret == Z_STREAM_END) {
            if (s.avail_in == 0)
                break;
            inflateReset2(&s, 47);
            continue;
        }
        if (ret != Z_OK)
            FAIL("the indexer accepted a gzip stream zlib refuses");
    }
    inflateEnd(&s);
    *out_len = len;
    return out;
}

static void check_result(const uint8_t *layer, size_t n, const struct layer_index_result *res)
{
    struct ztoc z;
    struct zinfo zi;
    struct error err;
    uint8_t raw[32], *enc = NULL, *plain = NULL, *out = NULL;
    size_t enc_len = 0, plain_len;
    struct span_inflater *si;
    int32_t s;

    sha256_buf(layer, n, raw);
    if (memcmp(raw, res->blob_digest, 32) != 0 || res->blob_size != (int64_t)n)
        FAIL("blob digest or size wrong");
    sha256_buf(res->ztoc, res->ztoc_len, raw);
    if (memcmp(raw, res->ztoc_digest, 32) != 0)
        FAIL("ztoc digest wrong");
    if (ztoc_decode(res->ztoc, res->ztoc_len, &z, &err) != 0)
        FAIL("our own ztoc does not decode: %s", err.msg);
    if (zinfo_parse(&zi, &z, &err) != 0 || zinfo_check(&zi, &z, &err) != 0)
        FAIL("our own ztoc fails its checks: %s", err.msg);
    if (zi.nspans != res->nspans || z.nentries != res->nentries || z.algorithm != res->algorithm ||
        z.uncompressed_size != res->uncompressed_size)
        FAIL("result and ztoc disagree");
    /* decode then encode is the identity on what we write */
    if (ztoc_encode(&z, &enc, &enc_len, &err) != 0)
        FAIL("re-encoding failed: %s", err.msg);
    if (enc_len != res->ztoc_len || memcmp(enc, res->ztoc, enc_len) != 0)
        FAIL("re-encoding changed the bytes");
    free(enc);

    if (res->algorithm == ZTOC_GZIP) {
        plain = inflate_all(layer, n, &plain_len);
    } else {
        plain_len = n;
    }
    if ((uint64_t)res->uncompressed_size > plain_len)
        FAIL("uncompressed size %lld past the stream's %zu bytes", (long long)res->uncompressed_size,
             plain_len);
    /* every entry's tar header where the TOC puts it, as the mount checks */
    if (ztoc_check_headers(&z, 0, plain ? plain : layer, (size_t)res->uncompressed_size, &err) != 0)
        FAIL("our own ztoc does not match the layer's tar headers: %s", err.msg);
    si = span_inflater_new();
    out = malloc(plain_len + 1);
    if (si == NULL || out == NULL)
        abort();
    for (s = 0; s < zi.nspans; s++) {
        int64_t cs = zinfo_span_compressed_start(&zi, s), ce = zinfo_span_compressed_end(&zi, s);
        int64_t us = zinfo_span_uncompressed_start(&zi, s), ue = zinfo_span_uncompressed_end(&zi, s);
        char hex[DIGEST_STR_SIZE];

        sha256_buf(layer + cs, (size_t)(ce - cs), raw);
        digest_format(raw, hex);
        if (z.span_digests[s].len != 71 || memcmp(z.span_digests[s].ptr, hex, 71) != 0)
            FAIL("span %d digest wrong", s);
        if (span_inflate(si, &zi, s, s, layer + cs, (size_t)(ce - cs), out, (size_t)(ue - us), &err) != 0)
            FAIL("span %d does not inflate: %s", s, err.msg);
        if (memcmp(out, (plain ? plain : layer) + us, (size_t)(ue - us)) != 0)
            FAIL("span %d inflates to other bytes", s);
    }
    span_inflater_free(si);
    free(out);
    free(plain);
    ztoc_release(&z);
}

/* the layer through a fresh indexer in slices drawn from seed: 0 and res
 * filled, or -1 and err */
static int index_layer(const struct layer_index_opts *opts, const uint8_t *data, size_t n,
                       uint32_t seed, struct layer_index_result *res, struct error *err)
{
    struct layer_indexer *li;
    size_t pos = 0;
    int rc = 0;

    err->msg[0] = '\0';
    li = layer_indexer_new(opts, err);
    if (li == NULL)
        FAIL("layer_indexer_new: %s", err->msg);
    while (pos < n) {
        uint32_t r = next(&seed);
        size_t k = (r & 1) ? 1 + (r >> 1) % 64 : 1 + (r >> 1) % 20000;
        if (k > n - pos)
            k = n - pos;
        if (layer_indexer_feed(li, data + pos, k, err) != 0) {
            rc = -1;
            break;
        }
        pos += k;
    }
    if (rc == 0)
        rc = layer_indexer_finish(li, res, err);
    layer_indexer_free(li);
    return rc;
}

/* ISA-L's inflater (when built in) must agree with zlib's: the same
 * verdict, and on success the same ztoc and result */
static void compare_isal(const struct layer_index_opts *opts, const uint8_t *data, size_t n,
                         uint32_t seed, int rc, const struct layer_index_result *res,
                         const struct error *err)
{
    struct layer_index_result ires;
    struct error ierr;
    int irc;

    if (gzip_index_set_inflater("isal") != 0)
        return; /* built without ISA-L */
    irc = index_layer(opts, data, n, seed, &ires, &ierr);
    gzip_index_set_inflater("zlib");
    if (irc != rc)
        FAIL("zlib and isal disagree: zlib %s, isal %s", rc == 0 ? "indexed it" : err->msg,
             irc == 0 ? "indexed it" : ierr.msg);
    if (rc != 0)
        return; /* corrupt data: the message may differ inside a block */
    if (ires.ztoc_len != res->ztoc_len || memcmp(ires.ztoc, res->ztoc, res->ztoc_len) != 0 ||
        ires.nspans != res->nspans || ires.nentries != res->nentries ||
        ires.uncompressed_size != res->uncompressed_size || ires.algorithm != res->algorithm ||
        ires.xattr_free != res->xattr_free || memcmp(ires.blob_digest, res->blob_digest, 32) != 0)
        FAIL("zlib and isal give different ztocs (%zu and %zu bytes, %d and %d spans)",
             res->ztoc_len, ires.ztoc_len, (int)res->nspans, (int)ires.nspans);
    layer_index_result_free(&ires);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct layer_index_opts opts = {0, "fuzz", 0};
    struct layer_index_result res;
    struct error err;
    uint8_t *layer = NULL;
    size_t n;
    uint32_t seed;
    int mode, rc;

    if (size < 5)
        return 0;
    mode = data[0] % 3;
    memcpy(&seed, data + 1, 4);
    seed |= 1;
    data += 5;
    size -= 5;
    opts.span_size = 1 + (int64_t)(next(&seed) % 40000);

    if (mode == 0) {
        n = size;
    } else {
        /* one member when truncating: a cut between members is valid gzip */
        layer = gzip_payload(data, size, &seed, mode == 2, &n);
        if (mode == 2) {
            uint32_t r = next(&seed);
            if (r & 1)
                n = (r >> 1) % n; /* truncated: some bytes short */
            else
                layer[n++] = (uint8_t)(r >> 1); /* one byte of trailing garbage */
        }
        data = layer;
    }

    gzip_index_set_inflater("zlib");
    rc = index_layer(&opts, data, n, seed, &res, &err);
    compare_isal(&opts, data, n, seed, rc, &res, &err);
    if (rc == 0) {
        if (mode == 2)
            FAIL("a truncated or extended gzip stream was indexed");
        check_result(data, n, &res);
        layer_index_result_free(&res);
    } else {
        if (err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL)
            FAIL("bad error message \"%s\"", err.msg);
        /* only the message's own words: a quoted entry name is the
         * input's, and may say anything ("compressed byte" included) */
        if (mode == 1 && memmem(err.msg, strcspn(err.msg, "\""), "compressed byte", 15) != NULL)
            FAIL("valid gzip refused: %s", err.msg);
    }
    free(layer);
    return 0;
}
