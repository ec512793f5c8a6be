/* discover.h -- find the SOCI indexes of an image in a registry (docs/format.md §4.9)
 *
 * In upstream's order: the image manifest's com.amazon.soci.index-digest
 * annotation (v2, a converted image), then the Referrers API for v1
 * indexes, and when the registry has no Referrers API, the oras fallback
 * tag sha256-<hex>.  The same code serves `soci index list --remote`,
 * `soci push --existing-index` and the mounter.
 *
 * Ownership: results are copied into the caller's array; nothing outlives
 * the call.  Errors: soci_discover returns 0 (with *n possibly 0: no index),
 * or -1 with one line in err for a registry failure other than "not found".
 * Thread safety: as the registry client: calls may run at once on one
 * client.
 */
#ifndef SOCI_DISCOVER_H
#define SOCI_DISCOVER_H

#include <stddef.h>

#include "error.h"
#include "registry.h"

enum found_via {
    FOUND_ANNOTATION,      /* v2: the manifest's com.amazon.soci.index-digest */
    FOUND_REFERRERS_API,
    FOUND_FALLBACK_TAG,
};

struct found_index {
    char digest[80];
    long long size;        /* -1 when unknown (annotation) */
    int version;           /* 1 or 2 */
    enum found_via via;
};

const char *found_via_name(enum found_via v);

/* manifest: the image manifest's bytes (for the v2 annotation) or NULL */
int soci_discover(struct reg_client *c, const char *repo, const char *manifest_digest, const uint8_t *manifest,
                  size_t manifest_len, struct found_index *out, size_t max, size_t *n, struct error *err);

#endif
