/* remote_source.h -- registry images as index input: layers stream
 * straight from the registry into layer jobs; no layer touches the disk */
#ifndef SOCI_REMOTE_SOURCE_H
#define SOCI_REMOTE_SOURCE_H

#include "error.h"
#include "existing.h"
#include "image_resolve.h"
#include "layer_job.h"
#include "pack.h"
#include "progress.h"
#include "registry.h"
#include "remote_image.h"

/* stream one blob into a job's chunk queue (then close it) */
int remote_feed_job(struct reg_client *c, const char *repo, struct layer_job *job, struct error *err);

/* index_run for remote images: `jobs` layers fetched and indexed at once */
int remote_index_run(struct reg_client *c, const struct reg_ref *ref, const struct resolved_set *set,
                     const char *user_ref, const struct existing_set *existing, const struct index_params *params,
                     int jobs, struct progress *prog, struct packer *pk, struct error *err);

#endif
