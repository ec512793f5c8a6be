/* registry_range.c -- Content-Range and multipart/byteranges (see registry_range.h) */
#include "registry_range.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* decimal digits at *p (no sign, no space) up to REG_RANGE_MAX; advances *p */
static int parse_u53(const char **p, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;

    if (*s < '0' || *s > '9')
        return -1;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s - '0');
        if (v > REG_RANGE_MAX)
            return -1;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

int reg_content_range_parse(const char *value, int64_t *first, int64_t *last, int64_t *complete)
{
    const char *p = value;

    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "bytes", 5) != 0)
        return -1;
    p += 5;
    if (*p != ' ')
        return -1;
    while (*p == ' ')
        p++;
    if (parse_u53(&p, first) != 0 || *p++ != '-' || parse_u53(&p, last) != 0 || *p++ != '/' || *last < *first)
        return -1;
    if (*p == '*') {
        p++;
        *complete = -1;
    } else if (parse_u53(&p, complete) != 0 || *complete <= *last) {
        return -1;
    }
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return *p == '\0' ? 0 : -1;
}

int reg_multipart_boundary(const char *content_type, char *out)
{
    const char *p = content_type, *b;
    size_t n;

    while (*p == ' ')
        p++;
    if (strncasecmp(p, "multipart/byteranges", 20) != 0 || (b = strcasestr(p, "boundary=")) == NULL)
        return -1;
    b += 9;
    if (*b == '"') {
        b++;
        n = strcspn(b, "\"");
        if (b[n] != '"')
            return -1;
    } else {
        n = strcspn(b, " ;\t\r\n");
    }
    if (n == 0 || n > REG_BOUNDARY_MAX)
        return -1;
    memcpy(out, b, n);
    out[n] = '\0';
    return 0;
}

/* the Content-Range of one part's header block [p, end) (lines ending in
 * CRLF); -1 when it has none or a malformed one */
static int part_range(const char *p, const char *end, int64_t *first, int64_t *last)
{
    char value[128];
    int64_t complete;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (ll > 14 && strncasecmp(p, "Content-Range:", 14) == 0) {
            size_t vl = ll - 14;
            if (vl >= sizeof(value))
                return -1;
            memcpy(value, p + 14, vl);
            value[vl] = '\0';
            return reg_content_range_parse(value, first, last, &complete);
        }
        p += ll + (eol != NULL);
    }
    return -1;
}

int reg_multipart_parse(const uint8_t *body, size_t len, const char *boundary, struct reg_range *r, size_t n)
{
    const char *p = (const char *)body, *end = p + len;
    size_t blen = strlen(boundary), filled = 0, i;
    char *done;

    if (blen == 0 || blen > REG_BOUNDARY_MAX || n == 0)
        return -1;
    done = calloc(n, 1);
    if (done == NULL)
        return -1;
    for (;;) {
        const char *hdr_end;
        int64_t first, last;
        size_t part_len;

        /* the next "--boundary" (a preamble or the CRLF after a part come first) */
        while ((size_t)(end - p) >= 2 + blen && !(p[0] == '-' && p[1] == '-' && memcmp(p + 2, boundary, blen) == 0))
            p++;
        if ((size_t)(end - p) < 2 + blen)
            break;
        p += 2 + blen;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break; /* the closing delimiter */
        hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (hdr_end == NULL || part_range(p, hdr_end, &first, &last) != 0)
            break;
        p = hdr_end + 4;
        /* both bounded by REG_RANGE_MAX: no overflow */
        if ((uint64_t)(last - first) >= (uint64_t)(end - p))
            break;
        part_len = (size_t)(last - first + 1);
        for (i = 0; i < n; i++)
            if (!done[i] && r[i].off == first && r[i].len == part_len) {
                memcpy(r[i].buf, p, part_len);
                done[i] = 1;
                filled++;
                break;
            }
        p += part_len;
    }
    free(done);
    return filled == n ? 0 : -1;
}
