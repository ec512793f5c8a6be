/* zinfo.h -- checkpoint blobs and span math (docs/format.md §2)
 *
 * The ztoc's `checkpoints` vector is opaque to the FlatBuffers schema.  For
 * gzip layers it is a little-endian packed list of zlib inflate checkpoints
 * (12-byte header + 32785 bytes per checkpoint, §2.1, versions 1 and 2); for
 * uncompressed tar layers it is a tiny FlatBuffers `TarZinfo` (§2.6).  A
 * `struct zinfo` is a read-only view over either, plus the span math every
 * reader needs (§2.3): which compressed bytes hold span i, which uncompressed
 * bytes it yields, which span holds an uncompressed offset.
 *
 * Ownership: a struct zinfo is a view; `records` points into the decoded
 * ztoc's checkpoint blob, which must outlive it.  Nothing is allocated.
 * Errors: zinfo_parse, zinfo_check and zinfo_tar_encode return 0, or -1 with
 * one line in err; the span math takes span ids already checked by the
 * caller.  Thread safety: read-only after parsing; any number of threads
 * may use one zinfo at once.
 */
#ifndef SOCI_ZINFO_H
#define SOCI_ZINFO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ztoc.h"

#define ZINFO_WINDOW_SIZE 32768
#define ZINFO_HEADER_SIZE 12
#define ZINFO_RECORD_SIZE (8 + 8 + 1 + ZINFO_WINDOW_SIZE)

struct zinfo {
    int algorithm;              /* ZTOC_GZIP or ZTOC_UNCOMPRESSED */
    int version;                /* gzip blob: 1 (record 0 omitted) or 2; tar: TarZinfo.version */
    int64_t span_size;          /* as recorded at build time */
    int32_t nspans;             /* checkpoints (gzip) or fixed slices (tar) */
    const uint8_t *records;     /* gzip: first stored record */
    int64_t compressed_size;    /* layer blob size: end of the last span */
    int64_t uncompressed_size;  /* end of the last span's output */
};

/* view the blob of a decoded ztoc; checks the blob's own consistency */
int zinfo_parse(struct zinfo *zi, const struct ztoc *z, struct error *err);
int zinfo_parse_blob(struct zinfo *zi, int algorithm, const uint8_t *blob, size_t len,
                     int64_t compressed_size, int64_t uncompressed_size, struct error *err);

/* deflate's densest code: a 258-byte match in 2 bits, 1032 bytes per byte */
#define ZINFO_MAX_EXPANSION 1032
/* the largest span size accepted from a ztoc (upstream's default is 4 MiB) */
#define ZINFO_MAX_SPAN_SIZE ((int64_t)256 << 20)
/* how far a gzip span may run past the span size: checkpoints sit at deflate
 * block ends, and one block of zlib output is at most ~8 MiB */
#define ZINFO_MAX_SPAN_OVERSHOOT ((int64_t)64 << 20)

/* Everything a ztoc asserts that can be checked without the layer: the
 * snapshotter's checks (§2.4: max_span_id and digest count agree with the
 * blob, offsets strictly increase and stay inside the archive), and ours:
 * span 0 starts the stream (uncompressed offset 0, after a gzip header of
 * at least 10 bytes), the span size is at most ZINFO_MAX_SPAN_SIZE and no
 * span yields more than span size + ZINFO_MAX_SPAN_OVERSHOOT bytes (so no
 * buffer sized from a ztoc field is ever larger), no more than
 * ZINFO_MAX_EXPANSION times its compressed bytes (a tar span: no more than
 * them), and every TOC entry has room for its tar header and ends inside
 * the uncompressed archive. */
int zinfo_check(const struct zinfo *zi, const struct ztoc *z, struct error *err);

/* the largest uncompressed span zinfo_check lets through for zi */
int64_t zinfo_max_span_bytes(const struct zinfo *zi);

int64_t zinfo_span_compressed_start(const struct zinfo *zi, int32_t span);
int64_t zinfo_span_compressed_end(const struct zinfo *zi, int32_t span);   /* exclusive */
int64_t zinfo_span_uncompressed_start(const struct zinfo *zi, int32_t span);
int64_t zinfo_span_uncompressed_end(const struct zinfo *zi, int32_t span); /* exclusive */
uint8_t zinfo_span_bits(const struct zinfo *zi, int32_t span);
/* the 32 KiB dictionary to resume at span's checkpoint */
const uint8_t *zinfo_span_window(const struct zinfo *zi, int32_t span);

/* upstream's UncompressedOffsetToSpanID: the last span starting at or before
 * offset, clamped to the last span */
int32_t zinfo_span_of(const struct zinfo *zi, int64_t uncompressed_offset);

/* ---- writing ---- */

size_t zinfo_gzip_blob_size(int32_t ncheckpoints);
void zinfo_gzip_put_header(uint8_t *blob, int32_t ncheckpoints, int64_t span_size);
void zinfo_gzip_put_record(uint8_t *record, int64_t in, int64_t out, uint8_t bits,
                           const uint8_t *window);

/* TarZinfo{version 2, span_size, size} as Go's builder writes it */
int zinfo_tar_encode(int64_t span_size, int64_t size, uint8_t *out, size_t out_cap,
                     size_t *out_len, struct error *err);
/* spans of a tar layer of `size` bytes (upstream's MaxSpanID + 1) */
int32_t zinfo_tar_span_count(int64_t size, int64_t span_size);

#endif
