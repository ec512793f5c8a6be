/* remote_source.h -- images that live in a registry, as index input
 *
 * Resolves REGISTRY/REPO:TAG to its platform image manifests (the same
 * platform rules as a layout), and streams layers straight from the
 * registry into layer jobs: no layer touches the disk.
 */
#ifndef SOCI_REMOTE_SOURCE_H
#define SOCI_REMOTE_SOURCE_H

#include "error.h"
#include "existing.h"
#include "image_resolve.h"
#include "layer_job.h"
#include "pack.h"
#include "progress.h"
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

/* stream one blob into a job's chunk queue (then close it) */
int remote_feed_job(struct reg_client *c, const char *repo, struct layer_job *job, struct error *err);

/* index_run for remote images: `jobs` layers fetched and indexed at once */
int remote_index_run(struct reg_client *c, const struct reg_ref *ref, const struct resolved_set *set,
                     const char *user_ref, const struct existing_set *existing, const struct index_params *params,
                     int jobs, struct progress *prog, struct packer *pk, struct error *err);

#endif
