/* soci_index.h -- the SOCI index manifest, v1 and v2 (docs/format.md §4.2-4.4)
 *
 * An OCI image manifest whose config mediaType names the SOCI artifact type
 * and whose layers are the ztoc descriptors, in image layer order.  The
 * bytes must be exactly Go's json.Marshal of image-spec's Manifest, or the
 * Go snapshotter will refuse the index (§4.3): this module writes them.
 * Pure functions, no shared state: thread safe; errors: -1 and one line.
 */
#ifndef SOCI_SOCI_INDEX_H
#define SOCI_SOCI_INDEX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct soci_ztoc_ref {
    char ztoc_digest[80];
    int64_t ztoc_size;
    char layer_digest[80];
    char layer_media_type[256];
    int64_t span_size;          /* 0: no span-size annotation (pre-0.12 indexes) */
    int disable_xattrs;
};

/* a prefetch artifact descriptor (formats/prefetch.h), after the ztocs */
struct soci_prefetch_ref {
    char digest[80];
    int64_t size;
    char layer_digest[80];
};

struct soci_index {
    int version;                /* 1 or 2 */
    size_t nztocs;
    struct soci_ztoc_ref *ztocs;
    size_t nprefetch;           /* written after the ztocs, in layer order */
    struct soci_prefetch_ref *prefetch;
    /* v1 only: the image manifest the index belongs to */
    char subject_media_type[256];
    char subject_digest[80];
    int64_t subject_size;
    char build_tool[256];
};

/* Go-canonical bytes; *out malloc'd (NUL-terminated, not counted in len) */
int soci_index_encode(const struct soci_index *ix, char **out, size_t *len, struct error *err);

/* parse a SOCI index manifest; fails on "unknown index version" as
 * upstream; ztocs and prefetch are malloc'd (release with
 * soci_index_release); descriptors of other media types are skipped */
int soci_index_parse(const uint8_t *bytes, size_t len, struct soci_index *ix, struct error *err);
void soci_index_release(struct soci_index *ix);

/* is this manifest document a SOCI index (config mediaType v1 or v2)? */
int soci_index_version_of(json_t *manifest);

#endif
