/* span_hasher.h -- SHA-256 of the blob and of every span, and the gzip CRC-32, off the inflate thread
 *
 * ztoc-gen must hash the compressed layer twice over (the blob digest, and
 * one digest per span, docs/format.md §2.4) while it inflates.  Inflate is
 * the bottleneck, so hashing runs on a second thread: the producer fills
 * buffers taken from a small pool, submits them in order, and announces span
 * boundaries as the checkpointer finds them.  Consecutive gzip spans may
 * share one byte (a checkpoint inside a byte), which the hasher handles by
 * remembering the last byte of the previous buffer.
 *
 * The same thread also computes the CRC-32 of every gzip member's
 * uncompressed bytes (ISA-L's where built, zlib's otherwise; zlib's own
 * check costs the inflate thread 8 %): the checkpointer inflates into
 * output buffers from a second pool, hands each
 * one over once it moved on, and reports each member's end with the CRC its
 * trailer holds.  A mismatch is recorded, not raised: the checkpointer asks
 * for it before it reports any other error and before it accepts the end of
 * the input, so the first error in the stream is still the one reported.
 *
 * With threads disabled the same work runs inline.
 */
#ifndef SOCI_SPAN_HASHER_H
#define SOCI_SPAN_HASHER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* the fuzz build makes these small (build/Makefile FUZZ_FLAGS): under ASan
 * every 256 KiB pool buffer is a fresh mapping per input, most of
 * fuzz_layer_index's time; small ones also put buffer ends inside small
 * inputs.  The ztoc does not depend on them. */
#ifndef SPAN_HASHER_BUFFER_SIZE
#define SPAN_HASHER_BUFFER_SIZE (256 * 1024)
#endif
#define SPAN_HASHER_OUT_SIZE (32 * 1024 + SPAN_HASHER_BUFFER_SIZE)

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

/* an output buffer of SPAN_HASHER_OUT_SIZE bytes (waits for one; NULL when
 * out of memory) */
uint8_t *span_hasher_out_buffer(struct span_hasher *sh);
/* the next n uncompressed bytes of the current gzip member; then buffer done
 * (if not NULL) goes back to the pool */
void span_hasher_crc(struct span_hasher *sh, const uint8_t *data, size_t n, uint8_t *done);
/* the member ended; its trailer holds crc and starts at compressed byte at */
void span_hasher_member_end(struct span_hasher *sh, uint32_t crc, int64_t at);
/* the trailer offset of the first member whose CRC-32 disagreed, or -1; with
 * wait, after all the work submitted so far, else as far as it got */
int64_t span_hasher_crc_mismatch(struct span_hasher *sh, int wait);

/* all bytes submitted: the blob digest and one digest per span (32 bytes
 * each, *digests malloc'd) */
int span_hasher_finish(struct span_hasher *sh, uint8_t blob_digest[32], uint8_t **digests,
                       size_t *nspans, struct error *err);

#endif
