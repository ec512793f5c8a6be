/* catalog.h -- the SOCI indexes a layout holds, and what they belong to
 *
 * v1 indexes are entries of index.json (artifactType v1, or untagged
 * manifests whose config says SOCI); v2 indexes live inside converted image
 * indexes (docs/format.md §4.5).  For each we know its ztocs, the image
 * manifest it indexes, and that image's tag and platform when the layout
 * says.  The index list/info/rm, ztoc list/info/get-file and push commands
 * all read the layout through this.
 *
 * Ownership: the catalog owns its entries (and their parsed indexes) until
 * catalog_release(); pointers from the find functions point into it.
 * Errors: catalog_load returns 0, or -1 with one line in err when
 * index.json cannot be read (entries it cannot read are skipped); the
 * finders return NULL when nothing matches.
 * Thread safety: a loaded catalog is read-only and may be shared; loading
 * belongs to one thread.
 */
#ifndef SOCI_CATALOG_H
#define SOCI_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "oci_layout.h"
#include "soci_index.h"

struct catalog_index {
    char digest[80];
    int64_t size;
    int version;
    char image_manifest[80];      /* the image manifest it indexes ("" if unknown) */
    char image_ref[512];          /* that image's tag ("" if untagged) */
    char platform[128];           /* that image's platform ("" if unknown) */
    char parent_index[80];        /* v2: the image index holding it */
    struct soci_index ix;         /* parsed: ztocs, build tool, subject */
};

struct catalog {
    struct catalog_index *v;
    size_t n;
};

int catalog_load(struct oci_layout *l, struct catalog *c, struct error *err);
void catalog_release(struct catalog *c);

/* the catalog entry for an index digest, or NULL */
const struct catalog_index *catalog_find_index(const struct catalog *c, const char *digest);
/* the ztoc with this digest (and the index holding it), or NULL */
const struct soci_ztoc_ref *catalog_find_ztoc(const struct catalog *c, const char *digest,
                                              const struct catalog_index **owner);

#endif
