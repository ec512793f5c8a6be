/* extract.h -- read uncompressed byte ranges of a layer through its ztoc
 *
 * The decompression side of a ztoc: fetch the compressed bytes of the spans
 * that hold a range (through a caller's reader: pread on a local blob, an
 * HTTP range GET remotely), check each span against its digest, inflate it
 * from its checkpoint, check the tar headers it holds against the TOC
 * (ztoc_check_headers), and hand out the requested slice.  One span is in
 * memory at a time; its buffers are bounded by what zinfo_check allows.
 *
 * Ownership: the source's ztoc, zinfo and contexts stay the caller's;
 * extract_find_file returns an entry inside z.  Errors: 0, or -1 with one
 * line in err (the read or write callback's, a digest mismatch, a tar header
 * that is not where the TOC says); extract_find_file returns NULL with err
 * set.  Thread safety: no shared state; concurrent calls are fine when their
 * callbacks are.
 */
#ifndef SOCI_EXTRACT_H
#define SOCI_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "zinfo.h"
#include "ztoc.h"

/* read n compressed bytes at off into buf */
typedef int (*extract_read_fn)(void *ctx, int64_t off, size_t n, uint8_t *buf, struct error *err);
/* consume a piece of the output */
typedef int (*extract_write_fn)(void *ctx, const uint8_t *data, size_t n, struct error *err);

/* spans larger than this are refused as hostile */
#define EXTRACT_MAX_SPAN ((int64_t)1 << 30)

struct extract_source {
    const struct ztoc *ztoc;
    const struct zinfo *zinfo;
    extract_read_fn read;
    void *read_ctx;
    int verify;                  /* check span digests before use */
};

int extract_range(const struct extract_source *src, int64_t off, int64_t len,
                  extract_write_fn write, void *write_ctx, struct error *err);

/* upstream's GetMetadataEntry: the first entry named exactly `name`,
 * following linknames (symlinks and hard links) as upstream does */
const struct ztoc_entry *extract_find_file(const struct ztoc *z, const char *name,
                                           struct error *err);

#endif
