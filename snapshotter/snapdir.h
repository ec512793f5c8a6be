/* snapdir.h -- snapshot directories on disk: removal and disk usage
 *
 * snapdir_remove() deletes a snapshot's directory tree the way containerd's
 * os.RemoveAll does, except that it never deletes through a mount: anything
 * still mounted below the tree (a lazily mounted layer whose mount process
 * died, a stray overlay) is first detached (umount2 MNT_DETACH), and the walk
 * does not cross into another filesystem.  snapdir_usage() is continuity's
 * fs.DiskUsage, which containerd's overlayfs snapshotter reports: every inode
 * counted once (hard links, bind mounts), size = st_blocks * 512, the root
 * directory included.
 *
 * Paths longer than PATH_MAX inside a tree are not reachable (the walk uses
 * whole paths, so it needs no chdir and is safe in a threaded daemon).
 *
 * Errors: 0 or -1 with one line in err.  Thread safety: no shared state; calls
 * may run at once on different trees.
 *
 * Ownership: paths stay the caller's; nothing is allocated for them.
 */
#ifndef SOCI_SNAPDIR_H
#define SOCI_SNAPDIR_H

#include <stdint.h>

#include "error.h"

/* rm -rf path after detaching every mount below it; a missing path is no error */
int snapdir_remove(const char *path, struct error *err);
/* du of path: size in bytes of allocated blocks, and distinct inodes */
int snapdir_usage(const char *path, int64_t *size, int64_t *inodes, struct error *err);
/* fsync a directory, so entries created or renamed in it survive a crash */
int snapdir_sync(const char *path, struct error *err);

#endif
