/* digest.c -- sha256 digest strings (see digest.h) */
#include "digest.h"

#include <string.h>

static const char hexchars[] = "0123456789abcdef";

void hex_encode(const uint8_t *raw, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hexchars[raw[i] >> 4];
        out[2 * i + 1] = hexchars[raw[i] & 15];
    }
    out[2 * n] = '\0';
}

void digest_format(const uint8_t raw[DIGEST_RAW_SIZE], char out[DIGEST_STR_SIZE])
{
    memcpy(out, "sha256:", 7);
    hex_encode(raw, DIGEST_RAW_SIZE, out + 7);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int digest_parse(const char *s, size_t len, uint8_t raw[DIGEST_RAW_SIZE])
{
    size_t i;

    if (len != 7 + DIGEST_HEX_SIZE || memcmp(s, "sha256:", 7) != 0)
        return -1;
    for (i = 0; i < DIGEST_RAW_SIZE; i++) {
        int hi = hexval(s[7 + 2 * i]), lo = hexval(s[8 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -1;
        if (raw)
            raw[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int digest_valid(const char *s)
{
    return digest_parse(s, strlen(s), NULL) == 0;
}
