/* layer_fs.h -- one layer served through FUSE (libfuse3 low-level API)
 *
 * The tree comes from fs_tree (upstream's presentation), file data from the
 * span cache.  The tree never changes, so entries and attributes are cached
 * by the kernel for a long time and pages are kept across opens
 * (FOPEN_KEEP_CACHE); reads may be up to 1 MiB.  The root holds a
 * lookup-only `.soci-snapshotter/<digest>.json` state file with fetch
 * progress and counters.
 *
 * Ownership: lfs owns its tree and FUSE session until layer_fs_release();
 * the ztoc, zinfo and cache are borrowed.  Errors: init and mount return 0,
 * or -1 with one line in err; FUSE requests answer errno values (EIO for a
 * read the span cache fails).  Thread safety: init, mount and release on one
 * thread; layer_fs_loop serves requests on several threads, which share only
 * the read-only tree and the thread-safe span cache.
 */
#ifndef SOCI_LAYER_FS_H
#define SOCI_LAYER_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fs_tree.h"
#include "span_cache.h"
#include "zinfo.h"
#include "ztoc.h"

struct layer_fs {
    char digest[80];            /* the layer's */
    struct fs_tree tree;
    const struct ztoc *ztoc;
    const struct zinfo *zinfo;
    struct span_cache *cache;
    double timeout;             /* entry/attr cache seconds */
    int disable_xattrs;
    uint64_t state_dir, state_file;   /* FUSE node ids of the state entries */
    int no_open, no_opendir;    /* the kernel opens files / directories without asking */
    struct fuse_session *se;
};

/* build the tree; the ztoc, zinfo and cache must outlive lfs */
int layer_fs_init(struct layer_fs *lfs, const char *digest, const struct ztoc *z, const struct zinfo *zi,
                  struct span_cache *cache, struct error *err);
void layer_fs_release(struct layer_fs *lfs);

/* create the session and mount it (read-only) */
int layer_fs_mount(struct layer_fs *lfs, const char *mountpoint, int allow_other, struct error *err);
/* serve until unmounted or told to exit (multi-threaded) */
int layer_fs_loop(struct layer_fs *lfs);
void layer_fs_unmount(struct layer_fs *lfs);

/* the state file's JSON (upstream's fields plus our counters) */
int layer_fs_state_json(struct layer_fs *lfs, char *out, size_t n);

#endif
