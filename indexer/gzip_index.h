/* gzip_index.h -- one-pass zlib / ISA-L checkpointer for gzip layers (docs/format.md §2.2)
 *
 * Inflates (with Z_BLOCK where a block end can matter) and records a
 * checkpoint {in, out, bits, 32 KiB window} after the gzip header and then
 * at the first deflate block end after more than span_size uncompressed
 * bytes, exactly where upstream's zran-derived builder puts them.
 * Multi-member streams (pigz) are followed across members.  The inflated
 * bytes go to the tar parser, and to the span hasher's thread for their
 * CRC-32; each checkpoint is announced to the span hasher as a span boundary.
 */
#ifndef SOCI_GZIP_INDEX_H
#define SOCI_GZIP_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "span_hasher.h"
#include "tar_stream.h"

struct gzip_index;

/* Which library inflates a member's deflate data: zlib, or ISA-L's igzip
 * when built with it (HAVE_ISAL).  Both give the same ztoc bytes: ISA-L has
 * no Z_BLOCK, so each deflate block is handed to it with its BFINAL bit set
 * by hand, and it stops at that block's end, the bit zlib's Z_BLOCK stop
 * gives (gzip_index_isal.c).  zlib still reads every gzip header, checks
 * every block header, and inflates zlib-wrapped streams.  Valid and
 * truncated streams and CRC mismatches give the same result and message on
 * both; corrupt deflate data fails on both, but inside a block the message
 * (reason, byte) may differ. */
enum gzip_inflater { GZIP_INFLATER_ZLIB, GZIP_INFLATER_ISAL };
/* ISA-L when built in: the same ztocs (tests/cli/ztoc_isal_identical.sh,
 * the fuzz target's both-paths check) in about 0.6x the time */
#ifdef HAVE_ISAL
#define GZIP_INFLATER_DEFAULT GZIP_INFLATER_ISAL
#else
#define GZIP_INFLATER_DEFAULT GZIP_INFLATER_ZLIB
#endif
/* "zlib" or "isal" for every gzip_index made afterwards (a process-wide
 * setting: call before any indexing thread starts); -1 if unknown or not
 * built in */
int gzip_index_set_inflater(const char *name);

struct gzip_index *gzip_index_new(int64_t span_size, struct tar_stream *tar,
                                  struct span_hasher *hasher);
void gzip_index_free(struct gzip_index *gi);

/* the next compressed bytes */
int gzip_index_feed(struct gzip_index *gi, const uint8_t *in, size_t n, struct error *err);
/* end of input: fails on a truncated stream */
int gzip_index_finish(struct gzip_index *gi, struct error *err);

/* the zInfo blob (v2, header filled in); owned by gi */
const uint8_t *gzip_index_blob(struct gzip_index *gi, size_t *len, int32_t *ncheckpoints);
int64_t gzip_index_total_out(const struct gzip_index *gi);

#endif
