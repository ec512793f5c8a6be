/* ctrd_client.h -- what a pull needs from containerd's services
 *
 * Typed calls over rpc_client to a containerd on a unix socket: leases (so
 * the garbage collector leaves a pull's content and snapshots alone until
 * the image record holds them), the content store (Info, Update of labels,
 * Write as containerd's bidirectional ingest stream), snapshots through a
 * named snapshotter (Prepare, Stat, Commit, Remove), the diff service's
 * Apply (containerd unpacks a layer onto mounts), and image records.
 *
 * Every call carries the client's namespace (containerd-namespace) and,
 * once ctrd_lease_create() succeeded, the lease (containerd-lease).
 *
 * Errors: 0 on success, -1 with one line in err ("containerd: ...: rpc
 * error: code = NotFound desc = ..."); where the caller must tell a refusal
 * apart (AlreadyExists from a remote snapshotter's Prepare), the gRPC code
 * is returned through *code.  Nothing is printed.
 *
 * Ownership: struct ctrd and struct ctrd_writer are released by their
 * close/abort/commit calls; struct ctrd_mounts by ctrd_mounts_free().
 * Thread safety: a struct ctrd may be shared by threads once its lease is
 * set; a ctrd_writer belongs to one thread.
 */
#ifndef SOCI_CTRD_CLIENT_H
#define SOCI_CTRD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define CTRD_DEFAULT_ADDRESS "/run/containerd/containerd.sock"

struct ctrd;
struct ctrd_writer;
struct ctrd_mounts;

struct ctrd_kv {
    const char *key;
    const char *value;
};

/* address: a socket path (or "unix:PATH"); ns: containerd namespace */
int ctrd_open(const char *address, const char *ns, struct ctrd **out, struct error *err);
void ctrd_close(struct ctrd *c);

/* containerd answers at all (Version): an unreachable socket is one line */
int ctrd_ping(struct ctrd *c, struct error *err);

/* a lease that expires by itself after expire_secs (a pull killed half way
 * leaves nothing that outlives it); later calls carry it */
int ctrd_lease_create(struct ctrd *c, const char *id, int64_t expire_secs, struct error *err);
int ctrd_lease_delete(struct ctrd *c, struct error *err);

int ctrd_content_exists(struct ctrd *c, const char *digest, int *exists, struct error *err);
int ctrd_content_set_labels(struct ctrd *c, const char *digest, const struct ctrd_kv *labels, size_t n,
                            struct error *err);

/* an ingest: ref names it (containerd resumes a ref it already has, from
 * the offset it reports); *have_it = 1 and no writer when the content store
 * already holds expected */
int ctrd_content_begin(struct ctrd *c, const char *ref, const char *expected, int64_t total,
                       struct ctrd_writer **out, int *have_it, struct error *err);
/* the writer's offset: bytes containerd already holds for this ref */
int64_t ctrd_content_offset(const struct ctrd_writer *w);
int ctrd_content_write(struct ctrd_writer *w, const uint8_t *data, size_t n, struct error *err);
/* verify (containerd checks size and digest) and commit with labels;
 * frees w either way */
int ctrd_content_commit(struct ctrd_writer *w, const struct ctrd_kv *labels, size_t n, struct error *err);
void ctrd_content_abort(struct ctrd_writer *w);

/* Prepare: on success *mounts is set; on a refusal *code is the gRPC code
 * (RPC_ALREADY_EXISTS: a remote snapshotter has the layer already) */
int ctrd_snapshot_prepare(struct ctrd *c, const char *snapshotter, const char *key, const char *parent,
                          const struct ctrd_kv *labels, size_t n, struct ctrd_mounts **mounts, int *code,
                          struct error *err);
int ctrd_snapshot_exists(struct ctrd *c, const char *snapshotter, const char *key, int *exists,
                         struct error *err);
int ctrd_snapshot_commit(struct ctrd *c, const char *snapshotter, const char *name, const char *key,
                         const struct ctrd_kv *labels, size_t n, struct error *err);
int ctrd_snapshot_remove(struct ctrd *c, const char *snapshotter, const char *key, struct error *err);
void ctrd_mounts_free(struct ctrd_mounts *m);

/* containerd unpacks the layer blob (already in its content store) onto
 * mounts; applied gets the digest of the uncompressed tar (the diff_id) */
int ctrd_diff_apply(struct ctrd *c, const char *media_type, const char *digest, int64_t size,
                    const struct ctrd_mounts *mounts, char *applied, size_t applied_len, struct error *err);

/* create the image record name -> target, or point an existing one at it */
int ctrd_image_put(struct ctrd *c, const char *name, const char *media_type, const char *digest, int64_t size,
                   const struct ctrd_kv *labels, size_t n, struct error *err);
int ctrd_image_exists(struct ctrd *c, const char *name, int *exists, struct error *err);

#endif
