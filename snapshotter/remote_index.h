/* remote_index.h -- which layers of an image can be mounted lazily, cached per image
 *
 * For a layer-unpack Prepare (remote_labels.h): the image's platform
 * manifest (by the digest the labels give, or by resolving the reference
 * for this host's platform), its SOCI index and the layer's place in it.
 * The index is found as upstream does (docs/snapshotter.md, "Finding the
 * index"): an explicit index digest label; the manifest's v2 annotation
 * com.amazon.soci.index-digest (when v2 is enabled); the Referrers API, or
 * the sha256-<hex> fallback tag without one (when v1 is enabled).  The
 * index is parsed and, for a v1 index, its subject must be the manifest;
 * every ztoc it lists must exist in the registry with the size it says
 * (HEAD); the image config gives each layer's diff_id.  Any failure there
 * leaves the whole image to containerd, as upstream does.
 *
 * Each image is resolved once and the outcome cached (a successful
 * resolution for 10 minutes, "no index" for 1 minute, a failure for 30 s),
 * so that the Prepares of an image's layers cost one resolution; callers
 * asking for an image being resolved wait for that resolution.  Registry
 * clients (one per host, credentials from docker's config.json) are shared.
 *
 * Errors: remote_index_plan returns an enum plan_result with one line in
 * err.  Thread safety: every call may come from any thread at once.
 */
#ifndef SOCI_SNAP_REMOTE_INDEX_H
#define SOCI_SNAP_REMOTE_INDEX_H

#include <stdint.h>

#include "config.h"
#include "error.h"
#include "registry.h"
#include "remote_labels.h"

enum plan_result {
    PLAN_LAZY = 0,     /* the image has an index: mount (ztoc) or unpack (none) the layer */
    PLAN_NO_INDEX,     /* the image has no SOCI index: containerd unpacks */
    PLAN_FAILED,       /* the index could not be found or used: containerd unpacks */
    PLAN_REFUSED,      /* the labels name an index the registry lacks: the Prepare fails */
};

struct layer_plan {
    char host[256];
    char repo[512];
    char source[1200];         /* HOST/REPO@MANIFEST, what soci-mount takes */
    char manifest_digest[80];
    char index_digest[80];
    char layer_digest[80];
    char media_type[256];
    int64_t layer_size;
    int has_ztoc;
    char diff_id[80];          /* from the image config */
};

struct remote_index;

struct remote_index *remote_index_new(const struct snap_config *cfg, struct error *err);
void remote_index_free(struct remote_index *ri);

enum plan_result remote_index_plan(struct remote_index *ri, const struct layer_req *req, struct layer_plan *out,
                                   struct error *err);

/* the shared client for host (owned by ri), or NULL with err set */
struct reg_client *remote_index_client(struct remote_index *ri, const char *host, struct error *err);

#endif
