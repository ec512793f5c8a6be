/* layer_fs.c -- a layer through FUSE (see layer_fs.h) */
#include "layer_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "gojson.h"
#include "log.h"

#define STATE_DIR_NAME ".soci-snapshotter"
#define MAX_READ (1024 * 1024)

static struct layer_fs *fs_of(fuse_req_t req) { return fuse_req_userdata(req); }

/* st_ino: 3 + node id for the tree, 1 and 2 for the state entries */
static void fill_stat(const struct layer_fs *lfs, uint64_t id, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    if (id == lfs->state_dir) {
        st->st_ino = 1;
        st->st_mode = S_IFDIR | 0500;
        st->st_nlink = 2;
        return;
    }
    if (id == lfs->state_file) {
        st->st_ino = 2;
        st->st_mode = S_IFREG | 0400;
        st->st_nlink = 1;
        st->st_size = 4096;
        /* always new: with auto_inval_data the kernel drops what it cached
         * of it on every read (its attributes are never cached) */
        clock_gettime(CLOCK_REALTIME, &st->st_mtim);
        return;
    }
    {
        const struct fs_node *n = fs_tree_node(&lfs->tree, id);
        if (n == NULL)
            return;
        st->st_ino = 3 + n->id;
        st->st_mode = n->mode;
        st->st_nlink = n->nlink;
        st->st_uid = n->uid;
        st->st_gid = n->gid;
        st->st_size = n->size;
        st->st_rdev = n->rdev;
        st->st_blksize = 4096;
        st->st_blocks = (n->size + 4095) / 4096 * 8;
        st->st_mtim.tv_sec = n->mtime_sec;
        st->st_mtim.tv_nsec = n->mtime_nsec;
    }
}

static int valid(const struct layer_fs *lfs, fuse_ino_t ino)
{
    return ino == lfs->state_dir || ino == lfs->state_file || fs_tree_node(&lfs->tree, ino) != NULL;
}

static void reply_entry(fuse_req_t req, struct layer_fs *lfs, uint64_t id)
{
    struct fuse_entry_param e;

    memset(&e, 0, sizeof(e));
    e.ino = id;
    e.generation = 1;
    e.attr_timeout = id == lfs->state_file ? 0 : lfs->timeout;
    e.entry_timeout = lfs->timeout;
    fill_stat(lfs, id, &e.attr);
    fuse_reply_entry(req, &e);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    struct layer_fs *lfs = userdata;

    /* Zero-message opens: once op_open / op_opendir answer ENOSYS the
     * kernel opens files (with FOPEN_KEEP_CACHE) and directories (with
     * FOPEN_CACHE_DIR) without a round trip, and sends no RELEASE: half of
     * the requests of reading a tree whose pages are cached.  The state
     * file is then page-cached like the rest; auto_inval_data and its
     * ever-changing mtime (its attributes are never cached) make the
     * kernel drop its pages on every read.  The layer's files have 1 h
     * attributes and a fixed mtime: nothing is invalidated for them. */
    if ((conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) && (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)) {
        lfs->no_open = 1;
        lfs->no_opendir = (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) != 0;
        conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
    } else {
        /* immutable content: no invalidation on attribute changes */
        conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
    }
    if (conn->capable & FUSE_CAP_READDIRPLUS)
        conn->want |= FUSE_CAP_READDIRPLUS;
    if (conn->capable & FUSE_CAP_ASYNC_READ)
        conn->want |= FUSE_CAP_ASYNC_READ;
    conn->max_readahead = MAX_READ;
    conn->max_read = MAX_READ;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct layer_fs *lfs = fs_of(req);
    const struct fs_node *dir;
    uint32_t id;

    if (parent == FUSE_ROOT_ID && strcmp(name, STATE_DIR_NAME) == 0) {
        reply_entry(req, lfs, lfs->state_dir);
        return;
    }
    if (parent == lfs->state_dir) {
        char want[96];
        snprintf(want, sizeof(want), "%s.json", lfs->digest);
        if (strcmp(name, want) == 0)
            reply_entry(req, lfs, lfs->state_file);
        else
            fuse_reply_err(req, ENOENT);
        return;
    }
    dir = fs_tree_node(&lfs->tree, parent);
    if (dir == NULL || !S_ISDIR(dir->mode)) {
        fuse_reply_err(req, dir == NULL ? ENOENT : ENOTDIR);
        return;
    }
    if (strncmp(name, ".wh.", 4) == 0) { /* whiteouts stay hidden */
        fuse_reply_err(req, ENOENT);
        return;
    }
    id = fs_tree_lookup(&lfs->tree, dir, name, strlen(name));
    if (id == 0) {
        struct fuse_entry_param e;
        /* a negative entry the kernel may cache as long as the rest */
        memset(&e, 0, sizeof(e));
        e.entry_timeout = lfs->timeout;
        fuse_reply_entry(req, &e);
        return;
    }
    reply_entry(req, lfs, id);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct layer_fs *lfs = fs_of(req);
    struct stat st;

    (void)fi;
    if (!valid(lfs, ino)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fill_stat(lfs, ino, &st);
    fuse_reply_attr(req, &st, ino == lfs->state_file ? 0 : lfs->timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct layer_fs *lfs = fs_of(req);
    const struct fs_node *n = fs_tree_node(&lfs->tree, ino);
    char *target;

    if (n == NULL || !S_ISLNK(n->mode) || n->entry == NULL) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    target = strndup(n->entry->linkname.ptr, n->entry->linkname.len);
    if (target == NULL) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    fuse_reply_readlink(req, target);
    free(target);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct layer_fs *lfs = fs_of(req);
    const struct fs_node *n;

    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (ino == lfs->state_file) {
        fi->direct_io = 1; /* its content changes */
        fuse_reply_open(req, fi);
        return;
    }
    n = fs_tree_node(&lfs->tree, ino);
    if (n == NULL) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (S_ISDIR(n->mode)) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    if (lfs->no_open) {
        fuse_reply_err(req, ENOSYS); /* this and every later open: the kernel's */
        return;
    }
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    struct layer_fs *lfs = fs_of(req);
    const struct fs_node *n;
    uint8_t *buf;
    size_t len;
    struct error err;

    (void)fi;
    if (ino == lfs->state_file) {
        char json[4096]; /* the last error (512 bytes) escaped at worst 6x, and the counters */
        int jl = layer_fs_state_json(lfs, json, sizeof(json));
        if (off >= jl)
            fuse_reply_buf(req, NULL, 0);
        else
            fuse_reply_buf(req, json + off, (size_t)jl - (size_t)off < size ? (size_t)jl - (size_t)off : size);
        return;
    }
    n = fs_tree_node(&lfs->tree, ino);
    if (n == NULL || !S_ISREG(n->mode) || n->entry == NULL) {
        fuse_reply_err(req, n == NULL ? ENOENT : EINVAL);
        return;
    }
    if (off < 0 || off >= n->size) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    len = (uint64_t)(n->size - off) < size ? (size_t)(n->size - off) : size;
    buf = malloc(len);
    if (buf == NULL) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    if (span_cache_read(lfs->cache, n->entry->offset + off, len, buf, &err) != 0) {
        log_kv("error", "read failed", LOG_STR("layer", lfs->digest), LOG_INT("inode", 3 + n->id),
               LOG_INT("offset", off), LOG_STR("error", err.msg));
        free(buf);
        fuse_reply_err(req, EIO);
        return;
    }
    fuse_reply_buf(req, (const char *)buf, len);
    free(buf);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct layer_fs *lfs = fs_of(req);
    const struct fs_node *n = fs_tree_node(&lfs->tree, ino);

    if (ino == lfs->state_dir) {
        fuse_reply_open(req, fi);
        return;
    }
    if (n == NULL || !S_ISDIR(n->mode)) {
        fuse_reply_err(req, n == NULL ? ENOENT : ENOTDIR);
        return;
    }
    if (lfs->no_opendir) {
        fuse_reply_err(req, ENOSYS);
        return;
    }
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
    struct layer_fs *lfs = fs_of(req);
    const struct fs_node *dir = fs_tree_node(&lfs->tree, ino);
    char *buf;
    size_t used = 0;
    off_t i;

    if (ino == lfs->state_dir) {
        /* lookup-only: nothing to list */
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    if (dir == NULL || !S_ISDIR(dir->mode)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    buf = malloc(size);
    if (buf == NULL) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    /* offsets: 0 ".", 1 "..", then children; an entry's offset is the next one's */
    for (i = off; i < (off_t)dir->nchildren + 2; i++) {
        const char *name;
        char nbuf[4096];
        uint64_t id;
        size_t need;
        struct stat st;
        if (i == 0) {
            name = ".";
            id = ino;
        } else if (i == 1) {
            name = "..";
            id = dir->parent ? dir->parent : FUSE_ROOT_ID;
        } else {
            const struct fs_dirent *d = &dir->children[i - 2];
            size_t nl = d->name_len < sizeof(nbuf) - 1 ? d->name_len : sizeof(nbuf) - 1;
            memcpy(nbuf, d->name, nl);
            nbuf[nl] = '\0';
            name = nbuf;
            id = d->node;
        }
        fill_stat(lfs, id, &st);
        if (plus) {
            struct fuse_entry_param e;
            memset(&e, 0, sizeof(e));
            if (i >= 2) { /* the kernel takes a lookup reference for these */
                e.ino = id;
                e.generation = 1;
                e.attr_timeout = lfs->timeout;
                e.entry_timeout = lfs->timeout;
            }
            e.attr = st;
            need = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
        } else {
            need = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
        }
        if (need > size - used)
            break;
        used += need;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)fi;
    do_readdir(req, ino, size, off, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)fi;
    do_readdir(req, ino, size, off, 1);
}

struct xattr_find {
    const char *want;
    const char *value;
    size_t value_len;
    int found;
    char *list;
    size_t list_len, list_cap;
};

static int find_cb(void *ctx, const char *name, size_t nl, const char *value, size_t vl)
{
    struct xattr_find *x = ctx;

    if (!x->found && strlen(x->want) == nl && memcmp(x->want, name, nl) == 0) {
        x->found = 1;
        x->value = value;
        x->value_len = vl;
    }
    return 0;
}

static int list_cb(void *ctx, const char *name, size_t nl, const char *value, size_t vl)
{
    struct xattr_find *x = ctx;

    (void)value;
    (void)vl;
    if (x->list_len + nl + 1 > x->list_cap) {
        size_t ncap = x->list_cap ? x->list_cap * 2 : 256;
        char *nb;
        while (ncap < x->list_len + nl + 1)
            ncap *= 2;
        nb = realloc(x->list, ncap);
        if (nb == NULL)
            return -1;
        x->list = nb;
        x->list_cap = ncap;
    }
    memcpy(x->list + x->list_len, name, nl);
    x->list[x->list_len + nl] = '\0';
    x->list_len += nl + 1;
    return 0;
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    struct layer_fs *lfs = fs_of(req);
    const struct fs_node *n = fs_tree_node(&lfs->tree, ino);
    struct xattr_find x;

    memset(&x, 0, sizeof(x));
    x.want = name;
    if (n == NULL || lfs->disable_xattrs || fs_node_xattrs(n, find_cb, &x) != 0 || !x.found) {
        fuse_reply_err(req, n == NULL && !valid(lfs, ino) ? ENOENT : ENODATA);
        return;
    }
    if (size == 0)
        fuse_reply_xattr(req, x.value_len);
    else if (size < x.value_len)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, x.value, x.value_len);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    struct layer_fs *lfs = fs_of(req);
    const struct fs_node *n = fs_tree_node(&lfs->tree, ino);
    struct xattr_find x;

    memset(&x, 0, sizeof(x));
    if (n != NULL && !lfs->disable_xattrs && fs_node_xattrs(n, list_cb, &x) != 0) {
        free(x.list);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    if (size == 0)
        fuse_reply_xattr(req, x.list_len);
    else if (size < x.list_len)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, x.list, x.list_len);
    free(x.list);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct statvfs sv;

    (void)ino;
    memset(&sv, 0, sizeof(sv));
    sv.f_bsize = 4096;
    sv.f_frsize = 4096;
    sv.f_namemax = 255;
    fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .open = op_open,
    .read = op_read,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .statfs = op_statfs,
};

int layer_fs_init(struct layer_fs *lfs, const char *digest, const struct ztoc *z, const struct zinfo *zi,
                  struct span_cache *cache, struct error *err)
{
    memset(lfs, 0, sizeof(*lfs));
    snprintf(lfs->digest, sizeof(lfs->digest), "%s", digest);
    lfs->ztoc = z;
    lfs->zinfo = zi;
    lfs->cache = cache;
    lfs->timeout = 3600.0;
    if (fs_tree_build(&lfs->tree, z, err) != 0)
        return error_prefix(err, "layer %s", digest);
    lfs->state_dir = (uint64_t)lfs->tree.nnodes + 1;
    lfs->state_file = (uint64_t)lfs->tree.nnodes + 2;
    return 0;
}

void layer_fs_release(struct layer_fs *lfs)
{
    if (lfs->se) {
        fuse_session_destroy(lfs->se);
        lfs->se = NULL;
    }
    fs_tree_free(&lfs->tree);
}

int layer_fs_mount(struct layer_fs *lfs, const char *mountpoint, int allow_other, struct error *err)
{
    char opts[256];
    char *argv[4];
    struct fuse_args args;

    snprintf(opts, sizeof(opts), "ro,fsname=soci,subtype=soci,default_permissions,max_read=%d%s", MAX_READ,
             allow_other ? ",allow_other" : "");
    argv[0] = "soci-mount";
    argv[1] = "-o";
    argv[2] = opts;
    argv[3] = NULL;
    args.argc = 3;
    args.argv = argv;
    args.allocated = 0;
    lfs->se = fuse_session_new(&args, &ops, sizeof(ops), lfs);
    fuse_opt_free_args(&args);
    RETURN_ERROR_IF(lfs->se == NULL, err, "cannot create a FUSE session (is /dev/fuse there?)");
    if (fuse_session_mount(lfs->se, mountpoint) != 0) {
        fuse_session_destroy(lfs->se);
        lfs->se = NULL;
        return error_set(err, "cannot mount on %s (FUSE needs root and /dev/fuse)", mountpoint);
    }
    return 0;
}

int layer_fs_loop(struct layer_fs *lfs)
{
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    int rc;

    if (cfg == NULL)
        return fuse_session_loop(lfs->se);
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    fuse_loop_cfg_set_idle_threads(cfg, 16);
    fuse_loop_cfg_set_max_threads(cfg, 64);
    rc = fuse_session_loop_mt(lfs->se, cfg);
    fuse_loop_cfg_destroy(cfg);
    return rc;
}

void layer_fs_unmount(struct layer_fs *lfs)
{
    if (lfs->se)
        fuse_session_unmount(lfs->se);
}

/* Go's strconv.FormatFloat(f, 'f', -1, 64): the shortest text that reads back */
static void go_float(double f, char *out, size_t n)
{
    int prec;

    for (prec = 0; prec <= 17; prec++) {
        snprintf(out, n, "%.*f", prec, f);
        if (strtod(out, NULL) == f)
            return;
    }
}

int layer_fs_state_json(struct layer_fs *lfs, char *out, size_t n)
{
    struct span_cache_stats st;
    char last[ERROR_MSG_MAX], pct[64];
    struct gojson j;
    const char *text;
    size_t len;
    struct error err;
    int w;

    span_cache_stats(lfs->cache, &st);
    span_cache_last_error(lfs->cache, last, sizeof(last));
    go_float(st.layer_size > 0 ? 100.0 * (double)st.fetched_size / (double)st.layer_size : 0.0, pct, sizeof(pct));
    gojson_init(&j, 0);
    gojson_begin_object(&j);
    if (last[0]) {
        gojson_key(&j, "error");
        gojson_cstr(&j, last);
    }
    gojson_key(&j, "digest");
    gojson_cstr(&j, lfs->digest);
    gojson_key(&j, "size");
    gojson_int(&j, st.layer_size);
    gojson_key(&j, "fetchedSize");
    gojson_int(&j, st.fetched_size);
    gojson_key(&j, "fetchedPercent");
    gojson_raw(&j, pct, strlen(pct));
    gojson_key(&j, "spansFetched");
    gojson_int(&j, st.spans_fetched);
    gojson_key(&j, "rangeRequests");
    gojson_int(&j, st.fetch_requests);
    gojson_key(&j, "bytesFetched");
    gojson_int(&j, st.bytes_fetched);
    gojson_key(&j, "cacheHits");
    gojson_int(&j, st.mem_hits);
    gojson_key(&j, "diskCacheHits");
    gojson_int(&j, st.disk_hits);
    gojson_key(&j, "decompressedCacheHits");
    gojson_int(&j, st.dec_hits);
    gojson_key(&j, "decompressedSpans");
    gojson_int(&j, st.dec_spans);
    gojson_key(&j, "verifyFailures");
    gojson_int(&j, st.verify_failures);
    gojson_key(&j, "spans");
    gojson_int(&j, st.nspans);
    gojson_key(&j, "spansPresent");
    gojson_int(&j, st.spans_present);
    gojson_end_object(&j);
    if (gojson_result(&j, &text, &len, &err) != 0) {
        gojson_free(&j);
        return 0;
    }
    w = snprintf(out, n, "%s\n", text);
    gojson_free(&j);
    return w < (int)n ? w : (int)n - 1;
}
