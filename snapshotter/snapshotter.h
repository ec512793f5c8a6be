/* snapshotter.h -- the snapshotter: ordinary snapshots plus lazily mounted layers
 *
 * What the gRPC service calls.  Ordinary snapshots go to snapstore.  A
 * Prepare that carries containerd.io/snapshot.ref (an unpack of a layer) with
 * the image and layer labels (CRI's cri.*, upstream's remote/soci.*, or the
 * stargz-style labels of ctr-remote) goes to the remote half: find the image's
 * SOCI index, mount the layer lazily on the new snapshot's fs/ by a mount
 * process of its own (soci-mount), or -- for a layer of an indexed image that
 * has no ztoc -- download, verify (blob digest and the config's diff_id) and
 * unpack it; then commit it under the target name with upstream's labels and
 * answer SNAP_ERR_ALREADY_EXISTS.  An image without an index, or any failure
 * to find or use one (random bytes, missing ztoc, unreachable registry), is
 * left to containerd: the plain mounts are returned and one line is logged.
 *
 * Mount processes outlive the daemon: snapshotter_close(sn, 0) (SIGTERM)
 * leaves them serving; snapshotter_open() re-attaches to every remote snapshot
 * still mounted and re-mounts those that are not; snapshotter_close(sn, 1)
 * (SIGINT) unmounts every remote layer.
 *
 * Errors: enum snap_status plus one line in err.  Thread safety: all calls may
 * come from any thread at once.
 *
 * Ownership: snapshotter_open copies *cfg (the caller may free its own
 * after the call) and the root and helper paths; *out is the caller's until
 * snapshotter_close(), which frees it; the store from snapshotter_store()
 * belongs to the snapshotter.
 */
#ifndef SOCI_SNAPSHOTTER_H
#define SOCI_SNAPSHOTTER_H

#include <stdio.h>

#include "config.h"
#include "error.h"
#include "snapstore.h"

struct snapshotter;

/* root: the daemon's --root; mount_helper: path of the soci-mount binary */
int snapshotter_open(const struct snap_config *cfg, const char *root, const char *mount_helper,
                     struct snapshotter **out, struct error *err);
void snapshotter_close(struct snapshotter *sn, int unmount_all);

struct snapstore *snapshotter_store(struct snapshotter *sn);

/* ns: the containerd namespace of the call (gRPC metadata) */
enum snap_status snapshotter_prepare(struct snapshotter *sn, const char *ns, enum snap_kind kind, const char *key,
                                     const char *parent, const struct snap_labels *labels,
                                     struct snap_mount *mount, struct error *err);
/* unmounts a lazily mounted layer before its snapshot goes */
enum snap_status snapshotter_remove(struct snapshotter *sn, const char *key, struct error *err);
enum snap_status snapshotter_cleanup(struct snapshotter *sn, struct error *err);

/* every committed remote layer, one emit() each: its key, layer digest,
 * state ("mounted": served lazily by a live mount process; "lost": its mount
 * process is gone; "unpacked": downloaded and unpacked, no ztoc), the share
 * of its spans fetched so far and the bytes fetched */
struct remote_layer_status {
    const char *key, *layer, *state;
    double fetched_pct;
    int64_t bytes_fetched;
};
typedef void (*snapshotter_status_fn)(void *arg, const struct remote_layer_status *st);
int snapshotter_status(struct snapshotter *sn, snapshotter_status_fn emit, void *arg, struct error *err);

#endif
