/* layers.h -- the layer stage: an image's layers as records
 *
 * soci-layers and `soci create` both turn a resolved image into an image
 * record and one layer record per layer (blob path in the layout, and any
 * reusable ztocs), so both paths feed identical work to the indexer.
 *
 * Ownership: records are filled in the caller's struct (strings copied; the
 * image record's manifest bytes, when set, borrow im's).  Errors:
 * layers_layer_record returns 0, or -1 with one line in err.  Thread safety:
 * no state.
 */
#ifndef SOCI_LAYERS_H
#define SOCI_LAYERS_H

#include "existing.h"
#include "image_resolve.h"
#include "oci_layout.h"
#include "stream.h"

void layers_image_record(const struct resolved_image *im, uint32_t id, const char *layout_dir,
                         const char *ref, struct stream_record *rec);
int layers_layer_record(struct oci_layout *l, const struct resolved_image *im, uint32_t id, uint32_t n,
                        const struct existing_set *existing, struct stream_record *rec, struct error *err);

#endif
