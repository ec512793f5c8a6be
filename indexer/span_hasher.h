/* span_hasher.h -- SHA-256 of the whole blob and of every span, off the inflate thread
 *
 * ztoc-gen must hash the compressed layer twice over (the blob digest, and
 * one digest per span, soci-format.md §2.4) while it inflates.  Inflate is
 * the bottleneck, so hashing runs on a second thread: the producer fills
 * buffers taken from a small pool, submits them in order, and announces span
 * boundaries as the checkpointer finds them.  Consecutive gzip spans may
 * share one byte (a checkpoint inside a byte), which the hasher handles by
 * remembering the last byte of the previous buffer.  With threads disabled
 * the same work runs inline.
 */
#ifndef SOCI_SPAN_HASHER_H
#define SOCI_SPAN_HASHER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SPAN_HASHER_BUFFER_SIZE (256 * 1024)

struct span_hasher;

struct span_hasher *span_hasher_new(int threaded);
void span_hasher_free(struct span_hasher *sh);

/* a free buffer of SPAN_HASHER_BUFFER_SIZE bytes (waits for one) */
uint8_t *span_hasher_buffer(struct span_hasher *sh);
/* the next n bytes of the blob, in the buffer just obtained */
void span_hasher_submit(struct span_hasher *sh, uint8_t *buf, size_t n);
/* the span in progress ends at prev_end (exclusive) and the next one starts at
 * start (prev_end or prev_end - 1); the first call only starts span 0 */
void span_hasher_boundary(struct span_hasher *sh, int64_t prev_end, int64_t start);

/* all bytes submitted: the blob digest and one digest per span (32 bytes
 * each, *digests malloc'd) */
int span_hasher_finish(struct span_hasher *sh, uint8_t blob_digest[32], uint8_t **digests,
                       size_t *nspans, struct error *err);

#endif
