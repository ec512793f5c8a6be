/* image_resolve.h -- from "oci:DIR:TAG" to the platform images to index
 *
 * Follows index.json to the tagged target, through nested image indexes
 * (OCI and Docker list), to the image manifests of the requested platforms:
 * --platform (repeatable), --all-platforms, or by default the host's
 * platform, or the only image there is.  Manifests are read with their
 * digest checked; manifests without a mediaType (umoci) are recognised by
 * shape; buildkit's attestation manifests are not images and are skipped.
 *
 * Ownership: a resolved_set owns its images, their manifest bytes and
 * parsed documents until resolved_set_release(); an image's layer
 * descriptors borrow from its parsed manifest.  Errors: 0, or -1 with one
 * line in err naming the layout, tag, platform or manifest.  Thread safety:
 * resolution on one thread; a resolved set is then read-only and may be
 * shared by the layer jobs.
 */
#ifndef SOCI_IMAGE_RESOLVE_H
#define SOCI_IMAGE_RESOLVE_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"
#include "oci.h"
#include "oci_layout.h"

#define MAX_PLATFORMS 32
/* layers of one image.  Docker refuses images of more than 127 layers (the
 * 128 lower directories of its overlay2 driver) and upstream's own tests stay
 * well below; 1000 leaves room for any runtime while bounding what a
 * hostile manifest costs: each layer becomes a job of about 40 KiB. */
#define IMAGE_MAX_LAYERS 1000

struct platform_sel {
    int all;
    size_t n;
    struct oci_platform want[MAX_PLATFORMS];
};

struct resolved_image {
    char manifest_digest[80];
    char manifest_media_type[128];   /* as found: OCI or Docker (umoci: OCI) */
    int64_t manifest_size;
    uint8_t *manifest_bytes;
    size_t manifest_len;
    json_t *manifest;                /* parsed manifest document */
    struct oci_platform platform;
    int has_platform;
    size_t nlayers;
    struct oci_desc *layers;         /* borrowing from manifest */
};

struct resolved_set {
    char target_digest[80];          /* what the tag points at */
    char target_media_type[128];
    size_t nimages;
    struct resolved_image *images;
};

/* ref: tag, "sha256:..." digest, or "" (the only image of the layout) */
int image_resolve(struct oci_layout *l, const char *ref, const struct platform_sel *sel,
                  struct resolved_set *out, struct error *err);
void resolved_set_release(struct resolved_set *s);

/* a manifest descriptor whose target is a SOCI index or other artifact,
 * not an image */
int desc_is_soci_artifact(json_t *desc);



/* refuse an image of more than IMAGE_MAX_LAYERS layers (manifest: its digest) */
int image_check_layer_count(const char *manifest, size_t nlayers, struct error *err);

/* --platform value: add to the selection */
int platform_sel_add(struct platform_sel *sel, const char *s, struct error *err);
#endif
