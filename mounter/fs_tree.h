/* fs_tree.h -- the directory tree a layer presents, built from its ztoc
 *
 * Upstream's presentation (docs/mounter.md, "What a mount shows"), so that containers see
 * the same filesystem whichever snapshotter serves them:
 * - names cleaned like filepath.Clean("/"+name): "./a//b/" is "a/b", and
 *   ".." or absolute names can never climb out of the root;
 * - node IDs in TOC order from root = 1; st_ino = 3 + ID (1 and 2 belong to
 *   the state directory and its file); missing parents are implicit dirs;
 * - hard links share one node (nlink counts them); a hard link to a
 *   directory (or to nothing earlier) is an error; a later dir entry
 *   updates attributes, a later non-dir entry replaces the name;
 * - ".wh.*" names are hidden; ".wh.X" shows X as a 0/0 character device
 *   unless a real X exists; ".wh..wh..opq" makes its directory opaque
 *   (trusted.overlay.opaque = "y");
 * - children sorted by name.
 *
 * Ownership: the tree borrows the ztoc (entry pointers and names point into
 * it; it must outlive the tree) and owns its nodes until fs_tree_free().
 * Errors: fs_tree_build returns 0, or -1 with one line in err naming the
 * entry; lookups return 0 for absent names; fs_node_xattrs returns -1 when
 * the callback returns non-zero.  Thread safety: built by one thread,
 * then read-only: any number of FUSE threads may read it at once.
 */
#ifndef SOCI_FS_TREE_H
#define SOCI_FS_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "ztoc.h"

struct fs_dirent {
    const char *name;
    uint32_t name_len;
    uint32_t node;
};

struct fs_node {
    uint32_t id;
    uint32_t parent;
    uint32_t mode;              /* S_IFMT | permission bits */
    uint32_t uid, gid;
    uint32_t nlink;
    int64_t size;
    int64_t mtime_sec;
    int32_t mtime_nsec;
    uint64_t rdev;
    int opaque;
    const struct ztoc_entry *entry;   /* data, link target, xattrs; NULL if synthesised */
    struct fs_dirent *children;       /* dirs: sorted by name */
    uint32_t nchildren, children_cap;
};

struct fs_tree {
    struct fs_node *nodes;      /* nodes[id], id 1..n; nodes[0] unused */
    uint32_t nnodes;
    size_t xattr_count;         /* SCHILY xattrs seen (for statistics) */
    void *owned_;
};

int fs_tree_build(struct fs_tree *t, const struct ztoc *z, struct error *err);
void fs_tree_free(struct fs_tree *t);

static inline struct fs_node *fs_tree_node(const struct fs_tree *t, uint64_t id)
{
    return (id >= 1 && id <= t->nnodes) ? &t->nodes[id] : NULL;
}

/* the child named name[0..len) of dir, or 0 */
uint32_t fs_tree_lookup(const struct fs_tree *t, const struct fs_node *dir, const char *name, size_t len);
/* a path from the root ("a/b/c"), or 0 */
uint32_t fs_tree_lookup_path(const struct fs_tree *t, const char *path);

/* filepath.Clean("/"+name) without the leading "/"; out needs len+2 bytes;
 * returns the cleaned length ("" for the root) */
size_t fs_clean_name(const char *name, size_t len, char *out);

/* xattrs of a node: callback per (name, value); the opaque marker first */
typedef int (*fs_xattr_fn)(void *ctx, const char *name, size_t name_len, const char *value, size_t value_len);
int fs_node_xattrs(const struct fs_node *n, fs_xattr_fn fn, void *ctx);

#endif
