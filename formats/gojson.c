/* gojson.c -- Go-compatible JSON writer (see gojson.h) */
#include "gojson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gojson_init(struct gojson *j, int indent)
{
    memset(j, 0, sizeof(*j));
    j->indent = indent;
}

void gojson_free(struct gojson *j)
{
    free(j->buf);
    j->buf = NULL;
    j->len = j->cap = 0;
}

static void put(struct gojson *j, const char *s, size_t n)
{
    if (j->failed)
        return;
    if (j->len + n + 1 > j->cap) {
        size_t ncap = j->cap ? j->cap : 256;
        char *nb;
        while (ncap < j->len + n + 1)
            ncap *= 2;
        nb = realloc(j->buf, ncap);
        if (nb == NULL) {
            j->failed = 1;
            return;
        }
        j->buf = nb;
        j->cap = ncap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void putc_(struct gojson *j, char c) { put(j, &c, 1); }

static void newline(struct gojson *j, int depth)
{
    int i;

    if (!j->indent)
        return;
    putc_(j, '\n');
    for (i = 0; i < depth * j->indent; i++)
        putc_(j, ' ');
}

/* separator and indentation before a value (or a key) at the current level */
static void before_value(struct gojson *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->depth > 0) {
        if (j->count[j->depth] > 0)
            putc_(j, ',');
        newline(j, j->depth);
        j->count[j->depth]++;
    }
}

static void open_(struct gojson *j, char c)
{
    before_value(j);
    putc_(j, c);
    if (j->depth + 1 >= GOJSON_MAX_DEPTH) {
        j->failed = 1;
        return;
    }
    j->depth++;
    j->count[j->depth] = 0;
}

static void close_(struct gojson *j, char c)
{
    if (j->depth == 0) {
        j->failed = 1;
        return;
    }
    if (j->count[j->depth] > 0)
        newline(j, j->depth - 1);
    j->depth--;
    putc_(j, c);
}

void gojson_begin_object(struct gojson *j) { open_(j, '{'); }
void gojson_end_object(struct gojson *j) { close_(j, '}'); }
void gojson_begin_array(struct gojson *j) { open_(j, '['); }
void gojson_end_array(struct gojson *j) { close_(j, ']'); }

void gojson_key(struct gojson *j, const char *key)
{
    before_value(j);
    gojson_escape(j, key, strlen(key));
    put(j, j->indent ? ": " : ":", j->indent ? 2 : 1);
    j->after_key = 1;
}

/* decode one UTF-8 sequence; returns its length, or 0 if invalid */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf && n >= 2 && (s[1] & 0xc0) == 0x80) {
        *cp = (c & 0x1f) << 6 | (s[1] & 0x3f);
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef && n >= 3 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80) {
        *cp = (c & 0x0f) << 12 | (s[1] & 0x3f) << 6 | (s[2] & 0x3f);
        if (*cp < 0x800 || (*cp >= 0xd800 && *cp <= 0xdfff))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4 && n >= 4 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 &&
        (s[3] & 0xc0) == 0x80) {
        *cp = (c & 0x07) << 18 | (s[1] & 0x3f) << 12 | (s[2] & 0x3f) << 6 | (s[3] & 0x3f);
        if (*cp < 0x10000 || *cp > 0x10ffff)
            return 0;
        return 4;
    }
    return 0;
}

void gojson_escape(struct gojson *j, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, start = 0;

    putc_(j, '"');
    while (i < n) {
        unsigned char c = p[i];
        char esc[8];
        size_t elen = 0, adv = 1;
        unsigned cp;

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
            i++;
            continue;
        }
        if (c < 0x80) {
            switch (c) {
            case '"': memcpy(esc, "\\\"", 2); elen = 2; break;
            case '\\': memcpy(esc, "\\\\", 2); elen = 2; break;
            case '\n': memcpy(esc, "\\n", 2); elen = 2; break;
            case '\r': memcpy(esc, "\\r", 2); elen = 2; break;
            case '\t': memcpy(esc, "\\t", 2); elen = 2; break;
            case '\b': memcpy(esc, "\\b", 2); elen = 2; break;
            case '\f': memcpy(esc, "\\f", 2); elen = 2; break;
            default:
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                elen = 6;
            }
        } else {
            adv = utf8_seq(p + i, n - i, &cp);
            if (adv == 0) {
                memcpy(esc, "\\ufffd", 6);
                elen = 6;
                adv = 1;
            } else if (cp == 0x2028 || cp == 0x2029) {
                memcpy(esc, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
                elen = 6;
            } else {
                i += adv;
                continue;
            }
        }
        put(j, s + start, i - start);
        put(j, esc, elen);
        i += adv;
        start = i;
    }
    put(j, s + start, n - start);
    putc_(j, '"');
}

void gojson_string(struct gojson *j, const char *s, size_t n)
{
    before_value(j);
    gojson_escape(j, s, n);
}

void gojson_cstr(struct gojson *j, const char *s) { gojson_string(j, s, strlen(s)); }

void gojson_int(struct gojson *j, int64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);

    before_value(j);
    put(j, tmp, (size_t)n);
}

void gojson_bool(struct gojson *j, int v)
{
    before_value(j);
    put(j, v ? "true" : "false", v ? 4 : 5);
}

void gojson_null(struct gojson *j)
{
    before_value(j);
    put(j, "null", 4);
}

void gojson_raw(struct gojson *j, const char *json, size_t n)
{
    before_value(j);
    put(j, json, n);
}

int gojson_result(struct gojson *j, const char **out, size_t *len, struct error *err)
{
    RETURN_ERROR_IF(j->failed || j->depth != 0, err, "json writer: out of memory or unbalanced");
    if (j->buf == NULL)
        put(j, "", 0);
    RETURN_ERROR_IF(j->failed, err, "json writer: out of memory");
    *out = j->buf;
    *len = j->len;
    return 0;
}

/* json.Indent: whitespace outside strings is dropped and re-inserted */
int gojson_reindent(const char *src, size_t n, int indent, char **out, size_t *out_len,
                    struct error *err)
{
    struct gojson j;
    size_t i;
    int depth = 0, in_str = 0, need_indent = 0, nest = 0, started = 0;
    const char *res;
    size_t rlen;
    int k;

    gojson_init(&j, 0);
    for (i = 0; i < n; i++) {
        char c = src[i];
        if (in_str) {
            putc_(&j, c);
            if (c == '\\' && i + 1 < n) {
                putc_(&j, src[++i]);
            } else if (c == '"') {
                in_str = 0;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            /* json.Indent drops leading and inner space but copies what
             * follows the top-level value */
            if (started && nest == 0)
                putc_(&j, c);
            continue;
        }
        started = 1;
        if (c == '{' || c == '[')
            nest++;
        else if (c == '}' || c == ']')
            nest--;
        if (need_indent && c != ']' && c != '}') {
            need_indent = 0;
            depth++;
            putc_(&j, '\n');
            for (k = 0; k < depth * indent; k++)
                putc_(&j, ' ');
        }
        switch (c) {
        case '"':
            in_str = 1;
            putc_(&j, c);
            break;
        case '{':
        case '[':
            putc_(&j, c);
            need_indent = 1;
            break;
        case ',':
            putc_(&j, c);
            putc_(&j, '\n');
            for (k = 0; k < depth * indent; k++)
                putc_(&j, ' ');
            break;
        case ':':
            putc_(&j, c);
            putc_(&j, ' ');
            break;
        case '}':
        case ']':
            if (need_indent) {
                need_indent = 0; /* empty: "{}" / "[]" */
            } else {
                depth--;
                putc_(&j, '\n');
                for (k = 0; k < depth * indent; k++)
                    putc_(&j, ' ');
            }
            putc_(&j, c);
            break;
        default:
            putc_(&j, c);
        }
    }
    if (in_str || depth != 0 || nest != 0 || gojson_result(&j, &res, &rlen, err) != 0) {
        gojson_free(&j);
        return error_set(err, "invalid JSON");
    }
    *out = j.buf;
    *out_len = rlen;
    return 0;
}
