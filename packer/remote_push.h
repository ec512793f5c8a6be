/* remote_push.h -- push images and SOCI indexes from a layout to a registry
 *
 * Shared by `soci push` and `soci create REGISTRY/... --push`.  Blobs the
 * registry has are skipped; manifests go up only after every blob they
 * name; a SOCI index v1 is pushed by digest and, when the registry does not
 * answer with OCI-Subject, recorded in the referrers fallback tag
 * sha256-<hex> as oras does (docs/format.md §4.8).
 *
 * Ownership: every argument stays the caller's; digests are copied into
 * the caller's array.  Errors: 0, or -1 with one line in err naming the
 * registry, the request and the registry's code and message.  Thread safety:
 * no shared state beyond the registry client, which may be shared.
 */
#ifndef SOCI_REMOTE_PUSH_H
#define SOCI_REMOTE_PUSH_H

#include <stdio.h>

#include "error.h"
#include "oci_layout.h"
#include "registry.h"

struct push_out {
    FILE *lines;     /* upstream's lines, or NULL */
    int quiet;       /* print only the index digest */
    const char *mount_from; /* a repository of the same registry holding the blobs, or NULL */
};

/* the image (manifest or index, recursively, with every present blob) */
int push_image_closure(struct reg_client *c, struct oci_layout *l, const char *repo, const char *digest,
                       int64_t size, const char *tag, const struct push_out *out, struct error *err);

/* a SOCI index v1 manifest and its blobs, then the referrers bookkeeping */
int push_soci_index(struct reg_client *c, struct oci_layout *l, const char *repo, const char *index_digest,
                    int64_t index_size, const struct push_out *out, struct error *err);

/* the SOCI v1 indexes the registry knows for an image manifest (referrers
 * API, else the fallback tag); fills up to max digests */
int remote_soci_referrers(struct reg_client *c, const char *repo, const char *manifest_digest,
                          char (*digests)[80], size_t max, size_t *n, int *via_api, struct error *err);

#endif
