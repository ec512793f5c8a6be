/* registry.h -- an OCI distribution (registry v2) client over libcurl
 *
 * Everything the index builder, push and the lazy mounter need from a
 * registry: ping, manifests (always with OCI and Docker Accept headers),
 * blobs (HEAD, whole or ranged GET, single and multi-range, upload by
 * POST+PUT or chunked PATCH, cross-repository mount), the referrers API,
 * deletes.  Authentication: anonymous, Basic, and the Bearer token flow
 * driven by WWW-Authenticate (tokens cached per scope, refreshed on 401).
 * Connections are kept alive and shared between threads; connection errors,
 * 429 and 5xx are retried with exponential backoff (a bounded number of
 * times), other refusals are not; redirects are followed by hand so that
 * credentials never go to another host; TLS is verified unless --insecure.
 * Every answer is treated as hostile: sizes are bounded and digests are
 * checked.
 *
 * The parts, each its own module: registry_ref (references),
 * registry_auth (credentials, challenges, tokens), registry_range
 * (Content-Range, multipart/byteranges), registry_http (the engine:
 * perform, retries, redirects, the one status check); this file is the
 * API on top.
 *
 * Errors: 0 / -1 with one line in *err naming the registry, the request
 * and the registry's own error code and message when it sent one
 * ("registry H: PUT /v2/r/manifests/t: 403: DENIED: ...").  Credentials
 * never appear in error messages, logs or files.
 * Thread safety: one struct reg_client may be used by any number of
 * threads at once; every call is independent.
 */
#ifndef SOCI_REGISTRY_H
#define SOCI_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "registry_auth.h"   /* reg_credentials_for */
#include "registry_range.h"  /* struct reg_range */
#include "registry_ref.h"    /* struct reg_ref, reg_ref_parse, reg_host_is_loopback */

#define REG_MAX_MANIFEST ((size_t)4 << 20)

struct reg_opts {
    int plain_http;        /* http:// (implied for loopback hosts) */
    int insecure;          /* skip TLS certificate verification */
    const char *user;      /* Basic/Bearer credentials, or NULL (docker config / anonymous) */
    const char *password;
    int max_retries;       /* 0: default (5); negative: none */
    long connect_timeout_ms;
    long low_speed_secs;   /* abort a transfer slower than low_speed_bytes/s for this long */
    long low_speed_bytes;  /* (0: 1 KiB/s) */
    int verbose;           /* log requests (never headers with secrets) to stderr */
};

struct reg_client;

struct reg_client *reg_client_new(const char *host, const struct reg_opts *opts, struct error *err);
void reg_client_free(struct reg_client *c);

/* GET /v2/ (follows the auth flow when challenged) */
int reg_ping(struct reg_client *c, struct error *err);

struct reg_manifest {
    uint8_t *body;         /* malloc'd */
    size_t len;
    char media_type[256];
    char digest[80];       /* sha256 of body, checked against the reference when it is a digest */
};

/* reference: tag or digest.  *found = 0 on 404 (not an error) */
int reg_manifest_get(struct reg_client *c, const char *repo, const char *reference, struct reg_manifest *m,
                     int *found, struct error *err);
/* media_type[mt_len], digest (at least DIGEST_STR_SIZE = 72 bytes: the
 * Docker-Content-Digest when valid, else ""), size (-1 when not sent): each
 * may be NULL */
int reg_manifest_head(struct reg_client *c, const char *repo, const char *reference, char *media_type,
                      size_t mt_len, char *digest, int64_t *size, int *found, struct error *err);
/* *has_subject_header: the registry answered with OCI-Subject (referrers API supported) */
int reg_manifest_put(struct reg_client *c, const char *repo, const char *reference, const char *media_type,
                     const uint8_t *body, size_t len, int *has_subject_header, struct error *err);
int reg_manifest_delete(struct reg_client *c, const char *repo, const char *digest, struct error *err);
void reg_manifest_free(struct reg_manifest *m);

int reg_blob_head(struct reg_client *c, const char *repo, const char *digest, int64_t *size, int *found,
                  struct error *err);

/* receives body bytes in order; return 0 to continue */
typedef int (*reg_sink_fn)(void *ctx, const uint8_t *data, size_t n, struct error *err);

/* the whole blob, streamed (a broken transfer resumes with a Range request) */
int reg_blob_get(struct reg_client *c, const char *repo, const char *digest, reg_sink_fn sink, void *ctx,
                 struct error *err);
/* bytes [off, off+len) into buf (exactly len bytes) */
int reg_blob_get_range(struct reg_client *c, const char *repo, const char *digest, int64_t off, size_t len,
                       uint8_t *buf, struct error *err);

/* several ranges in one multipart/byteranges request when the registry
 * allows, else one request each (and from then on for this client) */
int reg_blob_get_ranges(struct reg_client *c, const char *repo, const char *digest, struct reg_range *r,
                        size_t n, struct error *err);

/* upload source: pread-style reader over size bytes */
typedef int (*reg_source_fn)(void *ctx, int64_t off, uint8_t *buf, size_t n, struct error *err);

/* upload a blob unless the repository has it; with mount_from (another
 * repository of the same registry) ask for a cross-repo mount first, which
 * the registry may refuse (then the bytes go up).  *uploaded: 0 the blob was
 * there, 1 its bytes were sent, 2 the registry mounted it (REG_UPLOAD_*) */
#define REG_UPLOAD_SKIPPED 0
#define REG_UPLOAD_SENT 1
#define REG_UPLOAD_MOUNTED 2
int reg_blob_upload(struct reg_client *c, const char *repo, const char *digest, int64_t size,
                    reg_source_fn source, void *ctx, const char *mount_from, int *uploaded, struct error *err);
int reg_blob_upload_bytes(struct reg_client *c, const char *repo, const char *digest, const uint8_t *data,
                          size_t len, int *uploaded, struct error *err);

/* GET /v2/REPO/referrers/DIGEST?artifactType=...: *supported = 0 when the
 * registry has no referrers API (use the sha256-<hex> fallback tag) */
int reg_referrers(struct reg_client *c, const char *repo, const char *digest, const char *artifact_type,
                  uint8_t **body, size_t *len, int *supported, struct error *err);

/* GET /v2/REPO/tags/list: *exists = 1 (it does), 0 (NAME_UNKNOWN), or -1
 * (the registry would not tell); for messages about missing images */
int reg_repo_exists(struct reg_client *c, const char *repo, int *exists, struct error *err);

/* counters, for tests and logs */
struct reg_stats {
    long requests;
    long range_requests;
    long retries;
    long url_refreshes;    /* fresh redirects asked for after an expired target */
    int64_t bytes_in;
};
void reg_client_stats(struct reg_client *c, struct reg_stats *out);

#endif
