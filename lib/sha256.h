/* sha256.h -- incremental SHA-256 over OpenSSL's libcrypto (SHA-NI when present)
 *
 * Ownership: the context is the caller's until sha256_free().  Errors:
 * sha256_new returns NULL when out of memory; the rest cannot fail.  Thread
 * safety: one context per thread; contexts share nothing.
 */
#ifndef SOCI_SHA256_H
#define SOCI_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256;

struct sha256 *sha256_new(void);
void sha256_free(struct sha256 *h);
void sha256_reset(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *data, size_t n);
/* finish into out; the context must be reset before reuse */
void sha256_final(struct sha256 *h, uint8_t out[32]);

/* one-shot */
void sha256_buf(const void *data, size_t n, uint8_t out[32]);

#endif
