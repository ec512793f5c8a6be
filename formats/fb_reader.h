/* fb_reader.h -- a verifying FlatBuffers reader
 *
 * Upstream reads ztocs with unchecked generated code and recovers from the
 * panic.  We treat every ztoc as hostile: each access checks that offsets,
 * vtables, strings and vectors lie inside the buffer and are aligned, before
 * a byte is used.  Any valid FlatBuffers layout is accepted, not only the one
 * our builder writes (other builders share strings, order fields otherwise).
 *
 * Ownership: nothing is allocated; tables, vectors and strvs are views into
 * the caller's buffer and live as long as it does.  Errors: every function
 * returns 0, or -1 with one line in err naming what lies outside the buffer;
 * an absent field is not an error.  Thread safety: no state; any number of
 * threads may read one buffer at once.
 */
#ifndef SOCI_FB_READER_H
#define SOCI_FB_READER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* a byte string that is not NUL-terminated by contract */
struct strv {
    const char *ptr;
    size_t len;
};

struct fb_table {
    const uint8_t *buf;
    size_t buf_len;
    size_t pos;        /* start of the table (its soffset) */
    size_t vtable;     /* start of its vtable */
    uint16_t vtable_size;
    uint16_t object_size;
};

struct fb_vector {
    const uint8_t *buf;
    size_t buf_len;
    size_t pos;        /* first element */
    uint32_t count;
};

int fb_read_root(const uint8_t *buf, size_t len, struct fb_table *root, struct error *err);

/* scalar fields: absent -> def */
int fb_read_i8(const struct fb_table *t, int field, int8_t def, int8_t *out, struct error *err);
int fb_read_i32(const struct fb_table *t, int field, int32_t def, int32_t *out, struct error *err);
int fb_read_u32(const struct fb_table *t, int field, uint32_t def, uint32_t *out, struct error *err);
int fb_read_i64(const struct fb_table *t, int field, int64_t def, int64_t *out, struct error *err);

/* reference fields: absent -> empty string / zero-length vector / *present = 0 */
int fb_read_string(const struct fb_table *t, int field, struct strv *out, struct error *err);
int fb_read_vector(const struct fb_table *t, int field, size_t elem_size,
                   struct fb_vector *out, struct error *err);
int fb_read_table(const struct fb_table *t, int field, struct fb_table *out,
                  int *present, struct error *err);

/* elements of a vector of references */
int fb_vector_table(const struct fb_vector *v, uint32_t i, struct fb_table *out, struct error *err);
int fb_vector_string(const struct fb_vector *v, uint32_t i, struct strv *out, struct error *err);

#endif
