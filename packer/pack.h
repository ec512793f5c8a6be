/* pack.h -- write SOCI indexes into an OCI layout from ztoc/skip records
 *
 * soci-pack and `soci create` both end here.  Per image, ztoc records are
 * collected in layer order; on the image's end the ztoc blobs, the `{}`
 * config and the v1 SOCI index manifest (Go-canonical, subject = the image
 * manifest) are written into blobs/sha256, and index.json gains one entry
 * for the index, replacing an older index of the same image.  Nothing is
 * written until packer_finish(), after the whole stream arrived.
 *
 * Ownership: the packer borrows dest and what opts points at (they must
 * outlive it), and copies opts itself and what it needs of each record;
 * packer_last_index points into the packer.  Errors: 0, or -1 with one line in err; packer_new returns NULL
 * when out of memory.  Thread safety: one thread per packer.
 */
#ifndef SOCI_PACK_H
#define SOCI_PACK_H

#include <stdio.h>

#include "error.h"
#include "oci.h"
#include "oci_layout.h"
#include "stream.h"

struct pack_opts {
    int disable_xattrs_opt;     /* --optimizations xattr */
    int version;                /* 1 (default, recorded in index.json) or 2 (for convert: blobs only) */
    FILE *lines;                /* upstream's per-layer lines (stdout), or NULL */
    FILE *notes;                /* a summary line per index (stderr), or NULL */
    const char *tag;            /* name a remote image by this tag in the layout (or NULL) */
    const struct prefetch_paths *prefetch; /* --prefetch-files: artifacts per layer (or NULL) */
};

struct packer;
struct prefetch_paths;

/* dest must be open and locked by the caller */
struct packer *packer_new(struct oci_layout *dest, const struct pack_opts *opts);
void packer_free(struct packer *pk);

/* feed image, ztoc, skip and image_end records (others are ignored) */
int packer_record(struct packer *pk, const struct stream_record *rec, struct error *err);
/* all records are in: write every image's blobs, then index.json once.
 * Until this is called nothing is written, so a failure anywhere earlier
 * leaves the layout exactly as it was. */
int packer_finish(struct packer *pk, struct error *err);
/* index k written by packer_finish(): its digest, size and image manifest */
struct packed_index {
    char digest[80];
    int64_t size;
    char subject[80];
    char platform[128];
};
size_t packer_count(const struct packer *pk);
int packer_result(const struct packer *pk, size_t k, struct packed_index *out);

/* how many indexes were written */
int packer_written(const struct packer *pk);
/* digest of the last index written */
const char *packer_last_index(const struct packer *pk);

/* the annotation our index.json entries carry to name their image */
#define ENTRY_SUBJECT_ANNOTATION ANN_IMAGE_MANIFEST_DIGEST

#endif
