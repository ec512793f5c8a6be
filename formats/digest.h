/* digest.h -- "sha256:<hex>" digest strings (OCI image spec, descriptors)
 *
 * Ownership: callers pass every buffer; nothing is allocated.  Errors:
 * digest_parse returns 0, or -1 when s is not exactly "sha256:" and 64
 * lowercase hex (no message: callers name the digest); digest_valid is 1/0.
 * Thread safety: no state; every function is reentrant.
 */
#ifndef SOCI_DIGEST_H
#define SOCI_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_RAW_SIZE 32
#define DIGEST_HEX_SIZE 64
#define DIGEST_STR_SIZE (7 + DIGEST_HEX_SIZE + 1)   /* "sha256:" + hex + NUL */

/* "sha256:" + lowercase hex of raw */
void digest_format(const uint8_t raw[DIGEST_RAW_SIZE], char out[DIGEST_STR_SIZE]);
void hex_encode(const uint8_t *raw, size_t n, char *out);  /* writes 2n chars + NUL */

/* accept exactly "sha256:" + 64 lowercase hex; fills raw when not NULL */
int digest_parse(const char *s, size_t len, uint8_t raw[DIGEST_RAW_SIZE]);
int digest_valid(const char *s);

#endif
