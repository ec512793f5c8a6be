/* existing.h -- ztocs already in a layout, for reuse on re-runs
 *
 * Re-running create on an image reuses the ztoc of a layer indexed before
 * with the same span size and build tool (upstream issue #1669) instead of
 * reading the layer again.  The candidates come from the SOCI indexes
 * recorded in the layout's index.json whose ztoc blobs are present.
 *
 * Ownership: the set is the caller's until existing_free(); lookups copy
 * into the record.  Errors: existing_scan returns NULL only when out of
 * memory (an unreadable layout gives an empty set); lookup cannot fail.
 * Thread safety: a scanned set is read-only and may be shared.
 */
#ifndef SOCI_EXISTING_H
#define SOCI_EXISTING_H

#include "oci_layout.h"
#include "stream.h"

struct existing_set;

/* scan the layout (missing or unreadable indexes are skipped, not errors) */
struct existing_set *existing_scan(struct oci_layout *l);
void existing_free(struct existing_set *s);
/* fill layer->existing for layer->desc.digest */
void existing_lookup(const struct existing_set *s, struct stream_layer_rec *layer);

#endif
