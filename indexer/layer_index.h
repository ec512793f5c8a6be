/* layer_index.h -- turn one layer's bytes into its ztoc, in one streaming pass
 *
 * Push the layer's bytes (any slicing) and get back the ztoc, byte-identical
 * to upstream's for the same span size and build-tool identifier, plus the
 * layer's own sha256 computed on the way.  gzip layers are checkpointed with
 * zlib (gzip_index), plain tar layers get a TarZinfo, zstd layers are
 * refused.  Peak memory is a few MiB of buffers plus the ztoc being built.
 */
#ifndef SOCI_LAYER_INDEX_H
#define SOCI_LAYER_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LAYER_INDEX_DEFAULT_SPAN_SIZE (4 * 1024 * 1024)

struct layer_index_opts {
    int64_t span_size;           /* > 0 */
    const char *build_tool;      /* the build_tool_identifier string */
    int threaded;                /* hash on a second thread */
};

struct layer_index_result {
    uint8_t *ztoc;               /* malloc'd ztoc bytes */
    size_t ztoc_len;
    uint8_t ztoc_digest[32];
    uint8_t blob_digest[32];     /* sha256 of the layer bytes */
    int64_t blob_size;
    int64_t uncompressed_size;   /* uncompressed_archive_size */
    int algorithm;               /* ZTOC_GZIP or ZTOC_UNCOMPRESSED */
    size_t nentries;
    int32_t nspans;
    int xattr_free;              /* no SCHILY.xattr records and no opaque dirs */
};

struct layer_indexer;

struct layer_indexer *layer_indexer_new(const struct layer_index_opts *opts, struct error *err);
void layer_indexer_free(struct layer_indexer *li);

int layer_indexer_feed(struct layer_indexer *li, const uint8_t *data, size_t n, struct error *err);
int layer_indexer_finish(struct layer_indexer *li, struct layer_index_result *res,
                         struct error *err);
/* compressed bytes consumed so far (for progress) */
int64_t layer_indexer_bytes_in(const struct layer_indexer *li);

void layer_index_result_free(struct layer_index_result *res);

/* the layer's format from its first bytes: ZTOC_GZIP, ZTOC_UNCOMPRESSED, or
 * -1 for zstd */
int layer_sniff_format(const uint8_t *data, size_t n);

#endif
