/* ztoc.h -- the zTOC: encode byte-identically to upstream, decode verified
 *
 * A ztoc is one FlatBuffers blob per layer (formats/ztoc.fbs): the tar's
 * table of contents plus the zInfo checkpoint blob and per-span digests.
 * ztoc_encode() issues builder calls in exactly upstream's order
 * (docs/format.md §1.4), so equal inputs give equal bytes and digests.
 * ztoc_decode() accepts any valid FlatBuffers layout, verifies every offset,
 * then applies upstream's load rules (§1.5): entries sorted by
 * uncompressed_offset, tar header offsets recomputed, overlaps rejected;
 * except that an entry of a header-only type takes no data bytes, where
 * upstream counts its header's size (see ztoc_entry_data_size).
 *
 * Ownership: ztoc_encode's output belongs to the caller (free()).  A
 * decoded struct ztoc points into the buffer it was decoded from (which
 * must outlive it) and into arrays it owns, freed by ztoc_release.
 * Errors: functions returning int give 0, or -1 with *err set to one line
 * naming what is wrong (the field, the entry, the offset); nothing is
 * left allocated on failure.
 * Thread safety: no global state; a decoded ztoc may be read by any number
 * of threads at once, and is never changed after ztoc_decode.
 */
#ifndef SOCI_ZTOC_H
#define SOCI_ZTOC_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "fb_reader.h"

#define ZTOC_VERSION "0.9"

enum ztoc_algorithm {
    ZTOC_GZIP = 1,          /* the schema default: never written */
    ZTOC_UNCOMPRESSED = 2,
};

/* one PAX record of an entry; values are arbitrary bytes */
struct ztoc_pax {
    struct strv key;
    struct strv value;
};

struct ztoc_entry {
    struct strv name, type, linkname, uname, gname, mod_time;
    int64_t offset;             /* uncompressed_offset: start of the file data */
    int64_t size;               /* uncompressed_size: the tar header's size */
    int64_t mode, devmajor, devminor;
    uint32_t uid, gid;
    uint32_t npax;
    struct ztoc_pax *pax;       /* sorted by key (byte order) */
    int64_t tar_header_offset;  /* not serialised; set by ztoc_decode() */
};

struct ztoc {
    struct strv version;
    struct strv build_tool;
    int64_t compressed_size;    /* compressed_archive_size: the blob size */
    int64_t uncompressed_size;  /* uncompressed_archive_size (§3.6) */
    size_t nentries;
    struct ztoc_entry *entries;
    int algorithm;              /* enum ztoc_algorithm */
    int32_t max_span_id;
    size_t nspan_digests;
    struct strv *span_digests;  /* "sha256:<64 hex>" each */
    struct strv checkpoints;    /* the zInfo blob (formats/zinfo.h) */

    void *owned_;               /* arrays allocated by ztoc_decode() */
};

/* serialise; *out is malloc'd and owned by the caller */
int ztoc_encode(const struct ztoc *z, uint8_t **out, size_t *out_len, struct error *err);

/* parse and verify buf (which must outlive z); release with ztoc_release() */
int ztoc_decode(const uint8_t *buf, size_t len, struct ztoc *z, struct error *err);
/* the same, with the decoded arrays (one block, ~170 bytes per entry) from
 * alloc (NULL: malloc), which returns memory that free() releases, or NULL:
 * a caller that knows its platform may place them better (soci-mount
 * populates them up front: formats/ makes no system calls) */
int ztoc_decode_alloc(const uint8_t *buf, size_t len, struct ztoc *z, void *(*alloc)(size_t),
                      struct error *err);
void ztoc_release(struct ztoc *z);

/* Check decoded bytes against the TOC (docs/format.md §3.5): data holds
 * uncompressed bytes [start, start + len); every entry whose tar header
 * block (the 512 bytes before its data) lies whole in them must have a
 * valid header checksum there, and when that block is the entry's whole
 * header group (no PAX or GNU long-name blocks before it) a name field that
 * ends the entry's name and the entry's size.  A ztoc that passed
 * zinfo_check but whose offsets are not the layer's fails here, before any
 * wrong byte is served.  z must come from ztoc_decode(). */
int ztoc_check_headers(const struct ztoc *z, int64_t start, const uint8_t *data, size_t len,
                       struct error *err);

/* How many bytes of the uncompressed stream the entry's data takes: its
 * size, except for the header-only types (hardlink, symlink, char, block,
 * dir, fifo): a tar reader reports the size field of their header (and
 * the TOC records it, as upstream's does) but skips no data after them. */
int64_t ztoc_entry_data_size(const struct ztoc_entry *e);

/* the PAX record named key, or NULL */
const struct ztoc_pax *ztoc_entry_pax(const struct ztoc_entry *e, const char *key);

/* round up to the next 512-byte tar block */
static inline int64_t ztoc_align512(int64_t v) { return (v + 511) & ~(int64_t)511; }

#endif
