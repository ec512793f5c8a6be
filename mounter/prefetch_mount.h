/* prefetch_mount.h -- a layer's prefetch artifact, fetched before the mount answers
 *
 * The SOCI index may name, per layer, a prefetch artifact (formats/
 * prefetch.h, docs/format.md §4.6): span ranges a workload reads first.
 * soci-mount fetches them, through the span cache (so verified by digest
 * like every span), after the ztoc is checked against the blob and before
 * the FUSE mount is made, as upstream does before its mount completes.
 *
 * Thread safety: as span_cache_prefetch (any thread).  Errors: -1, one line.
 */
#ifndef SOCI_PREFETCH_MOUNT_H
#define SOCI_PREFETCH_MOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "span_cache.h"
#include "zinfo.h"
#include "ztoc_locate.h"

/* decode the artifact (hostile bytes: bounded by formats/prefetch), check
 * its spans against the ztoc's and fetch every range; *nspans (may be
 * NULL) gets how many spans it named */
int prefetch_mount_run(struct span_cache *sc, const struct zinfo *zi, const uint8_t *artifact, size_t len,
                       int64_t *nspans, struct error *err);

/* --prefetch-artifact ARG: a file, or a digest of a blob of the image's
 * source (layout or registry); *out malloc'd, digest-checked for a digest */
int prefetch_mount_load(const char *arg, const struct located_image *img, uint8_t **out, size_t *len,
                        struct error *err);

#endif
