/* fb_builder.h -- a FlatBuffers builder that writes the same bytes as Go's
 *
 * The ztoc digest is the sha256 of its FlatBuffers bytes, and those bytes
 * depend on the builder's algorithm, not only on the schema.  This builder
 * reproduces the Go `flatbuffers.Builder` (the one upstream soci uses)
 * operation for operation: back-to-front filling, Prep() alignment padding,
 * no string sharing, defaults skipped, vtables deduplicated newest first
 * (docs/format.md §1.4).  Give it the same calls in the same order and it
 * gives the same bytes.
 *
 * Offsets returned (uint32_t) are "distance from the end of the buffer", as
 * in every FlatBuffers builder.  Errors (allocation failure, a buffer past
 * 2 GiB, misuse) are sticky: calls become no-ops and fb_finish() reports it.
 *
 * Ownership: the builder owns its buffer until fb_take() hands it over;
 * fb_builder_free() releases an unfinished one.  Thread safety: one builder
 * per thread; builders share nothing.
 */
#ifndef SOCI_FB_BUILDER_H
#define SOCI_FB_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct fb_builder;

/* capacity_hint: expected final size; a good hint avoids regrowth copies */
struct fb_builder *fb_builder_new(size_t capacity_hint);
void fb_builder_free(struct fb_builder *b);

uint32_t fb_create_string(struct fb_builder *b, const void *s, size_t len);
uint32_t fb_create_byte_vector(struct fb_builder *b, const void *data, size_t len);

/* vector of references: start, prepend elements from last to first, end */
void fb_start_vector(struct fb_builder *b, size_t elem_size, size_t count, size_t alignment);
void fb_prepend_uoffset(struct fb_builder *b, uint32_t off);
uint32_t fb_end_vector(struct fb_builder *b, size_t count);

/* tables: fields are skipped when equal to their default, as Go does */
void fb_start_table(struct fb_builder *b, int nfields);
void fb_add_i8(struct fb_builder *b, int field, int8_t v, int8_t def);
void fb_add_i32(struct fb_builder *b, int field, int32_t v, int32_t def);
void fb_add_u32(struct fb_builder *b, int field, uint32_t v, uint32_t def);
void fb_add_i64(struct fb_builder *b, int field, int64_t v, int64_t def);
void fb_add_offset(struct fb_builder *b, int field, uint32_t off);
uint32_t fb_end_table(struct fb_builder *b);

/* finish with a root table (no file identifier, no size prefix); on success
 * *out points at the finished bytes, owned by the builder */
int fb_finish(struct fb_builder *b, uint32_t root, const uint8_t **out,
              size_t *out_len, struct error *err);

/* after fb_finish: hand the buffer over (moved to its start, no copy of a
 * second buffer); *out is the caller's to free.  The builder is spent. */
uint8_t *fb_take(struct fb_builder *b, size_t *out_len);

#endif
