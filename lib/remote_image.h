/* remote_image.h -- images that live in a registry
 *
 * Resolves REGISTRY/REPO:TAG to its platform image manifests with the same
 * platform rules as a layout (image_resolve.h), and can record what a
 * local layout needs to describe such an image.
 */
#ifndef SOCI_REMOTE_IMAGE_H
#define SOCI_REMOTE_IMAGE_H

#include "error.h"
#include "image_resolve.h"
#include "oci_layout.h"
#include "registry.h"

struct remote_target {
    uint8_t *bytes;          /* the tag's target document (manifest or index) */
    size_t len;
    char media_type[256];
    char digest[80];
};

int remote_resolve(struct reg_client *c, const struct reg_ref *ref, const struct platform_sel *sel,
                   struct resolved_set *out, struct remote_target *target, struct error *err);
void remote_target_release(struct remote_target *t);

/* store what a local layout needs to describe the image: the target
 * document (tagged `tag`), the platform manifests and their configs */
int remote_store_image(struct reg_client *c, const struct reg_ref *ref, const struct resolved_set *set,
                       const struct remote_target *target, struct oci_layout *l, const char *tag,
                       struct error *err);

#endif
