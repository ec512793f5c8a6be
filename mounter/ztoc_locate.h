/* ztoc_locate.h -- find an image, its layers and their ztocs, in a layout or a registry
 *
 * For every layer of the chosen platform image: its descriptor and, when
 * the image has a SOCI index that covers it, the ztoc bytes (digest-checked
 * on the way in).  The index is the one named by --soci-index-digest, or
 * the one discovery finds (v2 annotation, then v1 by referrers or fallback
 * tag in a registry; the layout's catalog for a layout).
 *
 * Ownership: a located_image owns its layers, their ztoc and prefetch bytes
 * and (for a layout) the open layout until located_image_release(); the
 * registry client stays the caller's.  Errors: 0, or -1 with one line in err
 * naming the image, the index or the layer.  Thread safety: locate on one
 * thread; a located image is then read-only and may be shared.
 */
#ifndef SOCI_ZTOC_LOCATE_H
#define SOCI_ZTOC_LOCATE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "image_resolve.h"
#include "oci_layout.h"
#include "registry.h"

struct located_layer {
    char digest[80];
    char media_type[256];
    int64_t size;
    uint8_t *ztoc;              /* NULL: no ztoc for this layer */
    size_t ztoc_len;
    char ztoc_digest[80];
    int disable_xattrs;
    char blob_path[4096];       /* layout: the blob file */
    char diff_id[80];           /* the image config's, with want_diff_ids ("" otherwise) */
    /* the index's prefetch artifact for this layer (formats/prefetch.h):
     * its descriptor, and its bytes (digest-checked) when the layer's ztoc
     * was fetched and no_prefetch is off; NULL if none or unreadable (a
     * warning is logged: the mount goes on without it) */
    char prefetch_digest[80];
    int64_t prefetch_size;
    uint8_t *prefetch;
    size_t prefetch_len;
};

struct located_image {
    int remote;
    struct oci_layout layout;   /* when !remote */
    struct reg_client *client;  /* when remote */
    struct reg_ref ref;
    char index_digest[80];      /* the SOCI index used ("" if none) */
    char manifest_digest[80];
    size_t nlayers;
    struct located_layer *layers;
};

struct locate_opts {
    const char *source;         /* oci:DIR[:TAG] or REGISTRY/REPO[:TAG] */
    const char *index_digest;   /* --soci-index-digest, or NULL */
    const struct platform_sel *sel;
    struct reg_client *client;  /* for a registry source (owned by the caller) */
    const char *only_layer;     /* registry: fetch only this layer's ztoc (--layer), or NULL: all */
    int want_diff_ids;          /* read the image config for every layer's diff_id */
    int no_prefetch;            /* do not read the layers' prefetch artifacts */
};

int ztoc_locate(const struct locate_opts *o, struct located_image *out, struct error *err);
void located_image_release(struct located_image *li);

/* a blob of the located image's source (layout or registry), at most max
 * bytes (and exactly size when size >= 0), digest-checked; *out malloc'd */
int locate_read_blob(const struct located_image *li, const char *digest, int64_t size, size_t max, uint8_t **out,
                     size_t *len, struct error *err);

#endif
