/* index_run.h -- index the layers of resolved images into a packer
 *
 * The in-process equivalent of `soci-layers | ztoc-gen`: every layer of
 * every image becomes a layer job on a pool of `jobs` threads; results go
 * to the packer in image and layer order.  Used by create and convert.
 *
 * Ownership: every argument stays the caller's.  Errors: 0, or -1 with one
 * line in err naming the layer.  Thread safety: called from one thread; the
 * worker threads it starts are joined before it returns.
 */
#ifndef SOCI_INDEX_RUN_H
#define SOCI_INDEX_RUN_H

#include "error.h"
#include "existing.h"
#include "image_resolve.h"
#include "layer_job.h"
#include "oci_layout.h"
#include "pack.h"
#include "progress.h"

/* l: the layout holding the layers; ref: as the user gave it */
int index_run(struct oci_layout *l, const struct resolved_set *set, const char *ref,
              const struct existing_set *existing, const struct index_params *params, int jobs,
              struct progress *prog, struct packer *pk, struct error *err);

#endif
