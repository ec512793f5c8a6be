/* remote_mount.h -- one soci-mount process per lazily mounted layer
 *
 * The snapshotter does not serve FUSE itself: each layer is mounted by a
 * soci-mount process of its own (docs/snapshotter.md, "Mount processes"),
 * started in a session of its own with its log appended to a file, so that
 * it outlives the daemon (SIGTERM leaves layers serving; a restarted daemon
 * finds them in /proc/self/mountinfo).  soci-mount goes to the background
 * once the layer is mounted and its first process exits 0; anything else
 * within the time allowed is a failed mount, and a mount process still
 * running at the deadline is killed (the one waited for and the background
 * one it may have started, found by its command line) and whatever it
 * mounted is unmounted.
 *
 * Errors: -1 and one line in err (soci-mount's own last line when it says
 * why).  Thread safety: no shared state; calls on different directories
 * may run at once.
 *
 * Ownership: the spec and its strings stay the caller's.
 */
#ifndef SOCI_SNAP_REMOTE_MOUNT_H
#define SOCI_SNAP_REMOTE_MOUNT_H

#include <stdint.h>

#include "config.h"
#include "error.h"

struct mount_spec {
    const char *helper;        /* the soci-mount program */
    const char *source;        /* HOST/REPO@MANIFEST */
    const char *layer;         /* layer digest */
    const char *index;         /* SOCI index digest */
    const char *dir;           /* the snapshot's fs/ */
    const char *cache_dir;     /* this mount's span cache */
    const char *log_path;      /* soci-mount's stderr, appended */
    int64_t cache_mem;         /* bytes */
    int64_t cache_disk;
    int timeout_sec;
    const struct snap_config *cfg; /* [background_fetch], [prefetch] */
};

int remote_mount_spawn(const struct mount_spec *s, struct error *err);

enum mount_state {
    MOUNT_ABSENT = 0,          /* no FUSE mount on the directory */
    MOUNT_LIVE,                /* mounted and answering */
    MOUNT_DEAD,                /* mounted, its process gone (ENOTCONN) */
};

enum mount_state remote_mount_state(const char *dir);

/* unmount dir: at once when nothing uses it, else detached (lazily: open
 * files keep working and the mount process ends with the last of them);
 * not mounted is not an error */
int remote_mount_unmount(const char *dir, struct error *err);

/* soci-mount's state file DIR/.soci-snapshotter/<layer>.json: 0, or -1 when
 * it cannot be read */
int remote_mount_progress(const char *dir, const char *layer, double *fetched_pct, int64_t *bytes_fetched);

#endif
