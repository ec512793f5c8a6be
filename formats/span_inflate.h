/* span_inflate.h -- decompress spans from their checkpoints (docs/format.md §2.5)
 *
 * Pure buffer-to-buffer: the caller fetched the compressed bytes of spans
 * first..last (from zinfo_span_compressed_start(first) to
 * zinfo_span_compressed_end(last)); this yields their uncompressed bytes
 * (from zinfo_span_uncompressed_start(first) to ..._end(last)).  A gzip span
 * resumes raw inflate at its checkpoint: prime the leftover bits, load the
 * 32 KiB window, and step over member boundaries (8-byte trailer, then the
 * next member's gzip header).  A tar span is a copy.  Built with ISA-L
 * (HAVE_ISAL), its inflater decodes a range within one gzip member, about
 * twice as fast; a range across members, or data ISA-L refuses, goes to
 * zlib.  On valid deflate data both give the same bytes; igzip decodes a
 * few malformed blocks zlib refuses (an incomplete code), which no span
 * the indexer made holds (ztoc-gen fails on them with either inflater) and
 * callers check spans against their digests first.
 *
 * Ownership: the caller owns in and out; the inflater owns its zlib state
 * until span_inflater_free().  Errors: span_inflate returns 0, or -1 with
 * one line in err (corrupt deflate data, a span that yields more or fewer
 * bytes than out_len); span_inflater_new returns NULL when out of memory.
 * The inflater owns its ISA-L state too (about 85 KiB, within it).
 * Thread safety: one inflater per thread; inflaters share nothing.
 */
#ifndef SOCI_SPAN_INFLATE_H
#define SOCI_SPAN_INFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "zinfo.h"

struct span_inflater;

struct span_inflater *span_inflater_new(void);
void span_inflater_free(struct span_inflater *si);

/* out_len must equal the uncompressed length of the spans */
int span_inflate(struct span_inflater *si, const struct zinfo *zi, int32_t first, int32_t last,
                 const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                 struct error *err);

#endif
