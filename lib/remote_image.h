/* remote_image.h -- images that live in a registry
 *
 * Resolves REGISTRY/REPO:TAG to its platform image manifests with the same
 * platform rules as a layout (image_resolve.h), and can record what a
 * local layout needs to describe such an image.
 *
 * Ownership: on success *out and *target are the caller's (resolved_set_release,
 * remote_target_release); the client, reference and layout stay the
 * caller's.  Errors: 0, or -1 with one line in err naming the registry and
 * the document.  Thread safety: no shared state beyond the registry client,
 * which may be shared.
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
