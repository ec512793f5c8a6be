/* fs_tree.c -- a layer's directory tree from its ztoc (see fs_tree.h) */
#include "fs_tree.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "gotime.h"
#include "prefault.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define SCHILY "SCHILY.xattr."

size_t fs_clean_name(const char *name, size_t len, char *out)
{
    size_t o = 0, i = 0;

    /* components separated by '/', dropping "" and ".", popping on ".." */
    while (i < len) {
        size_t start, clen;
        while (i < len && name[i] == '/')
            i++;
        start = i;
        while (i < len && name[i] != '/')
            i++;
        clen = i - start;
        if (clen == 0 || (clen == 1 && name[start] == '.'))
            continue;
        if (clen == 2 && name[start] == '.' && name[start + 1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* the separator */
            continue;
        }
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, name + start, clen);
        o += clen;
    }
    out[o] = '\0';
    return o;
}

/* ---- build-time index: (parent, name) -> node ---- */

struct slot {
    uint32_t parent, node;
    const char *name;
    uint32_t len;
    uint64_t hash;
};

struct index {
    struct slot *s;
    size_t cap, used;
};

static uint64_t hash_name(uint32_t parent, const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ parent;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* a table size (a power of two) that holds n names at most half full */
static size_t index_size_for(size_t n)
{
    size_t cap = 1024;

    while (cap < n * 2)
        cap *= 2;
    return cap;
}

/* move to a table of ncap slots (a power of two) */
static int index_resize(struct index *ix, size_t ncap)
{
    /* freed once the tree is built: its size again may be wasted */
    struct slot *ns = alloc_huge_populated(ncap * sizeof(*ns), ncap * sizeof(*ns));
    size_t i;

    if (ns == NULL)
        return -1;
    memset(ns, 0, ncap * sizeof(*ns));
    for (i = 0; i < ix->cap; i++) {
        struct slot *s = &ix->s[i];
        size_t k;
        if (s->node == 0)
            continue;
        for (k = s->hash & (ncap - 1); ns[k].node; k = (k + 1) & (ncap - 1))
            ;
        ns[k] = *s;
    }
    free(ix->s);
    ix->s = ns;
    ix->cap = ncap;
    return 0;
}

static struct slot *index_find(struct index *ix, uint32_t parent, const char *name, size_t len, int create)
{
    uint64_t h = hash_name(parent, name, len);
    size_t k;

    if (create && (ix->used + 1) * 2 > ix->cap && index_resize(ix, ix->cap ? ix->cap * 2 : 1024) != 0)
        return NULL;
    if (ix->cap == 0)
        return NULL;
    for (k = h & (ix->cap - 1); ix->s[k].node; k = (k + 1) & (ix->cap - 1)) {
        struct slot *s = &ix->s[k];
        if (s->hash == h && s->parent == parent && s->len == len && memcmp(s->name, name, len) == 0)
            return s;
    }
    if (!create)
        return NULL;
    ix->s[k].hash = h;
    ix->s[k].parent = parent;
    ix->s[k].name = name;
    ix->s[k].len = (uint32_t)len;
    ix->used++;
    return &ix->s[k];
}

/* ---- building ---- */

struct builder {
    struct fs_tree *t;
    uint32_t cap;
    struct index ix;
    char *names;                /* cleaned names, one arena */
    size_t names_used, names_cap;
    /* the directory the previous entry went into: a tar lists a
     * directory's entries together, so most entries go into the one before
     * theirs, and its path is compared instead of walked again; forgotten
     * whenever a name is given to another node (a replaced directory) */
    char *last_dir;
    size_t last_dir_len, last_dir_cap;
    uint32_t last_dir_node;     /* 0: none */
    char *clean;                /* the entry being added, cleaned: room for the longest name */
    struct whiteout {
        uint32_t dir;
        const char *name;       /* X of .wh.X */
        uint32_t len;
        const struct ztoc_entry *entry;
    } *wh;
    size_t nwh, wh_cap;
};

/* room for ncap nodes (slot 0 included) */
static int reserve_nodes(struct builder *b, size_t ncap)
{
    struct fs_node *nn;

    if (ncap <= b->cap)
        return 0;
    if (ncap > UINT32_MAX)
        return -1;
    if (b->t->nodes == NULL) {
        nn = alloc_huge_populated(ncap * sizeof(*nn), ncap * sizeof(*nn) / 3);
    } else {
        nn = realloc(b->t->nodes, ncap * sizeof(*nn));
        if (nn != NULL)
            prefault_large(nn + b->cap, (ncap - b->cap) * sizeof(*nn));
    }
    if (nn == NULL)
        return -1;
    b->t->nodes = nn;
    b->cap = (uint32_t)ncap;
    return 0;
}

static uint32_t new_node(struct builder *b)
{
    struct fs_tree *t = b->t;

    if (t->nnodes + 1 >= b->cap && reserve_nodes(b, b->cap ? (size_t)b->cap * 2 : 256) != 0)
        return 0;
    t->nnodes++;
    memset(&t->nodes[t->nnodes], 0, sizeof(t->nodes[0]));
    t->nodes[t->nnodes].id = t->nnodes;
    return t->nnodes;
}

static void set_dir_defaults(struct fs_node *n)
{
    n->mode = S_IFDIR | 0755;
    n->nlink = 2;
}

static int add_child(struct builder *b, uint32_t dir, const char *name, uint32_t len, uint32_t node)
{
    struct fs_node *d = &b->t->nodes[dir];
    struct slot *s;

    s = index_find(&b->ix, dir, name, len, 1);
    if (s == NULL)
        return -1;
    if (s->node != 0) {
        /* a later non-dir entry replaces the name */
        uint32_t i;
        b->last_dir_node = 0;
        for (i = 0; i < d->nchildren; i++)
            if (d->children[i].node == s->node && d->children[i].name_len == len &&
                memcmp(d->children[i].name, name, len) == 0) {
                d->children[i].node = node;
                break;
            }
        s->node = node;
        return 0;
    }
    s->node = node;
    if (d->nchildren == d->children_cap) {
        uint32_t ncap = d->children_cap ? d->children_cap * 2 : 4;
        struct fs_dirent *nc = realloc(d->children, (size_t)ncap * sizeof(*nc));
        if (nc == NULL)
            return -1;
        d->children = nc;
        d->children_cap = ncap;
    }
    d->children[d->nchildren].name = name;
    d->children[d->nchildren].name_len = len;
    d->children[d->nchildren].node = node;
    d->nchildren++;
    return 0;
}

/* a copy of a name in the tree's arena: nodes and the build index keep
 * pointers to names, so they must outlive the entry being added (the arena
 * holds every entry's cleaned name and NUL: an entry keeps at most its
 * components, clen + 1 bytes) */
static const char *keep_name(struct builder *b, const char *s, size_t len)
{
    char *p;

    if (b->names_used + len + 1 > b->names_cap)
        return NULL;
    p = b->names + b->names_used;
    memcpy(p, s, len);
    p[len] = '\0';
    b->names_used += len + 1;
    return p;
}

/* remember path (len bytes) as the directory node dir */
static void remember_dir(struct builder *b, const char *path, size_t len, uint32_t dir)
{
    if (len > b->last_dir_cap) {
        size_t ncap = len * 2 + 64;
        char *np = realloc(b->last_dir, ncap);
        if (np == NULL) {
            b->last_dir_node = 0; /* only slower */
            return;
        }
        b->last_dir = np;
        b->last_dir_cap = ncap;
    }
    memcpy(b->last_dir, path, len);
    b->last_dir_len = len;
    b->last_dir_node = dir;
}

/* the directory node for a cleaned path, creating implicit ones */
static int ensure_dir(struct builder *b, const char *path, size_t len, uint32_t *out)
{
    uint32_t cur = 1;
    size_t i = 0;

    if (len == 0) {
        *out = 1; /* the root */
        return 0;
    }
    if (b->last_dir_node != 0 && len == b->last_dir_len && memcmp(path, b->last_dir, len) == 0) {
        *out = b->last_dir_node;
        return 0;
    }
    while (i < len) {
        size_t start = i;
        struct slot *s;
        while (i < len && path[i] != '/')
            i++;
        s = index_find(&b->ix, cur, path + start, i - start, 0);
        if (s && S_ISDIR(b->t->nodes[s->node].mode)) {
            cur = s->node;
        } else {
            /* path is the caller's temporary: the child's name must be kept */
            const char *kept = keep_name(b, path + start, i - start);
            uint32_t n = kept ? new_node(b) : 0;
            if (n == 0)
                return -1;
            set_dir_defaults(&b->t->nodes[n]);
            b->t->nodes[n].parent = cur;
            if (add_child(b, cur, kept, (uint32_t)(i - start), n) != 0)
                return -1;
            cur = n;
        }
        if (i < len)
            i++;
    }
    remember_dir(b, path, len, cur);
    *out = cur;
    return 0;
}

static uint32_t lookup_clean(struct builder *b, const char *path, size_t len)
{
    uint32_t cur = 1;
    size_t i = 0;

    if (len == 0)
        return 1;
    while (i < len) {
        size_t start = i;
        struct slot *s;
        while (i < len && path[i] != '/')
            i++;
        s = index_find(&b->ix, cur, path + start, i - start, 0);
        if (s == NULL)
            return 0;
        cur = s->node;
        if (i < len)
            i++;
    }
    return cur;
}

static void set_attrs(struct fs_node *n, const struct ztoc_entry *e)
{
    uint32_t type = S_IFREG;
    int64_t sec = 0;
    int32_t nsec = 0;

    if (e->type.len == 3 && memcmp(e->type.ptr, "dir", 3) == 0)
        type = S_IFDIR;
    else if (e->type.len == 7 && memcmp(e->type.ptr, "symlink", 7) == 0)
        type = S_IFLNK;
    else if (e->type.len == 4 && memcmp(e->type.ptr, "char", 4) == 0)
        type = S_IFCHR;
    else if (e->type.len == 5 && memcmp(e->type.ptr, "block", 5) == 0)
        type = S_IFBLK;
    else if (e->type.len == 4 && memcmp(e->type.ptr, "fifo", 4) == 0)
        type = S_IFIFO;
    n->mode = type | ((uint32_t)e->mode & 07777);
    n->uid = e->uid;
    n->gid = e->gid;
    n->size = type == S_IFLNK ? (int64_t)e->linkname.len : (type == S_IFREG ? e->size : 0);
    if (e->mod_time.len && gotime_parse(e->mod_time.ptr, e->mod_time.len, &sec, &nsec) == 0) {
        n->mtime_sec = sec;
        n->mtime_nsec = nsec;
    }
    n->rdev = makedev((unsigned)e->devmajor, (unsigned)e->devminor);
    n->entry = e;
}

static int is_hardlink(const struct ztoc_entry *e)
{
    return e->type.len == 8 && memcmp(e->type.ptr, "hardlink", 8) == 0;
}

static int add_entry(struct builder *b, const struct ztoc_entry *e, struct error *err)
{
    char *clean = b->clean;
    const char *base, *kept;
    size_t clen, dlen, blen;
    uint32_t dir, node;
    int rc = -1;

    /* a tar name ends at its first NUL, so only a forged TOC holds one; kept,
     * "n\0/z" would become one directory entry with a '/' in it, which the
     * kernel refuses (readdir of the whole directory fails with EIO) */
    if (e->name.len > 0 && memchr(e->name.ptr, '\0', e->name.len) != NULL) {
        return error_set(err, "an entry's name \"%.*s\" holds a NUL byte", (int)strnlen(e->name.ptr, 200),
                         e->name.ptr);
    }
    clen = fs_clean_name(e->name.ptr, e->name.len, clean);
    if (clen == 0) {
        /* the root itself ("./"): take its attributes */
        if (e->type.len == 3 && memcmp(e->type.ptr, "dir", 3) == 0)
            set_attrs(&b->t->nodes[1], e);
        return 0;
    }
    base = strrchr(clean, '/');
    base = base ? base + 1 : clean;
    blen = clen - (size_t)(base - clean);
    dlen = base > clean ? (size_t)(base - clean - 1) : 0;
    if (ensure_dir(b, clean, dlen, &dir) != 0) {
        error_set(err, "out of memory");
        goto out;
    }
    kept = keep_name(b, base, blen);
    if (kept == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    if (blen >= 4 && memcmp(base, WH_PREFIX, 4) == 0) {
        /* whiteouts are hidden; they mark the directory or show a device */
        if (blen == strlen(WH_OPAQUE) && memcmp(base, WH_OPAQUE, blen) == 0) {
            b->t->nodes[dir].opaque = 1;
        } else if (blen > 4) {
            if (b->nwh == b->wh_cap) {
                size_t ncap = b->wh_cap ? b->wh_cap * 2 : 16;
                struct whiteout *nw = realloc(b->wh, ncap * sizeof(*nw));
                if (nw == NULL) {
                    error_set(err, "out of memory");
                    goto out;
                }
                b->wh = nw;
                b->wh_cap = ncap;
            }
            b->wh[b->nwh].dir = dir;
            b->wh[b->nwh].name = kept + 4;
            b->wh[b->nwh].len = (uint32_t)(blen - 4);
            b->wh[b->nwh].entry = e;
            b->nwh++;
        }
        rc = 0;
        goto out;
    }
    if (is_hardlink(e)) {
        char *target = malloc(e->linkname.len + 2);
        size_t tlen;
        if (target == NULL) {
            error_set(err, "out of memory");
            goto out;
        }
        tlen = fs_clean_name(e->linkname.ptr, e->linkname.len, target);
        node = lookup_clean(b, target, tlen);
        free(target);
        if (node == 0 || node == 1) {
            error_set(err, "hard link \"%.*s\" points to \"%.*s\", which is not earlier in the layer",
                      (int)(clen > 200 ? 200 : clen), clean,
                      (int)(e->linkname.len > 200 ? 200 : e->linkname.len), e->linkname.ptr);
            goto out;
        }
        /* a directory has one name: a second one would make the tree a
         * graph (a cycle when inside itself, ELOOP for every walker), and
         * no filesystem can hold it (link(2) on a directory is EPERM, so
         * neither GNU tar nor containerd can unpack this layer) */
        if (S_ISDIR(b->t->nodes[node].mode)) {
            error_set(err, "hard link \"%.*s\" points to the directory \"%.*s\"",
                      (int)(clen > 200 ? 200 : clen), clean,
                      (int)(e->linkname.len > 200 ? 200 : e->linkname.len), e->linkname.ptr);
            goto out;
        }
        b->t->nodes[node].nlink++;
        rc = add_child(b, dir, kept, (uint32_t)blen, node) == 0 ? 0 : error_set(err, "out of memory");
        goto out;
    }
    {
        struct slot *s = index_find(&b->ix, dir, kept, blen, 0);
        if (s && S_ISDIR(b->t->nodes[s->node].mode) && e->type.len == 3 && memcmp(e->type.ptr, "dir", 3) == 0) {
            /* a later dir entry for an existing dir updates its attributes */
            uint32_t links = b->t->nodes[s->node].nlink;
            set_attrs(&b->t->nodes[s->node], e);
            b->t->nodes[s->node].nlink = links;
            rc = 0;
            goto out;
        }
    }
    node = new_node(b);
    if (node == 0) {
        error_set(err, "out of memory");
        goto out;
    }
    set_attrs(&b->t->nodes[node], e);
    b->t->nodes[node].parent = dir;
    b->t->nodes[node].nlink = S_ISDIR(b->t->nodes[node].mode) ? 2 : 1;
    rc = add_child(b, dir, kept, (uint32_t)blen, node) == 0 ? 0 : error_set(err, "out of memory");
out:
    return rc;
}

static int cmp_dirent(const void *a, const void *b)
{
    const struct fs_dirent *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int d = memcmp(x->name, y->name, n);

    if (d)
        return d;
    return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

int fs_tree_build(struct fs_tree *t, const struct ztoc *z, struct error *err)
{
    struct builder b;
    size_t i, names = 0, longest = 0;
    uint32_t k;

    memset(t, 0, sizeof(*t));
    memset(&b, 0, sizeof(b));
    b.t = t;
    for (i = 0; i < z->nentries; i++) {
        names += z->entries[i].name.len + 2;
        if (z->entries[i].name.len > longest)
            longest = z->entries[i].name.len;
    }
    b.names_cap = names + 16;
    b.names = alloc_huge_populated(b.names_cap, b.names_cap / 3);
    b.clean = malloc(longest + 2);
    /* sized for a node per entry up front: no rehashing, no copies, one
     * system call to fault each table in (directories the TOC only implies
     * and whiteouts still grow them) */
    if (b.names == NULL || b.clean == NULL || index_resize(&b.ix, index_size_for(z->nentries + 2)) != 0 ||
        reserve_nodes(&b, z->nentries + 2) != 0 || new_node(&b) == 0 /* slot 0 */) {
        error_set(err, "out of memory");
        goto fail;
    }
    t->nnodes = 0;
    if (new_node(&b) != 1) {
        error_set(err, "out of memory");
        goto fail;
    }
    set_dir_defaults(&t->nodes[1]);
    t->nodes[1].parent = 1;
    for (i = 0; i < z->nentries; i++)
        if (add_entry(&b, &z->entries[i], err) != 0)
            goto fail;
    /* whiteouts whose name has no real entry become 0/0 char devices */
    for (i = 0; i < b.nwh; i++) {
        const struct whiteout *w = &b.wh[i];
        uint32_t n;
        int64_t sec = 0;
        int32_t nsec = 0;
        if (index_find(&b.ix, w->dir, w->name, w->len, 0))
            continue;
        n = new_node(&b);
        if (n == 0 || add_child(&b, w->dir, w->name, w->len, n) != 0) {
            error_set(err, "out of memory");
            goto fail;
        }
        t->nodes[n].mode = S_IFCHR;
        t->nodes[n].nlink = 1;
        t->nodes[n].parent = w->dir;
        if (w->entry->mod_time.len && gotime_parse(w->entry->mod_time.ptr, w->entry->mod_time.len, &sec, &nsec) == 0) {
            t->nodes[n].mtime_sec = sec;
            t->nodes[n].mtime_nsec = nsec;
        }
    }
    /* dirs: 2 + subdirectories; children sorted for lookup and readdir */
    for (k = 1; k <= t->nnodes; k++) {
        struct fs_node *n = &t->nodes[k];
        uint32_t c, subdirs = 0;
        if (!S_ISDIR(n->mode))
            continue;
        for (c = 0; c < n->nchildren; c++)
            if (S_ISDIR(t->nodes[n->children[c].node].mode) && t->nodes[n->children[c].node].parent == k)
                subdirs++;
        n->nlink = 2 + subdirs;
        if (n->nchildren > 1)
            qsort(n->children, n->nchildren, sizeof(*n->children), cmp_dirent);
    }
    for (i = 0; i < z->nentries; i++) {
        uint32_t j;
        for (j = 0; j < z->entries[i].npax; j++)
            if (z->entries[i].pax[j].key.len > strlen(SCHILY) &&
                memcmp(z->entries[i].pax[j].key.ptr, SCHILY, strlen(SCHILY)) == 0)
                t->xattr_count++;
    }
    free(b.ix.s);
    free(b.wh);
    free(b.last_dir);
    free(b.clean);
    t->owned_ = b.names;
    return 0;
fail:
    free(b.ix.s);
    free(b.wh);
    free(b.last_dir);
    free(b.clean);
    free(b.names);
    fs_tree_free(t);
    return -1;
}

void fs_tree_free(struct fs_tree *t)
{
    uint32_t k;

    if (t->nodes)
        for (k = 1; k <= t->nnodes; k++)
            free(t->nodes[k].children);
    free(t->nodes);
    free(t->owned_);
    memset(t, 0, sizeof(*t));
}

uint32_t fs_tree_lookup(const struct fs_tree *t, const struct fs_node *dir, const char *name, size_t len)
{
    uint32_t lo = 0, hi = dir->nchildren;
    struct fs_dirent key;

    (void)t;
    key.name = name;
    key.name_len = (uint32_t)len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int d = cmp_dirent(&key, &dir->children[mid]);
        if (d == 0)
            return dir->children[mid].node;
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

uint32_t fs_tree_lookup_path(const struct fs_tree *t, const char *path)
{
    uint32_t cur = 1;
    const char *p = path;

    while (*p) {
        size_t n = strcspn(p, "/");
        if (n > 0) {
            cur = fs_tree_lookup(t, &t->nodes[cur], p, n);
            if (cur == 0)
                return 0;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return cur;
}

int fs_node_xattrs(const struct fs_node *n, fs_xattr_fn fn, void *ctx)
{
    uint32_t j;
    size_t pl = strlen(SCHILY);

    if (n->opaque && fn(ctx, "trusted.overlay.opaque", 22, "y", 1) != 0)
        return -1;
    if (n->entry == NULL)
        return 0;
    for (j = 0; j < n->entry->npax; j++) {
        const struct ztoc_pax *p = &n->entry->pax[j];
        if (p->key.len <= pl || memcmp(p->key.ptr, SCHILY, pl) != 0)
            continue;
        /* a directory both opaque and carrying the xattr itself lists it once */
        if (n->opaque && p->key.len - pl == 22 && memcmp(p->key.ptr + pl, "trusted.overlay.opaque", 22) == 0)
            continue;
        if (fn(ctx, p->key.ptr + pl, p->key.len - pl, p->value.ptr, p->value.len) != 0)
            return -1;
    }
    return 0;
}
