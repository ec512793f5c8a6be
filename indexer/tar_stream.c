/* tar_stream.c -- push tar parser with Go archive/tar semantics (see tar_stream.h) */
#include "tar_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512
#define MAX_SPECIAL_SIZE (1 << 20)  /* Go's maxSpecialFileSize for PAX and GNU long names */

enum state { ST_HEADER, ST_EXT, ST_SKIP, ST_DONE };
enum format { FMT_V7, FMT_USTAR, FMT_STAR, FMT_GNU };

/* an owned set of PAX records */
struct pax_set {
    struct ztoc_pax *recs;
    size_t n, cap;
};

struct tar_stream {
    tar_entry_fn on_entry;
    void *ctx;
    enum state state;
    int64_t pos;              /* bytes consumed so far */
    uint8_t block[BLOCK];
    size_t block_have;
    int zero_blocks;

    uint8_t *ext;             /* data of an x/g/L/K member */
    size_t ext_have, ext_need, ext_cap;
    char ext_type;
    int64_t ext_offset;

    int64_t skip_data, skip_pad;
    char skip_name[128];      /* for "data ends early" errors */

    struct pax_set local, global;
    char *long_name, *long_link;
    size_t long_name_len, long_link_len;
    int64_t group_start;      /* first header of the member being assembled */
    int in_group;

    struct ztoc_pax *merged;  /* scratch: effective records for a callback */
    size_t merged_cap;
};

static const uint8_t zero_block[BLOCK];

struct tar_stream *tar_stream_new(tar_entry_fn on_entry, void *ctx)
{
    struct tar_stream *ts = calloc(1, sizeof(*ts));

    if (ts == NULL)
        return NULL;
    ts->on_entry = on_entry;
    ts->ctx = ctx;
    return ts;
}

static void pax_clear(struct pax_set *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        free((char *)s->recs[i].key.ptr);
        free((char *)s->recs[i].value.ptr);
    }
    s->n = 0;
}

static void pax_free(struct pax_set *s)
{
    pax_clear(s);
    free(s->recs);
    s->recs = NULL;
    s->cap = 0;
}

void tar_stream_free(struct tar_stream *ts)
{
    if (ts == NULL)
        return;
    pax_free(&ts->local);
    pax_free(&ts->global);
    free(ts->ext);
    free(ts->long_name);
    free(ts->long_link);
    free(ts->merged);
    free(ts);
}

int tar_stream_done(const struct tar_stream *ts) { return ts->state == ST_DONE; }

/* ---- field parsers (Go's parser.parseString / parseNumeric) ---- */

static struct strv field_string(const uint8_t *b, size_t n)
{
    struct strv s = {(const char *)b, 0};

    while (s.len < n && b[s.len] != 0)
        s.len++;
    return s;
}

/* returns 0 and sets *v, or -1 when the field is not a valid number */
static int field_numeric(const uint8_t *b, size_t n, int64_t *v)
{
    size_t i, lo = 0, hi = n;
    uint64_t x = 0;

    if (n > 0 && (b[0] & 0x80)) {
        /* base-256: two's complement, big-endian, sign in bit 6 */
        uint8_t inv = (b[0] & 0x40) ? 0xff : 0x00;
        for (i = 0; i < n; i++) {
            uint8_t c = b[i] ^ inv;
            if (i == 0)
                c &= 0x7f;
            if (x >> 56)
                return -1;
            x = x << 8 | c;
        }
        if (x >> 63)
            return -1;
        *v = inv ? (int64_t)~x : (int64_t)x;
        return 0;
    }
    /* octal: trim spaces and NULs both sides, stop at an inner NUL */
    while (lo < hi && (b[lo] == ' ' || b[lo] == 0))
        lo++;
    while (hi > lo && (b[hi - 1] == ' ' || b[hi - 1] == 0))
        hi--;
    for (i = lo; i < hi && b[i] != 0; i++) {
        if (b[i] < '0' || b[i] > '7')
            return -1;
        if (x >> 61)
            return -1;
        x = x << 3 | (uint64_t)(b[i] - '0');
    }
    *v = (int64_t)x;
    return 0;
}

/* Go's strconv.ParseInt(s, 10, 64) */
static int parse_decimal(const char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    int neg = 0;
    uint64_t x = 0, limit;

    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return -1;
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (x > (limit - (uint64_t)(s[i] - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    return 0;
}

/* Go's parsePAXTime: "%d[.%d]", at most 9 fraction digits kept */
static int parse_pax_time(const char *s, size_t n, int64_t *sec, int64_t *nsec)
{
    const char *dot = memchr(s, '.', n);
    size_t sl = dot ? (size_t)(dot - s) : n, i, fl;
    int64_t frac = 0;

    if (parse_decimal(s, sl, sec) != 0)
        return -1;
    *nsec = 0;
    if (!dot)
        return 0;
    fl = n - sl - 1;
    if (fl == 0)
        return 0;
    for (i = 0; i < fl; i++)
        if (dot[1 + i] < '0' || dot[1 + i] > '9')
            return -1;
    for (i = 0; i < 9; i++)
        frac = frac * 10 + (i < fl ? dot[1 + i] - '0' : 0);
    *nsec = (sl > 0 && s[0] == '-') ? -frac : frac;
    return 0;
}

/* ---- PAX records ---- */

static int pax_set_put(struct pax_set *s, const char *k, size_t kl, const char *v, size_t vl,
                       struct error *err)
{
    size_t i;
    char *kc, *vc;

    for (i = 0; i < s->n; i++)
        if (s->recs[i].key.len == kl && memcmp(s->recs[i].key.ptr, k, kl) == 0)
            break;
    vc = malloc(vl + 1);
    RETURN_ERROR_IF(vc == NULL, err, "out of memory");
    memcpy(vc, v, vl);
    vc[vl] = '\0';
    if (i < s->n) {
        free((char *)s->recs[i].value.ptr);
        s->recs[i].value.ptr = vc;
        s->recs[i].value.len = vl;
        return 0;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 8;
        struct ztoc_pax *nr = realloc(s->recs, ncap * sizeof(*nr));
        if (nr == NULL) {
            free(vc);
            return error_set(err, "out of memory");
        }
        s->recs = nr;
        s->cap = ncap;
    }
    kc = malloc(kl + 1);
    if (kc == NULL) {
        free(vc);
        return error_set(err, "out of memory");
    }
    memcpy(kc, k, kl);
    kc[kl] = '\0';
    s->recs[s->n].key.ptr = kc;
    s->recs[s->n].key.len = kl;
    s->recs[s->n].value.ptr = vc;
    s->recs[s->n].value.len = vl;
    s->n++;
    return 0;
}

static int strv_is(struct strv s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* Go's parsePAX + parsePAXRecord + validPAXRecord */
static int parse_pax_data(struct tar_stream *ts, struct pax_set *out, struct error *err)
{
    const char *s = (const char *)ts->ext;
    size_t left = ts->ext_have;

    while (left > 0) {
        const char *sp = memchr(s, ' ', left);
        const char *rec, *eq;
        int64_t n;
        size_t nlen, reclen;

        RETURN_ERROR_IF(sp == NULL, err,
                        "invalid PAX record in the extended header at uncompressed offset %lld: no length",
                        (long long)ts->ext_offset);
        nlen = (size_t)(sp - s);
        RETURN_ERROR_IF(parse_decimal(s, nlen, &n) != 0 || n < 5, err,
                        "invalid PAX record in the extended header at uncompressed offset %lld: bad length",
                        (long long)ts->ext_offset);
        RETURN_ERROR_IF((uint64_t)n > left, err,
                        "invalid PAX record in the extended header at uncompressed offset %lld: "
                        "its length %lld runs past the header's %zu remaining bytes",
                        (long long)ts->ext_offset, (long long)n, left);
        RETURN_ERROR_IF((size_t)n <= nlen + 1 || s[n - 1] != '\n', err,
                        "invalid PAX record in the extended header at uncompressed offset %lld: "
                        "not terminated by a newline", (long long)ts->ext_offset);
        rec = sp + 1;
        reclen = (size_t)n - nlen - 2;
        eq = memchr(rec, '=', reclen);
        RETURN_ERROR_IF(eq == NULL || eq == rec, err,
                        "invalid PAX record in the extended header at uncompressed offset %lld: no key",
                        (long long)ts->ext_offset);
        {
            struct strv k = {rec, (size_t)(eq - rec)};
            struct strv v = {eq + 1, reclen - k.len - 1};
            int value_names = strv_is(k, "path") || strv_is(k, "linkpath") ||
                              strv_is(k, "uname") || strv_is(k, "gname");
            RETURN_ERROR_IF((value_names && memchr(v.ptr, 0, v.len)) || memchr(k.ptr, 0, k.len),
                            err,
                            "invalid PAX record in the extended header at uncompressed offset %lld: NUL byte",
                            (long long)ts->ext_offset);
            RETURN_ERROR_IF(k.len >= 11 && memcmp(k.ptr, "GNU.sparse.", 11) == 0, err,
                            "GNU sparse file at uncompressed offset %lld: sparse files are not supported",
                            (long long)ts->ext_offset);
            if (pax_set_put(out, k.ptr, k.len, v.ptr, v.len, err) != 0)
                return -1;
        }
        s += n;
        left -= (size_t)n;
    }
    return 0;
}

static int pax_cmp(const void *a, const void *b)
{
    const struct strv *x = &((const struct ztoc_pax *)a)->key, *y = &((const struct ztoc_pax *)b)->key;
    size_t n = x->len < y->len ? x->len : y->len;
    int d = memcmp(x->ptr, y->ptr, n);

    if (d)
        return d;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* effective records: global ones overlaid by the member's own */
static int merge_pax(struct tar_stream *ts, size_t *count, struct error *err)
{
    size_t need = ts->local.n + ts->global.n, i, j, n = 0;

    if (need > ts->merged_cap) {
        struct ztoc_pax *m = realloc(ts->merged, need * sizeof(*m));
        RETURN_ERROR_IF(m == NULL, err, "out of memory");
        ts->merged = m;
        ts->merged_cap = need;
    }
    for (i = 0; i < ts->local.n; i++)
        ts->merged[n++] = ts->local.recs[i];
    for (i = 0; i < ts->global.n; i++) {
        for (j = 0; j < ts->local.n; j++)
            if (pax_cmp(&ts->global.recs[i], &ts->local.recs[j]) == 0)
                break;
        if (j == ts->local.n)
            ts->merged[n++] = ts->global.recs[i];
    }
    if (n > 1)
        qsort(ts->merged, n, sizeof(*ts->merged), pax_cmp);
    *count = n;
    return 0;
}

static const struct ztoc_pax *find_pax(const struct ztoc_pax *recs, size_t n, const char *key)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strv_is(recs[i].key, key))
            return &recs[i];
    return NULL;
}

/* ---- headers ---- */

static int checksum_ok(const uint8_t *b)
{
    int64_t want;
    uint64_t usum = 0;
    int64_t ssum = 0;
    int i;

    if (field_numeric(b + 148, 8, &want) != 0 || (b[148] & 0x80))
        return 0;
    for (i = 0; i < BLOCK; i++) {
        uint8_t c = (i >= 148 && i < 156) ? ' ' : b[i];
        usum += c;
        ssum += (int8_t)c;
    }
    return want == (int64_t)usum || want == ssum;
}

static enum format block_format(const uint8_t *b)
{
    if (memcmp(b + 257, "ustar\0", 6) == 0)
        return memcmp(b + 508, "tar\0", 4) == 0 ? FMT_STAR : FMT_USTAR;
    if (memcmp(b + 257, "ustar ", 6) == 0 && memcmp(b + 263, " \0", 2) == 0)
        return FMT_GNU;
    return FMT_V7;
}

static int is_header_only(char t)
{
    return t == '1' || t == '2' || t == '3' || t == '4' || t == '5' || t == '6';
}

static int64_t block_padding(int64_t n) { return -n & (BLOCK - 1); }

/* a bad header block at uncompressed offset off */
static int bad_header_at(struct error *err, int64_t off, const char *what)
{
    return error_set(err, "%s at uncompressed offset %lld", what, (long long)off);
}

static int bad_header(struct tar_stream *ts, struct error *err, const char *what)
{
    return bad_header_at(err, ts->pos, what);
}

static int emit_entry(struct tar_stream *ts, const uint8_t *b, enum format fmt, struct error *err)
{
    struct tar_header h;
    char namebuf[BLOCK];
    struct strv name = field_string(b, 100), prefix = {"", 0};
    const struct ztoc_pax *p;
    int64_t v;
    int ok = 1;

    memset(&h, 0, sizeof(h));
    h.typeflag = (char)b[156];
    ok &= field_numeric(b + 124, 12, &h.size) == 0;
    ok &= field_numeric(b + 100, 8, &h.mode) == 0;
    ok &= field_numeric(b + 108, 8, &h.uid) == 0;
    ok &= field_numeric(b + 116, 8, &h.gid) == 0;
    ok &= field_numeric(b + 136, 12, &h.mtime_sec) == 0;
    h.linkname = field_string(b + 157, 100);
    if (fmt != FMT_V7) {
        h.uname = field_string(b + 265, 32);
        h.gname = field_string(b + 297, 32);
        ok &= field_numeric(b + 329, 8, &h.devmajor) == 0;
        ok &= field_numeric(b + 337, 8, &h.devminor) == 0;
        if (fmt == FMT_USTAR)
            prefix = field_string(b + 345, 155);
        else if (fmt == FMT_STAR)
            prefix = field_string(b + 345, 131);
        else {
            /* GNU: atime/ctime live where ustar keeps the prefix; Go falls
             * back to the prefix when they do not parse (pre-Go1.8 files) */
            int64_t t;
            int times_ok = 1;
            if (b[345] != 0)
                times_ok &= field_numeric(b + 345, 12, &t) == 0;
            if (b[357] != 0)
                times_ok &= field_numeric(b + 357, 12, &t) == 0;
            if (!times_ok) {
                struct strv pf = field_string(b + 345, 155);
                size_t i;
                for (i = 0; i < pf.len && !((uint8_t)pf.ptr[i] & 0x80); i++)
                    ;
                if (i == pf.len)
                    prefix = pf;
            }
        }
    }
    if (!ok)
        return bad_header_at(err, ts->pos - BLOCK, "invalid numeric field in tar header");
    if (prefix.len > 0) {
        memcpy(namebuf, prefix.ptr, prefix.len);
        namebuf[prefix.len] = '/';
        memcpy(namebuf + prefix.len + 1, name.ptr, name.len);
        name.ptr = namebuf;
        name.len += prefix.len + 1;
    }
    h.name = name;

    if (merge_pax(ts, &h.npax, err) != 0)
        return -1;
    h.pax = ts->merged;
    /* Go's mergePAX: empty values keep the header's field */
    if ((p = find_pax(h.pax, h.npax, "path")) && p->value.len)
        h.name = p->value;
    if ((p = find_pax(h.pax, h.npax, "linkpath")) && p->value.len)
        h.linkname = p->value;
    if ((p = find_pax(h.pax, h.npax, "uname")) && p->value.len)
        h.uname = p->value;
    if ((p = find_pax(h.pax, h.npax, "gname")) && p->value.len)
        h.gname = p->value;
    if ((p = find_pax(h.pax, h.npax, "uid")) && p->value.len) {
        if (parse_decimal(p->value.ptr, p->value.len, &h.uid) != 0)
            return bad_header_at(err, ts->pos - BLOCK, "invalid PAX uid record");
    }
    if ((p = find_pax(h.pax, h.npax, "gid")) && p->value.len) {
        if (parse_decimal(p->value.ptr, p->value.len, &h.gid) != 0)
            return bad_header_at(err, ts->pos - BLOCK, "invalid PAX gid record");
    }
    if ((p = find_pax(h.pax, h.npax, "mtime")) && p->value.len) {
        if (parse_pax_time(p->value.ptr, p->value.len, &h.mtime_sec, &h.mtime_nsec) != 0)
            return bad_header_at(err, ts->pos - BLOCK, "invalid PAX mtime record");
    }
    if ((p = find_pax(h.pax, h.npax, "atime")) && p->value.len) {
        int64_t s, ns;
        if (parse_pax_time(p->value.ptr, p->value.len, &s, &ns) != 0)
            return bad_header_at(err, ts->pos - BLOCK, "invalid PAX atime record");
    }
    if ((p = find_pax(h.pax, h.npax, "ctime")) && p->value.len) {
        int64_t s, ns;
        if (parse_pax_time(p->value.ptr, p->value.len, &s, &ns) != 0)
            return bad_header_at(err, ts->pos - BLOCK, "invalid PAX ctime record");
    }
    if ((p = find_pax(h.pax, h.npax, "size")) && p->value.len) {
        if (parse_decimal(p->value.ptr, p->value.len, &h.size) != 0)
            return bad_header_at(err, ts->pos - BLOCK, "invalid PAX size record");
    }
    if (ts->long_name && ts->long_name_len) {
        h.name.ptr = ts->long_name;
        h.name.len = ts->long_name_len;
    }
    if (ts->long_link && ts->long_link_len) {
        h.linkname.ptr = ts->long_link;
        h.linkname.len = ts->long_link_len;
    }
    if (h.typeflag == '\0' && h.name.len > 0 && h.name.ptr[h.name.len - 1] == '/')
        h.typeflag = '5';
    if (h.size < 0)
        return bad_header_at(err, ts->pos - BLOCK, "negative size in tar header");
    if (h.typeflag == 'S')
        return bad_header_at(err, ts->pos - BLOCK, "GNU sparse file: sparse files are not supported");

    h.header_offset = ts->in_group ? ts->group_start : ts->pos - BLOCK;
    h.data_offset = ts->pos;
    v = is_header_only(h.typeflag) ? 0 : h.size;
    /* data plus padding must stay a representable stream offset (no tar
     * stream is 8 EiB long: Go would fail on the truncation later) */
    if (v > INT64_MAX - BLOCK - ts->pos)
        return bad_header_at(err, ts->pos - BLOCK, "absurd size in tar header");
    if (ts->on_entry(ts->ctx, &h, err) != 0)
        return -1;

    {
        size_t n = h.name.len < sizeof(ts->skip_name) - 1 ? h.name.len : sizeof(ts->skip_name) - 1;
        memcpy(ts->skip_name, h.name.ptr, n);
        ts->skip_name[n] = '\0';
    }
    pax_clear(&ts->local);
    free(ts->long_name);
    free(ts->long_link);
    ts->long_name = ts->long_link = NULL;
    ts->long_name_len = ts->long_link_len = 0;
    ts->in_group = 0;
    ts->skip_data = v;
    ts->skip_pad = block_padding(v);
    ts->state = ST_SKIP;
    return 0;
}

static int finish_ext(struct tar_stream *ts, struct error *err)
{
    char **dst;
    size_t *dst_len;

    switch (ts->ext_type) {
    case 'x':
        /* a member's own records replace any earlier 'x' (Go) */
        pax_clear(&ts->local);
        if (parse_pax_data(ts, &ts->local, err) != 0)
            return -1;
        break;
    case 'g':
        if (parse_pax_data(ts, &ts->global, err) != 0)
            return -1;
        break;
    default: /* 'L' long name, 'K' long link: a NUL-terminated string */
        dst = ts->ext_type == 'L' ? &ts->long_name : &ts->long_link;
        dst_len = ts->ext_type == 'L' ? &ts->long_name_len : &ts->long_link_len;
        free(*dst);
        *dst = malloc(ts->ext_have + 1);
        RETURN_ERROR_IF(*dst == NULL, err, "out of memory");
        if (ts->ext_have > 0) /* an empty member never allocated ts->ext */
            memcpy(*dst, ts->ext, ts->ext_have);
        (*dst)[ts->ext_have] = '\0';
        *dst_len = strlen(*dst);
        break;
    }
    return 0;
}

static int process_block(struct tar_stream *ts, const uint8_t *b, struct error *err)
{
    enum format fmt;
    int64_t size;
    char t;

    ts->pos += BLOCK;
    if (memcmp(b, zero_block, BLOCK) == 0) {
        if (ts->zero_blocks == 1) {
            ts->state = ST_DONE;
            return 0;
        }
        ts->zero_blocks = 1;
        return 0;
    }
    ts->pos -= BLOCK; /* report errors at the header's own offset */
    if (ts->zero_blocks == 1)
        return error_set(err, "tar stream has data after an end-of-archive block at uncompressed offset %lld",
                         (long long)ts->pos);
    if (!checksum_ok(b)) {
        /* a first block that is no header at all: say what it is not; a
         * later one is a damaged archive */
        if (ts->pos == 0)
            return error_set(err, "not a tar archive: tar header checksum mismatch at uncompressed offset 0");
        return bad_header(ts, err, "tar header checksum mismatch");
    }
    fmt = block_format(b);
    if (!ts->in_group) {
        ts->in_group = 1;
        ts->group_start = ts->pos;
    }
    t = (char)b[156];
    if (t == 'x' || t == 'g' || t == 'L' || t == 'K') {
        if (field_numeric(b + 124, 12, &size) != 0)
            return bad_header(ts, err, "invalid size in tar header");
        if (size < 0)
            return bad_header(ts, err, "negative size in tar header");
        if (size > MAX_SPECIAL_SIZE)
            return bad_header(ts, err, "extended tar header larger than 1 MiB");
        ts->pos += BLOCK;
        ts->ext_type = t;
        ts->ext_offset = ts->pos - BLOCK;
        ts->ext_need = (size_t)size;
        ts->ext_have = 0;
        if (ts->ext_cap < ts->ext_need) {
            uint8_t *ne = realloc(ts->ext, ts->ext_need);
            RETURN_ERROR_IF(ne == NULL, err, "out of memory");
            ts->ext = ne;
            ts->ext_cap = ts->ext_need;
        }
        ts->skip_pad = block_padding(size);
        ts->skip_data = 0;
        ts->state = ST_EXT;
        if (ts->ext_need == 0) {
            if (finish_ext(ts, err) != 0)
                return -1;
            ts->state = ST_SKIP;
        }
        return 0;
    }
    ts->pos += BLOCK;
    return emit_entry(ts, b, fmt, err);
}

int tar_stream_feed(struct tar_stream *ts, const uint8_t *data, size_t n, struct error *err)
{
    while (n > 0) {
        switch (ts->state) {
        case ST_DONE:
            return 0;
        case ST_SKIP: {
            int64_t total = ts->skip_data + ts->skip_pad;
            size_t k = (uint64_t)total < n ? (size_t)total : n;
            int64_t from_data = (int64_t)k < ts->skip_data ? (int64_t)k : ts->skip_data;
            ts->skip_data -= from_data;
            ts->skip_pad -= (int64_t)k - from_data;
            ts->pos += (int64_t)k;
            data += k;
            n -= k;
            if (ts->skip_data == 0 && ts->skip_pad == 0)
                ts->state = ST_HEADER;
            break;
        }
        case ST_EXT: {
            size_t k = ts->ext_need - ts->ext_have;
            if (k > n)
                k = n;
            memcpy(ts->ext + ts->ext_have, data, k);
            ts->ext_have += k;
            ts->pos += (int64_t)k;
            data += k;
            n -= k;
            if (ts->ext_have == ts->ext_need) {
                if (finish_ext(ts, err) != 0)
                    return -1;
                ts->state = ts->skip_pad ? ST_SKIP : ST_HEADER;
            }
            break;
        }
        case ST_HEADER:
            if (ts->block_have == 0 && n >= BLOCK) {
                if (process_block(ts, data, err) != 0)
                    return -1;
                data += BLOCK;
                n -= BLOCK;
            } else {
                size_t k = BLOCK - ts->block_have;
                if (k > n)
                    k = n;
                memcpy(ts->block + ts->block_have, data, k);
                ts->block_have += k;
                data += k;
                n -= k;
                if (ts->block_have == BLOCK) {
                    ts->block_have = 0;
                    if (process_block(ts, ts->block, err) != 0)
                        return -1;
                }
            }
            break;
        }
    }
    return 0;
}

int tar_stream_finish(struct tar_stream *ts, int64_t *archive_end, struct error *err)
{
    switch (ts->state) {
    case ST_HEADER:
        if (ts->block_have != 0) {
            if (ts->pos == 0)
                return error_set(err, "not a tar archive: the stream ends after %zu bytes, inside the first header",
                                 ts->block_have);
            return error_set(err, "tar stream ends inside a header at uncompressed offset %lld",
                             (long long)ts->pos);
        }
        break;
    case ST_EXT:
        return error_set(err, "tar stream ends inside an extended header at uncompressed offset %lld",
                         (long long)ts->pos);
    case ST_SKIP:
        if (ts->skip_data > 0)
            return error_set(err, "tar stream ends at uncompressed offset %lld, %lld bytes before "
                             "the end of \"%s\"", (long long)ts->pos, (long long)ts->skip_data,
                             ts->skip_name);
        break;
    case ST_DONE:
        break;
    }
    *archive_end = ts->pos;
    return 0;
}
