/* registry_http.h -- the HTTP engine of the registry client (libcurl)
 *
 * One struct reg_http per registry host: a pool of curl handles over one
 * shared connection cache, the client's authentication state
 * (registry_auth), and counters.  reg_http_perform runs one logical
 * request to an answer:
 *   - auth: sends what registry_auth holds for the request's scope; on a
 *     401 from the registry it parses the challenge, fetches a token
 *     (Bearer) or switches to Basic, and sends the request again;
 *   - retries: connection errors, 429 and 5xx are sent again with
 *     exponential backoff (Retry-After honoured, at most 10 s), up to
 *     max_retries times; a broken download resumes with a Range request;
 *   - redirects: followed by hand (credentials never go to another host),
 *     at most 10; a redirect target that refuses (an expired pre-signed
 *     URL) is asked for afresh from the registry, at most 3 times;
 *   - a loopback registry without --plain-http is tried with https first
 *     and switched to http, once for all threads, when it does not speak TLS.
 * reg_http_call adds the one status check every API call needs.
 *
 * Ownership: a response's body is malloc'd and owned by the caller after
 * a successful call (reg_response_release frees it); on failure nothing is
 * left to free.  Errors: 0 / -1 with one line naming the registry, method
 * and path (never the query, credentials or tokens).  Thread safety: a
 * struct reg_http is shared by any number of threads (the handle pool,
 * counters and auth state are locked; the http/https switch is atomic); a
 * request and its response belong to one thread.
 */
#ifndef SOCI_REGISTRY_HTTP_H
#define SOCI_REGISTRY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "registry.h"

#define REG_MAX_HEADERS 6
#define REG_SMALL_BODY_MAX 65536   /* an error answer's body is kept up to this */

struct reg_request {
    const char *method;
    char url[4096];             /* absolute (reg_http_url) */
    const char *repo;           /* for the token scope; NULL for /v2/ */
    int push;                   /* needs push access */
    const char *headers[REG_MAX_HEADERS];
    int nheaders;
    const uint8_t *body;        /* upload from memory ... */
    size_t body_len;
    reg_source_fn source;       /* ... or from a reader */
    void *source_ctx;
    int64_t source_off, source_len;
    size_t max_body;            /* a 2xx body is buffered up to this (0: REG_SMALL_BODY_MAX) */
    reg_sink_fn sink;           /* or streamed here */
    void *sink_ctx;
    int resumable;              /* on a broken GET, continue with Range */
    int follow;                 /* follow redirects */
    int64_t range_off;          /* with resumable: the request's own Range start (-1: none) */
    int64_t range_end;          /* with range_off: its last byte (a resumed request keeps it) */
    int no_auth;                /* never add registry credentials (the token request) */
};

struct reg_response {
    long status;                /* the final answer's; 0 when none came */
    int transient;              /* failed for a reason a later attempt may not meet:
                                 * connection trouble, 429, 5xx, or a refusal of a
                                 * request sent again after its connection broke (the
                                 * registry may have acted on the lost attempt, as on a
                                 * PATCH whose answer was lost) */
    int resent_after_loss;      /* sent again after a connection failure */
    char content_type[256];
    char digest[128];           /* Docker-Content-Digest */
    char location[4096];
    int oci_subject;            /* OCI-Subject header present */
    int64_t content_length;     /* -1 when not sent */
    uint8_t *body;              /* malloc'd, NUL-terminated; NULL when empty */
    size_t len;
    int64_t delivered;          /* bytes handed to the sink over all attempts */
};

struct reg_http;

struct reg_http *reg_http_new(const char *host, const struct reg_opts *opts, struct error *err);
void reg_http_free(struct reg_http *h);
const char *reg_http_host(const struct reg_http *h);

/* "SCHEME://HOST" + printf(fmt, ...) into out[n]; -1 when it does not fit */
int reg_http_url(struct reg_http *h, char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* a Location header made absolute (a path is the registry's); -1 when it
 * does not fit in out[n] */
int reg_http_absolute(const struct reg_http *h, const char *location, char *out, size_t n);

/* one request to its final answer (any status); -1 when none came, the
 * auth flow failed, or the sink or source failed */
int reg_http_perform(struct reg_http *h, struct reg_request *rq, struct reg_response *rs, struct error *err);

/* reg_http_perform, then the answer's status must be one of ok[0..nok):
 * else -1 with "registry H: METHOD PATH: STATUS[: CODE: MESSAGE]" (the
 * registry's error JSON) and the body freed.  rs->status and
 * rs->transient stay set either way */
int reg_http_call(struct reg_http *h, struct reg_request *rq, struct reg_response *rs, const long *ok, size_t nok,
                  struct error *err);
#define REG_OK(...) ((const long[]){__VA_ARGS__}), (sizeof((const long[]){__VA_ARGS__}) / sizeof(long))

void reg_response_release(struct reg_response *rs);

/* is status worth sending again (429, 500, 502, 503, 504)? */
int reg_status_transient(long status);

/* counters (reg_stats in registry.h) */
void reg_http_stats(struct reg_http *h, struct reg_stats *out);
void reg_http_count_range(struct reg_http *h, int64_t bytes);
void reg_http_count_bytes(struct reg_http *h, int64_t bytes);

#endif
