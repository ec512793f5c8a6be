/* prefetch_build.h -- prefetch artifacts for `soci create --prefetch-files`
 *
 * The paths a workload reads first, turned into one prefetch artifact per
 * layer (formats/prefetch.h) as upstream does (docs/format.md §4.6): each
 * path cleaned (Go's path.Clean, leading "/" removed), looked up by exact
 * TOC name from the top layer down (the first layer holding it wins), its
 * span range [span_of(offset), span_of(offset + size)], and each layer's
 * ranges merged.  A path no layer holds is a warning, not a failure.
 *
 * Thread safety: none needed; every object belongs to its caller.
 * Errors: -1 with one line in err.
 */
#ifndef SOCI_PREFETCH_BUILD_H
#define SOCI_PREFETCH_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* bounds on a list: paths and bytes per path (PATH_MAX) */
#define PREFETCH_MAX_PATHS 100000
#define PREFETCH_MAX_PATH_LEN 4096

struct prefetch_paths {
    char **v;                   /* cleaned, malloc'd */
    size_t n, cap;
};

void prefetch_paths_init(struct prefetch_paths *p);
void prefetch_paths_free(struct prefetch_paths *p);
/* one path (--prefetch-file) */
int prefetch_paths_add(struct prefetch_paths *p, const char *path, struct error *err);
/* a file of paths, one per line; empty lines are skipped (--prefetch-files) */
int prefetch_paths_load(struct prefetch_paths *p, const char *file, struct error *err);

/* a layer of the image with its ztoc, in image order (bottom first) */
struct prefetch_layer {
    const char *layer_digest;
    const uint8_t *ztoc;
    size_t ztoc_len;
};

/* an artifact built for one layer */
struct prefetch_blob {
    char layer_digest[80];
    char digest[80];
    char *json;
    size_t len;
};

/* The artifacts of one image, in layer order (*out malloc'd, *nout may be
 * 0).  Each path found in no layer is said once on warn (NULL: silently),
 * naming image. */
int prefetch_build(const struct prefetch_paths *p, const struct prefetch_layer *layers, size_t nlayers,
                   const char *image, FILE *warn, struct prefetch_blob **out, size_t *nout, struct error *err);
void prefetch_blobs_free(struct prefetch_blob *b, size_t n);

#endif
