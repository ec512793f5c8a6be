/* tar_stream.h -- a push parser for tar streams, with Go archive/tar semantics
 *
 * Upstream builds the TOC with Go's archive/tar reader, so every field we
 * record must be what that reader reports (docs/format.md §3.2): ustar,
 * GNU and PAX headers, GNU long names and links, base-256 numbers,
 * fractional PAX times, all PAX records of an entry kept.  Bytes are pushed
 * in as they come out of inflate, in any slicing; the parser only looks at
 * header blocks and skips file data arithmetically.
 *
 * Where upstream fails we do better: PAX global headers ('g', written by
 * `git archive`) are applied to the entries that follow, as POSIX says,
 * instead of failing the build.
 *
 * Ownership: the parser owns its buffers until tar_stream_free(); header
 * views passed to the callback are valid only during it.  Errors:
 * tar_stream_feed and tar_stream_finish return 0, or -1 with one line in err
 * naming the byte offset (or the callback's own error).  Thread safety: one
 * parser per thread; parsers share nothing.
 */
#ifndef SOCI_TAR_STREAM_H
#define SOCI_TAR_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ztoc.h"

/* one archive member as Go's tar.Reader.Next() would report it; the views
 * are valid only during the callback */
struct tar_header {
    struct strv name, linkname, uname, gname;
    char typeflag;              /* after Go's '\0'+"/" -> '5' rule */
    int64_t size;               /* header or PAX size */
    int64_t mode;               /* raw header mode */
    int64_t uid, gid;
    int64_t mtime_sec, mtime_nsec;
    int64_t devmajor, devminor;
    size_t npax;
    const struct ztoc_pax *pax; /* every effective PAX record, sorted by key */
    int64_t header_offset;      /* first header block of the member */
    int64_t data_offset;        /* start of the member's data */
};

typedef int (*tar_entry_fn)(void *ctx, const struct tar_header *h, struct error *err);

struct tar_stream;

struct tar_stream *tar_stream_new(tar_entry_fn on_entry, void *ctx);
void tar_stream_free(struct tar_stream *ts);

/* push the next bytes of the uncompressed stream */
int tar_stream_feed(struct tar_stream *ts, const uint8_t *data, size_t n, struct error *err);
/* the stream ended: *archive_end is where Go's reader reached io.EOF
 * (after the two zero blocks, or where the stream stopped), §3.6 */
int tar_stream_finish(struct tar_stream *ts, int64_t *archive_end, struct error *err);
/* the end-of-archive marker was seen: further bytes are ignored */
int tar_stream_done(const struct tar_stream *ts);

#endif
