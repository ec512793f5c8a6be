/* registry_range.h -- HTTP byte ranges of blob answers: Content-Range and
 * multipart/byteranges (RFC 9110 §14.4, §14.6)
 *
 * Pure parsing of hostile bytes (no network): every number is digits only,
 * bounded by REG_RANGE_MAX, and every length is checked against the bytes
 * that are really there before anything is copied, so no answer can make a
 * count overflow or a pointer leave its buffer.
 *
 * Errors: 0 on success, -1 when the input is malformed or does not hold
 * what was asked (no message: the caller knows the request and says it).
 * Thread safety: no state; reentrant.  The caller owns every buffer.
 */
#ifndef SOCI_REGISTRY_RANGE_H
#define SOCI_REGISTRY_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* no blob offset or size is larger: 2^53, far above any layer */
#define REG_RANGE_MAX ((int64_t)1 << 53)
/* RFC 2046 §5.1.1: a boundary is 1 to 70 characters */
#define REG_BOUNDARY_MAX 70

/* bytes [off, off+len) of a blob, read into buf (len bytes, caller's) */
struct reg_range {
    int64_t off;
    size_t len;
    uint8_t *buf;
};

/* "bytes FIRST-LAST/COMPLETE" (COMPLETE may be "*"): *first <= *last, and
 * *complete > *last or -1 for "*" */
int reg_content_range_parse(const char *value, int64_t *first, int64_t *last, int64_t *complete);

/* the boundary parameter of a Content-Type "multipart/byteranges;
 * boundary=X" (X optionally quoted) into out[REG_BOUNDARY_MAX + 1] */
int reg_multipart_boundary(const char *content_type, char *out);

/* copy each part of a multipart/byteranges body into the range r[i] it
 * answers (same offset and length); 0 only when all n ranges were filled */
int reg_multipart_parse(const uint8_t *body, size_t len, const char *boundary, struct reg_range *r, size_t n);

#endif
