/* sha256.c -- SHA-256 over OpenSSL EVP (see sha256.h) */
#include "sha256.h"

#include <openssl/evp.h>
#include <stdlib.h>

struct sha256 {
    EVP_MD_CTX *ctx;
};

struct sha256 *sha256_new(void)
{
    struct sha256 *h = malloc(sizeof(*h));

    if (h == NULL)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
    }
    return h;
}

void sha256_free(struct sha256 *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void sha256_reset(struct sha256 *h)
{
    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

void sha256_update(struct sha256 *h, const void *data, size_t n)
{
    if (n)
        EVP_DigestUpdate(h->ctx, data, n);
}

void sha256_final(struct sha256 *h, uint8_t out[32])
{
    unsigned int len = 32;

    EVP_DigestFinal_ex(h->ctx, out, &len);
}

void sha256_buf(const void *data, size_t n, uint8_t out[32])
{
    unsigned int len = 32;

    EVP_Digest(data, n, out, &len, EVP_sha256(), NULL);
}
