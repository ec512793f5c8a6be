/* snapfilter.c -- containerd filter expressions over snapshot info */
#include "snapfilter.h"

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field { FIELD_NONE, FIELD_NAME, FIELD_PARENT, FIELD_KIND, FIELD_LABEL };
enum op { OP_PRESENT, OP_EQUAL, OP_NOT_EQUAL, OP_MATCHES };

struct selector {
    enum field field;
    char *label;  /* FIELD_LABEL: the key, dotted parts joined */
    enum op op;
    char *value;
    regex_t re;
    int re_ok;
};

/* the selectors of one filter string, all of which must match */
struct conj {
    struct selector *sel;
    size_t n;
};

struct snapfilter {
    struct conj *any; /* any of which must match; none = match all */
    size_t n;
};

/* ---- scanner (containerd's filters/scanner.go) ---- */

enum tok { TOK_EOF, TOK_QUOTED, TOK_VALUE, TOK_FIELD, TOK_SEP, TOK_OP, TOK_OTHER };

struct token {
    enum tok kind;
    size_t start, len;
};

struct parser {
    const char *in;
    size_t pos;
    int value_next; /* an operator was just read: the next word is a value */
    struct error *err;
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int is_field_char(char c)
{
    return c == '-' || c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_value_char(char c)
{
    unsigned char u = (unsigned char)c;
    return c != ',' && !is_space(c) && u > 0x20 && u != 0x7f;
}

/* past the closing quote, or 0 when the literal does not end on this line */
static size_t scan_quoted(const char *in, size_t start)
{
    char quote = in[start];

    for (size_t i = start + 1; in[i] != '\0' && in[i] != '\n'; i++) {
        if (in[i] == '\\') {
            if (in[i + 1] == '\0')
                return 0;
            i++;
        } else if (in[i] == quote) {
            return i + 1;
        }
    }
    return 0;
}

static void scan(struct parser *p, struct token *t)
{
    const char *in = p->in;
    size_t i;

    while (is_space(in[p->pos]))
        p->pos++;
    i = p->pos;
    t->start = i;
    t->len = 0;
    if (in[i] == '\0') {
        t->kind = TOK_EOF;
        return;
    }
    if (in[i] == '"' || in[i] == '/' || in[i] == '|') {
        size_t end = scan_quoted(in, i);
        t->kind = end ? TOK_QUOTED : TOK_OTHER;
        p->pos = end ? end : i + strlen(in + i);
    } else if (in[i] == ',' || in[i] == '.') {
        t->kind = TOK_SEP;
        p->value_next = 0;
        p->pos = i + 1;
    } else if (in[i] == '=' || in[i] == '!' || in[i] == '~') {
        for (p->pos = i; in[p->pos] == '=' || in[p->pos] == '!' || in[p->pos] == '~'; p->pos++)
            ;
        t->kind = TOK_OP;
        p->value_next = 1;
    } else if (p->value_next && is_value_char(in[i])) {
        for (p->pos = i; is_value_char(in[p->pos]); p->pos++)
            ;
        t->kind = TOK_VALUE;
        p->value_next = 0;
    } else if (is_field_char(in[i])) {
        for (p->pos = i; is_field_char(in[p->pos]); p->pos++)
            ;
        t->kind = TOK_FIELD;
    } else {
        t->kind = TOK_OTHER;
        p->pos = i + 1;
    }
    t->len = p->pos - i;
}

static int parse_error(struct parser *p, size_t at, const char *msg)
{
    return error_set(p->err, "filter \"%.200s\": parse error at offset %zu: %s", p->in, at, msg);
}

/* ---- unquoting (Go's escapes, as containerd's filters/quote.go) ---- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *out, uint32_t r)
{
    if (r >= 0xd800 && r <= 0xdfff)
        r = 0xfffd; /* as Go's utf8.EncodeRune */
    if (r < 0x80) {
        out[0] = (char)r;
        return 1;
    }
    if (r < 0x800) {
        out[0] = (char)(0xc0 | (r >> 6));
        out[1] = (char)(0x80 | (r & 0x3f));
        return 2;
    }
    if (r < 0x10000) {
        out[0] = (char)(0xe0 | (r >> 12));
        out[1] = (char)(0x80 | ((r >> 6) & 0x3f));
        out[2] = (char)(0x80 | (r & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (r >> 18));
    out[1] = (char)(0x80 | ((r >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((r >> 6) & 0x3f));
    out[3] = (char)(0x80 | (r & 0x3f));
    return 4;
}

/* one escape after the backslash at s; *used = bytes consumed; -1 on bad syntax */
static int unescape(const char *s, size_t avail, char quote, char *out, size_t *used, size_t *written)
{
    static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\";
    int ndigits = 0;
    uint32_t v = 0;

    if (avail < 1)
        return -1;
    for (const char *m = simple; *m; m += 2)
        if (s[0] == m[0]) {
            *out = m[1];
            *used = 1;
            *written = 1;
            return 0;
        }
    if (s[0] == '\'' || s[0] == '"' || s[0] == '|' || s[0] == '/') {
        if (s[0] != quote)
            return -1;
        *out = s[0];
        *used = *written = 1;
        return 0;
    }
    if (s[0] >= '0' && s[0] <= '7') {
        if (avail < 3)
            return -1;
        for (int j = 0; j < 3; j++) {
            if (s[j] < '0' || s[j] > '7')
                return -1;
            v = v << 3 | (uint32_t)(s[j] - '0');
        }
        if (v > 255)
            return -1;
        *out = (char)v;
        *used = 3;
        *written = 1;
        return 0;
    }
    ndigits = s[0] == 'x' ? 2 : s[0] == 'u' ? 4 : s[0] == 'U' ? 8 : 0;
    if (ndigits == 0 || avail < (size_t)ndigits + 1)
        return -1;
    for (int j = 1; j <= ndigits; j++) {
        int d = hex_digit(s[j]);
        if (d < 0)
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    *used = (size_t)ndigits + 1;
    if (s[0] == 'x') {
        *out = (char)v;
        *written = 1;
        return 0;
    }
    if (v > 0x10ffff)
        return -1;
    *written = put_utf8(out, v);
    return 0;
}

/* the text of a quoted token, malloc'd; NULL and err set on bad syntax */
static char *unquote(struct parser *p, const struct token *t, int allow_alt)
{
    const char *s = p->in + t->start + 1;
    size_t n = t->len - 2, o = 0;
    char quote = p->in[t->start];
    char *out;

    if (!allow_alt && quote != '"') {
        parse_error(p, t->start, "invalid quote encountered");
        return NULL;
    }
    /* the scanner ended the token at the first unescaped quote or newline,
     * and every escape is at least as long as what it writes */
    if ((out = malloc(n + 1)) == NULL) {
        error_set(p->err, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n;) {
        size_t used, written;
        if (s[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        if (unescape(s + i + 1, n - i - 1, quote, out + o, &used, &written) != 0) {
            free(out);
            parse_error(p, t->start, "unquoting failed: quote syntax error");
            return NULL;
        }
        i += 1 + used;
        o += written;
    }
    out[o] = '\0';
    return out;
}

/* ---- parser (containerd's filters/parser.go) ---- */

static char *dup_token(struct parser *p, const struct token *t)
{
    char *s = strndup(p->in + t->start, t->len);
    if (s == NULL)
        error_set(p->err, "out of memory");
    return s;
}

static char *parse_field(struct parser *p)
{
    struct token t;

    scan(p, &t);
    if (t.kind == TOK_FIELD)
        return dup_token(p, &t);
    if (t.kind == TOK_QUOTED)
        return unquote(p, &t, 0);
    parse_error(p, t.start, "expected field or quoted");
    return NULL;
}

/* fieldpath into sel->field / sel->label */
static int parse_fieldpath(struct parser *p, struct selector *sel)
{
    char *first = parse_field(p), *label = NULL;

    if (first == NULL)
        return -1;
    while (p->in[p->pos] == '.') {
        char *f, *joined;
        p->pos++;
        p->value_next = 0;
        if ((f = parse_field(p)) == NULL)
            goto fail;
        if (label == NULL) {
            label = f;
            continue;
        }
        if (asprintf(&joined, "%s.%s", label, f) < 0) {
            free(f);
            error_set(p->err, "out of memory");
            goto fail;
        }
        free(label);
        free(f);
        label = joined;
    }
    sel->field = !strcmp(first, "name") ? FIELD_NAME : !strcmp(first, "parent") ? FIELD_PARENT
               : !strcmp(first, "kind") ? FIELD_KIND : !strcmp(first, "labels") ? FIELD_LABEL : FIELD_NONE;
    if (sel->field == FIELD_LABEL && label == NULL && (label = strdup("")) == NULL) {
        error_set(p->err, "out of memory");
        goto fail;
    }
    sel->label = label;
    free(first);
    return 0;
fail:
    free(first);
    free(label);
    return -1;
}

static int parse_selector(struct parser *p, struct selector *sel)
{
    struct token t;

    if (parse_fieldpath(p, sel) != 0)
        return -1;
    if (p->in[p->pos] == ',' || p->in[p->pos] == '\0') {
        sel->op = OP_PRESENT;
        return 0;
    }
    scan(p, &t);
    if (t.kind != TOK_OP)
        return parse_error(p, t.start, "expected an operator (\"==\"|\"!=\"|\"~=\")");
    if (t.len == 2 && !memcmp(p->in + t.start, "==", 2))
        sel->op = OP_EQUAL;
    else if (t.len == 2 && !memcmp(p->in + t.start, "!=", 2))
        sel->op = OP_NOT_EQUAL;
    else if (t.len == 2 && !memcmp(p->in + t.start, "~=", 2))
        sel->op = OP_MATCHES;
    else
        return parse_error(p, t.start, "unsupported operator");
    scan(p, &t);
    if (t.kind == TOK_VALUE || t.kind == TOK_FIELD)
        sel->value = dup_token(p, &t);
    else if (t.kind == TOK_QUOTED)
        sel->value = unquote(p, &t, sel->op == OP_MATCHES);
    else
        return parse_error(p, t.start, "expected value or quoted");
    if (sel->value == NULL)
        return -1;
    if (sel->op == OP_MATCHES)
        sel->re_ok = regcomp(&sel->re, sel->value, REG_EXTENDED | REG_NOSUB) == 0;
    return 0;
}

static void conj_free(struct conj *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->sel[i].label);
        free(c->sel[i].value);
        if (c->sel[i].re_ok)
            regfree(&c->sel[i].re);
    }
    free(c->sel);
}

static int parse_one(const char *s, struct conj *c, struct error *err)
{
    struct parser p = {.in = s, .err = err};

    c->sel = NULL;
    c->n = 0;
    if (*s == '\0')
        return 0; /* the empty filter matches everything */
    for (;;) {
        struct selector *v = realloc(c->sel, (c->n + 1) * sizeof(*v));
        if (v == NULL)
            return error_set(err, "out of memory");
        c->sel = v;
        memset(&v[c->n], 0, sizeof(*v));
        c->n++;
        if (parse_selector(&p, &v[c->n - 1]) != 0)
            return -1;
        if (p.in[p.pos] == '\0')
            return 0;
        if (p.in[p.pos] != ',')
            return parse_error(&p, p.pos, "unexpected input");
        p.pos++;
        p.value_next = 0;
    }
}

int snapfilter_parse(const char *const *filters, size_t nfilters, struct snapfilter **out, struct error *err)
{
    struct snapfilter *f;

    RETURN_ERROR_IF(nfilters > SNAPFILTER_MAX_COUNT, err, "%zu filters: at most %d", nfilters,
                    SNAPFILTER_MAX_COUNT);
    for (size_t i = 0; i < nfilters; i++) {
        RETURN_ERROR_IF(filters[i] == NULL, err, "filter %zu: missing", i);
        RETURN_ERROR_IF(strnlen(filters[i], SNAPFILTER_MAX_LEN + 1) > SNAPFILTER_MAX_LEN, err,
                        "filter %zu: longer than %d bytes", i, SNAPFILTER_MAX_LEN);
    }
    if ((f = calloc(1, sizeof(*f))) == NULL || (nfilters && (f->any = calloc(nfilters, sizeof(*f->any))) == NULL)) {
        free(f);
        return error_set(err, "out of memory");
    }
    for (size_t i = 0; i < nfilters; i++) {
        f->n++;
        if (parse_one(filters[i], &f->any[i], err) != 0) {
            snapfilter_free(f);
            return -1;
        }
    }
    *out = f;
    return 0;
}

static const char *kind_name(enum snap_kind k)
{
    switch (k) {
    case SNAP_KIND_ACTIVE:
        return "active";
    case SNAP_KIND_VIEW:
        return "view";
    case SNAP_KIND_COMMITTED:
        return "committed";
    default:
        return NULL;
    }
}

/* containerd's adaptSnapshot: the value of a field and whether it is present */
static const char *field_of(const struct snap_info *info, const struct selector *sel)
{
    switch (sel->field) {
    case FIELD_NAME:
        return info->name ? info->name : "";
    case FIELD_PARENT:
        return info->parent ? info->parent : "";
    case FIELD_KIND:
        return kind_name(info->kind);
    case FIELD_LABEL:
        return snap_labels_get(&info->labels, sel->label);
    default:
        return NULL;
    }
}

static int selector_match(const struct selector *sel, const struct snap_info *info)
{
    const char *v = field_of(info, sel);

    switch (sel->op) {
    case OP_PRESENT:
        return v != NULL;
    case OP_EQUAL:
        return v != NULL && strcmp(v, sel->value) == 0;
    case OP_NOT_EQUAL:
        return strcmp(v ? v : "", sel->value) != 0;
    case OP_MATCHES:
        return sel->re_ok && regexec(&sel->re, v ? v : "", 0, NULL, 0) == 0;
    }
    return 0;
}

int snapfilter_match(const struct snapfilter *f, const struct snap_info *info)
{
    if (f->n == 0)
        return 1;
    for (size_t i = 0; i < f->n; i++) {
        size_t j = 0;
        while (j < f->any[i].n && selector_match(&f->any[i].sel[j], info))
            j++;
        if (j == f->any[i].n)
            return 1;
    }
    return 0;
}

void snapfilter_free(struct snapfilter *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++)
        conj_free(&f->any[i]);
    free(f->any);
    free(f);
}
