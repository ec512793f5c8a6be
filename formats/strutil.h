/* strutil.h -- bounded string copies (truncation is reported, never silent)
 *
 * Ownership: the caller's buffers; nothing is allocated.  Errors: as
 * below (-1 means truncated, dst still terminated).  Thread safety: no state.
 */
#ifndef SOCI_STRUTIL_H
#define SOCI_STRUTIL_H

#include <stddef.h>

/* copy src (NULL = "") into dst[n], always NUL-terminated; returns 0, or -1
 * when src did not fit and was truncated */
int str_copy(char *dst, size_t n, const char *src);

#endif
