/* zinfo.c -- checkpoint blob codecs and span math (see zinfo.h) */
#include "zinfo.h"

#include <string.h>

#include "fb_builder.h"
#include "fb_reader.h"

static const uint8_t zero_window[ZINFO_WINDOW_SIZE];

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    int i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- gzip records ---- */

/* record of checkpoint i, or NULL for v1's synthesised checkpoint 0 */
static const uint8_t *record(const struct zinfo *zi, int32_t i)
{
    if (zi->version == 1) {
        if (i == 0)
            return NULL;
        i--;
    }
    return zi->records + (size_t)i * ZINFO_RECORD_SIZE;
}

static int64_t cp_in(const struct zinfo *zi, int32_t i)
{
    const uint8_t *r = record(zi, i);
    return r ? (int64_t)get_le(r, 8) : 10;
}

static int64_t cp_out(const struct zinfo *zi, int32_t i)
{
    const uint8_t *r = record(zi, i);
    return r ? (int64_t)get_le(r + 8, 8) : 0;
}

uint8_t zinfo_span_bits(const struct zinfo *zi, int32_t span)
{
    const uint8_t *r;

    if (zi->algorithm != ZTOC_GZIP)
        return 0;
    r = record(zi, span);
    return r ? r[16] : 0;
}

const uint8_t *zinfo_span_window(const struct zinfo *zi, int32_t span)
{
    const uint8_t *r;

    if (zi->algorithm != ZTOC_GZIP)
        return zero_window;
    r = record(zi, span);
    return r ? r + 17 : zero_window;
}

int64_t zinfo_span_compressed_start(const struct zinfo *zi, int32_t span)
{
    if (zi->algorithm != ZTOC_GZIP)
        return (int64_t)span * zi->span_size;
    return cp_in(zi, span) - (zinfo_span_bits(zi, span) ? 1 : 0);
}

int64_t zinfo_span_compressed_end(const struct zinfo *zi, int32_t span)
{
    if (span + 1 >= zi->nspans)
        return zi->compressed_size;
    if (zi->algorithm != ZTOC_GZIP)
        return (int64_t)(span + 1) * zi->span_size;
    return cp_in(zi, span + 1);
}

/* The archive ends at the second end-of-archive block, but the layer may
 * go on: GNU tar pads to 10 KiB records, and anything can follow.  A tar
 * span's offsets are the blob's; a gzip layer's checkpoints go on to the
 * end of the inflated stream, as upstream's do.  Those bytes are in the
 * spans and their digests but hold no file: the uncompressed side stops at
 * the archive's end, so a span past it is empty there, and one that
 * straddles it is inflated only up to it. */
static int64_t capped(const struct zinfo *zi, int64_t off)
{
    return off < zi->uncompressed_size ? off : zi->uncompressed_size;
}

int64_t zinfo_span_uncompressed_start(const struct zinfo *zi, int32_t span)
{
    if (zi->algorithm != ZTOC_GZIP)
        return capped(zi, (int64_t)span * zi->span_size);
    return capped(zi, cp_out(zi, span));
}

int64_t zinfo_span_uncompressed_end(const struct zinfo *zi, int32_t span)
{
    if (span + 1 >= zi->nspans)
        return zi->uncompressed_size;
    if (zi->algorithm != ZTOC_GZIP)
        return capped(zi, (int64_t)(span + 1) * zi->span_size);
    return capped(zi, cp_out(zi, span + 1));
}

int32_t zinfo_span_of(const struct zinfo *zi, int64_t off)
{
    int32_t lo, hi;

    /* off == 0 is not a shortcut: with empty leading spans (several
     * checkpoints at 0) upstream's scan lands on the last of them */
    if (zi->nspans <= 1 || off < 0)
        return 0;
    if (zi->algorithm != ZTOC_GZIP) {
        int64_t s = off / zi->span_size;
        return s >= zi->nspans ? zi->nspans - 1 : (int32_t)s;
    }
    /* offsets are checked strictly increasing, so binary search finds the
     * same span as upstream's linear scan */
    lo = 0;
    hi = zi->nspans - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo + 1) / 2;
        if (cp_out(zi, mid) <= off)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* ---- parsing ---- */

enum { TZ_VERSION, TZ_SPAN_SIZE, TZ_SIZE, TZ_NFIELDS };

int32_t zinfo_tar_span_count(int64_t size, int64_t span_size)
{
    int64_t max;

    if (span_size <= 0 || size < 0)
        return 0;
    max = size / span_size;
    if (size % span_size == 0)
        max--;
    return max + 1 > INT32_MAX ? INT32_MAX : (int32_t)(max + 1);
}

int zinfo_parse_blob(struct zinfo *zi, int algorithm, const uint8_t *blob, size_t len,
                     int64_t compressed_size, int64_t uncompressed_size, struct error *err)
{
    memset(zi, 0, sizeof(*zi));
    zi->algorithm = algorithm;
    zi->compressed_size = compressed_size;
    zi->uncompressed_size = uncompressed_size;
    RETURN_ERROR_IF(compressed_size < 0 || uncompressed_size < 0, err,
                    "invalid zinfo: negative archive size");

    if (algorithm == ZTOC_UNCOMPRESSED) {
        struct fb_table t;
        int32_t version;
        int64_t size;

        if (fb_read_root(blob, len, &t, err) || fb_read_i32(&t, TZ_VERSION, 0, &version, err) ||
            fb_read_i64(&t, TZ_SPAN_SIZE, 0, &zi->span_size, err) ||
            fb_read_i64(&t, TZ_SIZE, 0, &size, err))
            return error_prefix(err, "invalid tar zinfo");
        RETURN_ERROR_IF(zi->span_size <= 0, err, "invalid tar zinfo: span size %lld",
                        (long long)zi->span_size);
        RETURN_ERROR_IF(size < 0, err, "invalid tar zinfo: negative size");
        zi->version = version;
        zi->nspans = zinfo_tar_span_count(size, zi->span_size);
        return 0;
    }
    RETURN_ERROR_IF(algorithm != ZTOC_GZIP, err, "unexpected compression algorithm %d", algorithm);
    RETURN_ERROR_IF(len < ZINFO_HEADER_SIZE, err,
                    "invalid gzip zinfo: %zu bytes is shorter than its header", len);
    {
        int64_t n = (int32_t)get_le(blob, 4);
        zi->span_size = (int64_t)get_le(blob + 4, 8);
        RETURN_ERROR_IF(n < 0, err, "invalid gzip zinfo: negative checkpoint count");
        if ((uint64_t)len == ZINFO_HEADER_SIZE + (uint64_t)n * ZINFO_RECORD_SIZE)
            zi->version = 2;
        else if (n >= 1 && (uint64_t)len == ZINFO_HEADER_SIZE + (uint64_t)(n - 1) * ZINFO_RECORD_SIZE)
            zi->version = 1;
        else
            return error_set(err, "invalid gzip zinfo: %zu bytes do not hold %lld checkpoints",
                             len, (long long)n);
        zi->nspans = (int32_t)n;
        zi->records = blob + ZINFO_HEADER_SIZE;
    }
    /* range-check every stored checkpoint once, so the span math below
     * never meets a negative offset (in - 1 would overflow) or a bit count
     * inflatePrime cannot take */
    {
        int32_t i;
        for (i = zi->version == 1 ? 1 : 0; i < zi->nspans; i++) {
            const uint8_t *r = record(zi, i);
            RETURN_ERROR_IF((int64_t)get_le(r, 8) < 0 || (int64_t)get_le(r + 8, 8) < 0 || r[16] > 7,
                            err, "invalid gzip zinfo: checkpoint %d has a negative offset or %u bits",
                            i, r[16]);
        }
    }
    return 0;
}

int zinfo_parse(struct zinfo *zi, const struct ztoc *z, struct error *err)
{
    return zinfo_parse_blob(zi, z->algorithm, (const uint8_t *)z->checkpoints.ptr,
                            z->checkpoints.len, z->compressed_size, z->uncompressed_size, err);
}

int64_t zinfo_max_span_bytes(const struct zinfo *zi)
{
    return zi->span_size + (zi->algorithm == ZTOC_GZIP ? ZINFO_MAX_SPAN_OVERSHOOT : 0);
}

/* the TOC's claims about the uncompressed stream (docs/format.md §3.5): each entry's data
 * follows at least one 512-byte header block and ends inside the archive
 * (ztoc_decode already checked that entries do not overlap); a header-only
 * entry has no data there, whatever size its header gives */
static int check_entries(const struct ztoc *z, struct error *err)
{
    size_t i;

    for (i = 0; i < z->nentries; i++) {
        const struct ztoc_entry *e = &z->entries[i];
        RETURN_ERROR_IF(e->offset - e->tar_header_offset < 512, err,
                        "invalid ztoc: entry %zu (\"%.*s\") has no room for its tar header", i,
                        (int)(e->name.len > 200 ? 200 : e->name.len), e->name.ptr);
        RETURN_ERROR_IF(ztoc_entry_data_size(e) > z->uncompressed_size - e->offset, err,
                        "invalid ztoc: entry %zu (\"%.*s\") ends past the archive's %lld bytes", i,
                        (int)(e->name.len > 200 ? 200 : e->name.len), e->name.ptr,
                        (long long)z->uncompressed_size);
    }
    return 0;
}

int zinfo_check(const struct zinfo *zi, const struct ztoc *z, struct error *err)
{
    int64_t max_out;
    int32_t i;

    RETURN_ERROR_IF(zi->nspans < 1, err, "invalid ztoc: no spans");
    RETURN_ERROR_IF(z->max_span_id != zi->nspans - 1, err,
                    "invalid ztoc: max_span_id %d but the zinfo has %d spans", z->max_span_id,
                    zi->nspans);
    RETURN_ERROR_IF(z->nspan_digests != (size_t)zi->nspans, err,
                    "invalid ztoc: %zu span digests for %d spans", z->nspan_digests, zi->nspans);
    RETURN_ERROR_IF(zi->span_size <= 0 || zi->span_size > ZINFO_MAX_SPAN_SIZE, err,
                    "invalid ztoc: span size %lld is not between 1 and %lld", (long long)zi->span_size,
                    (long long)ZINFO_MAX_SPAN_SIZE);
    /* a checkpoint 0 elsewhere would shift every offset of the TOC against
     * the bytes served: the digests cover compressed bytes only */
    RETURN_ERROR_IF(zinfo_span_uncompressed_start(zi, 0) != 0, err,
                    "invalid ztoc: span 0 starts at uncompressed offset %lld, not 0",
                    (long long)zinfo_span_uncompressed_start(zi, 0));
    if (zi->algorithm == ZTOC_GZIP) {
        RETURN_ERROR_IF(zinfo_span_bits(zi, 0) != 0 || zinfo_span_compressed_start(zi, 0) < 10, err,
                        "invalid ztoc: span 0 does not start after a gzip header");
        RETURN_ERROR_IF(zi->uncompressed_size / ZINFO_MAX_EXPANSION > zi->compressed_size, err,
                        "invalid ztoc: %lld uncompressed bytes cannot come from %lld bytes of gzip",
                        (long long)zi->uncompressed_size, (long long)zi->compressed_size);
    } else {
        RETURN_ERROR_IF(zi->uncompressed_size > zi->compressed_size, err,
                        "invalid ztoc: %lld uncompressed bytes in a tar layer of %lld bytes",
                        (long long)zi->uncompressed_size, (long long)zi->compressed_size);
    }
    max_out = zinfo_max_span_bytes(zi);
    for (i = 0; i < zi->nspans; i++) {
        int64_t cs = zinfo_span_compressed_start(zi, i), ce = zinfo_span_compressed_end(zi, i);
        int64_t us = zinfo_span_uncompressed_start(zi, i), ue = zinfo_span_uncompressed_end(zi, i);
        RETURN_ERROR_IF(zinfo_span_bits(zi, i) > 7, err, "invalid ztoc: span %d has %u bits", i,
                        zinfo_span_bits(zi, i));
        RETURN_ERROR_IF(cs < 0 || ce > zi->compressed_size || us < 0 || ue > zi->uncompressed_size,
                        err, "invalid ztoc: span %d lies outside the archive", i);
        /* non-final spans must advance in the compressed stream
         * (ErrNonMonotonicCheckpoints); any span may be empty of output:
         * zran puts a checkpoint after every block boundary while nothing
         * was inflated yet, so a leading empty block or gzip member gives
         * an empty span 0, which upstream's span manager serves as empty */
        RETURN_ERROR_IF(i + 1 < zi->nspans ? (cs >= ce || us > ue) : (cs > ce || us > ue), err,
                        "invalid ztoc: span %d offsets are not increasing", i);
        /* every span buffer is bounded by the (bounded) span size, and by
         * what its compressed bytes can yield */
        RETURN_ERROR_IF(ue - us > max_out || ce - cs > max_out + max_out / 16, err,
                        "invalid ztoc: span %d is larger than the span size %lld allows", i,
                        (long long)zi->span_size);
        RETURN_ERROR_IF(zi->algorithm == ZTOC_GZIP ? (ue - us) / ZINFO_MAX_EXPANSION > ce - cs : ue - us > ce - cs,
                        err, "invalid ztoc: span %d yields more bytes than its compressed bytes can", i);
    }
    return check_entries(z, err);
}

/* ---- writing ---- */

size_t zinfo_gzip_blob_size(int32_t n)
{
    return ZINFO_HEADER_SIZE + (size_t)n * ZINFO_RECORD_SIZE;
}

void zinfo_gzip_put_header(uint8_t *blob, int32_t n, int64_t span_size)
{
    put_le(blob, (uint32_t)n, 4);
    put_le(blob + 4, (uint64_t)span_size, 8);
}

void zinfo_gzip_put_record(uint8_t *rec, int64_t in, int64_t out, uint8_t bits,
                           const uint8_t *window)
{
    put_le(rec, (uint64_t)in, 8);
    put_le(rec + 8, (uint64_t)out, 8);
    rec[16] = bits;
    memcpy(rec + 17, window, ZINFO_WINDOW_SIZE);
}

int zinfo_tar_encode(int64_t span_size, int64_t size, uint8_t *out, size_t out_cap,
                     size_t *out_len, struct error *err)
{
    struct fb_builder *b = fb_builder_new(128);
    const uint8_t *bytes;
    size_t len;
    uint32_t root;

    RETURN_ERROR_IF(b == NULL, err, "out of memory");
    fb_start_table(b, TZ_NFIELDS);
    fb_add_i32(b, TZ_VERSION, 2, 0);
    fb_add_i64(b, TZ_SPAN_SIZE, span_size, 0);
    fb_add_i64(b, TZ_SIZE, size, 0);
    root = fb_end_table(b);
    if (fb_finish(b, root, &bytes, &len, err) != 0 || len > out_cap) {
        fb_builder_free(b);
        return error_set(err, "tar zinfo does not fit");
    }
    memcpy(out, bytes, len);
    *out_len = len;
    fb_builder_free(b);
    return 0;
}
