/* oci_layout.h -- an OCI image layout directory on disk
 *
 * Blobs are read with their size bounded and their sha256 checked before a
 * byte is trusted; blobs are written to a temporary file, fsynced and
 * renamed into blobs/sha256/; index.json is replaced atomically while an
 * exclusive flock on the layout directory is held, so two writers never
 * interleave and a crash leaves either the old or the new index.json.
 *
 * Ownership: a struct oci_layout owns its directory fd and path until
 * layout_close(); *buf and *index from the readers are the caller's (free,
 * json_decref), *fd from layout_open_blob the caller's to close.  Errors: 0,
 * or -1 with one line in err naming the blob or file; layout_blob_exists and
 * layout_ref_parse return as stated.  Thread safety: the readers (paths,
 * blob reads and opens, index.json reads) may run from several threads on
 * one layout; open, close, lock and the writers belong to one thread.
 */
#ifndef SOCI_OCI_LAYOUT_H
#define SOCI_OCI_LAYOUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LAYOUT_MAX_JSON ((size_t)16 << 20)   /* manifests, indexes, configs */

struct oci_layout {
    char *dir;
    int dir_fd;
    int locked;
};

/* "oci:DIR", "oci:DIR:TAG" or "oci:DIR@sha256:..." -> dir and ref (tag or
 * digest, "" when absent); returns -1 when s is not an oci: reference */
int layout_ref_parse(const char *s, char *dir, size_t dir_len, char *ref, size_t ref_len);

/* open an existing layout (create=1: make an empty one if DIR is missing) */
int layout_open(struct oci_layout *l, const char *dir, int create, struct error *err);
void layout_close(struct oci_layout *l);

/* exclusive lock on the layout; fails at once when another process has it.
 * Once held, the temporaries a killed writer left behind (".NAME.tmp.XXXXXX"
 * beside index.json and in blobs/sha256) are removed. */
int layout_lock(struct oci_layout *l, struct error *err);

int layout_read_index(struct oci_layout *l, json_t **index, struct error *err);
/* index.json, Go-canonical, atomically (the lock must be held) */
int layout_write_index(struct oci_layout *l, json_t *index, struct error *err);

/* DIR/blobs/sha256/<hex> into out */
void layout_blob_path(const struct oci_layout *l, const char *digest, char *out, size_t n);
/* 1 if present (its size in *size), 0 if not */
int layout_blob_exists(const struct oci_layout *l, const char *digest, int64_t *size);
/* read a blob of at most max bytes, checking its digest (and its size
 * when want_size >= 0) */
int layout_read_blob(const struct oci_layout *l, const char *digest, int64_t want_size, size_t max,
                     uint8_t **buf, size_t *len, struct error *err);
/* store bytes as a blob; digest_out gets "sha256:..." (may be NULL) */
int layout_write_blob(const struct oci_layout *l, const void *data, size_t n, char *digest_out,
                      struct error *err);
/* open a blob for streaming reads; its size must be want_size */
int layout_open_blob(const struct oci_layout *l, const char *digest, int64_t want_size, int *fd,
                     struct error *err);

#endif
