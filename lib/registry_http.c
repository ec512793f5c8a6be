/* registry_http.c -- the registry client's HTTP engine (see registry_http.h) */
#include "registry_http.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "registry_auth.h"
#include "registry_range.h"
#include "strutil.h"

#define MAX_HANDLES 32
#define MAX_REDIRECTS 10
#define MAX_URL_REFRESHES 3      /* fresh redirects asked for after a target refused */
#define MAX_AUTH_ROUNDS 2        /* challenges answered per request */
#define MAX_RETRY_AFTER_S 10
#define MAX_TOKEN_ANSWER (1 << 20)

struct reg_http {
    char host[256];
    /* 1: http; 0: https.  A loopback registry without --plain-http is
     * tried with https first and switched to http (once, for every
     * thread) when it answers the TLS handshake with something else, as
     * docker does for localhost; read and written atomically */
    int use_http;
    int loopback_auto;
    struct reg_opts opts;        /* without the credentials (in auth) */
    struct reg_auth *auth;
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    pthread_mutex_t mu;          /* guards the handle pool and the counters */
    CURL *free_handles[MAX_HANDLES];
    int nfree;
    struct reg_stats stats;
};

/* ---- setup ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_ALL); }

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access a, void *u)
{
    struct reg_http *h = u;
    (void)c;
    (void)a;
    pthread_mutex_lock(&h->share_mu[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *u)
{
    struct reg_http *h = u;
    (void)c;
    pthread_mutex_unlock(&h->share_mu[data]);
}

struct reg_http *reg_http_new(const char *host, const struct reg_opts *opts, struct error *err)
{
    struct reg_http *h;
    int i;

    pthread_once(&curl_once, curl_init_once);
    if (strlen(host) >= sizeof(h->host)) {
        error_set(err, "registry name \"%.60s...\" is too long", host);
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL || (h->auth = reg_auth_new(host, opts->user, opts->password)) == NULL) {
        free(h);
        error_set(err, "registry %s: out of memory, or the user name or password is too long", host);
        return NULL;
    }
    str_copy(h->host, sizeof(h->host), host);
    h->opts = *opts;
    h->opts.user = h->opts.password = NULL;
    if (h->opts.max_retries == 0)
        h->opts.max_retries = 5;
    else if (h->opts.max_retries < 0)
        h->opts.max_retries = 0; /* none */
    if (h->opts.connect_timeout_ms <= 0)
        h->opts.connect_timeout_ms = 10000;
    if (h->opts.low_speed_secs <= 0)
        h->opts.low_speed_secs = 30;
    if (h->opts.low_speed_bytes <= 0)
        h->opts.low_speed_bytes = 1024;
    h->use_http = opts->plain_http;
    h->loopback_auto = !opts->plain_http && reg_host_is_loopback(host);
    pthread_mutex_init(&h->mu, NULL);
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&h->share_mu[i], NULL);
    h->share = curl_share_init();
    if (h->share) {
        curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
        curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    return h;
}

void reg_http_free(struct reg_http *h)
{
    int i;

    if (h == NULL)
        return;
    for (i = 0; i < h->nfree; i++)
        curl_easy_cleanup(h->free_handles[i]);
    if (h->share)
        curl_share_cleanup(h->share);
    reg_auth_free(h->auth);
    pthread_mutex_destroy(&h->mu);
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&h->share_mu[i]);
    free(h);
}

const char *reg_http_host(const struct reg_http *h)
{
    return h->host;
}

static const char *scheme_of(const struct reg_http *h)
{
    return __atomic_load_n(&h->use_http, __ATOMIC_RELAXED) ? "http" : "https";
}

int reg_http_url(struct reg_http *h, char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(out, n, "%s://%s", scheme_of(h), h->host), m;

    if (k < 0 || (size_t)k >= n)
        return -1;
    va_start(ap, fmt);
    m = vsnprintf(out + k, n - (size_t)k, fmt, ap);
    va_end(ap);
    return m >= 0 && (size_t)m < n - (size_t)k ? 0 : -1;
}

/* ---- counters ---- */

static void count(struct reg_http *h, long *field, long by)
{
    pthread_mutex_lock(&h->mu);
    *field += by;
    pthread_mutex_unlock(&h->mu);
}

void reg_http_stats(struct reg_http *h, struct reg_stats *out)
{
    pthread_mutex_lock(&h->mu);
    *out = h->stats;
    pthread_mutex_unlock(&h->mu);
}

void reg_http_count_range(struct reg_http *h, int64_t bytes)
{
    pthread_mutex_lock(&h->mu);
    h->stats.range_requests++;
    h->stats.bytes_in += bytes;
    pthread_mutex_unlock(&h->mu);
}

void reg_http_count_bytes(struct reg_http *h, int64_t bytes)
{
    pthread_mutex_lock(&h->mu);
    h->stats.bytes_in += bytes;
    pthread_mutex_unlock(&h->mu);
}

/* ---- curl handles ---- */

static CURL *acquire(struct reg_http *h)
{
    CURL *c = NULL;

    pthread_mutex_lock(&h->mu);
    if (h->nfree > 0)
        c = h->free_handles[--h->nfree];
    pthread_mutex_unlock(&h->mu);
    if (c == NULL)
        c = curl_easy_init();
    else
        curl_easy_reset(c);
    if (c && h->share)
        curl_easy_setopt(c, CURLOPT_SHARE, h->share);
    return c;
}

static void release(struct reg_http *h, CURL *c)
{
    pthread_mutex_lock(&h->mu);
    if (h->nfree < MAX_HANDLES) {
        h->free_handles[h->nfree++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    if (c)
        curl_easy_cleanup(c);
}

/* ---- one attempt's callbacks ---- */

/* what the callbacks of one request share, across its attempts */
struct exchange {
    struct reg_request *rq;
    struct reg_response *rs;
    size_t cap;
    char content_range[128];
    long retry_after;
    int64_t skip;               /* bytes of this attempt's body already delivered */
    int64_t expect_start;       /* the blob offset this attempt's body should start at */
    int range_bad;              /* a 206 that does not start at expect_start */
    int too_big;
    int sink_failed;
    struct error sink_err;
    int64_t upload_pos;
    int upload_failed;
    struct error upload_err;
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
        vl = n - 1; /* only the Location of a redirect can be long: checked where used */
    memcpy(dst, v, vl);
    dst[vl] = '\0';
}

/* a non-negative decimal header value, bounded; -1 when it is not one */
static int64_t header_number(const char *v, size_t vl, int64_t max)
{
    char tmp[32];
    int64_t x = 0;
    size_t i;

    header_value(tmp, sizeof(tmp), v, vl);
    if (tmp[0] == '\0')
        return -1;
    for (i = 0; tmp[i]; i++) {
        if (tmp[i] < '0' || tmp[i] > '9' || x > max / 10)
            return -1;
        x = x * 10 + (tmp[i] - '0');
    }
    return x <= max ? x : -1;
}

/* the end of the headers of a 2xx answer for a sink: a 200 starts at byte
 * 0, so skip what was delivered already (a resumed download) and what lies
 * before a range; a 206 must start exactly where we asked */
static void headers_done(struct exchange *x)
{
    int64_t first, last, complete;

    if (x->rs->status == 200)
        x->skip = x->expect_start;
    else if (x->rs->status == 206 &&
             (reg_content_range_parse(x->content_range, &first, &last, &complete) != 0 || first != x->expect_start))
        x->range_bad = 1;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *u)
{
    struct exchange *x = u;
    struct reg_response *rs = x->rs;
    size_t n = size * nitems, kl, vl;
    const char *colon = memchr(line, ':', n), *v;

    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* a new response (after 100-continue or a redirect): reset, and
         * know the status before the body arrives */
        const char *sp = memchr(line, ' ', n);
        rs->status = sp && (size_t)(sp - line) + 4 <= n ? header_number(sp + 1, 3, 999) : 0;
        rs->content_type[0] = rs->digest[0] = rs->location[0] = x->content_range[0] = '\0';
        rs->oci_subject = 0;
        rs->content_length = -1;
        x->retry_after = 0;
        return n;
    }
    if (colon == NULL) {
        if (x->rq->sink && (n == 2 || n == 1) && (line[0] == '\r' || line[0] == '\n'))
            headers_done(x);
        return n;
    }
    kl = (size_t)(colon - line);
    v = colon + 1;
    vl = n - kl - 1;
#define IS(name) (kl == sizeof(name) - 1 && strncasecmp(line, name, kl) == 0)
    if (IS("Content-Type"))
        header_value(rs->content_type, sizeof(rs->content_type), v, vl);
    else if (IS("Docker-Content-Digest"))
        header_value(rs->digest, sizeof(rs->digest), v, vl);
    else if (IS("Location"))
        header_value(rs->location, sizeof(rs->location), v, vl);
    else if (IS("WWW-Authenticate"))
        ; /* read from curl below: only a 401's matters */
    else if (IS("OCI-Subject"))
        rs->oci_subject = 1;
    else if (IS("Content-Range"))
        header_value(x->content_range, sizeof(x->content_range), v, vl);
    else if (IS("Retry-After"))
        x->retry_after = header_number(v, vl, REG_RANGE_MAX); /* seconds; an HTTP-date is ignored */
    else if (IS("Content-Length"))
        rs->content_length = header_number(v, vl, REG_RANGE_MAX);
#undef IS
    return n;
}

static int buffer(struct exchange *x, const char *data, size_t n, size_t limit)
{
    struct reg_response *rs = x->rs;

    if (n > limit || rs->len > limit - n) {
        x->too_big = 1;
        return -1;
    }
    if (rs->len + n + 1 > x->cap) {
        size_t ncap = x->cap ? x->cap : 4096;
        uint8_t *nb;
        while (ncap < rs->len + n + 1)
            ncap *= 2;
        nb = realloc(rs->body, ncap);
        if (nb == NULL)
            return -1;
        rs->body = nb;
        x->cap = ncap;
    }
    memcpy(rs->body + rs->len, data, n);
    rs->len += n;
    rs->body[rs->len] = '\0';
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *u)
{
    struct exchange *x = u;
    struct reg_request *rq = x->rq;
    struct reg_response *rs = x->rs;
    size_t n = size * nmemb;

    /* only a successful answer goes to the sink; errors are buffered */
    if (rq->sink && rs->status >= 200 && rs->status < 300) {
        const uint8_t *p = (const uint8_t *)data;
        size_t k = n;
        if (x->range_bad)
            return 0;
        if (x->skip > 0) {
            size_t s = (int64_t)k < x->skip ? k : (size_t)x->skip;
            x->skip -= (int64_t)s;
            p += s;
            k -= s;
        }
        if (k > 0 && rq->sink(rq->sink_ctx, p, k, &x->sink_err) != 0) {
            x->sink_failed = 1;
            return 0;
        }
        rs->delivered += (int64_t)k;
        return n;
    }
    return buffer(x, data, n, (rq->sink || rs->status >= 300 || rq->max_body == 0) ? REG_SMALL_BODY_MAX : rq->max_body) == 0
               ? n
               : 0;
}

static size_t on_upload(char *buf, size_t size, size_t nitems, void *u)
{
    struct exchange *x = u;
    struct reg_request *rq = x->rq;
    size_t want = size * nitems;
    int64_t left = (rq->body ? (int64_t)rq->body_len : rq->source_len) - x->upload_pos;

    if ((int64_t)want > left)
        want = (size_t)left;
    if (want == 0)
        return 0;
    if (rq->body) {
        memcpy(buf, rq->body + x->upload_pos, want);
    } else if (rq->source(rq->source_ctx, rq->source_off + x->upload_pos, (uint8_t *)buf, want, &x->upload_err) !=
               0) {
        x->upload_failed = 1;
        return CURL_READFUNC_ABORT;
    }
    x->upload_pos += (int64_t)want;
    return want;
}

/* ---- helpers ---- */

static void url_host(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://"), *e;

    out[0] = '\0';
    if (p == NULL)
        return;
    p += 3;
    e = p + strcspn(p, "/?#");
    if ((size_t)(e - p) < n) {
        memcpy(out, p, (size_t)(e - p));
        out[e - p] = '\0';
    }
}

/* a request URL for messages: the path only, without scheme and host when
 * it is the registry's, and without the query (upload URLs carry long
 * opaque state there) */
static const char *msg_url(const struct reg_http *h, const char *url, char *out, size_t n)
{
    const char *scheme = scheme_of(h);
    size_t sl = strlen(scheme), hl = strlen(h->host);

    if (strncmp(url, scheme, sl) == 0 && strncmp(url + sl, "://", 3) == 0 &&
        strncmp(url + sl + 3, h->host, hl) == 0 && url[sl + 3 + hl] == '/')
        url += sl + 3 + hl;
    snprintf(out, n, "%.*s", (int)strcspn(url, "?"), url);
    return out;
}

int reg_http_absolute(const struct reg_http *h, const char *loc, char *out, size_t n)
{
    if (loc[0] != '/')
        return str_copy(out, n, loc);
    return snprintf(out, n, "%s://%s%s", scheme_of(h), h->host, loc) < (int)n ? 0 : -1;
}

/* is url "https://HOST/..." for this registry? */
static int https_to_registry(const struct reg_http *h, const char *url)
{
    size_t hl = strlen(h->host);

    return strncmp(url, "https://", 8) == 0 && strncmp(url + 8, h->host, hl) == 0 &&
           (url[8 + hl] == '/' || url[8 + hl] == '\0');
}

static void scope_for(const struct reg_request *rq, char *out, size_t n)
{
    if (rq->repo == NULL)
        out[0] = '\0';
    else
        snprintf(out, n, "repository:%s:%s", rq->repo, rq->push ? "pull,push" : "pull");
}

int reg_status_transient(long status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static int is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static void backoff(int attempt, long retry_after_s)
{
    struct timespec ts;
    long ms = 100L << (attempt < 6 ? attempt : 6); /* 100 ms .. 6.4 s */

    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (retry_after_s > 0)
        ms = retry_after_s > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S * 1000L : retry_after_s * 1000L;
    ms += ts.tv_nsec / 1000 % 50; /* jitter, so that threads do not retry in step */
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static void auth_failed(struct reg_http *h, struct error *err)
{
    if (reg_auth_has_credentials(h->auth))
        error_set(err, "registry %s: authentication failed for user %s", h->host, reg_auth_user(h->auth));
    else
        error_set(err, "registry %s: authentication required (give --user, or log in with docker login)", h->host);
}

void reg_response_release(struct reg_response *rs)
{
    free(rs->body);
    rs->body = NULL;
    rs->len = 0;
}

/* ---- the token flow ---- */

/* ask realm for a token for want (the challenge's scope: one or more,
 * space-separated, each its own scope= parameter) and file it under key
 * (the request's own scope, which is what the lookup uses: a challenge may
 * order or widen it) */
static int fetch_token(struct reg_http *h, const struct reg_challenge *ch, const char *want, const char *key,
                       struct error *err)
{
    struct reg_request rq = {.method = "GET", .max_body = MAX_TOKEN_ANSWER, .follow = 1, .no_auth = 1};
    struct reg_response rs;
    char basic[3000], *esc, *token;
    const char *p;
    int used, rc;

    RETURN_ERROR_IF(strncmp(ch->realm, "http://", 7) != 0 && strncmp(ch->realm, "https://", 8) != 0, err,
                    "registry %s: malformed WWW-Authenticate header (no usable realm)", h->host);
    esc = curl_easy_escape(NULL, ch->service, 0);
    used = snprintf(rq.url, sizeof(rq.url), "%s%sservice=%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?",
                    esc ? esc : "");
    curl_free(esc);
    for (p = want; *p && used >= 0 && (size_t)used < sizeof(rq.url);) {
        size_t n = strcspn(p, " ");
        if (n > 0) {
            esc = curl_easy_escape(NULL, p, (int)n);
            used += snprintf(rq.url + used, sizeof(rq.url) - (size_t)used, "&scope=%s", esc ? esc : "");
            curl_free(esc);
        }
        p += n;
        p += strspn(p, " ");
    }
    RETURN_ERROR_IF(used < 0 || (size_t)used >= sizeof(rq.url), err, "registry %s: the token request is too long",
                    h->host);
    /* Basic credentials for the token server, never a registry token */
    if (reg_auth_basic_header(h->auth, basic, sizeof(basic)) != 0)
        return error_set(err, "registry %s: the credentials are too long", h->host);
    if (basic[0])
        rq.headers[rq.nheaders++] = basic;
    rc = reg_http_perform(h, &rq, &rs, err);
    memset(basic, 0, sizeof(basic));
    if (rc != 0)
        return error_prefix(err, "token server");
    if (rs.status == 401 || rs.status == 403) {
        reg_response_release(&rs);
        auth_failed(h, err);
        return -1;
    }
    if (rs.status != 200) {
        reg_response_release(&rs);
        return error_set(err, "registry %s: token server answered %ld", h->host, rs.status);
    }
    rc = reg_token_parse(rs.body, rs.len, &token);
    if (rs.body)
        memset(rs.body, 0, rs.len);
    reg_response_release(&rs);
    RETURN_ERROR_IF(rc != 0, err, "registry %s: the token server's answer holds no usable token", h->host);
    rc = reg_auth_store_token(h->auth, key, token);
    memset(token, 0, strlen(token));
    free(token);
    RETURN_ERROR_IF(rc != 0, err, "registry %s: out of memory (token)", h->host);
    return 0;
}

/* a 401 from the registry itself: learn the scheme it wants (and fetch a
 * token for Bearer); -1 when nothing can make the request pass */
static int answer_challenge(struct reg_http *h, CURL *c, const struct reg_request *rq, int sent_basic,
                            struct error *err)
{
    struct curl_header *hd = NULL;
    struct reg_challenge ch;
    char scope[600], where[300];

    if (curl_easy_header(c, "WWW-Authenticate", 0, CURLH_HEADER, -1, &hd) != CURLHE_OK || hd->value[0] == '\0')
        return error_set(err, "registry %s: %s %s: 401 without a WWW-Authenticate challenge", h->host, rq->method,
                         msg_url(h, rq->url, where, sizeof(where)));
    if (reg_challenge_parse(hd->value, &ch) != 0)
        return error_set(err, "registry %s: malformed WWW-Authenticate header", h->host);
    if (strcasecmp(ch.scheme, "Basic") == 0) {
        RETURN_ERROR_IF(!reg_auth_has_credentials(h->auth), err,
                        "registry %s: authentication required (give --user, or log in with docker login)", h->host);
        /* refused although this request carried the credentials */
        RETURN_ERROR_IF(sent_basic, err, "registry %s: authentication failed for user %s", h->host,
                        reg_auth_user(h->auth));
        reg_auth_set_scheme(h->auth, REG_AUTH_BASIC);
        return 0;
    }
    if (strcasecmp(ch.scheme, "Bearer") == 0) {
        scope_for(rq, scope, sizeof(scope));
        if (fetch_token(h, &ch, ch.scope[0] ? ch.scope : scope, scope, err) != 0)
            return -1;
        reg_auth_set_scheme(h->auth, REG_AUTH_BEARER);
        return 0;
    }
    return error_set(err, "registry %s: unsupported authentication scheme \"%.20s\"", h->host, ch.scheme);
}

/* ---- perform ---- */

/* the headers of one attempt: the request's, a resuming Range, auth */
static struct curl_slist *attempt_headers(struct reg_http *h, const struct reg_request *rq, const struct exchange *x,
                                          int resuming, int to_registry, int *sent_basic, struct error *err)
{
    struct curl_slist *hdrs = NULL;
    char auth[9000], scope[600], range[80];
    int i;

    *sent_basic = 0;
    for (i = 0; i < rq->nheaders; i++)
        if (!resuming || strncasecmp(rq->headers[i], "Range:", 6) != 0)
            hdrs = curl_slist_append(hdrs, rq->headers[i]);
    if (resuming) {
        /* continue a broken download where it stopped (in place of the
         * request's own Range) */
        if (rq->range_off >= 0 && rq->range_end >= x->expect_start)
            snprintf(range, sizeof(range), "Range: bytes=%lld-%lld", (long long)x->expect_start,
                     (long long)rq->range_end);
        else
            snprintf(range, sizeof(range), "Range: bytes=%lld-", (long long)x->expect_start);
        hdrs = curl_slist_append(hdrs, range);
    }
    if (to_registry) {
        scope_for(rq, scope, sizeof(scope));
        if (reg_auth_header(h->auth, scope, auth, sizeof(auth), sent_basic) != 0) {
            memset(auth, 0, sizeof(auth));
            curl_slist_free_all(hdrs);
            error_set(err, "registry %s: the credentials are too long", h->host);
            return NULL;
        }
        if (auth[0])
            hdrs = curl_slist_append(hdrs, auth);
        memset(auth, 0, sizeof(auth));
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (hdrs == NULL)
        error_set(err, "out of memory (curl)");
    return hdrs;
}

static void set_options(struct reg_http *h, CURL *c, const struct reg_request *rq, struct exchange *x,
                        const char *url, struct curl_slist *hdrs, char *ebuf)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->opts.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, h->opts.low_speed_bytes);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->opts.low_speed_secs);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "soci-c/0.1");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    if (h->opts.insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (rq->body || rq->source) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(c, CURLOPT_READDATA, x);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)(rq->body ? (int64_t)rq->body_len : rq->source_len));
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    }
}

/* what to do after an attempt */
enum next {
    NEXT_DONE,       /* an answer to return */
    NEXT_AGAIN,      /* send again (url may have changed) */
    NEXT_FAIL,       /* err is set */
};

/* one request's progress over its attempts */
struct attempts {
    char url[4096];              /* where this attempt goes (a redirect's target) */
    int to_registry;             /* it goes to the registry (not a redirect's storage host) */
    int sent_basic;              /* it carried Basic credentials */
    char ebuf[CURL_ERROR_SIZE];  /* curl's message */
    int retries, hops, auth_rounds, refreshes;
};

/* look at one attempt's outcome (cc and the answer) and decide */
static enum next decide(struct reg_http *h, CURL *c, struct reg_request *rq, struct reg_response *rs,
                        struct exchange *x, CURLcode cc, struct attempts *st, struct error *err)
{
    char *url = st->url;
    const char *ebuf = st->ebuf;
    const size_t url_size = sizeof(st->url);
    const int to_registry = st->to_registry;
    char where[300], url_host_buf[300];
    int can_resend = rq->resumable || rs->delivered == 0;
    int foreign_refusal;

    if (x->sink_failed) {
        *err = x->sink_err;
        return NEXT_FAIL;
    }
    if (x->upload_failed) {
        *err = x->upload_err;
        return NEXT_FAIL;
    }
    msg_url(h, rq->url, where, sizeof(where));
    if (x->range_bad) {
        error_set(err, "registry %s: %s %s: asked for bytes from %lld, answered with %.60s", h->host, rq->method,
                  where, (long long)x->expect_start, x->content_range[0] ? x->content_range : "no Content-Range");
        return NEXT_FAIL;
    }
    if (x->too_big) {
        error_set(err, "registry %s: %s %s: the answer is larger than allowed", h->host, rq->method, where);
        return NEXT_FAIL;
    }
    if (cc == CURLE_SSL_CONNECT_ERROR && h->loopback_auto && rs->delivered == 0 && https_to_registry(h, url)) {
        /* a loopback registry that does not speak TLS: http from now on */
        __atomic_store_n(&h->use_http, 1, __ATOMIC_RELAXED);
        memmove(url + 4, url + 5, strlen(url + 5) + 1);
        if (https_to_registry(h, rq->url)) /* for messages */
            memmove(rq->url + 4, rq->url + 5, strlen(rq->url + 5) + 1);
        return NEXT_AGAIN;
    }
    if (cc == CURLE_PEER_FAILED_VERIFICATION) {
        error_set(err, "registry %s: TLS certificate not trusted (%s); --insecure skips the check", h->host,
                  ebuf[0] ? ebuf : curl_easy_strerror(cc));
        return NEXT_FAIL;
    }
    if (cc != CURLE_OK) {
        /* connection trouble: retry; a download resumes where it stopped */
        if (st->retries < h->opts.max_retries && can_resend) {
            backoff(st->retries++, 0);
            count(h, &h->stats.retries, 1);
            rs->resent_after_loss = 1;
            return NEXT_AGAIN;
        }
        rs->transient = 1;
        error_set(err, "registry %s: %s %s: %s (after %d attempts)", h->host, rq->method, where,
                  curl_easy_strerror(cc), st->retries + 1);
        return NEXT_FAIL;
    }
    /* where a redirect led (a pre-signed storage URL, typically) refused:
     * it may have expired -- ask the registry for a fresh one (a download
     * resumes where it stopped) */
    foreign_refusal = (rs->status == 403 || (rs->status == 401 && !to_registry)) && strcmp(url, rq->url) != 0;
    if (foreign_refusal && st->refreshes < MAX_URL_REFRESHES && can_resend) {
        st->refreshes++;
        count(h, &h->stats.url_refreshes, 1);
        str_copy(url, url_size, rq->url);
        return NEXT_AGAIN;
    }
    if (foreign_refusal) {
        url_host(url, url_host_buf, sizeof(url_host_buf));
        error_set(err, "registry %s: %s %s: where it redirected (%s) answered %ld, also after %d fresh redirects",
                  h->host, rq->method, where, url_host_buf, rs->status, st->refreshes);
        return NEXT_FAIL;
    }
    if (rs->status == 401 && to_registry && st->auth_rounds < MAX_AUTH_ROUNDS) {
        st->auth_rounds++;
        return answer_challenge(h, c, rq, st->sent_basic, err) == 0 ? NEXT_AGAIN : NEXT_FAIL;
    }
    if (rs->status == 401 && !rq->no_auth) { /* the token request: fetch_token reads its status */
        auth_failed(h, err);
        return NEXT_FAIL;
    }
    if (reg_status_transient(rs->status) && st->retries < h->opts.max_retries && can_resend) {
        backoff(st->retries++, x->retry_after);
        count(h, &h->stats.retries, 1);
        return NEXT_AGAIN;
    }
    if (rq->follow && is_redirect(rs->status) && rs->location[0]) {
        if (++st->hops > MAX_REDIRECTS) {
            error_set(err, "registry %s: %s %s: redirect loop (more than %d redirects)", h->host, rq->method, where,
                      MAX_REDIRECTS);
            return NEXT_FAIL;
        }
        if (rs->location[0] != '/' && strncmp(rs->location, "http://", 7) != 0 &&
            strncmp(rs->location, "https://", 8) != 0) {
            error_set(err, "registry %s: redirect to an unsupported location", h->host);
            return NEXT_FAIL;
        }
        if (strlen(rs->location) + 1 >= sizeof(rs->location) || reg_http_absolute(h, rs->location, url, url_size) != 0) {
            error_set(err, "registry %s: redirect location too long", h->host);
            return NEXT_FAIL;
        }
        return NEXT_AGAIN;
    }
    return NEXT_DONE;
}

int reg_http_perform(struct reg_http *h, struct reg_request *rq, struct reg_response *rs, struct error *err)
{
    struct exchange x;
    struct attempts st;

    memset(rs, 0, sizeof(*rs));
    memset(&x, 0, sizeof(x));
    memset(&st, 0, sizeof(st));
    x.rq = rq;
    x.rs = rs;
    rs->content_length = -1;
    str_copy(st.url, sizeof(st.url), rq->url);
    for (;;) {
        CURL *c = acquire(h);
        struct curl_slist *hdrs;
        char host_of_url[300];
        CURLcode cc;
        enum next next;

        if (c == NULL) {
            reg_response_release(rs);
            return error_set(err, "out of memory (curl)");
        }
        /* a fresh attempt: nothing of the last one's answer counts */
        rs->status = 0;
        rs->len = 0;
        x.too_big = x.range_bad = 0;
        x.upload_pos = x.skip = 0;
        x.expect_start = (rq->range_off > 0 ? rq->range_off : 0) + rs->delivered;
        url_host(st.url, host_of_url, sizeof(host_of_url));
        st.to_registry = !rq->no_auth && strcmp(host_of_url, h->host) == 0;
        hdrs = attempt_headers(h, rq, &x, rq->resumable && rs->delivered > 0, st.to_registry, &st.sent_basic, err);
        if (hdrs == NULL) {
            release(h, c);
            reg_response_release(rs);
            return -1;
        }
        st.ebuf[0] = '\0';
        set_options(h, c, rq, &x, st.url, hdrs, st.ebuf);
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
        count(h, &h->stats.requests, 1);
        if (h->opts.verbose)
            fprintf(stderr, "registry: %s %s -> %ld%s\n", rq->method, st.url, rs->status,
                    cc != CURLE_OK ? " (transfer failed)" : "");
        next = decide(h, c, rq, rs, &x, cc, &st, err);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
        curl_slist_free_all(hdrs);
        release(h, c);
        if (next == NEXT_DONE)
            return 0;
        if (next == NEXT_FAIL) {
            reg_response_release(rs);
            return -1;
        }
    }
}

/* ---- the one status check ---- */

/* the registry's error JSON ({"errors":[{"code":..,"message":..}]}),
 * shortened, for messages */
static void describe_error(const struct reg_response *rs, char *out, size_t n)
{
    json_t *root, *e;

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

int reg_http_call(struct reg_http *h, struct reg_request *rq, struct reg_response *rs, const long *ok, size_t nok,
                  struct error *err)
{
    char detail[256], where[300];
    size_t i;

    if (reg_http_perform(h, rq, rs, err) != 0)
        return -1;
    for (i = 0; i < nok; i++)
        if (rs->status == ok[i])
            return 0;
    rs->transient = reg_status_transient(rs->status) || rs->resent_after_loss;
    if (rs->status == 400 && strncmp(rq->url, "http://", 7) == 0 && rs->body != NULL &&
        memmem(rs->body, rs->len, "HTTPS server", 12) != NULL) {
        /* Go's TLS servers answer plain http with this 400 */
        error_set(err, "registry %s speaks HTTPS, not plain http: drop --plain-http", h->host);
    } else {
        describe_error(rs, detail, sizeof(detail));
        error_set(err, "registry %s: %s %s: %ld%s", h->host, rq->method, msg_url(h, rq->url, where, sizeof(where)),
                  rs->status, detail);
    }
    reg_response_release(rs);
    return -1;
}
