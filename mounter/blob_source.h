/* blob_source.h -- where a mounted layer's compressed bytes come from
 *
 * A local blob (pread on an OCI layout's file) or a registry blob (HTTP
 * range requests through lib/registry, with its retries, redirects and
 * token refresh).  The span cache asks for byte ranges and knows nothing
 * else about the source.
 *
 * Ownership: a local source owns its fd until blob_source_close(); a remote
 * one borrows the client (the caller's, shared).  Errors: 0, or -1 with one
 * line in err.  Thread safety: blob_source_read may be called from any
 * number of threads at once (pread, and a thread-safe registry client).
 */
#ifndef SOCI_BLOB_SOURCE_H
#define SOCI_BLOB_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "registry.h"

struct blob_source {
    int fd;                      /* local, or -1 */
    struct reg_client *client;   /* remote, or NULL */
    char repo[512];
    char digest[80];
    int64_t size;
};

int blob_source_local(struct blob_source *s, const char *path, int64_t size, const char *digest,
                      struct error *err);
void blob_source_remote(struct blob_source *s, struct reg_client *c, const char *repo, const char *digest,
                        int64_t size);
void blob_source_close(struct blob_source *s);

/* exactly n bytes at off */
int blob_source_read(struct blob_source *s, int64_t off, size_t n, uint8_t *buf, struct error *err);

#endif
