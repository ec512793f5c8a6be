/* fuzz_content_range.c -- hostile Content-Range values and
 * multipart/byteranges answers
 *
 * Input: byte 0 is the number of ranges asked for (1..8); then 8 bytes a
 * range (offset and length, small, from the input); the rest is the
 * answer's body, whose first line is also tried as a Content-Range value
 * and a Content-Type.  Each range's buffer is allocated to its exact
 * length, so ASan sees any copy past it; a Content-Range that parses must
 * satisfy first <= last < complete (or complete = -1), all within
 * REG_RANGE_MAX.  A successful multipart parse must have filled every
 * range with bytes that occur in the body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "registry_range.h"

#define MAX_RANGES 8

static void first_line(const uint8_t *body, size_t len)
{
    char line[256], boundary[REG_BOUNDARY_MAX + 1];
    size_t n = 0;
    int64_t a, b, t;

    while (n < len && n < sizeof(line) - 1 && body[n] != '\n' && body[n] != '\0') {
        line[n] = (char)body[n];
        n++;
    }
    line[n] = '\0';
    if (reg_content_range_parse(line, &a, &b, &t) == 0 &&
        (a < 0 || b < a || b > REG_RANGE_MAX || (t != -1 && (t <= b || t > REG_RANGE_MAX))))
        FAIL("\"%s\" parsed to %lld-%lld/%lld", line, (long long)a, (long long)b, (long long)t);
    if (reg_multipart_boundary(line, boundary) == 0 && (boundary[0] == '\0' || strlen(boundary) > REG_BOUNDARY_MAX))
        FAIL("bad boundary from \"%s\"", line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reg_range r[MAX_RANGES];
    size_t n, i, need;
    const uint8_t *body;
    size_t len;

    if (size < 1)
        return 0;
    n = (size_t)(data[0] % MAX_RANGES) + 1;
    need = 1 + n * 8;
    if (size < need)
        return 0;
    for (i = 0; i < n; i++) {
        const uint8_t *p = data + 1 + i * 8;
        r[i].off = (int64_t)(((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) % 100000);
        r[i].len = (size_t)(((uint32_t)p[4] << 8 | p[5]) % 4096) + 1;
        r[i].buf = malloc(r[i].len);
        if (r[i].buf == NULL)
            abort();
    }
    body = data + need;
    len = size - need;
    first_line(body, len);
    /* the boundary: "B" (seeds and mutations find it easily) */
    if (reg_multipart_parse(body, len, "B", r, n) == 0)
        for (i = 0; i < n; i++)
            if (r[i].len > len || memmem(body, len, r[i].buf, r[i].len) == NULL)
                FAIL("range %zu filled with bytes that are not in the body", i);
    for (i = 0; i < n; i++)
        free(r[i].buf);
    return 0;
}
