/* registry.c -- the registry API over the HTTP engine (see registry.h) */
#include "registry.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "digest.h"
#include "registry_http.h"
#include "sha256.h"
#include "strutil.h"

#define CHUNKED_UPLOAD_THRESHOLD ((int64_t)64 << 20)
#define UPLOAD_CHUNK ((int64_t)16 << 20)
#define UPLOAD_SESSIONS 3            /* an upload is started afresh after a transient failure */
#define MAX_MULTIRANGE_BYTES ((size_t)64 << 20)
#define MAX_MULTIRANGE_PARTS 256

static const char ACCEPT_MANIFESTS[] =
    "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

struct reg_client {
    struct reg_http *http;
    /* the registry answered a multi-range request with something other
     * than multipart/byteranges: single ranges from now on (atomic) */
    int no_multirange;
};

struct reg_client *reg_client_new(const char *host, const struct reg_opts *opts, struct error *err)
{
    struct reg_client *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        error_set(err, "out of memory");
        return NULL;
    }
    c->http = reg_http_new(host, opts, err);
    if (c->http == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void reg_client_free(struct reg_client *c)
{
    if (c == NULL)
        return;
    reg_http_free(c->http);
    free(c);
}

void reg_client_stats(struct reg_client *c, struct reg_stats *out)
{
    reg_http_stats(c->http, out);
}

/* rq->url = the registry's URL for printf(fmt, ...) */
#define SET_URL(c, rq, err, ...)                                                                              \
    RETURN_ERROR_IF(reg_http_url((c)->http, (rq)->url, sizeof((rq)->url), __VA_ARGS__) != 0, err,            \
                    "registry %s: the request URL is too long", reg_http_host((c)->http))

int reg_ping(struct reg_client *c, struct error *err)
{
    struct reg_request rq = {.method = "GET"};
    struct reg_response rs;

    SET_URL(c, &rq, err, "/v2/");
    if (reg_http_call(c->http, &rq, &rs, REG_OK(200), err) != 0)
        return -1;
    reg_response_release(&rs);
    return 0;
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
    struct reg_request rq = {.method = "GET", .repo = repo, .max_body = REG_MAX_MANIFEST, .follow = 1,
                             .headers = {ACCEPT_MANIFESTS}, .nheaders = 1};
    struct reg_response rs;
    uint8_t raw[DIGEST_RAW_SIZE];
    const char *host = reg_http_host(c->http);

    memset(m, 0, sizeof(*m));
    *found = 0;
    SET_URL(c, &rq, err, "/v2/%s/manifests/%s", repo, reference);
    if (reg_http_call(c->http, &rq, &rs, REG_OK(200, 404), err) != 0)
        return -1;
    if (rs.status == 404) {
        reg_response_release(&rs);
        return 0;
    }
    m->body = rs.body ? rs.body : calloc(1, 1);
    m->len = rs.len;
    RETURN_ERROR_IF(m->body == NULL, err, "out of memory");
    str_copy(m->media_type, sizeof(m->media_type), rs.content_type);
    sha256_buf(m->body, m->len, raw);
    digest_format(raw, m->digest);
    if (strncmp(reference, "sha256:", 7) == 0 && strcmp(reference, m->digest) != 0) {
        reg_manifest_free(m);
        return error_set(err, "registry %s: manifest %s@%s: the content's digest is %s; refusing it", host, repo,
                         reference, m->digest);
    }
    if (rs.digest[0] && strcmp(rs.digest, m->digest) != 0) {
        reg_manifest_free(m);
        return error_set(err, "registry %s: manifest %s:%s: Docker-Content-Digest says %.80s but the content is %s",
                         host, repo, reference, rs.digest, m->digest);
    }
    *found = 1;
    return 0;
}

/* HEAD of a manifest or blob: found, with its headers in *rs */
static int head(struct reg_client *c, const char *repo, const char *kind, const char *reference, int manifest,
                struct reg_response *rs, int *found, struct error *err)
{
    struct reg_request rq = {.method = "HEAD", .repo = repo, .follow = 1};

    *found = 0;
    if (manifest)
        rq.headers[rq.nheaders++] = ACCEPT_MANIFESTS;
    SET_URL(c, &rq, err, "/v2/%s/%s/%s", repo, kind, reference);
    if (reg_http_call(c->http, &rq, rs, REG_OK(200, 404), err) != 0)
        return -1;
    reg_response_release(rs);
    *found = rs->status == 200;
    return 0;
}

int reg_manifest_head(struct reg_client *c, const char *repo, const char *reference, char *media_type,
                      size_t mt_len, char *digest, int64_t *size, int *found, struct error *err)
{
    struct reg_response rs;

    if (head(c, repo, "manifests", reference, 1, &rs, found, err) != 0)
        return -1;
    if (!*found)
        return 0;
    if (media_type)
        str_copy(media_type, mt_len, rs.content_type);
    if (digest)
        str_copy(digest, DIGEST_STR_SIZE, digest_valid(rs.digest) ? rs.digest : "");
    if (size)
        *size = rs.content_length;
    return 0;
}

int reg_manifest_put(struct reg_client *c, const char *repo, const char *reference, const char *media_type,
                     const uint8_t *body, size_t len, int *has_subject_header, struct error *err)
{
    struct reg_request rq = {.method = "PUT", .repo = repo, .push = 1, .body = body, .body_len = len};
    struct reg_response rs;
    char ct[300];

    RETURN_ERROR_IF(snprintf(ct, sizeof(ct), "Content-Type: %s", media_type) >= (int)sizeof(ct), err,
                    "media type \"%.60s...\" is too long", media_type);
    rq.headers[rq.nheaders++] = ct;
    SET_URL(c, &rq, err, "/v2/%s/manifests/%s", repo, reference);
    if (reg_http_call(c->http, &rq, &rs, REG_OK(200, 201), err) != 0)
        return -1;
    if (has_subject_header)
        *has_subject_header = rs.oci_subject;
    reg_response_release(&rs);
    return 0;
}

int reg_manifest_delete(struct reg_client *c, const char *repo, const char *digest, struct error *err)
{
    struct reg_request rq = {.method = "DELETE", .repo = repo, .push = 1};
    struct reg_response rs;

    SET_URL(c, &rq, err, "/v2/%s/manifests/%s", repo, digest);
    if (reg_http_call(c->http, &rq, &rs, REG_OK(200, 202, 404), err) != 0)
        return -1;
    reg_response_release(&rs);
    return 0;
}

/* ---- blobs ---- */

int reg_blob_head(struct reg_client *c, const char *repo, const char *digest, int64_t *size, int *found,
                  struct error *err)
{
    struct reg_response rs;

    if (head(c, repo, "blobs", digest, 0, &rs, found, err) != 0)
        return -1;
    if (*found && size)
        *size = rs.content_length;
    return 0;
}

int reg_blob_get(struct reg_client *c, const char *repo, const char *digest, reg_sink_fn sink, void *ctx,
                 struct error *err)
{
    struct reg_request rq = {.method = "GET", .repo = repo, .follow = 1, .sink = sink, .sink_ctx = ctx,
                             .resumable = 1, .range_off = -1};
    struct reg_response rs;
    int rc;

    SET_URL(c, &rq, err, "/v2/%s/blobs/%s", repo, digest);
    rc = reg_http_call(c->http, &rq, &rs, REG_OK(200, 206), err);
    if (rc == 0) {
        reg_http_count_bytes(c->http, rs.delivered);
        reg_response_release(&rs);
    }
    return rc;
}

struct range_sink {
    uint8_t *buf;
    size_t want, have;
};

static int to_range(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    struct range_sink *r = ctx;
    (void)err;

    if (n > r->want - r->have)
        n = r->want - r->have; /* a 200 answer continues past the range */
    memcpy(r->buf + r->have, data, n);
    r->have += n;
    return 0;
}

int reg_blob_get_range(struct reg_client *c, const char *repo, const char *digest, int64_t off, size_t len,
                       uint8_t *buf, struct error *err)
{
    struct range_sink sink = {buf, len, 0};
    struct reg_request rq = {.method = "GET", .repo = repo, .follow = 1, .sink = to_range, .sink_ctx = &sink,
                             .resumable = 1, .range_off = off, .range_end = off + (int64_t)len - 1,
                             .headers = {NULL, "Accept-Encoding: identity"}, .nheaders = 2};
    struct reg_response rs;
    const char *host = reg_http_host(c->http);
    char range[96];

    RETURN_ERROR_IF(len == 0 || off < 0 || off > REG_RANGE_MAX || len > (uint64_t)REG_RANGE_MAX, err,
                    "registry %s: blob %s: bad range %lld+%zu", host, digest, (long long)off, len);
    snprintf(range, sizeof(range), "Range: bytes=%lld-%lld", (long long)off, (long long)rq.range_end);
    rq.headers[0] = range;
    SET_URL(c, &rq, err, "/v2/%s/blobs/%s", repo, digest);
    if (reg_http_call(c->http, &rq, &rs, REG_OK(200, 206), err) != 0)
        return -1;
    reg_http_count_range(c->http, rs.delivered);
    reg_response_release(&rs);
    RETURN_ERROR_IF(rs.status == 200 && sink.have < len, err, "registry %s: blob %s is shorter than byte %lld", host,
                    digest, (long long)(off + (int64_t)len));
    RETURN_ERROR_IF(sink.have != len, err, "registry %s: blob %s: range %lld+%zu answered with %zu bytes", host,
                    digest, (long long)off, len, sink.have);
    return 0;
}

/* one multipart/byteranges request for all of r; 0 when it filled them,
 * 1 when the registry does not do multi-range, -1 on a real failure */
static int get_multirange(struct reg_client *c, const char *repo, const char *digest, struct reg_range *r, size_t n,
                          struct error *err)
{
    struct reg_request rq = {.method = "GET", .repo = repo, .follow = 1, .nheaders = 2,
                             .headers = {NULL, "Accept-Encoding: identity"}};
    struct reg_response rs;
    char *range, boundary[REG_BOUNDARY_MAX + 1];
    size_t i, cap = 32 + n * 48, used, total = 0;
    int rc = 1;

    for (i = 0; i < n; i++) {
        if (r[i].len == 0 || r[i].off < 0 || r[i].off > REG_RANGE_MAX || r[i].len > MAX_MULTIRANGE_BYTES - total)
            return 1; /* too much for one answer in memory: single ranges */
        total += r[i].len;
    }
    range = malloc(cap);
    RETURN_ERROR_IF(range == NULL, err, "out of memory");
    used = (size_t)snprintf(range, cap, "Range: bytes=");
    for (i = 0; i < n; i++) /* at most 2 x 17 digits, '-' and ',' each: fits in 48 */
        used += (size_t)snprintf(range + used, cap - used, "%s%lld-%lld", i ? "," : "", (long long)r[i].off,
                                 (long long)(r[i].off + (int64_t)r[i].len - 1));
    rq.headers[0] = range;
    rq.max_body = total + 4096 + n * 256; /* the data and each part's headers */
    if (reg_http_url(c->http, rq.url, sizeof(rq.url), "/v2/%s/blobs/%s", repo, digest) != 0) {
        free(range);
        return 1;
    }
    /* a registry that answers with the whole blob (too big here) or an
     * error: single ranges */
    if (reg_http_call(c->http, &rq, &rs, REG_OK(206), err) == 0) {
        if (reg_multipart_boundary(rs.content_type, boundary) == 0 &&
            reg_multipart_parse(rs.body, rs.len, boundary, r, n) == 0) {
            reg_http_count_range(c->http, (int64_t)rs.len);
            rc = 0;
        }
        reg_response_release(&rs);
    }
    free(range);
    return rc;
}

int reg_blob_get_ranges(struct reg_client *c, const char *repo, const char *digest, struct reg_range *r,
                        size_t n, struct error *err)
{
    size_t i;

    if (n > 1 && n <= MAX_MULTIRANGE_PARTS && !__atomic_load_n(&c->no_multirange, __ATOMIC_RELAXED)) {
        int rc = get_multirange(c, repo, digest, r, n, err);
        if (rc <= 0)
            return rc;
        __atomic_store_n(&c->no_multirange, 1, __ATOMIC_RELAXED);
    }
    for (i = 0; i < n; i++)
        if (reg_blob_get_range(c, repo, digest, r[i].off, r[i].len, r[i].buf, err) != 0)
            return -1;
    return 0;
}

/* ---- uploads ---- */

/* what one upload sends: from memory or from a reader */
struct upload_src {
    const uint8_t *bytes;
    reg_source_fn source;
    void *ctx;
};

static void set_body(struct reg_request *rq, const struct upload_src *src, int64_t off, int64_t n)
{
    if (src->bytes) {
        rq->body = src->bytes + off;
        rq->body_len = (size_t)n;
    } else {
        rq->source = src->source;
        rq->source_ctx = src->ctx;
        rq->source_off = off;
        rq->source_len = n;
    }
}

/* one upload session: POST (a mount when mount_from), then PATCHes of
 * UPLOAD_CHUNK above the threshold, then the closing PUT ?digest=.
 * *transient: the failure may not happen again (worth a new session) */
static int upload_once(struct reg_client *c, const char *repo, const char *digest, int64_t size,
                       const struct upload_src *src, const char *mount_from, int *mounted, int *transient,
                       struct error *err)
{
    struct reg_request rq = {.method = "POST", .repo = repo, .push = 1};
    struct reg_response rs;
    char location[4096];
    int64_t off = 0;
    int rc;

    *mounted = *transient = 0;
    if (mount_from && mount_from[0])
        SET_URL(c, &rq, err, "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, digest, mount_from);
    else
        SET_URL(c, &rq, err, "/v2/%s/blobs/uploads/", repo);
    rc = reg_http_call(c->http, &rq, &rs, REG_OK(201, 202), err);
    *transient = rs.transient;
    if (rc != 0)
        return -1;
    reg_response_release(&rs);
    if (rs.status == 201) {
        /* a 201 to a plain POST would be a registry storing nothing */
        RETURN_ERROR_IF(!(mount_from && mount_from[0]), err, "registry %s: POST /v2/%s/blobs/uploads/: 201 to a new upload",
                        reg_http_host(c->http), repo);
        *mounted = 1;
        return 0;
    }
    RETURN_ERROR_IF(rs.location[0] == '\0', err, "registry %s: POST /v2/%s/blobs/uploads/: 202 without a Location",
                    reg_http_host(c->http), repo);
    RETURN_ERROR_IF(reg_http_absolute(c->http, rs.location, location, sizeof(location)) != 0, err,
                    "registry %s: upload location too long", reg_http_host(c->http));
    while (size > CHUNKED_UPLOAD_THRESHOLD && off < size) {
        int64_t n = size - off < UPLOAD_CHUNK ? size - off : UPLOAD_CHUNK;
        char crange[96];
        rq = (struct reg_request){.method = "PATCH", .repo = repo, .push = 1, .nheaders = 2,
                                  .headers = {"Content-Type: application/octet-stream", crange}};
        snprintf(crange, sizeof(crange), "Content-Range: %lld-%lld", (long long)off, (long long)(off + n - 1));
        set_body(&rq, src, off, n);
        str_copy(rq.url, sizeof(rq.url), location);
        rc = reg_http_call(c->http, &rq, &rs, REG_OK(202), err);
        *transient = rs.transient;
        if (rc != 0)
            return -1;
        reg_response_release(&rs);
        RETURN_ERROR_IF(rs.location[0] && reg_http_absolute(c->http, rs.location, location, sizeof(location)) != 0,
                        err, "registry %s: upload location too long", reg_http_host(c->http));
        off += n;
    }
    rq = (struct reg_request){.method = "PUT", .repo = repo, .push = 1, .nheaders = 1,
                              .headers = {"Content-Type: application/octet-stream"}};
    if (off < size)
        set_body(&rq, src, 0, size);
    else
        rq.body = (const uint8_t *)"";
    RETURN_ERROR_IF(snprintf(rq.url, sizeof(rq.url), "%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?",
                             digest) >= (int)sizeof(rq.url),
                    err, "registry %s: upload location too long", reg_http_host(c->http));
    rc = reg_http_call(c->http, &rq, &rs, REG_OK(201), err);
    *transient = rs.transient;
    if (rc != 0)
        return -1;
    reg_response_release(&rs);
    return 0;
}

static int upload(struct reg_client *c, const char *repo, const char *digest, int64_t size,
                  const struct upload_src *src, const char *mount_from, int *uploaded, struct error *err)
{
    int found = 0, mounted = 0, transient = 0, session;
    int64_t have;

    *uploaded = REG_UPLOAD_SKIPPED;
    RETURN_ERROR_IF(size < 0 || size > REG_RANGE_MAX, err, "blob %s: bad size %lld", digest, (long long)size);
    if (reg_blob_head(c, repo, digest, &have, &found, err) != 0)
        return -1;
    if (found)
        return 0;
    /* a session that failed for a transient reason (after the engine's own
     * retries of each request) starts again with a new POST; a refusal
     * (4xx) would only be refused again */
    for (session = 1;; session++) {
        if (upload_once(c, repo, digest, size, src, mount_from, &mounted, &transient, err) == 0) {
            *uploaded = mounted ? REG_UPLOAD_MOUNTED : REG_UPLOAD_SENT;
            return 0;
        }
        if (!transient || session >= UPLOAD_SESSIONS)
            return error_prefix(err, "uploading blob %s", digest);
    }
}

int reg_blob_upload(struct reg_client *c, const char *repo, const char *digest, int64_t size,
                    reg_source_fn source, void *ctx, const char *mount_from, int *uploaded, struct error *err)
{
    struct upload_src src = {NULL, source, ctx};

    return upload(c, repo, digest, size, &src, mount_from, uploaded, err);
}

int reg_blob_upload_bytes(struct reg_client *c, const char *repo, const char *digest, const uint8_t *data,
                          size_t len, int *uploaded, struct error *err)
{
    struct upload_src src = {data, NULL, NULL};

    return upload(c, repo, digest, (int64_t)len, &src, NULL, uploaded, err);
}

/* ---- referrers ---- */

int reg_referrers(struct reg_client *c, const char *repo, const char *digest, const char *artifact_type,
                  uint8_t **body, size_t *len, int *supported, struct error *err)
{
    struct reg_request rq = {.method = "GET", .repo = repo, .max_body = REG_MAX_MANIFEST, .follow = 1};
    struct reg_response rs;
    char *esc = artifact_type ? curl_easy_escape(NULL, artifact_type, 0) : NULL;
    int rc;

    *body = NULL;
    *len = 0;
    *supported = 0;
    rc = reg_http_url(c->http, rq.url, sizeof(rq.url), "/v2/%s/referrers/%s%s%s", repo, digest,
                      esc ? "?artifactType=" : "", esc ? esc : "");
    curl_free(esc);
    RETURN_ERROR_IF(rc != 0, err, "registry %s: the request URL is too long", reg_http_host(c->http));
    if (reg_http_call(c->http, &rq, &rs, REG_OK(200, 404, 405), err) != 0)
        return -1;
    /* distribution spec: 404 (not NAME_UNKNOWN) or a wrong content type
     * means no referrers API: the caller falls back to the tag schema */
    if (rs.status != 200 || strncmp(rs.content_type, "application/vnd.oci.image.index.v1+json", 39) != 0) {
        reg_response_release(&rs);
        return 0;
    }
    *supported = 1;
    *body = rs.body ? rs.body : calloc(1, 1);
    *len = rs.len;
    RETURN_ERROR_IF(*body == NULL, err, "out of memory");
    return 0;
}

/* ---- repositories ---- */

int reg_repo_exists(struct reg_client *c, const char *repo, int *exists, struct error *err)
{
    struct reg_request rq = {.method = "GET", .repo = repo, .follow = 1};
    struct reg_response rs;

    *exists = -1;
    SET_URL(c, &rq, err, "/v2/%s/tags/list?n=1", repo);
    if (reg_http_perform(c->http, &rq, &rs, err) != 0)
        return -1;
    if (rs.status == 200)
        *exists = 1;
    else if (rs.status == 404 && rs.body && memmem(rs.body, rs.len, "NAME_UNKNOWN", 12) != NULL)
        *exists = 0;
    reg_response_release(&rs);
    return 0;
}
