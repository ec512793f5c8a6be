/* test_zinfo.c -- checkpoint blobs and span math (docs/format.md §2): upstream's
 * gzip_zinfo_test edge cases, v1/v2 detection, span offsets with leftover bits,
 * the snapshotter's consistency checks, and tar zinfo span counts */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "zinfo.h"
#include "ztoc.h"

static struct error err;

/* a gzip blob of n stored records with the header claiming `claimed` */
static uint8_t *gzip_blob(int32_t claimed, int nrec, const int64_t *in, const int64_t *out,
                          const uint8_t *bits, size_t *len)
{
    uint8_t *b = calloc(1, ZINFO_HEADER_SIZE + (size_t)nrec * ZINFO_RECORD_SIZE + 1);
    uint8_t window[ZINFO_WINDOW_SIZE];
    int i;

    zinfo_gzip_put_header(b, claimed, 65536);
    for (i = 0; i < nrec; i++) {
        memset(window, 'a' + i, sizeof(window));
        zinfo_gzip_put_record(b + ZINFO_HEADER_SIZE + (size_t)i * ZINFO_RECORD_SIZE, in[i], out[i],
                              bits[i], window);
    }
    *len = ZINFO_HEADER_SIZE + (size_t)nrec * ZINFO_RECORD_SIZE;
    return b;
}

static int parse_hex(const char *hex, uint8_t *out)
{
    int n = 0;

    while (hex[0] && hex[1]) {
        if (hex[0] == ' ') {
            hex++;
            continue;
        }
        out[n++] = (uint8_t)strtol((char[]){hex[0], hex[1], 0}, NULL, 16);
        hex += 2;
    }
    return n;
}

static void upstream_edge_cases(void)
{
    struct zinfo zi;
    uint8_t b[64];
    int n;

    /* empty and short blobs */
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, (const uint8_t *)"", 0, 0, 0, &err) != 0);
    CHECK(strstr(err.msg, "shorter than its header") != NULL);
    n = parse_hex("00000000 00000000 0000", b);
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, (size_t)n, 0, 0, &err) != 0);

    /* a header claiming 255 checkpoints with no data */
    n = parse_hex("ff000000 0000000000000000", b);
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, (size_t)n, 100, 100, &err) != 0);
    CHECK(strstr(err.msg, "255 checkpoints") != NULL);

    /* zero checkpoints: valid v2 */
    n = parse_hex("00000000 0000000000000000", b);
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, (size_t)n, 100, 100, &err) == 0);
    CHECK(zi.nspans == 0 && zi.version == 2);

    /* one checkpoint, no record: v1, checkpoint 0 synthesised at in=10 */
    n = parse_hex("01000000 0000000000000000", b);
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, (size_t)n, 100, 200, &err) == 0);
    CHECK(zi.nspans == 1 && zi.version == 1);
    CHECK(zinfo_span_compressed_start(&zi, 0) == 10);
    CHECK(zinfo_span_compressed_end(&zi, 0) == 100);
    CHECK(zinfo_span_uncompressed_start(&zi, 0) == 0);
    CHECK(zinfo_span_uncompressed_end(&zi, 0) == 200);
    CHECK(zinfo_span_bits(&zi, 0) == 0);
    {
        const uint8_t *w = zinfo_span_window(&zi, 0);
        int i, zero = 1;
        for (i = 0; i < ZINFO_WINDOW_SIZE; i++)
            zero &= w[i] == 0;
        CHECK(zero);
    }

    /* a negative count, and a length one byte off */
    n = parse_hex("ffffffff 0000000000000000", b);
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, (size_t)n, 0, 0, &err) != 0);
    n = parse_hex("00000000 0000000000000000 00", b);
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, (size_t)n, 0, 0, &err) != 0);

    /* an algorithm we do not know */
    n = parse_hex("00000000 0000000000000000", b);
    CHECK(zinfo_parse_blob(&zi, 3, b, (size_t)n, 0, 0, &err) != 0);
    CHECK(strstr(err.msg, "unexpected compression algorithm") != NULL);
}

static void versions(void)
{
    int64_t in[3] = {10, 100, 200}, out[3] = {0, 5000, 9000};
    uint8_t bits[3] = {0, 3, 0};
    struct zinfo zi;
    uint8_t *b;
    size_t len;

    /* three records, header says 3: v2 */
    b = gzip_blob(3, 3, in, out, bits, &len);
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, len, 300, 12000, &err) == 0);
    CHECK(zi.version == 2 && zi.nspans == 3 && zi.span_size == 65536);
    free(b);

    /* two records, header says 3: v1 (record 0 omitted) */
    b = gzip_blob(3, 2, in + 1, out + 1, bits + 1, &len);
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, len, 300, 12000, &err) == 0);
    CHECK(zi.version == 1 && zi.nspans == 3);
    CHECK(zinfo_span_compressed_start(&zi, 0) == 10);
    CHECK(zinfo_span_compressed_start(&zi, 1) == 99);
    CHECK(zinfo_span_uncompressed_start(&zi, 2) == 9000);
    CHECK(zinfo_span_window(&zi, 1)[0] == 'a' && zinfo_span_window(&zi, 2)[ZINFO_WINDOW_SIZE - 1] == 'b');
    free(b);

    /* one record, header says 3: neither */
    b = gzip_blob(3, 1, in, out, bits, &len);
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, len, 300, 12000, &err) != 0);
    free(b);

    /* records out of range are refused at parse time */
    {
        int64_t bad_in[2] = {10, -5}, bad_out[2] = {0, 100};
        uint8_t ok_bits[2] = {0, 1}, bad_bits[2] = {0, 8};
        b = gzip_blob(2, 2, bad_in, bad_out, ok_bits, &len);
        CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, len, 300, 12000, &err) != 0);
        free(b);
        b = gzip_blob(2, 2, in, out, bad_bits, &len);
        CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, len, 300, 12000, &err) != 0);
        free(b);
    }
    /* negative archive sizes */
    b = gzip_blob(3, 3, in, out, bits, &len);
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, len, -1, 12000, &err) != 0);
    free(b);
}

static void fake_ztoc(struct ztoc *z, int32_t max_span_id, size_t ndigests)
{
    static struct strv digests[8];

    memset(z, 0, sizeof(*z));
    z->max_span_id = max_span_id;
    z->nspan_digests = ndigests;
    z->span_digests = digests;
}

static void span_math(void)
{
    int64_t in[3] = {10, 100, 200}, out[3] = {0, 5000, 9000};
    uint8_t bits[3] = {0, 3, 0};
    struct zinfo zi;
    struct ztoc z;
    uint8_t *b;
    size_t len;

    b = gzip_blob(3, 3, in, out, bits, &len);
    CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, len, 300, 12000, &err) == 0);

    /* §2.3: a checkpoint with leftover bits starts one byte early, and the
     * previous span still ends at `in` (the byte is shared) */
    CHECK(zinfo_span_compressed_start(&zi, 0) == 10);
    CHECK(zinfo_span_compressed_end(&zi, 0) == 100);
    CHECK(zinfo_span_compressed_start(&zi, 1) == 99);
    CHECK(zinfo_span_compressed_end(&zi, 1) == 200);
    CHECK(zinfo_span_compressed_start(&zi, 2) == 200);
    CHECK(zinfo_span_compressed_end(&zi, 2) == 300);
    CHECK(zinfo_span_uncompressed_start(&zi, 0) == 0);
    CHECK(zinfo_span_uncompressed_end(&zi, 0) == 5000);
    CHECK(zinfo_span_uncompressed_start(&zi, 1) == 5000);
    CHECK(zinfo_span_uncompressed_end(&zi, 1) == 9000);
    CHECK(zinfo_span_uncompressed_end(&zi, 2) == 12000);
    CHECK(zinfo_span_bits(&zi, 0) == 0 && zinfo_span_bits(&zi, 1) == 3 && zinfo_span_bits(&zi, 2) == 0);
    CHECK(zinfo_span_window(&zi, 1)[100] == 'b');

    /* UncompressedOffsetToSpanID: last span starting at or before, clamped */
    CHECK(zinfo_span_of(&zi, -5) == 0);
    CHECK(zinfo_span_of(&zi, 0) == 0);
    CHECK(zinfo_span_of(&zi, 4999) == 0);
    CHECK(zinfo_span_of(&zi, 5000) == 1);
    CHECK(zinfo_span_of(&zi, 8999) == 1);
    CHECK(zinfo_span_of(&zi, 9000) == 2);
    CHECK(zinfo_span_of(&zi, 12000) == 2);
    CHECK(zinfo_span_of(&zi, INT64_MAX) == 2);

    /* §2.4: the snapshotter's checks */
    fake_ztoc(&z, 2, 3);
    CHECK(zinfo_check(&zi, &z, &err) == 0);
    fake_ztoc(&z, 1, 3);
    CHECK(zinfo_check(&zi, &z, &err) != 0 && strstr(err.msg, "max_span_id") != NULL);
    fake_ztoc(&z, 2, 2);
    CHECK(zinfo_check(&zi, &z, &err) != 0 && strstr(err.msg, "span digests") != NULL);
    /* the archive must hold the last checkpoint */
    fake_ztoc(&z, 2, 3);
    zi.compressed_size = 150;
    CHECK(zinfo_check(&zi, &z, &err) != 0);
    zi.compressed_size = 300;
    /* the tar may end before the inflated stream does (padding, bytes
     * after it): checkpoints past the archive's end are upstream's too,
     * and the uncompressed side of their spans stops at the end (found by
     * fuzz_layer_index: a gzip layer whose tar ends after 1024 bytes of
     * zeros, indexed with 1025-byte spans, was refused by our own check) */
    zi.uncompressed_size = 8000;
    CHECK_MSG(zinfo_check(&zi, &z, &err) == 0, "%s", err.msg);
    CHECK(zinfo_span_uncompressed_start(&zi, 1) == 5000 && zinfo_span_uncompressed_end(&zi, 1) == 8000);
    CHECK(zinfo_span_uncompressed_start(&zi, 2) == 8000 && zinfo_span_uncompressed_end(&zi, 2) == 8000);
    CHECK(zinfo_span_of(&zi, 7999) == 1);
    zi.uncompressed_size = 4000;
    CHECK_MSG(zinfo_check(&zi, &z, &err) == 0, "%s", err.msg);
    CHECK(zinfo_span_uncompressed_end(&zi, 0) == 4000 && zinfo_span_uncompressed_start(&zi, 1) == 4000);
    CHECK(zinfo_span_of(&zi, 3999) == 0);
    free(b);

    /* non-monotonic checkpoints */
    {
        int64_t in2[3] = {10, 200, 100}, out2[3] = {0, 5000, 9000};
        int64_t in3[3] = {10, 100, 200}, out3[3] = {0, 5000, 4999};
        int64_t in4[3] = {10, 100, 100}, out4[3] = {0, 5000, 9000};
        uint8_t no_bits[3] = {0, 0, 0};
        b = gzip_blob(3, 3, in2, out2, bits, &len);
        CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, len, 300, 12000, &err) == 0);
        fake_ztoc(&z, 2, 3);
        CHECK(zinfo_check(&zi, &z, &err) != 0 && strstr(err.msg, "not increasing") != NULL);
        free(b);
        b = gzip_blob(3, 3, in3, out3, bits, &len);
        CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, len, 300, 12000, &err) == 0);
        CHECK(zinfo_check(&zi, &z, &err) != 0);
        free(b);
        b = gzip_blob(3, 3, in4, out4, no_bits, &len);
        CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, len, 300, 12000, &err) == 0);
        CHECK(zinfo_check(&zi, &z, &err) != 0);
        free(b);
    }
    /* empty spans are fine: a gzip stream that starts with an empty block
     * (or an empty member) gets two checkpoints at uncompressed offset 0 */
    {
        int64_t in5[3] = {10, 15, 200}, out5[3] = {0, 0, 9000};
        b = gzip_blob(3, 3, in5, out5, bits, &len);
        CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, b, len, 300, 12000, &err) == 0);
        fake_ztoc(&z, 2, 3);
        CHECK_MSG(zinfo_check(&zi, &z, &err) == 0, "%s", err.msg);
        CHECK(zinfo_span_of(&zi, 0) == 1 && zinfo_span_of(&zi, 8999) == 1 && zinfo_span_of(&zi, 9000) == 2);
        free(b);
    }
    /* no spans at all */
    {
        uint8_t h[12] = {0};
        CHECK(zinfo_parse_blob(&zi, ZTOC_GZIP, h, 12, 0, 0, &err) == 0);
        fake_ztoc(&z, -1, 0);
        CHECK(zinfo_check(&zi, &z, &err) != 0);
    }
}

static void tar_zinfo(void)
{
    static const struct {
        int64_t size, span;
        int32_t spans;
    } counts[] = {
        {0, 65536, 0},       {1, 65536, 1},       {65535, 65536, 1},   {65536, 65536, 1},
        {65537, 65536, 2},   {614400, 65536, 10}, {131072, 65536, 2},  {1, 1, 1},
        {10, 3, 4},          {-1, 65536, 0},      {10, 0, 0},          {INT64_MAX, 1, INT32_MAX},
    };
    uint8_t blob[128];
    size_t i, len;
    struct zinfo zi;
    struct ztoc z;

    for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        CHECK_MSG(zinfo_tar_span_count(counts[i].size, counts[i].span) == counts[i].spans,
                  "size %lld span %lld: %d spans", (long long)counts[i].size,
                  (long long)counts[i].span, zinfo_tar_span_count(counts[i].size, counts[i].span));

    /* §2.6 example: 614400 bytes in 64 KiB spans */
    CHECK(zinfo_tar_encode(65536, 614400, blob, sizeof(blob), &len, &err) == 0);
    CHECK(zinfo_parse_blob(&zi, ZTOC_UNCOMPRESSED, blob, len, 614400, 614400, &err) == 0);
    CHECK(zi.nspans == 10 && zi.span_size == 65536 && zi.version == 2);
    CHECK(zinfo_span_compressed_start(&zi, 0) == 0);
    CHECK(zinfo_span_compressed_end(&zi, 0) == 65536);
    CHECK(zinfo_span_compressed_start(&zi, 9) == 9 * 65536);
    CHECK(zinfo_span_compressed_end(&zi, 9) == 614400);
    CHECK(zinfo_span_uncompressed_start(&zi, 3) == 3 * 65536);
    CHECK(zinfo_span_uncompressed_end(&zi, 3) == 4 * 65536);
    CHECK(zinfo_span_bits(&zi, 3) == 0);
    CHECK(zinfo_span_of(&zi, 65535) == 0);
    CHECK(zinfo_span_of(&zi, 65536) == 1);
    CHECK(zinfo_span_of(&zi, 614399) == 9);
    CHECK(zinfo_span_of(&zi, 1 << 30) == 9);
    fake_ztoc(&z, 9, 10);
    CHECK(zinfo_check(&zi, &z, &err) == 0);
    fake_ztoc(&z, 10, 10);
    CHECK(zinfo_check(&zi, &z, &err) != 0);

    /* the last span ends at the archive sizes, which may be shorter (tar
     * padding after the end-of-archive blocks is not counted) */
    CHECK(zinfo_parse_blob(&zi, ZTOC_UNCOMPRESSED, blob, len, 614400, 600000, &err) == 0);
    CHECK(zinfo_span_uncompressed_end(&zi, 9) == 600000);
    CHECK(zinfo_span_compressed_end(&zi, 9) == 614400);

    /* a tail longer than a span (GNU tar's 10 KiB records, trailing bytes):
     * spans past the archive's end are empty on the uncompressed side, the
     * one across it stops there, and the ztoc passes its check */
    CHECK(zinfo_parse_blob(&zi, ZTOC_UNCOMPRESSED, blob, len, 614400, 400000, &err) == 0);
    CHECK(zinfo_span_uncompressed_start(&zi, 6) == 6 * 65536);
    CHECK(zinfo_span_uncompressed_end(&zi, 6) == 400000);
    CHECK(zinfo_span_uncompressed_start(&zi, 7) == 400000 && zinfo_span_uncompressed_end(&zi, 7) == 400000);
    CHECK(zinfo_span_uncompressed_start(&zi, 9) == 400000 && zinfo_span_uncompressed_end(&zi, 9) == 400000);
    CHECK(zinfo_span_compressed_start(&zi, 7) == 7 * 65536 && zinfo_span_compressed_end(&zi, 7) == 8 * 65536);
    CHECK(zinfo_span_of(&zi, 399999) == 6);
    fake_ztoc(&z, 9, 10);
    CHECK_MSG(zinfo_check(&zi, &z, &err) == 0, "%s", err.msg);

    /* a broken tar zinfo */
    CHECK(zinfo_parse_blob(&zi, ZTOC_UNCOMPRESSED, blob, 7, 0, 0, &err) != 0);
    CHECK(zinfo_tar_encode(0, 100, blob, sizeof(blob), &len, &err) == 0);
    CHECK(zinfo_parse_blob(&zi, ZTOC_UNCOMPRESSED, blob, len, 100, 100, &err) != 0);
    CHECK(strstr(err.msg, "span size") != NULL);
}

int main(void)
{
    upstream_edge_cases();
    versions();
    span_math();
    tar_zinfo();
    return check_exit();
}
