/* snapstore.h -- snapshots as containerd's overlayfs snapshotter keeps them
 *
 * The ordinary half of soci-snapshotter-grpc: metadata in SQLite at
 * ROOT/snapshotter/metadata.db, one directory per snapshot at
 * ROOT/snapshotter/snapshots/<id>/{fs,work}.  Semantics follow containerd's
 * overlayfs snapshotter: an active snapshot with no parent mounts as a bind of
 * its fs/ (rw), a view with one parent as a read-only bind of the parent's
 * fs/, anything else as overlay (lowerdir = parents' fs/ nearest first;
 * upperdir/workdir for active snapshots only).  Keys are not namespaced here:
 * containerd's metadata layer in front of a proxy snapshotter already puts the
 * namespace into every key.
 *
 * Every call is one SQLite transaction, so a crash at any point leaves a
 * consistent store; directories are created before the row that names them is
 * committed and removed after the row is gone, and snapstore_cleanup() (and
 * snapstore_open()) remove directories no row names.
 *
 * Errors: calls return an enum snap_status (SNAP_OK = 0) and fill err with
 * one line ("snapshot \"k\": not found").  Thread safety: a struct snapstore
 * may be used from any number of threads; calls are serialised internally.
 * Ownership: every struct snap_info / snap_mount filled by a call belongs to
 * the caller and is released with snap_info_free() / snap_mount_free().
 */
#ifndef SOCI_SNAPSTORE_H
#define SOCI_SNAPSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* the numbers are those of containerd.snapshots.v1.Kind */
enum snap_kind {
    SNAP_KIND_UNKNOWN = 0,
    SNAP_KIND_VIEW = 1,
    SNAP_KIND_ACTIVE = 2,
    SNAP_KIND_COMMITTED = 3,
};

/* what a call failed with; the service maps these to gRPC status codes
 * (NotFound, AlreadyExists, FailedPrecondition, InvalidArgument, Unknown) */
enum snap_status {
    SNAP_OK = 0,
    SNAP_ERR_NOT_FOUND,
    SNAP_ERR_ALREADY_EXISTS,
    SNAP_ERR_FAILED_PRECONDITION,
    SNAP_ERR_INVALID_ARGUMENT,
    SNAP_ERR_INTERNAL,
};

/* bounds on what a request may carry; beyond them a call fails with
 * SNAP_ERR_INVALID_ARGUMENT.  SNAP_LABEL_MAX is containerd's labels.Validate
 * (key and value together); a label with an empty value is not stored (as
 * containerd's boltutil.WriteLabels), so setting "" deletes it. */
#define SNAP_KEY_MAX 4096       /* bytes of a key, name or parent */
#define SNAP_LABEL_MAX 4096     /* bytes of one label's key plus value */
#define SNAP_LABELS_MAX 10000   /* labels on one snapshot or in one request */

struct snap_label {
    char *key;
    char *value;
};

struct snap_labels {
    struct snap_label *v;
    size_t n;
};

struct snap_info {
    char *name;
    char *parent;           /* "" when none */
    enum snap_kind kind;
    int64_t created_ns;     /* Unix time in nanoseconds */
    int64_t updated_ns;
    struct snap_labels labels;
};

/* containerd.types.Mount: type, source, options (target unused) */
struct snap_mount {
    char type[16];          /* "bind" or "overlay" */
    char *source;
    char **options;
    size_t noptions;
};

/* filled by snapstore_prepare for callers that work in the new snapshot's
 * directory (the remote half mounts or unpacks a layer into fs_dir) */
struct snap_created {
    int64_t id;
    char fs_dir[4096];
};

struct snapstore;

int snapstore_open(const char *root, struct snapstore **out, struct error *err);
void snapstore_close(struct snapstore *s);

/* Prepare (kind ACTIVE) or View (kind VIEW); parent "" or NULL for none.
 * Checked in containerd's order: a missing parent is NOT_FOUND, a parent
 * that is not committed INVALID_ARGUMENT, a key already used (by a snapshot
 * of any kind) ALREADY_EXISTS.  mount and created may be NULL.  Overlay
 * mounts carry "index=off" first when the kernel has the option
 * (/sys/module/overlay/parameters/index), as containerd 1.6 decides it;
 * "userxattr" (rootless only in containerd) is never added. */
enum snap_status snapstore_prepare(struct snapstore *s, enum snap_kind kind, const char *key, const char *parent,
                                   const struct snap_labels *labels, struct snap_mount *mount,
                                   struct snap_created *created, struct error *err);
enum snap_status snapstore_mounts(struct snapstore *s, const char *key, struct snap_mount *mount,
                                  struct error *err);
/* active snapshot key becomes committed snapshot name; labels replace the
 * active snapshot's labels (as containerd's storage.CommitActive does).
 * NOT_FOUND (key), then ALREADY_EXISTS (name), then FAILED_PRECONDITION
 * (key not active).  The usage of fs/ is measured and stored now; created
 * and updated become the commit time. */
enum snap_status snapstore_commit(struct snapstore *s, const char *name, const char *key,
                                  const struct snap_labels *labels, struct error *err);
/* as snapstore_commit, but the usage is not measured (stored as 0): for a
 * lazily mounted layer, whose fs/ is a FUSE mount that a du would walk file
 * by file (upstream soci/stargz skip the measurement for remote snapshots
 * too) */
enum snap_status snapstore_commit_remote(struct snapstore *s, const char *name, const char *key,
                                         const struct snap_labels *labels, struct error *err);
/* fails with FAILED_PRECONDITION while the snapshot has children (of any
 * kind); the directory goes after the row, a failure there is left to
 * snapstore_cleanup and not reported */
enum snap_status snapstore_remove(struct snapstore *s, const char *key, struct error *err);
enum snap_status snapstore_stat(struct snapstore *s, const char *key, struct snap_info *info, struct error *err);
/* paths: NULL/0 = replace all labels; else "labels" (replace all) or
 * "labels.<key>" (set that one, or delete it when absent from in->labels);
 * any other path is INVALID_ARGUMENT.  out may be NULL. */
enum snap_status snapstore_update(struct snapstore *s, const struct snap_info *in, const char *const *paths,
                                  size_t npaths, struct snap_info *out, struct error *err);

/* filters: containerd filter expressions, ORed across the array (as
 * containerd does): name==X, parent==X, kind==active|view|committed,
 * labels."K"==V, labels."K" (presence), !=, ~=; the grammar is in
 * snapfilter.h; one that does not parse is INVALID_ARGUMENT; NULL/0 = all.
 * Snapshots come in byte order of their names (containerd's bolt order).
 * The callback runs with the store unlocked (it may call the store) on what
 * one transaction read; it returns 0 to go on, non-zero to stop (that value
 * is returned). */
typedef int (*snap_walk_fn)(const struct snap_info *info, void *arg);
enum snap_status snapstore_walk(struct snapstore *s, const char *const *filters, size_t nfilters, snap_walk_fn fn,
                                void *arg, struct error *err);

/* disk usage of the snapshot's own fs/ (du -s semantics: blocks in bytes,
 * inodes counted once per hard-linked file): measured now for an active
 * snapshot, as stored at commit for a committed one, 0 for a view */
enum snap_status snapstore_usage(struct snapstore *s, const char *key, int64_t *size, int64_t *inodes,
                                 struct error *err);
/* remove snapshot directories that no row names (orphans of a crash,
 * new-XXXXXX temporaries), detaching anything still mounted in them first;
 * returns how many in *removed */
enum snap_status snapstore_cleanup(struct snapstore *s, int *removed, struct error *err);

/* the directory of snapshot id (ROOT/snapshotter/snapshots/<id>) */
void snapstore_dir(const struct snapstore *s, int64_t id, char *buf, size_t len);
/* the id behind key, for callers that mount into a snapshot's directory */
enum snap_status snapstore_id(struct snapstore *s, const char *key, int64_t *id, struct error *err);

void snap_info_free(struct snap_info *info);
void snap_mount_free(struct snap_mount *m);
void snap_labels_free(struct snap_labels *l);
/* the value of key, or NULL */
const char *snap_labels_get(const struct snap_labels *l, const char *key);
int snap_labels_set(struct snap_labels *l, const char *key, const char *value);

#endif
