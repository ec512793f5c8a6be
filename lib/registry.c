/* registry.c -- OCI distribution client (see registry.h) */
#include "registry.h"

#include <ctype.h>
#include <stdarg.h>
#include <curl/curl.h>
#include <errno.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "digest.h"
#include "fileio.h"
#include "sha256.h"
#include "strutil.h"

#define MAX_HANDLES 32
#define MAX_TOKENS 32
#define MAX_REDIRECTS 10
#define MAX_URL_REFRESHES 3     /* fresh redirects asked for after a target refused */
#define CHUNKED_UPLOAD_THRESHOLD ((int64_t)64 << 20)
#define UPLOAD_CHUNK ((int64_t)16 << 20)
#define MAX_ERROR_BODY 65536

static const char ACCEPT_MANIFESTS[] =
    "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

/* ---- references ---- */

/* host[:port] names this machine's loopback: localhost, 127.0.0.0/8 as
 * an address, [::1] (a name that merely starts like one, such as
 * 127.example.com or localhost.example.com, does not count) */
int reg_host_is_loopback(const char *host)
{
    char name[64];
    struct in_addr a;
    size_t n;

    if (strncmp(host, "[::1]", 5) == 0)
        return host[5] == '\0' || host[5] == ':';
    n = strcspn(host, ":");
    if (n >= sizeof(name))
        return 0;
    if (host[n] == ':') { /* a port: one or more digits, nothing after */
        size_t digits = strspn(host + n + 1, "0123456789");
        if (digits == 0 || host[n + 1 + digits] != '\0')
            return 0;
    }
    memcpy(name, host, n);
    name[n] = '\0';
    if (strcmp(name, "localhost") == 0)
        return 1;
    return inet_pton(AF_INET, name, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

int reg_ref_looks_remote(const char *s)
{
    const char *slash = strchr(s, '/');

    if (strncmp(s, "oci:", 4) == 0 || s[0] == '/' || s[0] == '.' || slash == NULL)
        return 0;
    /* the first component names a registry: has a dot or a port, or is localhost */
    return memchr(s, '.', (size_t)(slash - s)) != NULL || memchr(s, ':', (size_t)(slash - s)) != NULL ||
           strncmp(s, "localhost/", 10) == 0;
}

int reg_ref_parse(const char *s, struct reg_ref *r, struct error *err)
{
    const char *slash, *at, *rest, *colon;
    size_t hl, rl;

    memset(r, 0, sizeof(*r));
    slash = strchr(s, '/');
    RETURN_ERROR_IF(slash == NULL || slash == s, err, "\"%s\" is not REGISTRY/REPOSITORY[:TAG][@DIGEST]", s);
    hl = (size_t)(slash - s);
    RETURN_ERROR_IF(hl >= sizeof(r->host), err, "registry name in \"%.60s\" is too long", s);
    memcpy(r->host, s, hl);
    r->host[hl] = '\0';
    rest = slash + 1;
    at = strchr(rest, '@');
    if (at) {
        RETURN_ERROR_IF(!digest_valid(at + 1), err, "\"%s\": the digest must be sha256:<64 hex>", s);
        str_copy(r->digest, sizeof(r->digest), at + 1);
        rl = (size_t)(at - rest);
    } else {
        rl = strlen(rest);
    }
    /* a tag is after the last ':' of the repository part */
    colon = memchr(rest, ':', rl);
    if (colon) {
        const char *c2;
        while ((c2 = memchr(colon + 1, ':', rl - (size_t)(colon + 1 - rest))) != NULL)
            colon = c2;
        RETURN_ERROR_IF((size_t)(rest + rl - colon - 1) >= sizeof(r->tag) || colon + 1 == rest + rl, err,
                        "\"%s\": bad tag", s);
        memcpy(r->tag, colon + 1, (size_t)(rest + rl - colon - 1));
        r->tag[rest + rl - colon - 1] = '\0';
        rl = (size_t)(colon - rest);
    }
    RETURN_ERROR_IF(rl == 0 || rl >= sizeof(r->repo), err, "\"%s\": bad repository name", s);
    memcpy(r->repo, rest, rl);
    r->repo[rl] = '\0';
    for (hl = 0; hl < rl; hl++) {
        char ch = r->repo[hl];
        RETURN_ERROR_IF(!(islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '/' || ch == '.' ||
                          ch == '_' || ch == '-'),
                        err, "\"%s\": repository names are lowercase letters, digits and . _ - /", s);
    }
    if (!r->tag[0] && !r->digest[0])
        str_copy(r->tag, sizeof(r->tag), "latest");
    return 0;
}

const char *reg_ref_reference(const struct reg_ref *r)
{
    return r->digest[0] ? r->digest : r->tag;
}

/* ---- credentials ---- */

int reg_credentials_for(const char *host, char *user, size_t ulen, char *pass, size_t plen)
{
    char path[4096];
    const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
    uint8_t *buf;
    size_t len;
    struct error err;
    json_t *root, *auths, *v;
    const char *key;
    int found = 0;

    user[0] = pass[0] = '\0';
    if (dir)
        snprintf(path, sizeof(path), "%s/config.json", dir);
    else if (home)
        snprintf(path, sizeof(path), "%s/.docker/config.json", home);
    else
        return 0;
    if (read_file(path, 1 << 20, &buf, &len, &err) != 0)
        return 0;
    root = json_loadb((const char *)buf, len, 0, NULL);
    free(buf);
    auths = json_object_get(root, "auths");
    json_object_foreach(auths, key, v) {
        const char *k = key, *auth;
        size_t hl = strlen(host);
        unsigned char dec[2048];
        long n;
        char *colon;
        if (strncmp(k, "https://", 8) == 0)
            k += 8;
        else if (strncmp(k, "http://", 7) == 0)
            k += 7;
        if (strncmp(k, host, hl) != 0 || (k[hl] != '\0' && k[hl] != '/'))
            continue;
        auth = json_string_value(json_object_get(v, "auth"));
        if (auth == NULL || strlen(auth) > 2000)
            continue;
        n = base64_decode(auth, strlen(auth), dec);
        if (n <= 0)
            continue;
        colon = strchr((char *)dec, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        str_copy(user, ulen, (char *)dec);
        str_copy(pass, plen, colon + 1);
        memset(dec, 0, sizeof(dec));
        found = 1;
        break;
    }
    json_decref(root);
    return found;
}

/* ---- client ---- */

struct token {
    char scope[512];
    char *value;
};

struct reg_client {
    char host[256];
    /* 1: http; 0: https.  A loopback registry without --plain-http is
     * tried with https first and switched to http (once, for every
     * thread) when it answers the TLS handshake with something else, as
     * docker does for localhost; read and written atomically */
    int use_http;
    int loopback_auto;
    struct reg_opts opts;
    char user[256], pass[1024];
    int have_creds;
    pthread_mutex_t mu;
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    CURL *free_handles[MAX_HANDLES];
    int nfree;
    /* auth */
    int scheme_kind;          /* 0 unknown, 1 none needed, 2 basic, 3 bearer */
    char realm[1024], service[256];
    struct token tokens[MAX_TOKENS];
    int ntokens, next_token;
    int no_multirange;
    struct reg_stats stats;
};

static const char *scheme_of(const struct reg_client *c)
{
    return __atomic_load_n(&c->use_http, __ATOMIC_RELAXED) ? "http" : "https";
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_ALL); }

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *u)
{
    struct reg_client *c = u;
    (void)h;
    (void)a;
    pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u)
{
    struct reg_client *c = u;
    (void)h;
    pthread_mutex_unlock(&c->share_mu[data]);
}

struct reg_client *reg_client_new(const char *host, const struct reg_opts *opts, struct error *err)
{
    struct reg_client *c;
    int i;

    pthread_once(&curl_once, curl_init_once);
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        error_set(err, "out of memory");
        return NULL;
    }
    str_copy(c->host, sizeof(c->host), host);
    c->opts = *opts;
    c->opts.user = c->opts.password = NULL;
    if (c->opts.max_retries == 0)
        c->opts.max_retries = 5;
    else if (c->opts.max_retries < 0)
        c->opts.max_retries = 0; /* none */
    if (c->opts.connect_timeout_ms <= 0)
        c->opts.connect_timeout_ms = 10000;
    if (c->opts.low_speed_secs <= 0)
        c->opts.low_speed_secs = 30;
    if (c->opts.low_speed_bytes <= 0)
        c->opts.low_speed_bytes = 1024;
    c->use_http = opts->plain_http;
    c->loopback_auto = !opts->plain_http && reg_host_is_loopback(host);
    if (opts->user) {
        const char *colon = strchr(opts->user, ':');
        if (colon) {
            size_t ul = (size_t)(colon - opts->user);
            if (ul >= sizeof(c->user))
                ul = sizeof(c->user) - 1;
            memcpy(c->user, opts->user, ul);
            c->user[ul] = '\0';
            str_copy(c->pass, sizeof(c->pass), colon + 1);
        } else {
            str_copy(c->user, sizeof(c->user), opts->user);
            str_copy(c->pass, sizeof(c->pass), opts->password);
        }
        c->have_creds = 1;
    } else {
        c->have_creds = reg_credentials_for(host, c->user, sizeof(c->user), c->pass, sizeof(c->pass));
    }
    pthread_mutex_init(&c->mu, NULL);
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_mu[i], NULL);
    c->share = curl_share_init();
    if (c->share) {
        curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    return c;
}

void reg_client_free(struct reg_client *c)
{
    int i;

    if (c == NULL)
        return;
    for (i = 0; i < c->nfree; i++)
        curl_easy_cleanup(c->free_handles[i]);
    if (c->share)
        curl_share_cleanup(c->share);
    for (i = 0; i < c->ntokens; i++) {
        if (c->tokens[i].value)
            memset(c->tokens[i].value, 0, strlen(c->tokens[i].value));
        free(c->tokens[i].value);
    }
    memset(c->pass, 0, sizeof(c->pass));
    pthread_mutex_destroy(&c->mu);
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_mu[i]);
    free(c);
}

void reg_client_stats(struct reg_client *c, struct reg_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}

static CURL *acquire(struct reg_client *c)
{
    CURL *h = NULL;

    pthread_mutex_lock(&c->mu);
    if (c->nfree > 0)
        h = c->free_handles[--c->nfree];
    pthread_mutex_unlock(&c->mu);
    if (h == NULL) {
        h = curl_easy_init();
        if (h && c->share)
            curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    } else {
        curl_easy_reset(h);
        if (c->share)
            curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    }
    return h;
}

static void release(struct reg_client *c, CURL *h)
{
    pthread_mutex_lock(&c->mu);
    if (c->nfree < MAX_HANDLES) {
        c->free_handles[c->nfree++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (h)
        curl_easy_cleanup(h);
}

/* ---- requests ---- */

struct req {
    const char *method;
    char url[4096];
    const char *repo;           /* for the token scope; NULL for /v2/ */
    int push;                   /* needs push access */
    const char *headers[6];
    int nheaders;
    const uint8_t *body;        /* upload from memory */
    size_t body_len;
    reg_source_fn source;       /* or from a reader */
    void *source_ctx;
    int64_t source_off, source_len;
    size_t max_body;            /* buffered response body limit */
    reg_sink_fn sink;           /* or stream it */
    void *sink_ctx;
    int resumable;              /* on a broken GET, continue with Range */
    int follow;                 /* follow redirects */
    int64_t range_off;          /* with resumable: the request's own Range start (-1: none) */
    int64_t range_end;          /* with range_off: its last byte (a resumed request keeps it) */
    int no_auth;                /* never add registry credentials (the token request) */
};

struct resp {
    long status;
    char content_type[256];
    char digest[128];
    char location[4096];
    char www_auth[2048];
    int oci_subject;
    char content_range[128];
    long retry_after;
    int64_t content_length;
    uint8_t *body;
    size_t len, cap;
    int64_t delivered;          /* bytes handed to the sink over all attempts */
    int64_t skip;               /* bytes of this attempt's body already delivered */
    int64_t expect_start;       /* the blob offset this attempt's body should start at */
    int range_bad;              /* a 206 that does not start at expect_start */
    int sink_failed;
    struct error sink_err;
    int too_big;
    struct req *rq;
    int64_t upload_pos;
    struct error upload_err;
    int upload_failed;
};

static void header_value(char *dst, size_t n, const char *v, size_t vl)
{
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    while (vl > 0 && *v == ' ') {
        v++;
        vl--;
    }
    if (vl >= n)
        vl = n - 1;
    memcpy(dst, v, vl);
    dst[vl] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nitems, void *u)
{
    struct resp *rs = u;
    size_t n = size * nitems;
    const char *colon = memchr(line, ':', n);
    size_t kl;
    char tmp[64];

    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* a new response (after 100-continue or a redirect): reset, and
         * know the status before the body arrives */
        const char *sp = memchr(line, ' ', n);
        rs->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        rs->content_type[0] = rs->digest[0] = rs->location[0] = rs->www_auth[0] = '\0';
        rs->content_range[0] = '\0';
        rs->oci_subject = 0;
        rs->retry_after = 0;
        rs->content_length = -1;
        return n;
    }
    if (colon == NULL) {
        if (rs->rq->sink && (n == 2 || n == 1) && (line[0] == '\r' || line[0] == '\n')) {
            /* the end of the headers: a 200 answer starts at byte 0, so
             * drop what was delivered already (a resumed download) and
             * what lies before a range; a 206 must start where we asked */
            if (rs->status == 200) {
                rs->skip = rs->expect_start;
            } else if (rs->status == 206 && rs->content_range[0]) {
                long long a = -1;
                if (sscanf(rs->content_range, "bytes %lld-", &a) != 1 || a != (long long)rs->expect_start)
                    rs->range_bad = 1;
            }
        }
        return n;
    }
    kl = (size_t)(colon - line);
    colon++;
#define IS(name) (kl == sizeof(name) - 1 && strncasecmp(line, name, kl) == 0)
    if (IS("Content-Type"))
        header_value(rs->content_type, sizeof(rs->content_type), colon, n - kl - 1);
    else if (IS("Docker-Content-Digest"))
        header_value(rs->digest, sizeof(rs->digest), colon, n - kl - 1);
    else if (IS("Location"))
        header_value(rs->location, sizeof(rs->location), colon, n - kl - 1);
    else if (IS("WWW-Authenticate"))
        header_value(rs->www_auth, sizeof(rs->www_auth), colon, n - kl - 1);
    else if (IS("OCI-Subject"))
        rs->oci_subject = 1;
    else if (IS("Content-Range"))
        header_value(rs->content_range, sizeof(rs->content_range), colon, n - kl - 1);
    else if (IS("Retry-After")) {
        header_value(tmp, sizeof(tmp), colon, n - kl - 1);
        rs->retry_after = strtol(tmp, NULL, 10);
    } else if (IS("Content-Length")) {
        header_value(tmp, sizeof(tmp), colon, n - kl - 1);
        rs->content_length = strtoll(tmp, NULL, 10);
    }
#undef IS
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *u)
{
    struct resp *rs = u;
    size_t n = size * nmemb;
    struct req *rq = rs->rq;

    /* only a successful answer goes to the sink; errors are buffered */
    if (rq->sink && rs->status >= 200 && rs->status < 300) {
        const uint8_t *p = (const uint8_t *)data;
        size_t k = n;
        if (rs->range_bad)
            return 0;
        if (rs->skip > 0) {
            size_t s = (int64_t)k < rs->skip ? k : (size_t)rs->skip;
            rs->skip -= (int64_t)s;
            p += s;
            k -= s;
        }
        if (k > 0 && rq->sink(rq->sink_ctx, p, k, &rs->sink_err) != 0) {
            rs->sink_failed = 1;
            return 0;
        }
        rs->delivered += (int64_t)k;
        return n;
    }
    {
        size_t limit = (rq->sink || rs->status >= 300) ? MAX_ERROR_BODY : rq->max_body;
        if (rs->len + n > limit) {
            rs->too_big = 1;
            return 0;
        }
    }
    if (rs->len + n + 1 > rs->cap) {
        size_t ncap = rs->cap ? rs->cap : 4096;
        uint8_t *nb;
        while (ncap < rs->len + n + 1)
            ncap *= 2;
        nb = realloc(rs->body, ncap);
        if (nb == NULL)
            return 0;
        rs->body = nb;
        rs->cap = ncap;
    }
    memcpy(rs->body + rs->len, data, n);
    rs->len += n;
    rs->body[rs->len] = '\0';
    return n;
}

static size_t on_upload(char *buf, size_t size, size_t nitems, void *u)
{
    struct resp *rs = u;
    struct req *rq = rs->rq;
    size_t want = size * nitems;
    int64_t left;

    if (rq->body) {
        left = (int64_t)rq->body_len - rs->upload_pos;
        if ((int64_t)want > left)
            want = (size_t)left;
        memcpy(buf, rq->body + rs->upload_pos, want);
    } else {
        left = rq->source_len - rs->upload_pos;
        if ((int64_t)want > left)
            want = (size_t)left;
        if (want > 0 && rq->source(rq->source_ctx, rq->source_off + rs->upload_pos, (uint8_t *)buf, want,
                                   &rs->upload_err) != 0) {
            rs->upload_failed = 1;
            return CURL_READFUNC_ABORT;
        }
    }
    rs->upload_pos += (int64_t)want;
    return want;
}

static const char *url_host(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://"), *e;

    out[0] = '\0';
    if (p == NULL)
        return out;
    p += 3;
    e = p + strcspn(p, "/?#");
    if ((size_t)(e - p) < n) {
        memcpy(out, p, (size_t)(e - p));
        out[e - p] = '\0';
    }
    return out;
}

/* parse `Bearer realm="..",service="..",scope=".."` or `Basic realm=".."` */
static int parse_challenge(const char *h, char *scheme, size_t sl, char *realm, size_t rl, char *service,
                           size_t svl, char *scope, size_t scl)
{
    const char *p = h;
    size_t n = strcspn(p, " ");

    realm[0] = service[0] = scope[0] = '\0';
    if (n == 0 || n >= sl)
        return -1;
    memcpy(scheme, p, n);
    scheme[n] = '\0';
    p += n;
    while (*p) {
        char key[64], val[2048];
        size_t kl = 0, vl = 0;
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        while (*p && *p != '=' && kl < sizeof(key) - 1 && *p != ' ' && *p != ',')
            key[kl++] = *p++;
        key[kl] = '\0';
        if (*p != '=' || kl == 0)
            return -1;
        p++;
        if (*p == '"') {
            p++;
            while (*p && *p != '"' && vl < sizeof(val) - 1) {
                if (*p == '\\' && p[1])
                    p++;
                val[vl++] = *p++;
            }
            if (*p != '"')
                return -1;
            p++;
        } else {
            while (*p && *p != ',' && vl < sizeof(val) - 1)
                val[vl++] = *p++;
        }
        val[vl] = '\0';
        if (strcasecmp(key, "realm") == 0)
            str_copy(realm, rl, val);
        else if (strcasecmp(key, "service") == 0)
            str_copy(service, svl, val);
        else if (strcasecmp(key, "scope") == 0)
            str_copy(scope, scl, val);
    }
    return 0;
}

static void scope_for(const struct req *rq, char *out, size_t n)
{
    if (rq->repo == NULL)
        out[0] = '\0';
    else
        snprintf(out, n, "repository:%s:%s", rq->repo, rq->push ? "pull,push" : "pull");
}

/* the cached token for a scope (caller holds c->mu) */
static const char *token_for(struct reg_client *c, const char *scope)
{
    int i;

    for (i = 0; i < c->ntokens; i++)
        if (strcmp(c->tokens[i].scope, scope) == 0)
            return c->tokens[i].value;
    /* a push token also serves pulls of the same repository */
    if (strstr(scope, ":pull") && !strstr(scope, "push")) {
        char wider[600];
        snprintf(wider, sizeof(wider), "%.*s,push", (int)strlen(scope), scope);
        for (i = 0; i < c->ntokens; i++)
            if (strcmp(c->tokens[i].scope, wider) == 0)
                return c->tokens[i].value;
    }
    return NULL;
}

static void store_token(struct reg_client *c, const char *scope, const char *value)
{
    int i;
    char *copy = strdup(value);

    if (copy == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < c->ntokens; i++)
        if (strcmp(c->tokens[i].scope, scope) == 0)
            break;
    if (i == c->ntokens) {
        if (c->ntokens < MAX_TOKENS)
            c->ntokens++;
        else
            i = c->next_token++ % MAX_TOKENS;
    }
    if (c->tokens[i].value) {
        memset(c->tokens[i].value, 0, strlen(c->tokens[i].value));
        free(c->tokens[i].value);
    }
    str_copy(c->tokens[i].scope, sizeof(c->tokens[i].scope), scope);
    c->tokens[i].value = copy;
    pthread_mutex_unlock(&c->mu);
}

static void basic_header(struct reg_client *c, char *out, size_t n)
{
    char plain[1400], enc[2000];

    snprintf(plain, sizeof(plain), "%s:%s", c->user, c->pass);
    base64_encode((const unsigned char *)plain, strlen(plain), enc);
    snprintf(out, n, "Authorization: Basic %s", enc);
    memset(plain, 0, sizeof(plain));
    memset(enc, 0, sizeof(enc));
}

static void backoff(int attempt, long retry_after)
{
    struct timespec ts;
    long ms = 100L << (attempt < 6 ? attempt : 6); /* 100 ms .. 6.4 s */

    if (retry_after > 0)
        ms = retry_after * 1000 > 10000 ? 10000 : retry_after * 1000;
    ms += rand() % 50;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static int fetch_token(struct reg_client *c, const char *realm, const char *service, const char *scope,
                       const char *key, struct error *err);

/* a request URL for messages: the path only, without scheme and host when
 * it is the registry's, and without the query (upload URLs carry long
 * opaque state there) */
static const char *msg_url(const struct reg_client *c, const char *url, char *out, size_t n)
{
    const char *scheme = scheme_of(c);
    size_t sl = strlen(scheme), hl = strlen(c->host);

    if (strncmp(url, scheme, sl) == 0 && strncmp(url + sl, "://", 3) == 0 &&
        strncmp(url + sl + 3, c->host, hl) == 0 && url[sl + 3 + hl] == '/')
        url += sl + 3 + hl;
    snprintf(out, n, "%.*s", (int)strcspn(url, "?"), url);
    return out;
}

/* the registry's error JSON, shortened, for messages */
static void describe_error(const struct resp *rs, char *out, size_t n)
{
    json_t *root;
    json_t *e;

    out[0] = '\0';
    if (rs->body == NULL || rs->len == 0)
        return;
    root = json_loadb((const char *)rs->body, rs->len, 0, NULL);
    e = json_array_get(json_object_get(root, "errors"), 0);
    if (e)
        snprintf(out, n, ": %.40s: %.160s", json_string_value(json_object_get(e, "code")) ?: "",
                 json_string_value(json_object_get(e, "message")) ?: "");
    json_decref(root);
}

/* a Location header made absolute; -1 when it does not fit */
static int absolute_url(const struct reg_client *c, const char *loc, char *out, size_t n)
{
    const char *scheme = scheme_of(c);
    size_t sl = strlen(scheme), hl = strlen(c->host), ll = strlen(loc);

    if (loc[0] != '/')
        return str_copy(out, n, loc);
    if (sl + 3 + hl + ll + 1 > n)
        return -1;
    memcpy(out, scheme, sl);
    memcpy(out + sl, "://", 3);
    memcpy(out + sl + 3, c->host, hl);
    memcpy(out + sl + 3 + hl, loc, ll + 1);
    return 0;
}

/* is url "https://HOST/..." for this client's registry host? */
static int https_to_registry(const struct reg_client *c, const char *url)
{
    size_t hl = strlen(c->host);

    return strncmp(url, "https://", 8) == 0 && strncmp(url + 8, c->host, hl) == 0 &&
           (url[8 + hl] == '/' || url[8 + hl] == '\0');
}

static int perform(struct reg_client *c, struct req *rq, struct resp *rs, struct error *err)
{
    int attempt = 0, hops = 0, auth_tries = 0, refreshes = 0;
    char url[4096], host_of_url[300], where[300];

    memset(rs, 0, sizeof(*rs));
    rs->rq = rq;
    rs->content_length = -1;
    str_copy(url, sizeof(url), rq->url);
    for (;;) {
        CURL *h = acquire(c);
        struct curl_slist *hdrs = NULL;
        char auth[9000], scope[600], range[80], ebuf[CURL_ERROR_SIZE];
        CURLcode cc;
        int i, same_host, sent_basic = 0;
        int resuming = rq->resumable && rs->delivered > 0;

        RETURN_ERROR_IF(h == NULL, err, "out of memory (curl)");
        rs->status = 0;
        rs->len = 0;
        rs->too_big = 0;
        rs->upload_pos = 0;
        rs->skip = 0;
        rs->range_bad = 0;
        rs->expect_start = (rq->range_off > 0 ? rq->range_off : 0) + rs->delivered;
        url_host(url, host_of_url, sizeof(host_of_url));
        same_host = !rq->no_auth && strcmp(host_of_url, c->host) == 0;
        for (i = 0; i < rq->nheaders; i++)
            if (!resuming || strncasecmp(rq->headers[i], "Range:", 6) != 0)
                hdrs = curl_slist_append(hdrs, rq->headers[i]);
        if (resuming) {
            /* continue a broken download where it stopped (in place of
             * the request's own Range) */
            if (rq->range_off >= 0 && rq->range_end >= rs->expect_start)
                snprintf(range, sizeof(range), "Range: bytes=%lld-%lld", (long long)rs->expect_start,
                         (long long)rq->range_end);
            else
                snprintf(range, sizeof(range), "Range: bytes=%lld-", (long long)rs->expect_start);
            hdrs = curl_slist_append(hdrs, range);
        }
        auth[0] = '\0';
        if (same_host) {
            const char *tok;
            scope_for(rq, scope, sizeof(scope));
            pthread_mutex_lock(&c->mu);
            tok = c->scheme_kind == 3 ? token_for(c, scope) : NULL;
            if (tok)
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
            pthread_mutex_unlock(&c->mu);
            if (!auth[0] && c->scheme_kind == 2 && c->have_creds) {
                basic_header(c, auth, sizeof(auth));
                sent_basic = 1;
            }
            if (auth[0])
                hdrs = curl_slist_append(hdrs, auth);
            memset(auth, 0, sizeof(auth));
        }
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, rs);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, rs);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, c->opts.low_speed_bytes);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->opts.low_speed_secs);
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "soci-c/0.1");
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        if (c->opts.insecure) {
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (strcmp(rq->method, "HEAD") == 0) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (rq->body || rq->source) {
            int64_t blen = rq->body ? (int64_t)rq->body_len : rq->source_len;
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
            curl_easy_setopt(h, CURLOPT_READDATA, rs);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)blen);
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        } else if (strcmp(rq->method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        } else if (strcmp(rq->method, "GET") != 0) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        }
        ebuf[0] = '\0';
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
        cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        curl_slist_free_all(hdrs);
        release(c, h);
        pthread_mutex_lock(&c->mu);
        c->stats.requests++;
        pthread_mutex_unlock(&c->mu);
        if (c->opts.verbose)
            fprintf(stderr, "registry: %s %s -> %ld%s\n", rq->method, url, rs->status,
                    cc != CURLE_OK ? " (transfer failed)" : "");

        if (rs->sink_failed) {
            *err = rs->sink_err;
            return -1;
        }
        if (rs->upload_failed) {
            *err = rs->upload_err;
            return -1;
        }
        RETURN_ERROR_IF(rs->range_bad, err, "registry %s: %s %s: asked for bytes from %lld, answered with %s",
                        c->host, rq->method, msg_url(c, rq->url, where, sizeof(where)),
                        (long long)rs->expect_start, rs->content_range);
        RETURN_ERROR_IF(rs->too_big, err, "registry %s: %s %s: the answer is larger than allowed", c->host,
                        rq->method, msg_url(c, rq->url, where, sizeof(where)));
        if (cc == CURLE_SSL_CONNECT_ERROR && c->loopback_auto && rs->delivered == 0 && https_to_registry(c, url)) {
            /* a loopback registry that does not speak TLS: http from now on */
            __atomic_store_n(&c->use_http, 1, __ATOMIC_RELAXED);
            memmove(url + 4, url + 5, strlen(url + 5) + 1);
            if (https_to_registry(c, rq->url)) /* for messages */
                memmove(rq->url + 4, rq->url + 5, strlen(rq->url + 5) + 1);
            continue;
        }
        RETURN_ERROR_IF(cc == CURLE_PEER_FAILED_VERIFICATION, err,
                        "registry %s: TLS certificate not trusted (%s); --insecure skips the check", c->host,
                        ebuf[0] ? ebuf : curl_easy_strerror(cc));
        if (cc != CURLE_OK) {
            /* connection trouble: retry; a download resumes where it stopped */
            if (attempt < c->opts.max_retries && (rq->resumable || rs->delivered == 0)) {
                backoff(attempt++, 0);
                pthread_mutex_lock(&c->mu);
                c->stats.retries++;
                pthread_mutex_unlock(&c->mu);
                continue;
            }
            return error_set(err, "registry %s: %s %s: %s (after %d attempts)", c->host, rq->method,
                             msg_url(c, rq->url, where, sizeof(where)), curl_easy_strerror(cc), attempt + 1);
        }
        if ((rs->status == 403 || (rs->status == 401 && !same_host)) && strcmp(url, rq->url) != 0 &&
            refreshes < MAX_URL_REFRESHES && (rq->resumable || rs->delivered == 0)) {
            /* where a redirect led (a pre-signed storage URL, typically)
             * refused: it may have expired -- ask the registry for a fresh
             * one (a download resumes where it stopped) */
            refreshes++;
            pthread_mutex_lock(&c->mu);
            c->stats.url_refreshes++;
            pthread_mutex_unlock(&c->mu);
            str_copy(url, sizeof(url), rq->url);
            continue;
        }
        RETURN_ERROR_IF((rs->status == 403 || (rs->status == 401 && !same_host)) && strcmp(url, rq->url) != 0, err,
                        "registry %s: %s %s: where it redirected (%s) answered %ld, also after %d fresh redirects",
                        c->host, rq->method, msg_url(c, rq->url, where, sizeof(where)), host_of_url, rs->status,
                        refreshes);
        if (rs->status == 401 && same_host && auth_tries < 2) {
            char scheme[32], realm[1024], service[256], cscope[512];
            auth_tries++;
            RETURN_ERROR_IF(rs->www_auth[0] == '\0', err,
                            "registry %s: %s %s: 401 without a WWW-Authenticate challenge", c->host, rq->method,
                            msg_url(c, rq->url, where, sizeof(where)));
            if (parse_challenge(rs->www_auth, scheme, sizeof(scheme), realm, sizeof(realm), service,
                                sizeof(service), cscope, sizeof(cscope)) != 0)
                return error_set(err, "registry %s: malformed WWW-Authenticate header", c->host);
            if (strcasecmp(scheme, "Basic") == 0) {
                RETURN_ERROR_IF(!c->have_creds, err,
                                "registry %s: authentication required (give --user, or log in with docker login)",
                                c->host);
                /* refused although this request carried the credentials */
                RETURN_ERROR_IF(sent_basic, err, "registry %s: authentication failed for user %s", c->host,
                                c->user);
                c->scheme_kind = 2;
                continue;
            }
            if (strcasecmp(scheme, "Bearer") == 0) {
                RETURN_ERROR_IF(realm[0] == '\0' || (strncmp(realm, "http://", 7) != 0 &&
                                                     strncmp(realm, "https://", 8) != 0),
                                err, "registry %s: malformed WWW-Authenticate header (no usable realm)", c->host);
                /* ask for what the challenge names, but file the token
                 * under this request's scope, which is what the lookup
                 * above uses (a challenge may order or widen it) */
                scope_for(rq, scope, sizeof(scope));
                if (fetch_token(c, realm, service, cscope[0] ? cscope : scope, scope, err) != 0)
                    return -1;
                c->scheme_kind = 3;
                continue;
            }
            return error_set(err, "registry %s: unsupported authentication scheme \"%.20s\"", c->host, scheme);
        }
        if (rs->status == 401 && !rq->no_auth) { /* the token request: fetch_token reads its status */
            if (c->have_creds)
                return error_set(err, "registry %s: authentication failed for user %s", c->host, c->user);
            return error_set(err, "registry %s: authentication required (give --user, or log in with docker login)",
                             c->host);
        }
        if ((rs->status == 429 || rs->status == 500 || rs->status == 502 || rs->status == 503 ||
             rs->status == 504) &&
            attempt < c->opts.max_retries && (rq->resumable || rs->delivered == 0)) {
            backoff(attempt++, rs->retry_after);
            pthread_mutex_lock(&c->mu);
            c->stats.retries++;
            pthread_mutex_unlock(&c->mu);
            continue;
        }
        if (rq->follow && (rs->status == 301 || rs->status == 302 || rs->status == 303 || rs->status == 307 ||
                           rs->status == 308) &&
            rs->location[0]) {
            RETURN_ERROR_IF(++hops > MAX_REDIRECTS, err, "registry %s: %s %s: redirect loop (more than %d redirects)",
                            c->host, rq->method, msg_url(c, rq->url, where, sizeof(where)), MAX_REDIRECTS);
            RETURN_ERROR_IF(rs->location[0] != '/' && strncmp(rs->location, "http://", 7) != 0 &&
                                strncmp(rs->location, "https://", 8) != 0,
                            err, "registry %s: redirect to an unsupported location", c->host);
            RETURN_ERROR_IF(absolute_url(c, rs->location, url, sizeof(url)) != 0, err,
                            "registry %s: redirect location too long", c->host);
            continue;
        }
        return 0;
    }
}

/* scope: what to ask for (the challenge's: one or more space-separated
 * scopes, each sent as its own scope= parameter); key: the cache key */
static int fetch_token(struct reg_client *c, const char *realm, const char *service, const char *scope,
                       const char *key, struct error *err)
{
    struct req rq;
    struct resp rs;
    char *esc, basic[3000];
    CURL *h = curl_easy_init();
    json_t *root;
    const char *tok, *p;
    int rc = -1;
    size_t used;

    RETURN_ERROR_IF(h == NULL, err, "out of memory (curl)");
    memset(&rq, 0, sizeof(rq));
    esc = curl_easy_escape(h, service, 0);
    used = (size_t)snprintf(rq.url, sizeof(rq.url), "%s%sservice=%s", realm, strchr(realm, '?') ? "&" : "?",
                            esc ? esc : "");
    curl_free(esc);
    for (p = scope; *p && used < sizeof(rq.url);) {
        size_t n = strcspn(p, " ");
        if (n > 0) {
            esc = curl_easy_escape(h, p, (int)n);
            used += (size_t)snprintf(rq.url + used, sizeof(rq.url) - used, "&scope=%s", esc ? esc : "");
            curl_free(esc);
        }
        p += n;
        p += strspn(p, " ");
    }
    curl_easy_cleanup(h);
    RETURN_ERROR_IF(used >= sizeof(rq.url), err, "registry %s: the token request is too long", c->host);
    rq.method = "GET";
    rq.max_body = 1 << 20;
    rq.follow = 1;
    rq.no_auth = 1; /* Basic credentials below, never a registry token */
    if (c->have_creds) {
        basic_header(c, basic, sizeof(basic));
        rq.headers[rq.nheaders++] = basic;
    }
    if (perform(c, &rq, &rs, err) != 0) {
        memset(basic, 0, sizeof(basic));
        free(rs.body);
        return error_prefix(err, "token server");
    }
    memset(basic, 0, sizeof(basic));
    if (rs.status == 401 || rs.status == 403) {
        if (c->have_creds)
            error_set(err, "registry %s: authentication failed for user %s", c->host, c->user);
        else
            error_set(err, "registry %s: authentication required (give --user, or log in with docker login)",
                      c->host);
        free(rs.body);
        return -1;
    }
    if (rs.status != 200) {
        error_set(err, "registry %s: token server answered %ld", c->host, rs.status);
        free(rs.body);
        return -1;
    }
    root = json_loadb(rs.body ? (const char *)rs.body : "", rs.len, 0, NULL);
    tok = json_string_value(json_object_get(root, "token"));
    if (tok == NULL)
        tok = json_string_value(json_object_get(root, "access_token"));
    if (tok == NULL || strlen(tok) > 8000 || strchr(tok, '\n') || strchr(tok, '\r'))
        error_set(err, "registry %s: the token server's answer holds no usable token", c->host);
    else {
        store_token(c, key, tok);
        rc = 0;
    }
    json_decref(root);
    if (rs.body)
        memset(rs.body, 0, rs.len);
    free(rs.body);
    return rc;
}

static void base_url(struct reg_client *c, char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void base_url(struct reg_client *c, char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(out, n, "%s://%s", scheme_of(c), c->host);

    va_start(ap, fmt);
    vsnprintf(out + k, n - (size_t)k, fmt, ap);
    va_end(ap);
}

static int status_error(struct reg_client *c, const struct req *rq, const struct resp *rs, struct error *err)
{
    char detail[256], where[300];

    /* Go's TLS servers answer plain http with this 400 */
    if (rs->status == 400 && strncmp(rq->url, "http://", 7) == 0 && rs->body != NULL &&
        memmem(rs->body, rs->len, "HTTPS server", 12) != NULL)
        return error_set(err, "registry %s speaks HTTPS, not plain http: drop --plain-http", c->host);
    describe_error(rs, detail, sizeof(detail));
    return error_set(err, "registry %s: %s %s: %ld%s", c->host, rq->method, msg_url(c, rq->url, where, sizeof(where)),
                     rs->status, detail);
}

int reg_ping(struct reg_client *c, struct error *err)
{
    struct req rq;
    struct resp rs;
    int rc;

    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.max_body = 65536;
    base_url(c, rq.url, sizeof(rq.url), "/v2/");
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    rc = rs.status == 200 ? 0 : status_error(c, &rq, &rs, err);
    free(rs.body);
    return rc;
}

/* ---- manifests ---- */

void reg_manifest_free(struct reg_manifest *m)
{
    free(m->body);
    m->body = NULL;
}

int reg_manifest_get(struct reg_client *c, const char *repo, const char *reference, struct reg_manifest *m,
                     int *found, struct error *err)
{
    struct req rq;
    struct resp rs;
    uint8_t raw[32];

    memset(m, 0, sizeof(*m));
    memset(&rq, 0, sizeof(rq));
    *found = 0;
    rq.method = "GET";
    rq.repo = repo;
    rq.max_body = REG_MAX_MANIFEST;
    rq.follow = 1;
    rq.headers[rq.nheaders++] = ACCEPT_MANIFESTS;
    base_url(c, rq.url, sizeof(rq.url), "/v2/%s/manifests/%s", repo, reference);
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    if (rs.status == 404) {
        free(rs.body);
        return 0;
    }
    if (rs.status != 200) {
        status_error(c, &rq, &rs, err);
        free(rs.body);
        return -1;
    }
    m->body = rs.body ? rs.body : calloc(1, 1);
    m->len = rs.len;
    str_copy(m->media_type, sizeof(m->media_type), rs.content_type);
    sha256_buf(m->body, m->len, raw);
    digest_format(raw, m->digest);
    if (strncmp(reference, "sha256:", 7) == 0 && strcmp(reference, m->digest) != 0) {
        reg_manifest_free(m);
        return error_set(err, "registry %s: manifest %s@%s: the content's digest is %s; refusing it", c->host, repo,
                         reference, m->digest);
    }
    if (rs.digest[0] && strcmp(rs.digest, m->digest) != 0) {
        char shown[80];
        str_copy(shown, sizeof(shown), rs.digest);
        reg_manifest_free(m);
        return error_set(err, "registry %s: manifest %s:%s: Docker-Content-Digest says %s but the content is %s",
                         c->host, repo, reference, shown, m->digest);
    }
    *found = 1;
    return 0;
}

int reg_manifest_head(struct reg_client *c, const char *repo, const char *reference, char *media_type,
                      size_t mt_len, char *digest, int64_t *size, int *found, struct error *err)
{
    struct req rq;
    struct resp rs;

    memset(&rq, 0, sizeof(rq));
    *found = 0;
    rq.method = "HEAD";
    rq.repo = repo;
    rq.follow = 1;
    rq.headers[rq.nheaders++] = ACCEPT_MANIFESTS;
    base_url(c, rq.url, sizeof(rq.url), "/v2/%s/manifests/%s", repo, reference);
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    free(rs.body);
    if (rs.status == 404)
        return 0;
    if (rs.status != 200)
        return status_error(c, &rq, &rs, err);
    *found = 1;
    if (media_type)
        str_copy(media_type, mt_len, rs.content_type);
    if (digest)
        str_copy(digest, 80, digest_valid(rs.digest) ? rs.digest : "");
    if (size)
        *size = rs.content_length;
    return 0;
}

int reg_manifest_put(struct reg_client *c, const char *repo, const char *reference, const char *media_type,
                     const uint8_t *body, size_t len, int *has_subject_header, struct error *err)
{
    struct req rq;
    struct resp rs;
    char ct[300];
    int rc;

    memset(&rq, 0, sizeof(rq));
    rq.method = "PUT";
    rq.repo = repo;
    rq.push = 1;
    rq.body = body;
    rq.body_len = len;
    rq.max_body = 65536;
    snprintf(ct, sizeof(ct), "Content-Type: %s", media_type);
    rq.headers[rq.nheaders++] = ct;
    base_url(c, rq.url, sizeof(rq.url), "/v2/%s/manifests/%s", repo, reference);
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    rc = (rs.status == 201 || rs.status == 200) ? 0 : status_error(c, &rq, &rs, err);
    if (has_subject_header)
        *has_subject_header = rs.oci_subject;
    free(rs.body);
    return rc;
}

int reg_manifest_delete(struct reg_client *c, const char *repo, const char *digest, struct error *err)
{
    struct req rq;
    struct resp rs;
    int rc;

    memset(&rq, 0, sizeof(rq));
    rq.method = "DELETE";
    rq.repo = repo;
    rq.push = 1;
    rq.max_body = 65536;
    base_url(c, rq.url, sizeof(rq.url), "/v2/%s/manifests/%s", repo, digest);
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    rc = (rs.status == 202 || rs.status == 200 || rs.status == 404) ? 0 : status_error(c, &rq, &rs, err);
    free(rs.body);
    return rc;
}

/* ---- blobs ---- */

int reg_blob_head(struct reg_client *c, const char *repo, const char *digest, int64_t *size, int *found,
                  struct error *err)
{
    struct req rq;
    struct resp rs;

    memset(&rq, 0, sizeof(rq));
    *found = 0;
    rq.method = "HEAD";
    rq.repo = repo;
    rq.follow = 1;
    base_url(c, rq.url, sizeof(rq.url), "/v2/%s/blobs/%s", repo, digest);
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    free(rs.body);
    if (rs.status == 404)
        return 0;
    if (rs.status != 200)
        return status_error(c, &rq, &rs, err);
    *found = 1;
    if (size)
        *size = rs.content_length;
    return 0;
}

int reg_blob_get(struct reg_client *c, const char *repo, const char *digest, reg_sink_fn sink, void *ctx,
                 struct error *err)
{
    struct req rq;
    struct resp rs;
    int rc = 0;

    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.repo = repo;
    rq.follow = 1;
    rq.sink = sink;
    rq.sink_ctx = ctx;
    rq.resumable = 1;
    rq.range_off = -1;
    base_url(c, rq.url, sizeof(rq.url), "/v2/%s/blobs/%s", repo, digest);
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    if (rs.status != 200 && rs.status != 206)
        rc = status_error(c, &rq, &rs, err);
    pthread_mutex_lock(&c->mu);
    c->stats.bytes_in += rs.delivered;
    pthread_mutex_unlock(&c->mu);
    free(rs.body);
    return rc;
}

struct range_sink {
    uint8_t *buf;
    size_t want, have;
    int64_t skip;            /* a 200 answer: bytes before the range */
};

static int to_range(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    struct range_sink *r = ctx;
    (void)err;

    if (r->skip > 0) {
        size_t s = (int64_t)n < r->skip ? n : (size_t)r->skip;
        r->skip -= (int64_t)s;
        data += s;
        n -= s;
    }
    if (r->have + n > r->want)
        n = r->want - r->have; /* a 200 answer continues past the range */
    memcpy(r->buf + r->have, data, n);
    r->have += n;
    return 0;
}

int reg_blob_get_range(struct reg_client *c, const char *repo, const char *digest, int64_t off, size_t len,
                       uint8_t *buf, struct error *err)
{
    struct req rq;
    struct resp rs;
    struct range_sink rsnk = {buf, len, 0, 0};
    char range[96];

    RETURN_ERROR_IF(len == 0, err, "empty range");
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.repo = repo;
    rq.follow = 1;
    rq.sink = to_range;
    rq.sink_ctx = &rsnk;
    rq.resumable = 1;
    rq.range_off = off;
    rq.range_end = off + (int64_t)len - 1;
    snprintf(range, sizeof(range), "Range: bytes=%lld-%lld", (long long)off, (long long)(off + (int64_t)len - 1));
    rq.headers[rq.nheaders++] = range;
    rq.headers[rq.nheaders++] = "Accept-Encoding: identity";
    base_url(c, rq.url, sizeof(rq.url), "/v2/%s/blobs/%s", repo, digest);
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    pthread_mutex_lock(&c->mu);
    c->stats.range_requests++;
    c->stats.bytes_in += rs.delivered;
    pthread_mutex_unlock(&c->mu);
    if (rs.status == 200 && rsnk.have < len) {
        free(rs.body);
        return error_set(err, "registry %s: blob %s is shorter than byte %lld", c->host, digest,
                         (long long)(off + (int64_t)len));
    }
    if (rs.status != 206 && rs.status != 200) {
        status_error(c, &rq, &rs, err);
        free(rs.body);
        return -1;
    }
    free(rs.body);
    RETURN_ERROR_IF(rsnk.have != len, err, "registry %s: blob %s: range %lld+%zu answered with %zu bytes", c->host,
                    digest, (long long)off, len, rsnk.have);
    return 0;
}

/* parse a multipart/byteranges body into the requested ranges */
static int parse_multipart(const struct resp *rs, const char *boundary, struct reg_range *r, size_t n)
{
    const char *p = (const char *)rs->body, *end = p + rs->len;
    size_t blen = strlen(boundary), filled = 0, i;
    int *done = calloc(n, sizeof(int));

    if (done == NULL)
        return -1;
    for (;;) {
        const char *hdr_end, *cr;
        long long a, b, total;
        /* next "--boundary" line */
        while (p + 2 + blen <= end && !(p[0] == '-' && p[1] == '-' && memcmp(p + 2, boundary, blen) == 0))
            p++;
        if (p + 2 + blen > end)
            break;
        p += 2 + blen;
        if (p + 2 <= end && p[0] == '-' && p[1] == '-')
            break; /* closing delimiter */
        hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (hdr_end == NULL)
            break;
        cr = memmem(p, (size_t)(hdr_end - p), "Content-Range:", 14);
        if (cr == NULL)
            cr = memmem(p, (size_t)(hdr_end - p), "content-range:", 14);
        if (cr == NULL || sscanf(cr + 14, " bytes %lld-%lld/%lld", &a, &b, &total) < 2 || b < a)
            break;
        p = hdr_end + 4;
        if ((long long)(end - p) < b - a + 1)
            break;
        for (i = 0; i < n; i++)
            if (!done[i] && r[i].off == a && (long long)r[i].len == b - a + 1) {
                memcpy(r[i].buf, p, r[i].len);
                done[i] = 1;
                filled++;
                break;
            }
        p += b - a + 1;
    }
    free(done);
    return filled == n ? 0 : -1;
}

int reg_blob_get_ranges(struct reg_client *c, const char *repo, const char *digest, struct reg_range *r,
                        size_t n, struct error *err)
{
    struct req rq;
    struct resp rs;
    char *range = NULL;
    size_t i, cap, used, total = 0;
    const char *bnd;
    int rc = -1, fallback = 0;

    if (n == 1 || c->no_multirange)
        goto singles;
    cap = 32 + n * 48;
    range = malloc(cap);
    if (range == NULL)
        goto singles;
    used = (size_t)snprintf(range, cap, "Range: bytes=");
    for (i = 0; i < n; i++) {
        used += (size_t)snprintf(range + used, cap - used, "%s%lld-%lld", i ? "," : "", (long long)r[i].off,
                                 (long long)(r[i].off + (int64_t)r[i].len - 1));
        total += r[i].len;
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.repo = repo;
    rq.follow = 1;
    rq.max_body = total + 4096 + n * 256;
    rq.headers[rq.nheaders++] = range;
    rq.headers[rq.nheaders++] = "Accept-Encoding: identity";
    base_url(c, rq.url, sizeof(rq.url), "/v2/%s/blobs/%s", repo, digest);
    if (perform(c, &rq, &rs, err) != 0) {
        /* a registry that answers a multi-range request with the whole
         * blob (too big here) or an error: use single ranges from now on */
        fallback = 1;
    } else if (rs.status == 206 && strncasecmp(rs.content_type, "multipart/byteranges", 20) == 0 &&
               (bnd = strstr(rs.content_type, "boundary=")) != NULL) {
        char boundary[200];
        str_copy(boundary, sizeof(boundary), bnd + 9);
        if (boundary[0] == '"') {
            memmove(boundary, boundary + 1, strlen(boundary));
            boundary[strcspn(boundary, "\"")] = '\0';
        }
        if (parse_multipart(&rs, boundary, r, n) == 0) {
            pthread_mutex_lock(&c->mu);
            c->stats.range_requests++;
            c->stats.bytes_in += (int64_t)rs.len;
            pthread_mutex_unlock(&c->mu);
            rc = 0;
        } else {
            fallback = 1;
        }
    } else {
        fallback = 1;
    }
    free(rs.body);
    free(range);
    if (rc == 0)
        return 0;
    if (fallback) {
        pthread_mutex_lock(&c->mu);
        c->no_multirange = 1;
        pthread_mutex_unlock(&c->mu);
    }
singles:
    for (i = 0; i < n; i++)
        if (reg_blob_get_range(c, repo, digest, r[i].off, r[i].len, r[i].buf, err) != 0)
            return -1;
    return 0;
}

/* upload: POST, then one PUT (or PATCHes then PUT), restarted as a whole
 * on failure */
static int upload_once(struct reg_client *c, const char *repo, const char *digest, int64_t size,
                       reg_source_fn source, void *ctx, const uint8_t *bytes, const char *mount_from,
                       int *mounted, struct error *err)
{
    struct req rq;
    struct resp rs;
    char location[4096], url[4400], crange[96];
    int64_t off;

    *mounted = 0;
    memset(&rq, 0, sizeof(rq));
    rq.method = "POST";
    rq.repo = repo;
    rq.push = 1;
    rq.max_body = 65536;
    if (mount_from && mount_from[0])
        base_url(c, rq.url, sizeof(rq.url), "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, digest, mount_from);
    else
        base_url(c, rq.url, sizeof(rq.url), "/v2/%s/blobs/uploads/", repo);
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    free(rs.body);
    if (rs.status == 201 && mount_from) {
        *mounted = 1;
        return 0;
    }
    if (rs.status != 202 || rs.location[0] == '\0')
        return status_error(c, &rq, &rs, err);
    RETURN_ERROR_IF(absolute_url(c, rs.location, location, sizeof(location)) != 0, err,
                    "registry %s: upload location too long", c->host);

    off = 0;
    if (size > CHUNKED_UPLOAD_THRESHOLD) {
        while (off < size) {
            int64_t n = size - off < UPLOAD_CHUNK ? size - off : UPLOAD_CHUNK;
            memset(&rq, 0, sizeof(rq));
            rq.method = "PATCH";
            rq.repo = repo;
            rq.push = 1;
            rq.max_body = 65536;
            str_copy(rq.url, sizeof(rq.url), location);
            rq.headers[rq.nheaders++] = "Content-Type: application/octet-stream";
            snprintf(crange, sizeof(crange), "Content-Range: %lld-%lld", (long long)off, (long long)(off + n - 1));
            rq.headers[rq.nheaders++] = crange;
            if (bytes) {
                rq.body = bytes + off;
                rq.body_len = (size_t)n;
            } else {
                rq.source = source;
                rq.source_ctx = ctx;
                rq.source_off = off;
                rq.source_len = n;
            }
            if (perform(c, &rq, &rs, err) != 0) {
                free(rs.body);
                return -1;
            }
            free(rs.body);
            if (rs.status != 202)
                return status_error(c, &rq, &rs, err);
            if (rs.location[0] && absolute_url(c, rs.location, location, sizeof(location)) != 0)
                return error_set(err, "registry %s: upload location too long", c->host);
            off += n;
        }
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = "PUT";
    rq.repo = repo;
    rq.push = 1;
    rq.max_body = 65536;
    snprintf(url, sizeof(url), "%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?", digest);
    str_copy(rq.url, sizeof(rq.url), url);
    rq.headers[rq.nheaders++] = "Content-Type: application/octet-stream";
    if (off < size) {
        if (bytes) {
            rq.body = bytes;
            rq.body_len = (size_t)size;
        } else {
            rq.source = source;
            rq.source_ctx = ctx;
            rq.source_off = 0;
            rq.source_len = size;
        }
    } else {
        rq.body = (const uint8_t *)"";
        rq.body_len = 0;
    }
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    free(rs.body);
    if (rs.status != 201)
        return status_error(c, &rq, &rs, err);
    return 0;
}

static int upload(struct reg_client *c, const char *repo, const char *digest, int64_t size, reg_source_fn source,
                  void *ctx, const uint8_t *bytes, const char *mount_from, int *uploaded, struct error *err)
{
    int found = 0, mounted = 0, attempt;
    int64_t have;

    *uploaded = REG_UPLOAD_SKIPPED;
    if (reg_blob_head(c, repo, digest, &have, &found, err) != 0)
        return -1;
    if (found)
        return 0;
    for (attempt = 0;; attempt++) {
        if (upload_once(c, repo, digest, size, source, ctx, bytes, mount_from, &mounted, err) == 0) {
            *uploaded = mounted ? REG_UPLOAD_MOUNTED : REG_UPLOAD_SENT;
            return 0;
        }
        if (attempt >= 2)
            return error_prefix(err, "uploading blob %s", digest);
        backoff(attempt, 0);
    }
}

int reg_blob_upload(struct reg_client *c, const char *repo, const char *digest, int64_t size,
                    reg_source_fn source, void *ctx, const char *mount_from, int *uploaded, struct error *err)
{
    return upload(c, repo, digest, size, source, ctx, NULL, mount_from, uploaded, err);
}

int reg_blob_upload_bytes(struct reg_client *c, const char *repo, const char *digest, const uint8_t *data,
                          size_t len, int *uploaded, struct error *err)
{
    return upload(c, repo, digest, (int64_t)len, NULL, NULL, data, NULL, uploaded, err);
}

/* ---- referrers ---- */

int reg_referrers(struct reg_client *c, const char *repo, const char *digest, const char *artifact_type,
                  uint8_t **body, size_t *len, int *supported, struct error *err)
{
    struct req rq;
    struct resp rs;
    CURL *h = curl_easy_init();
    char *esc = NULL;

    *body = NULL;
    *len = 0;
    *supported = 0;
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.repo = repo;
    rq.max_body = REG_MAX_MANIFEST;
    rq.follow = 1;
    if (h && artifact_type)
        esc = curl_easy_escape(h, artifact_type, 0);
    base_url(c, rq.url, sizeof(rq.url), "/v2/%s/referrers/%s%s%s", repo, digest, esc ? "?artifactType=" : "",
             esc ? esc : "");
    curl_free(esc);
    if (h)
        curl_easy_cleanup(h);
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    /* distribution spec: 404 (not NAME_UNKNOWN) or a wrong content type
     * means no referrers API: the caller falls back to the tag schema */
    if (rs.status == 404 || rs.status == 405 ||
        (rs.status == 200 && strncmp(rs.content_type, "application/vnd.oci.image.index.v1+json", 39) != 0)) {
        free(rs.body);
        return 0;
    }
    if (rs.status != 200) {
        status_error(c, &rq, &rs, err);
        free(rs.body);
        return -1;
    }
    *supported = 1;
    *body = rs.body ? rs.body : calloc(1, 1);
    *len = rs.len;
    return 0;
}

/* ---- repositories ---- */

int reg_repo_exists(struct reg_client *c, const char *repo, int *exists, struct error *err)
{
    struct req rq;
    struct resp rs;

    *exists = -1;
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.repo = repo;
    rq.max_body = REG_MAX_MANIFEST;
    rq.follow = 1;
    base_url(c, rq.url, sizeof(rq.url), "/v2/%s/tags/list?n=1", repo);
    if (perform(c, &rq, &rs, err) != 0) {
        free(rs.body);
        return -1;
    }
    if (rs.status == 200)
        *exists = 1;
    else if (rs.status == 404 && rs.body && memmem(rs.body, rs.len, "NAME_UNKNOWN", 12) != NULL)
        *exists = 0;
    free(rs.body);
    return 0;
}
