/* config.c -- soci-snapshotter-grpc's config.toml (see config.h)
 *
 * A TOML subset read in one pass over the file: table headers (dotted,
 * quoted components), `key = value` lines, comments, and the value kinds
 * upstream's keys need (basic and literal strings, decimal integers,
 * booleans, arrays of strings, arrays of inline tables for resolver
 * mirrors).  Each key is parsed as the type its table expects, so a value of
 * the wrong kind is reported at its line; there is no generic value tree.
 * Every key the file may hold is in one table below (keys[]), with where it
 * goes: a field of struct snap_config, or the passthrough text.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"

#define CONFIG_MAX_BYTES (1 << 20)
#define NAME_MAX_BYTES 256   /* a table-name component or a key */
#define VALUE_MAX_BYTES 4096 /* a string value */
#define TABLE_MAX_DEPTH 8

enum key_type {
    KT_BOOL,
    KT_INT,     /* int field */
    KT_INT64,   /* int64_t field */
    KT_STRING,
    KT_SIZE,    /* "512MiB", "4M" or an integer count of bytes */
    KT_STRINGS, /* array of strings */
    KT_MIRRORS, /* array of {host, insecure, request_timeout_sec} */
};

/* zero in the file means "upstream's default", as upstream's parsers do */
#define ZERO_IS_DEFAULT 1

#define NO_FIELD ((size_t)-1)
#define F(name) offsetof(struct snap_config, name)

struct key_spec {
    const char *table;   /* canonical table name; "" top level; ".*" ends a named table */
    const char *key;
    enum key_type type;
    size_t field;        /* offset in struct snap_config, or NO_FIELD: passthrough */
    int64_t min, max;    /* integers and sizes; booleans: max 0 refuses true */
    const char *dflt;    /* passthrough keys: default as TOML text (NULL: none) */
    const char *choices; /* strings: "a|b" allowed values, NULL any */
    int flags;
};

/* the order here is the order of `config dump` */
static const struct key_spec keys[] = {
    {"", "metrics_address", KT_STRING, NO_FIELD, 0, 0, "\"\"", NULL, 0},
    {"", "metrics_network", KT_STRING, NO_FIELD, 0, 0, "\"tcp\"", "tcp|unix", 0},
    {"", "no_prometheus", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"", "debug_address", KT_STRING, NO_FIELD, 0, 0, "\"\"", NULL, 0},
    {"", "metadata_store", KT_STRING, NO_FIELD, 0, 0, "\"db\"", "db|db-multi", 0},
    {"", "metadata_db_no_sync", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"", "metadata_insertion_chunk_size", KT_INT, NO_FIELD, 0, INT_MAX, "0", NULL, 0},
    {"", "skip_check_snapshotter_supported", KT_BOOL, F(skip_check_snapshotter_supported), 0, 1, NULL, NULL, 0},
    {"", "resolve_result_entry", KT_INT, NO_FIELD, 0, INT_MAX, "0", NULL, 0},
    {"", "debug", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"", "allow_no_verification", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"", "disable_verification", KT_BOOL, F(disable_verification), 0, 0, NULL, NULL, 0},
    {"", "max_concurrency", KT_INT, F(max_concurrency), INT_MIN, INT_MAX, NULL, NULL, 0},
    {"", "mount_timeout_sec", KT_INT, F(mount_timeout_sec), 0, 86400, NULL, NULL, ZERO_IS_DEFAULT},
    {"", "fuse_metrics_emit_wait_duration_sec", KT_INT, NO_FIELD, 0, INT_MAX, "60", NULL, 0},
    {"", "http_cache_type", KT_STRING, NO_FIELD, 0, 0, "\"\"", NULL, 0},
    {"", "filesystem_cache_type", KT_STRING, NO_FIELD, 0, 0, "\"\"", NULL, 0},

    {"http", "DialTimeoutMsec", KT_INT, F(dial_timeout_msec), 0, INT_MAX, NULL, NULL, ZERO_IS_DEFAULT},
    {"http", "ResponseHeaderTimeoutMsec", KT_INT, F(response_header_timeout_msec), 0, INT_MAX, NULL, NULL,
     ZERO_IS_DEFAULT},
    {"http", "RequestTimeoutMsec", KT_INT, F(request_timeout_msec), 0, INT_MAX, NULL, NULL, ZERO_IS_DEFAULT},
    {"http", "MaxRetries", KT_INT, F(max_retries), 0, 100, NULL, NULL, ZERO_IS_DEFAULT},
    {"http", "MinWaitMsec", KT_INT, NO_FIELD, 0, INT_MAX, "30", NULL, 0},
    {"http", "MaxWaitMsec", KT_INT, NO_FIELD, 0, INT_MAX, "300000", NULL, 0},

    {"blob", "valid_interval", KT_INT64, NO_FIELD, 0, INT64_MAX, "60", NULL, 0},
    {"blob", "check_always", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"blob", "fetching_timeout_sec", KT_INT, F(fetching_timeout_sec), 0, 86400, NULL, NULL, ZERO_IS_DEFAULT},
    {"blob", "force_single_range_mode", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"blob", "max_retries", KT_INT, NO_FIELD, 0, INT_MAX, "0", NULL, 0},
    {"blob", "min_wait_msec", KT_INT64, NO_FIELD, 0, INT64_MAX, "0", NULL, 0},
    {"blob", "max_wait_msec", KT_INT64, NO_FIELD, 0, INT64_MAX, "0", NULL, 0},
    {"blob", "max_span_verification_retries", KT_INT, F(max_span_verification_retries), 0, 100, NULL, NULL, 0},

    {"directory_cache", "max_lru_cache_entry", KT_INT, NO_FIELD, 0, INT_MAX, "0", NULL, 0},
    {"directory_cache", "max_cache_fds", KT_INT, NO_FIELD, 0, INT_MAX, "0", NULL, 0},
    {"directory_cache", "sync_add", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"directory_cache", "direct", KT_BOOL, NO_FIELD, 0, 1, "true", NULL, 0},

    {"fuse", "attr_timeout", KT_INT, F(attr_timeout), 0, 86400, NULL, NULL, ZERO_IS_DEFAULT},
    {"fuse", "entry_timeout", KT_INT, F(entry_timeout), 0, 86400, NULL, NULL, ZERO_IS_DEFAULT},
    {"fuse", "negative_timeout", KT_INT, F(negative_timeout), 0, 86400, NULL, NULL, ZERO_IS_DEFAULT},
    {"fuse", "log_fuse_operations", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},

    {"background_fetch", "disable", KT_BOOL, F(bg_disable), 0, 1, NULL, NULL, 0},
    {"background_fetch", "silence_period_msec", KT_INT, F(bg_silence_period_msec), 0, INT_MAX, NULL, NULL,
     ZERO_IS_DEFAULT},
    {"background_fetch", "fetch_period_msec", KT_INT, F(bg_fetch_period_msec), 0, INT_MAX, NULL, NULL,
     ZERO_IS_DEFAULT},
    {"background_fetch", "max_queue_size", KT_INT, NO_FIELD, -1, INT_MAX, "100", NULL, 0},
    {"background_fetch", "drop_policy", KT_STRING, NO_FIELD, 0, 0, "\"newest\"", "newest|oldest", 0},
    {"background_fetch", "emit_metric_period_sec", KT_INT64, NO_FIELD, 0, INT64_MAX, "10", NULL, 0},

    {"content_store", "type", KT_STRING, NO_FIELD, 0, 0, "\"soci\"", "soci|containerd", 0},
    {"content_store", "containerd_address", KT_STRING, NO_FIELD, 0, 0, "\"/run/containerd/containerd.sock\"", NULL,
     0},
    {"content_store", "namespace", KT_STRING, NO_FIELD, 0, 0, "\"default\"", NULL, 0},

    {"prefetch", "enable", KT_BOOL, F(prefetch_enable), 0, 1, NULL, NULL, 0},
    {"prefetch", "max_concurrency", KT_INT, NO_FIELD, 0, INT_MAX, "0", NULL, 0},

    {"pull_modes.soci_v1", "enable", KT_BOOL, F(soci_v1_enable), 0, 1, NULL, NULL, 0},
    {"pull_modes.soci_v2", "enable", KT_BOOL, F(soci_v2_enable), 0, 1, NULL, NULL, 0},
    {"pull_modes.parallel_pull_unpack", "enable", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"pull_modes.parallel_pull_unpack", "experimental_parallel_pull_as_fallback", KT_BOOL, NO_FIELD, 0, 1, "false",
     NULL, 0},
    {"pull_modes.parallel_pull_unpack", "max_concurrent_downloads", KT_INT64, NO_FIELD, -1, INT64_MAX, "-1", NULL, 0},
    {"pull_modes.parallel_pull_unpack", "max_concurrent_downloads_per_image", KT_INT64, NO_FIELD, -1, INT64_MAX, "3",
     NULL, 0},
    {"pull_modes.parallel_pull_unpack", "concurrent_download_chunk_size", KT_STRING, NO_FIELD, 0, 0, "\"\"", NULL, 0},
    {"pull_modes.parallel_pull_unpack", "max_concurrent_unpacks", KT_INT64, NO_FIELD, -1, INT64_MAX, "-1", NULL, 0},
    {"pull_modes.parallel_pull_unpack", "max_concurrent_unpacks_per_image", KT_INT64, NO_FIELD, -1, INT64_MAX, "1",
     NULL, 0},
    {"pull_modes.parallel_pull_unpack", "discard_unpacked_layers", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"pull_modes.parallel_pull_unpack.decompress_streams.*", "path", KT_STRING, NO_FIELD, 0, 0, NULL, NULL, 0},
    {"pull_modes.parallel_pull_unpack.decompress_streams.*", "args", KT_STRINGS, NO_FIELD, 0, 0, NULL, NULL, 0},

    {"kubeconfig_keychain", "enable_keychain", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"kubeconfig_keychain", "kubeconfig_path", KT_STRING, NO_FIELD, 0, 0, "\"\"", NULL, 0},
    {"cri_keychain", "enable_keychain", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"cri_keychain", "image_service_path", KT_STRING, NO_FIELD, 0, 0, "\"\"", NULL, 0},

    {"resolver", "auth_client_ttl_sec", KT_INT64, NO_FIELD, 0, INT64_MAX, "3600", NULL, 0},
    {"resolver", "enable_auth_client_sharing", KT_BOOL, NO_FIELD, 0, 1, "false", NULL, 0},
    {"resolver.host.*", "mirrors", KT_MIRRORS, NO_FIELD, 0, 0, NULL, NULL, 0},

    {"snapshotter", "min_layer_size", KT_INT64, F(min_layer_size), 0, INT64_MAX, NULL, NULL, 0},
    {"snapshotter", "allow_invalid_mounts_on_restart", KT_BOOL, F(allow_invalid_mounts_on_restart), 0, 1, NULL, NULL,
     0},

    {"cache", "memory_size", KT_SIZE, F(cache_memory_bytes), 1 << 20, INT64_MAX, NULL, NULL, 0},
    {"cache", "disk_size", KT_SIZE, F(cache_disk_bytes), 0, INT64_MAX, NULL, NULL, 0},
    {"cache", "dir", KT_STRING, F(cache_dir), 0, 0, NULL, NULL, 0},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* tables that may be named in a header; a few hold only sub-tables */
static const char *const tables[] = {
    "",
    "http",
    "blob",
    "directory_cache",
    "fuse",
    "background_fetch",
    "content_store",
    "prefetch",
    "pull_modes",
    "pull_modes.soci_v1",
    "pull_modes.soci_v2",
    "pull_modes.parallel_pull_unpack",
    "pull_modes.parallel_pull_unpack.decompress_streams",
    "pull_modes.parallel_pull_unpack.decompress_streams.*",
    "kubeconfig_keychain",
    "cri_keychain",
    "resolver",
    "resolver.host",
    "resolver.host.*",
    "snapshotter",
    "cache",
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

void snap_config_defaults(struct snap_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mount_timeout_sec = 30;
    cfg->max_concurrency = 100;
    /* upstream defaults v1 discovery off (since v0.10); here it is on: the
     * indexes `soci create` + `soci push` make are v1, found by the
     * Referrers API or the fallback tag (docs/snapshotter.md) */
    cfg->soci_v1_enable = 1;
    cfg->soci_v2_enable = 1;
    cfg->dial_timeout_msec = 3000;
    cfg->response_header_timeout_msec = 3000;
    cfg->request_timeout_msec = 300000;
    cfg->max_retries = 8;
    cfg->fetching_timeout_sec = 300;
    cfg->attr_timeout = 1;
    cfg->entry_timeout = 1;
    cfg->negative_timeout = 1;
    cfg->bg_silence_period_msec = 30000;
    cfg->bg_fetch_period_msec = 500;
    cfg->cache_memory_bytes = 512LL << 20;
    cfg->cache_disk_bytes = 10LL << 30;
}

int snap_config_plain_http(const struct snap_config *cfg, const char *host)
{
    for (int i = 0; i < cfg->n_plain_http_hosts; i++)
        if (strcmp(cfg->plain_http_hosts[i], host) == 0)
            return 1;
    return 0;
}

void snap_config_free(struct snap_config *cfg)
{
    free(cfg->passthrough);
    cfg->passthrough = NULL;
}

/* ---- growing text ---- */

struct text {
    char *s;
    size_t len, cap;
    int failed;
};

static void text_add(struct text *t, const char *p, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->failed = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    memcpy(t->s + t->len, p, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void text_fmt(struct text *t, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= 0)
        text_add(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* s as a TOML basic string; control bytes escaped so it stays on one line */
static void text_quoted(struct text *t, const char *s)
{
    text_str(t, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            text_add(t, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            text_fmt(t, "\\u%04x", c);
        } else {
            text_add(t, s, 1);
        }
    }
    text_str(t, "\"");
}

static int is_bare(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

/* a table-name component or key as TOML writes it: bare when it can be */
static void text_name(struct text *t, const char *name)
{
    const char *p = name;
    while (*p && is_bare((unsigned char)*p))
        p++;
    if (*name && !*p)
        text_str(t, name);
    else
        text_quoted(t, name);
}

/* ---- the reader ---- */

struct reader {
    const char *path;
    const char *p, *end;
    int line;
    struct snap_config *cfg;
    char table[1024];          /* canonical name of the current table */
    char last_name[NAME_MAX_BYTES]; /* its last component, unquoted (a registry host) */
    int table_index;           /* into tables[] */
    struct text seen_tables;   /* "\n"-separated canonical names */
    unsigned char seen[NKEYS]; /* keys set in the current table */
    struct text pass;          /* passthrough lines */
    struct text value;         /* canonical text of the value being read */
    struct error *err;
};

/* "FILE:LINE: [table] key: message" (top-level keys without the brackets) */
__attribute__((format(printf, 3, 4))) static int fail(struct reader *r, const char *key, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (key && r->table[0])
        return error_set(r->err, "%s:%d: [%s] %s: %s", r->path, r->line, r->table, key, msg);
    if (key)
        return error_set(r->err, "%s:%d: %s: %s", r->path, r->line, key, msg);
    return error_set(r->err, "%s:%d: %s", r->path, r->line, msg);
}

static void skip_blank(struct reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t'))
        r->p++;
}

/* blanks, newlines and comments (inside arrays) */
static void skip_space(struct reader *r)
{
    while (r->p < r->end) {
        if (*r->p == ' ' || *r->p == '\t' || *r->p == '\r') {
            r->p++;
        } else if (*r->p == '\n') {
            r->p++;
            r->line++;
        } else if (*r->p == '#') {
            while (r->p < r->end && *r->p != '\n')
                r->p++;
        } else {
            break;
        }
    }
}

/* after a value or header: blanks, a comment, then the end of the line */
static int end_of_line(struct reader *r, const char *key)
{
    skip_blank(r);
    if (r->p < r->end && *r->p == '#')
        while (r->p < r->end && *r->p != '\n')
            r->p++;
    if (r->p < r->end && *r->p == '\r')
        r->p++;
    if (r->p < r->end && *r->p != '\n')
        return fail(r, key, "unexpected '%c' after the value", *r->p);
    return 0;
}

static int put_utf8(char *out, size_t *n, size_t cap, uint32_t cp)
{
    uint8_t b[4];
    size_t len;

    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return -1;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        len = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xc0 | (cp >> 6));
        b[1] = (uint8_t)(0x80 | (cp & 0x3f));
        len = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xe0 | (cp >> 12));
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (uint8_t)(0x80 | (cp & 0x3f));
        len = 3;
    } else {
        b[0] = (uint8_t)(0xf0 | (cp >> 18));
        b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (uint8_t)(0x80 | (cp & 0x3f));
        len = 4;
    }
    if (*n + len >= cap)
        return -1;
    memcpy(out + *n, b, len);
    *n += len;
    return 0;
}

/* a basic "..." or literal '...' string on one line into out (NUL-terminated) */
static int read_string(struct reader *r, const char *key, char *out, size_t cap)
{
    char quote;
    size_t n = 0;

    if (r->p >= r->end || (*r->p != '"' && *r->p != '\''))
        return fail(r, key, "expected a string");
    quote = *r->p++;
    if (r->end - r->p >= 2 && r->p[0] == quote && r->p[1] == quote)
        return fail(r, key, "multi-line strings are not supported");
    for (;;) {
        char c;
        if (r->p >= r->end || *r->p == '\n')
            return fail(r, key, "unterminated string");
        c = *r->p++;
        if (c == quote)
            break;
        if ((unsigned char)c < 0x20 && c != '\t')
            return fail(r, key, "control character in a string");
        if (c == '\\' && quote == '"') {
            uint32_t cp = 0;
            int digits = 0;
            if (r->p >= r->end)
                return fail(r, key, "unterminated string");
            c = *r->p++;
            switch (c) {
            case 'b': c = '\b'; break;
            case 't': c = '\t'; break;
            case 'n': c = '\n'; break;
            case 'f': c = '\f'; break;
            case 'r': c = '\r'; break;
            case '"': case '\\': break;
            case 'u': digits = 4; break;
            case 'U': digits = 8; break;
            default: return fail(r, key, "bad escape \\%c in a string", c);
            }
            if (digits) {
                for (int i = 0; i < digits; i++) {
                    int h = r->p < r->end ? (unsigned char)*r->p : 0;
                    if (!isxdigit(h))
                        return fail(r, key, "bad \\%c escape in a string", digits == 4 ? 'u' : 'U');
                    cp = cp << 4 | (uint32_t)(isdigit(h) ? h - '0' : tolower(h) - 'a' + 10);
                    r->p++;
                }
                if (put_utf8(out, &n, cap, cp) != 0)
                    return fail(r, key, "bad or too long string");
                continue;
            }
        }
        if (n + 1 >= cap)
            return fail(r, key, "string longer than %zu bytes", cap - 1);
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

static int read_int(struct reader *r, const char *key, int64_t *out)
{
    int neg = 0, digits = 0;
    uint64_t v = 0, limit;

    if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
        neg = *r->p++ == '-';
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (r->end - r->p >= 2 && r->p[0] == '0' && isdigit((unsigned char)r->p[1]))
        return fail(r, key, "expected an integer (no leading zeros)");
    while (r->p < r->end) {
        int c = (unsigned char)*r->p;
        if (c == '_' && digits && r->p + 1 < r->end && isdigit((unsigned char)r->p[1])) {
            r->p++;
            continue;
        }
        if (!isdigit(c))
            break;
        if (v > (limit - (uint64_t)(c - '0')) / 10)
            return fail(r, key, "integer out of range");
        v = v * 10 + (uint64_t)(c - '0');
        digits++;
        r->p++;
    }
    if (!digits || (r->p < r->end && (isalnum((unsigned char)*r->p) || *r->p == '.')))
        return fail(r, key, "expected an integer");
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int read_bool(struct reader *r, const char *key, int *out)
{
    size_t left = (size_t)(r->end - r->p);
    if (left >= 4 && memcmp(r->p, "true", 4) == 0 && (left == 4 || !is_bare((unsigned char)r->p[4]))) {
        r->p += 4;
        *out = 1;
        return 0;
    }
    if (left >= 5 && memcmp(r->p, "false", 5) == 0 && (left == 5 || !is_bare((unsigned char)r->p[5]))) {
        r->p += 5;
        *out = 0;
        return 0;
    }
    return fail(r, key, "expected true or false");
}

/* a bare or quoted key (no dots) */
static int read_name(struct reader *r, const char *key, char *out, size_t cap)
{
    size_t n = 0;

    if (r->p < r->end && (*r->p == '"' || *r->p == '\''))
        return read_string(r, key, out, cap);
    while (r->p < r->end && is_bare((unsigned char)*r->p)) {
        if (n + 1 >= cap)
            return fail(r, key, "name longer than %zu bytes", cap - 1);
        out[n++] = *r->p++;
    }
    if (n == 0)
        return fail(r, key, "expected a name");
    out[n] = '\0';
    return 0;
}

static int check_range(struct reader *r, const struct key_spec *k, int64_t v)
{
    if (v < k->min || v > k->max)
        return fail(r, k->key, "%lld is out of range (%lld..%lld)", (long long)v, (long long)k->min,
                    (long long)k->max);
    return 0;
}

static int check_choice(struct reader *r, const struct key_spec *k, const char *s)
{
    const char *c = k->choices;
    size_t n = strlen(s);

    while (c) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && memcmp(c, s, n) == 0)
            return 0;
        c = bar ? bar + 1 : NULL;
    }
    if (!k->choices)
        return 0;
    return fail(r, k->key, "\"%s\" is not one of %s", s, k->choices);
}

/* one string of an array, into r->value */
static int read_array_string(struct reader *r, const char *key)
{
    char s[VALUE_MAX_BYTES];

    if (read_string(r, key, s, sizeof(s)) != 0)
        return -1;
    text_quoted(&r->value, s);
    return 0;
}

/* "[x, y,\n # note\n z]": elements read by read_element, canonical text
 * into r->value */
static int read_array(struct reader *r, const char *key, int (*read_element)(struct reader *, const char *),
                      const char *what)
{
    int first = 1;

    if (r->p >= r->end || *r->p != '[')
        return fail(r, key, "expected an array of %s", what);
    r->p++;
    text_str(&r->value, "[");
    for (;;) {
        skip_space(r);
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            break;
        }
        if (!first)
            text_str(&r->value, ", ");
        if (read_element(r, key) != 0)
            return -1;
        first = 0;
        skip_space(r);
        if (r->p < r->end && *r->p == ',')
            r->p++;
        else if (r->p >= r->end || *r->p != ']')
            return fail(r, key, "expected ',' or ']' in the array");
    }
    text_str(&r->value, "]");
    return 0;
}

/* one {host = "..", insecure = true, request_timeout_sec = 10} on one line */
static int read_mirror(struct reader *r, const char *key)
{
    char name[NAME_MAX_BYTES], s[VALUE_MAX_BYTES], host[VALUE_MAX_BYTES] = "";
    int have_host = 0, have_insecure = 0, have_timeout = 0, first = 1, insecure = 0;

    if (r->p >= r->end || *r->p != '{')
        return fail(r, key, "expected an inline table {host = \"...\"}");
    r->p++;
    text_str(&r->value, "{");
    for (;;) {
        skip_blank(r);
        if (r->p < r->end && *r->p == '}' && first) {
            r->p++;
            break;
        }
        if (read_name(r, key, name, sizeof(name)) != 0)
            return -1;
        skip_blank(r);
        if (r->p >= r->end || *r->p != '=')
            return fail(r, key, "expected '=' after %s", name);
        r->p++;
        skip_blank(r);
        text_str(&r->value, first ? "" : ", ");
        text_str(&r->value, name);
        text_str(&r->value, " = ");
        if (strcmp(name, "host") == 0 && !have_host++) {
            if (read_string(r, key, s, sizeof(s)) != 0)
                return -1;
            if (!s[0])
                return fail(r, key, "a mirror's host is empty");
            text_quoted(&r->value, s);
            memcpy(host, s, strlen(s) + 1);
        } else if (strcmp(name, "insecure") == 0 && !have_insecure++) {
            int b;
            if (read_bool(r, key, &b) != 0)
                return -1;
            text_str(&r->value, b ? "true" : "false");
            insecure = b;
        } else if (strcmp(name, "request_timeout_sec") == 0 && !have_timeout++) {
            int64_t v;
            if (read_int(r, key, &v) != 0)
                return -1;
            text_fmt(&r->value, "%lld", (long long)v);
        } else {
            return fail(r, key, "%s: unknown or repeated mirror key", name);
        }
        first = 0;
        skip_blank(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            break;
        }
        return fail(r, key, "expected ',' or '}' in the inline table");
    }
    if (!have_host)
        return fail(r, key, "a mirror needs a host");
    text_str(&r->value, "}");
    /* the registry itself as its own insecure mirror: plain http to it (a
     * mirror on another host is accepted and not used) */
    if (insecure && strcmp(host, r->last_name) == 0) {
        struct snap_config *c = r->cfg;
        if (c->n_plain_http_hosts == SNAP_MAX_PLAIN_HOSTS)
            return fail(r, key, "more than %d insecure hosts", SNAP_MAX_PLAIN_HOSTS);
        if (strlen(host) >= sizeof(c->plain_http_hosts[0]))
            return fail(r, key, "host name too long");
        memcpy(c->plain_http_hosts[c->n_plain_http_hosts++], host, strlen(host) + 1);
    }
    return 0;
}

/* "512MiB", "10GiB", "4M" or a plain integer of bytes */
static int read_size(struct reader *r, const struct key_spec *k, int64_t *out)
{
    if (r->p < r->end && (*r->p == '"' || *r->p == '\'')) {
        char s[64];
        if (read_string(r, k->key, s, sizeof(s)) != 0)
            return -1;
        if (strcmp(s, "0") == 0)
            *out = 0;
        else if (s[0] < '0' || s[0] > '9' || cli_parse_size(s, out) != 0)
            return fail(r, k->key, "\"%s\" is not a size (bytes, or with K, M, G, KiB, MiB, GiB)", s);
    } else if (read_int(r, k->key, out) != 0) {
        return -1;
    }
    return check_range(r, k, *out);
}

/* the value of key k, stored in cfg or appended to the passthrough text */
static int read_value(struct reader *r, const struct key_spec *k)
{
    char *field = k->field == NO_FIELD ? NULL : (char *)r->cfg + k->field;
    char s[VALUE_MAX_BYTES];
    int64_t v;
    int b;

    r->value.len = 0;
    text_str(&r->value, "");
    switch (k->type) {
    case KT_BOOL:
        if (read_bool(r, k->key, &b) != 0)
            return -1;
        if (b > k->max)
            return fail(r, k->key, "true is not supported by this implementation");
        if (field)
            *(int *)field = b;
        text_str(&r->value, b ? "true" : "false");
        break;
    case KT_INT:
    case KT_INT64:
        if (read_int(r, k->key, &v) != 0 || check_range(r, k, v) != 0)
            return -1;
        if (v == 0 && (k->flags & ZERO_IS_DEFAULT)) {
            struct snap_config d;
            snap_config_defaults(&d);
            v = k->type == KT_INT ? *(int *)((char *)&d + k->field) : *(int64_t *)((char *)&d + k->field);
        }
        if (field && k->type == KT_INT)
            *(int *)field = (int)v;
        else if (field)
            *(int64_t *)field = v;
        text_fmt(&r->value, "%lld", (long long)v);
        break;
    case KT_SIZE:
        if (read_size(r, k, &v) != 0)
            return -1;
        *(int64_t *)field = v;
        break;
    case KT_STRING:
        if (read_string(r, k->key, s, sizeof(s)) != 0 || check_choice(r, k, s) != 0)
            return -1;
        if (field)
            memcpy(field, s, strlen(s) + 1);
        text_quoted(&r->value, s);
        break;
    case KT_STRINGS:
        if (read_array(r, k->key, read_array_string, "strings") != 0)
            return -1;
        break;
    case KT_MIRRORS:
        if (read_array(r, k->key, read_mirror, "inline tables") != 0)
            return -1;
        break;
    }
    if (r->value.failed)
        return fail(r, k->key, "out of memory");
    if (!field) {
        text_str(&r->pass, r->table);
        text_str(&r->pass, "\t");
        text_str(&r->pass, k->key);
        text_str(&r->pass, " = ");
        text_str(&r->pass, r->value.s);
        text_str(&r->pass, "\n");
    }
    return 0;
}

/* does a canonical table name match a tables[]/keys[] pattern ("x.*" = one named table under x) */
static int table_matches(const char *pattern, const char *table, const char *last_component)
{
    size_t plen = strlen(pattern);

    if (plen >= 2 && strcmp(pattern + plen - 2, ".*") == 0) {
        if (!last_component)
            return 0;
        size_t prefix = (size_t)(last_component - table);
        return prefix == plen - 1 && memcmp(pattern, table, plen - 1) == 0;
    }
    return strcmp(pattern, table) == 0;
}

/* "[a.b."c d"]": the canonical name, checked against tables[] */
static int read_header(struct reader *r)
{
    struct text name = {0};
    char comp[NAME_MAX_BYTES];
    const char *last = NULL;
    size_t last_off = 0;
    int depth = 0, found = -1;
    int rc = -1;

    r->p++; /* '[' */
    r->table[0] = '\0';
    if (r->p < r->end && *r->p == '[')
        return fail(r, NULL, "arrays of tables ([[...]]) are not supported");
    text_str(&name, "");
    for (;;) {
        skip_blank(r);
        if (read_name(r, NULL, comp, sizeof(comp)) != 0)
            goto out;
        if (++depth > TABLE_MAX_DEPTH) {
            fail(r, NULL, "table name nested too deep");
            goto out;
        }
        if (depth > 1)
            text_str(&name, ".");
        last_off = name.len;
        text_name(&name, comp);
        skip_blank(r);
        if (r->p < r->end && *r->p == '.') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            break;
        }
        fail(r, NULL, "expected '.' or ']' in a table name");
        goto out;
    }
    if (name.failed || name.len >= sizeof(r->table)) {
        fail(r, NULL, "table name too long");
        goto out;
    }
    memcpy(r->table, name.s, name.len + 1);
    snprintf(r->last_name, sizeof(r->last_name), "%s", comp);
    last = depth > 1 ? r->table + last_off : NULL;
    for (size_t i = 0; i < NTABLES && found < 0; i++)
        if (strcmp(tables[i], "") != 0 && table_matches(tables[i], r->table, last))
            found = (int)i;
    if (found < 0) {
        error_set(r->err, "%s:%d: [%s]: unknown table", r->path, r->line, r->table);
        goto out;
    }
    /* each table once, as TOML requires */
    for (const char *p = r->seen_tables.s; p && *p;) {
        const char *nl = strchr(p, '\n');
        if ((size_t)(nl - p) == name.len && memcmp(p, r->table, name.len) == 0) {
            error_set(r->err, "%s:%d: [%s]: table defined twice", r->path, r->line, r->table);
            goto out;
        }
        p = nl + 1;
    }
    text_str(&r->seen_tables, r->table);
    text_str(&r->seen_tables, "\n");
    r->table_index = found;
    memset(r->seen, 0, sizeof(r->seen));
    rc = end_of_line(r, NULL);
out:
    free(name.s);
    return rc;
}

static int read_key_line(struct reader *r)
{
    char key[NAME_MAX_BYTES];
    const struct key_spec *k = NULL;
    size_t i;

    if (read_name(r, NULL, key, sizeof(key)) != 0)
        return -1;
    skip_blank(r);
    if (r->p < r->end && *r->p == '.')
        return fail(r, key, "dotted keys are not supported; use a [table]");
    if (r->p >= r->end || *r->p != '=')
        return fail(r, key, "expected '=' after the key");
    r->p++;
    skip_blank(r);
    for (i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].key, key) == 0 && strcmp(keys[i].table, tables[r->table_index]) == 0) {
            k = &keys[i];
            break;
        }
    }
    if (!k)
        return fail(r, key, "unknown key");
    if (r->seen[i]++)
        return fail(r, key, "key set twice");
    if (read_value(r, k) != 0)
        return -1;
    return end_of_line(r, key);
}

int snap_config_load(struct snap_config *cfg, const char *path, int missing_ok, struct error *err)
{
    struct reader r = {0};
    uint8_t *buf;
    size_t len;
    int rc = 0;

    snap_config_defaults(cfg);
    if (missing_ok && access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    if (read_file(path, CONFIG_MAX_BYTES, &buf, &len, err) != 0)
        return error_prefix(err, "config");
    r.path = path;
    r.p = (const char *)buf;
    r.end = r.p + len;
    r.line = 1;
    r.cfg = cfg;
    r.err = err;
    if (memchr(buf, '\0', len)) {
        rc = error_set(err, "%s: a NUL byte in the config", path);
        goto out;
    }
    while (rc == 0) {
        skip_space(&r);
        if (r.p >= r.end)
            break;
        if (*r.p == '[')
            rc = read_header(&r);
        else
            rc = read_key_line(&r);
    }
    if (rc == 0 && (r.pass.failed || r.seen_tables.failed))
        rc = error_set(err, "%s: out of memory", path);
    if (rc == 0) {
        cfg->passthrough = r.pass.s;
        r.pass.s = NULL;
    }
out:
    free(r.pass.s);
    free(r.value.s);
    free(r.seen_tables.s);
    free(buf);
    if (rc != 0)
        snap_config_defaults(cfg);
    return rc;
}

/* ---- dump ---- */

/* the passthrough value of (table, key), or NULL */
static const char *passthrough_find(const char *pass, const char *table, const char *key, size_t *len)
{
    size_t tl = strlen(table), kl = strlen(key);

    for (const char *p = pass; p && *p;) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        if ((size_t)(nl - p) > tl + kl + 4 && memcmp(p, table, tl) == 0 && p[tl] == '\t' &&
            memcmp(p + tl + 1, key, kl) == 0 && memcmp(p + tl + 1 + kl, " = ", 3) == 0) {
            const char *v = p + tl + 1 + kl + 3;
            *len = (size_t)(nl - v);
            return v;
        }
        p = nl + 1;
    }
    return NULL;
}

/* sizes in the largest binary unit that divides them, as people write them */
static void dump_size(const char *key, int64_t v, FILE *out)
{
    static const char *const units[] = {"GiB", "MiB", "KiB"};

    for (int i = 0; i < 3 && v > 0; i++) {
        int64_t unit = (int64_t)1 << (10 * (3 - i));
        if (v % unit == 0) {
            fprintf(out, "%s = \"%lld%s\"\n", key, (long long)(v / unit), units[i]);
            return;
        }
    }
    fprintf(out, "%s = %lld\n", key, (long long)v);
}

static void dump_key(const struct snap_config *cfg, const struct key_spec *k, FILE *out)
{
    const char *field = k->field == NO_FIELD ? NULL : (const char *)cfg + k->field;
    struct text t = {0};
    size_t len;
    const char *v;

    if (!field) {
        v = passthrough_find(cfg->passthrough, k->table, k->key, &len);
        if (v)
            fprintf(out, "%s = %.*s\n", k->key, (int)len, v);
        else if (k->dflt)
            fprintf(out, "%s = %s\n", k->key, k->dflt);
        return;
    }
    switch (k->type) {
    case KT_BOOL:
        fprintf(out, "%s = %s\n", k->key, *(const int *)field ? "true" : "false");
        break;
    case KT_INT:
        fprintf(out, "%s = %d\n", k->key, *(const int *)field);
        break;
    case KT_INT64:
        fprintf(out, "%s = %lld\n", k->key, (long long)*(const int64_t *)field);
        break;
    case KT_SIZE:
        dump_size(k->key, *(const int64_t *)field, out);
        break;
    case KT_STRING:
        text_quoted(&t, field);
        fprintf(out, "%s = %s\n", k->key, t.s ? t.s : "\"\"");
        free(t.s);
        break;
    case KT_STRINGS:
    case KT_MIRRORS:
        break; /* passthrough only */
    }
}

void snap_config_dump(const struct snap_config *cfg, FILE *out)
{
    const char *last_table = NULL;
    size_t last_len = 0;

    for (size_t i = 0; i < NKEYS; i++) {
        const struct key_spec *k = &keys[i];
        if (strchr(k->table, '*'))
            continue;
        if (i == 0 || strcmp(k->table, keys[i - 1].table) != 0) {
            if (k->table[0])
                fprintf(out, "\n[%s]\n", k->table);
        }
        dump_key(cfg, k, out);
    }
    /* named tables ([resolver.host."h"], decompress_streams."x"), in file order */
    for (const char *p = cfg->passthrough; p && *p;) {
        const char *nl = strchr(p, '\n'), *tab = strchr(p, '\t');
        if (!nl || !tab || tab > nl)
            break;
        size_t tl = (size_t)(tab - p);
        int named = 0;
        for (size_t i = 0; i < NKEYS && !named; i++) {
            size_t pl = strlen(keys[i].table);
            named = pl >= 2 && keys[i].table[pl - 1] == '*' && tl > pl - 1 &&
                    memcmp(p, keys[i].table, pl - 1) == 0;
        }
        if (named) {
            if (!last_table || last_len != tl || memcmp(last_table, p, tl) != 0)
                fprintf(out, "\n[%.*s]\n", (int)tl, p);
            last_table = p;
            last_len = tl;
            fprintf(out, "%.*s\n", (int)(nl - tab - 1), tab + 1);
        }
        p = nl + 1;
    }
}
