/* remote_source.h -- registry images as index input: layers stream
 * straight from the registry into layer jobs; no layer touches the disk
 *
 * Ownership: every argument stays the caller's; remote_feed_job closes the
 * job's chunk queue whatever happens.  Errors: 0, or -1 with one line in err
 * naming the layer and the registry's answer.  Thread safety:
 * remote_index_run is called from one thread and joins the fetch and job
 * threads it starts; remote_feed_job runs on one of those.
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
#include "remote_image.h"

/* the bounds soci-mount puts on a registry (connect and low-speed
 * timeouts of 5 s, at least 32 KiB/s, 3 retries: a stalled or trickling
 * registry fails a run in about 21 s), for the index builders reading a
 * registry image: `soci create REGISTRY/...` and soci-layers */
void remote_source_bounds(struct reg_opts *o);

/* stream one blob into a job's chunk queue (then close it); no more than
 * the layer descriptor's size is read */
int remote_feed_job(struct reg_client *c, const char *repo, struct layer_job *job, struct error *err);

/* index_run for remote images: `jobs` layers fetched and indexed at once */
int remote_index_run(struct reg_client *c, const struct reg_ref *ref, const struct resolved_set *set,
                     const char *user_ref, const struct existing_set *existing, const struct index_params *params,
                     int jobs, struct progress *prog, struct packer *pk, struct error *err);

#endif
