/* snapshotter.c -- ordinary snapshots plus lazily mounted layers (see snapshotter.h)
 *
 * A layer-unpack Prepare of an indexed image (remote_labels.h,
 * remote_index.h) is served here: the layer is mounted on the new
 * snapshot's fs/ by a soci-mount process (remote_mount.h), or downloaded and
 * unpacked when it has no ztoc or is smaller than min_layer_size
 * (remote_unpack.h); the snapshot is committed under the target name with
 * upstream's labels plus this project's record of how to mount it again,
 * and the answer is AlreadyExists.  containerd 1.6's metadata layer then
 * finds the target by walking the backend for a committed snapshot labelled
 * containerd.io/snapshot.ref=TARGET whose parent is the backend parent it
 * asked for (docs/snapshotter.md, "Remote snapshots"), which is why the
 * commit keeps the Prepare's labels.
 *
 * The span-cache budgets of [cache] are shared by every mount of the node;
 * the grants of live mounts are counted here (mu) and recorded in their
 * labels so that a restarted daemon counts them again.
 */
#include "snapshotter.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "fileio.h"
#include "log.h"
#include "remote_index.h"
#include "remote_labels.h"
#include "remote_mount.h"
#include "remote_unpack.h"
#include "snapdir.h"
#include "registry.h"
#include "strutil.h"

#define KIND_FUSE "fuse"
#define KIND_UNPACKED "unpacked"
/* the least a mount is given, even when the node budget is spent */
#define FLOOR_MEM ((int64_t)16 << 20)
#define FLOOR_DISK ((int64_t)64 << 20)
/* what our walk callbacks return to stop a walk (not a snap_status) */
#define WALK_STOP 100
/* labels only this file writes: never taken from a request */
#define LABEL_MOUNT_PREFIX "containerd.io/snapshot/remote/soci.mount."

struct snapshotter {
    struct snapstore *store;
    struct snap_config cfg;          /* scalars only: passthrough is not kept */
    char root[4096];
    char helper[4096];
    char cache_dir[4096];            /* mounts' span caches: CACHE/<snapshot id>/ */
    struct remote_index *ri;
    pthread_mutex_t mu;              /* the two grant counters and `busy` */
    int64_t mem_granted, disk_granted;
    pthread_cond_t slot_free;        /* max_concurrency: remote Prepares at once */
    int busy;
};

/* a remote snapshot as its labels record it, copied out of a walk */
struct remote_rec {
    char *name;
    int active;                      /* an uncommitted snapshot (no labels of ours) */
    int fuse;                        /* else unpacked */
    char *source, *layer, *index;
    int64_t mem, disk;
};

struct remote_list {
    struct remote_rec *v;
    size_t n, cap;
};

/* rm -rf that never deletes through a mount */
static void remove_tree(const char *path)
{
    struct error e;

    if (snapdir_remove(path, &e) != 0)
        log_msg("warn", "%s", e.msg);
}

static int64_t label_int(const struct snap_labels *l, const char *key)
{
    const char *v = snap_labels_get(l, key);
    long long n;

    if (v == NULL)
        return 0;
    n = strtoll(v, NULL, 10);
    return n > 0 ? n : 0;
}

static const char *label_or_empty(const struct snap_labels *l, const char *key)
{
    const char *v = snap_labels_get(l, key);

    return v ? v : "";
}

static int collect_remote(const struct snap_info *info, void *arg)
{
    struct remote_list *l = arg;
    const char *kind = snap_labels_get(&info->labels, LABEL_MOUNT_KIND);
    struct remote_rec *r;

    /* active snapshots too: a daemon killed between mounting a layer and
     * committing it leaves a mount on one */
    if (info->kind != SNAP_KIND_ACTIVE && (kind == NULL || info->kind != SNAP_KIND_COMMITTED))
        return 0;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        struct remote_rec *nv = realloc(l->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return WALK_STOP;
        l->v = nv;
        l->cap = ncap;
    }
    r = &l->v[l->n++];
    memset(r, 0, sizeof(*r));
    r->name = strdup(info->name);
    r->active = info->kind == SNAP_KIND_ACTIVE;
    r->fuse = kind && !r->active && strcmp(kind, KIND_FUSE) == 0;
    r->source = strdup(label_or_empty(&info->labels, LABEL_MOUNT_SOURCE));
    r->layer = strdup(label_or_empty(&info->labels, LABEL_MOUNT_LAYER));
    r->index = strdup(label_or_empty(&info->labels, LABEL_MOUNT_INDEX));
    r->mem = label_int(&info->labels, LABEL_MOUNT_MEM);
    r->disk = label_int(&info->labels, LABEL_MOUNT_DISK);
    return (r->name && r->source && r->layer && r->index) ? 0 : WALK_STOP;
}

static void remote_list_free(struct remote_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].source);
        free(l->v[i].layer);
        free(l->v[i].index);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* every remote snapshot of the store (the walk holds the store: act after) */
static int list_remote(struct snapshotter *sn, struct remote_list *l, struct error *err)
{
    enum snap_status st;

    memset(l, 0, sizeof(*l));
    st = snapstore_walk(sn->store, NULL, 0, collect_remote, l, err);
    if (st == SNAP_OK)
        return 0;
    if ((int)st == WALK_STOP)
        error_set(err, "listing remote snapshots: out of memory");
    remote_list_free(l);
    return -1;
}

/* the snapshot's directory and its fs/ (the mount point) */
static int snapshot_paths(struct snapshotter *sn, const char *key, int64_t *id, char *fs_dir, size_t n,
                          struct error *err)
{
    char dir[4096];

    if (snapstore_id(sn->store, key, id, err) != SNAP_OK)
        return -1;
    snapstore_dir(sn->store, *id, dir, sizeof(dir));
    RETURN_ERROR_IF((size_t)snprintf(fs_dir, n, "%s/fs", dir) >= n, err, "%s: path too long", dir);
    return 0;
}

/* a share of a node-wide budget: what the layer can use, but no more than
 * half of what is left (so later mounts still get some), and no less than
 * the floor (so a mount always works) -- docs/snapshotter.md, "Span caches" */
static int64_t grant(int64_t total, int64_t *granted, int64_t want, int64_t floor)
{
    int64_t left = total - *granted, g;

    if (left < 0)
        left = 0;
    g = want < left / 2 ? want : left / 2;
    if (g < floor)
        g = floor;
    *granted += g;
    return g;
}

static void release_grant(struct snapshotter *sn, int64_t mem, int64_t disk)
{
    pthread_mutex_lock(&sn->mu);
    sn->mem_granted -= mem;
    sn->disk_granted -= disk;
    if (sn->mem_granted < 0)
        sn->mem_granted = 0;
    if (sn->disk_granted < 0)
        sn->disk_granted = 0;
    pthread_mutex_unlock(&sn->mu);
}

static void mount_paths(struct snapshotter *sn, int64_t id, char *cache, size_t cn, char *log, size_t ln)
{
    snprintf(cache, cn, "%s/%lld", sn->cache_dir, (long long)id);
    snprintf(log, ln, "%s/soci/logs/%lld.log", sn->root, (long long)id);
}

static int spawn_mount(struct snapshotter *sn, int64_t id, const char *fs_dir, const char *source, const char *layer,
                       const char *index, int64_t mem, int64_t disk, struct error *err)
{
    char cache[4200], log[4200];
    struct mount_spec s;

    /* the labels came back from the store: check them before they become
     * a command line */
    RETURN_ERROR_IF(!digest_valid(layer) || !digest_valid(index) || source[0] == '-' || !reg_ref_looks_remote(source),
                    err, "the snapshot's mount labels are not a registry image, layer and index");
    mount_paths(sn, id, cache, sizeof(cache), log, sizeof(log));
    memset(&s, 0, sizeof(s));
    s.helper = sn->helper;
    s.source = source;
    s.layer = layer;
    s.index = index;
    s.dir = fs_dir;
    s.cache_dir = cache;
    s.log_path = log;
    s.cache_mem = mem;
    s.cache_disk = disk;
    s.timeout_sec = sn->cfg.mount_timeout_sec;
    s.cfg = &sn->cfg;
    return remote_mount_spawn(&s, err);
}

/* the remote layers a previous daemon left: keep those still serving,
 * mount again those that are not (snapshotter.h) */
static int restore_mounts(struct snapshotter *sn, struct error *err)
{
    struct remote_list l;
    size_t i;
    int rc = 0;

    if (list_remote(sn, &l, err) != 0)
        return -1;
    for (i = 0; i < l.n && rc == 0; i++) {
        struct remote_rec *r = &l.v[i];
        char fs_dir[4200];
        int64_t id;
        enum mount_state st;
        struct error e;
        if (r->active) {
            /* a lazy layer whose commit never happened: containerd will
             * remove the snapshot, its mount must not outlive it */
            if (snapshot_paths(sn, r->name, &id, fs_dir, sizeof(fs_dir), &e) == 0 &&
                remote_mount_state(fs_dir) != MOUNT_ABSENT) {
                log_msg("info", "active snapshot %s: unmounting a layer mounted before a crash", r->name);
                remote_mount_unmount(fs_dir, NULL);
            }
            continue;
        }
        if (!r->fuse)
            continue;
        if (snapshot_paths(sn, r->name, &id, fs_dir, sizeof(fs_dir), &e) != 0) {
            log_msg("warn", "remote snapshot %s: %s", r->name, e.msg);
            continue;
        }
        sn->mem_granted += r->mem;
        sn->disk_granted += r->disk;
        st = remote_mount_state(fs_dir);
        if (st == MOUNT_LIVE) {
            log_msg("info", "remote snapshot %s: layer %s still mounted, re-attached", r->name, r->layer);
            continue;
        }
        if (st == MOUNT_DEAD)
            remote_mount_unmount(fs_dir, NULL);
        if (spawn_mount(sn, id, fs_dir, r->source, r->layer, r->index, r->mem ? r->mem : FLOOR_MEM,
                        r->disk ? r->disk : FLOOR_DISK, &e) == 0) {
            log_msg("info", "remote snapshot %s: layer %s mounted again", r->name, r->layer);
        } else if (sn->cfg.allow_invalid_mounts_on_restart) {
            log_msg("warn", "remote snapshot %s: cannot mount layer %s again: %s", r->name, r->layer, e.msg);
        } else {
            rc = error_set(err, "remote snapshot %s: cannot mount layer %s again (allow_invalid_mounts_on_restart "
                                "is false): %s", r->name, r->layer, e.msg);
        }
    }
    remote_list_free(&l);
    return rc;
}

int snapshotter_open(const struct snap_config *cfg, const char *root, const char *mount_helper,
                     struct snapshotter **out, struct error *err)
{
    struct snapshotter *sn;
    char dir[4200];

    *out = NULL;
    sn = calloc(1, sizeof(*sn));
    RETURN_ERROR_IF(sn == NULL, err, "snapshotter: out of memory");
    sn->cfg = *cfg;
    sn->cfg.passthrough = NULL;
    pthread_mutex_init(&sn->mu, NULL);
    pthread_cond_init(&sn->slot_free, NULL);
    if (str_copy(sn->root, sizeof(sn->root), root) != 0 || str_copy(sn->helper, sizeof(sn->helper), mount_helper) != 0) {
        error_set(err, "snapshotter: root or mount helper path too long");
        goto fail;
    }
    if (cfg->cache_dir[0])
        str_copy(sn->cache_dir, sizeof(sn->cache_dir), cfg->cache_dir);
    else
        snprintf(sn->cache_dir, sizeof(sn->cache_dir), "%s/soci/spancache", root);
    snprintf(dir, sizeof(dir), "%s/soci/logs", root);
    if (mkdir_p(sn->cache_dir, 0700, err) != 0 || mkdir_p(dir, 0700, err) != 0)
        goto fail;
    if (snapstore_open(root, &sn->store, err) != 0)
        goto fail;
    if ((sn->ri = remote_index_new(cfg, err)) == NULL || restore_mounts(sn, err) != 0)
        goto fail;
    *out = sn;
    return 0;
fail:
    if (sn->store)
        snapstore_close(sn->store);
    remote_index_free(sn->ri);
    pthread_cond_destroy(&sn->slot_free);
    pthread_mutex_destroy(&sn->mu);
    free(sn);
    return -1;
}

void snapshotter_close(struct snapshotter *sn, int unmount_all)
{
    if (sn == NULL)
        return;
    if (unmount_all) {
        struct remote_list l;
        struct error err;
        size_t i;
        if (list_remote(sn, &l, &err) == 0) {
            for (i = 0; i < l.n; i++) {
                char fs_dir[4200];
                int64_t id;
                if ((l.v[i].fuse || l.v[i].active) && snapshot_paths(sn, l.v[i].name, &id, fs_dir, sizeof(fs_dir), &err) == 0 &&
                    remote_mount_unmount(fs_dir, &err) != 0)
                    log_msg("warn", "%s", err.msg);
            }
            remote_list_free(&l);
        } else {
            log_msg("warn", "cannot list remote snapshots to unmount them: %s", err.msg);
        }
    }
    snapstore_close(sn->store);
    remote_index_free(sn->ri);
    pthread_cond_destroy(&sn->slot_free);
    pthread_mutex_destroy(&sn->mu);
    free(sn);
}

struct snapstore *snapshotter_store(struct snapshotter *sn)
{
    return sn->store;
}

static enum snap_status already_exists(struct snap_mount *mount, const char *target, struct error *err)
{
    snap_mount_free(mount);
    memset(mount, 0, sizeof(*mount));
    error_set(err, "target snapshot \"%s\": already exists", target);
    return SNAP_ERR_ALREADY_EXISTS;
}

/* is target committed already with this parent (another namespace pulled
 * the image)?  Then containerd's walk will find it as it is. */
static int target_present(struct snapshotter *sn, const char *target, const char *parent)
{
    struct snap_info info;
    struct error err;
    int yes;

    if (snapstore_stat(sn->store, target, &info, &err) != SNAP_OK)
        return 0;
    yes = info.kind == SNAP_KIND_COMMITTED && strcmp(label_or_empty(&info.labels, LABEL_SNAPSHOT_REF), target) == 0 &&
          strcmp(info.parent ? info.parent : "", parent ? parent : "") == 0;
    snap_info_free(&info);
    return yes ? 1 : -1;
}

/* the layer on fs_dir, lazily; the grant goes to the labels */
static int mount_layer(struct snapshotter *sn, const struct snap_created *c, const struct layer_plan *p,
                       struct snap_labels *labels, struct error *err)
{
    int64_t mem, disk, size = p->layer_size > 0 ? p->layer_size : 0;
    char buf[32];

    if (size > ((int64_t)1 << 50)) /* from the manifest: keep size * 5 in range */
        size = (int64_t)1 << 50;

    /* a layer inflates to about 2-4 times its size: memory for all of it
     * decompressed, disk for it compressed and decompressed, is all it
     * can use */
    pthread_mutex_lock(&sn->mu);
    mem = grant(sn->cfg.cache_memory_bytes, &sn->mem_granted, size * 4, FLOOR_MEM);
    disk = grant(sn->cfg.cache_disk_bytes, &sn->disk_granted, size * 5, FLOOR_DISK);
    pthread_mutex_unlock(&sn->mu);
    if (spawn_mount(sn, c->id, c->fs_dir, p->source, p->layer_digest, p->index_digest, mem, disk, err) != 0) {
        release_grant(sn, mem, disk);
        return -1;
    }
    snprintf(buf, sizeof(buf), "%lld", (long long)mem);
    if (snap_labels_set(labels, LABEL_MOUNT_MEM, buf) != 0)
        goto nomem;
    snprintf(buf, sizeof(buf), "%lld", (long long)disk);
    if (snap_labels_set(labels, LABEL_MOUNT_DISK, buf) != 0 || snap_labels_set(labels, LABEL_MOUNT_KIND, KIND_FUSE) != 0)
        goto nomem;
    return 0;
nomem:
    remote_mount_unmount(c->fs_dir, NULL);
    release_grant(sn, mem, disk);
    return error_set(err, "out of memory");
}

static int unpack_layer(struct snapshotter *sn, const struct snap_created *c, const struct layer_plan *p,
                        struct snap_labels *labels, struct error *err)
{
    struct reg_client *client = remote_index_client(sn->ri, p->host, err);
    char tmp[4200];

    if (client == NULL)
        return -1;
    snprintf(tmp, sizeof(tmp), "%s/soci/tmp", sn->root);
    if (remote_unpack(client, p->repo, p->layer_digest, p->layer_size, p->diff_id, tmp, c->fs_dir, err) != 0)
        return -1;
    if (snap_labels_set(labels, LABEL_MOUNT_KIND, KIND_UNPACKED) != 0)
        return error_set(err, "out of memory");
    return 0;
}

/* the Prepare's labels plus upstream's remote labels and ours */
static int commit_labels(const struct snap_labels *in, const char *ns, const struct layer_plan *p,
                         struct snap_labels *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    for (i = 0; in && i < in->n; i++)
        if (snap_labels_set(out, in->v[i].key, in->v[i].value) != 0)
            return -1;
    if (snap_labels_set(out, LABEL_REMOTE, "remote snapshot") != 0 ||
        snap_labels_set(out, LABEL_HAS_INDEX, "true") != 0 ||
        (ns && ns[0] && snap_labels_set(out, LABEL_NAMESPACE, ns) != 0) ||
        snap_labels_set(out, LABEL_MOUNT_SOURCE, p->source) != 0 ||
        snap_labels_set(out, LABEL_MOUNT_LAYER, p->layer_digest) != 0 ||
        snap_labels_set(out, LABEL_MOUNT_INDEX, p->index_digest) != 0)
        return -1;
    return 0;
}

/* undo a lazy layer that will not be committed: its mount and its grant
 * (fuse), its files (with the snapshot) */
static void discard(struct snapshotter *sn, const char *key, const struct snap_created *c, int fuse, int64_t mem,
                    int64_t disk)
{
    struct error e;

    if (fuse) {
        char cache[4200], log[4200];
        remote_mount_unmount(c->fs_dir, NULL);
        release_grant(sn, mem, disk);
        mount_paths(sn, c->id, cache, sizeof(cache), log, sizeof(log));
        remove_tree(cache);
    }
    if (snapstore_remove(sn->store, key, &e) != SNAP_OK)
        log_msg("warn", "removing %s: %s", key, e.msg);
}

/* the remote half of a Prepare whose active snapshot exists: SNAP_OK with
 * the plain mounts (containerd unpacks), ALREADY_EXISTS, or an error */
static enum snap_status prepare_remote(struct snapshotter *sn, const char *ns, const char *key,
                                       const struct layer_req *req, const struct snap_labels *labels,
                                       const struct snap_created *c, struct snap_mount *mount, struct error *err)
{
    struct layer_plan p;
    struct snap_labels cl;
    struct error e;
    enum plan_result r;
    enum snap_status st;
    int lazy, rc;

    r = remote_index_plan(sn->ri, req, &p, &e);
    if (r == PLAN_NO_INDEX) {
        log_msg("info", "layer %s of %s: %s: deferring to containerd", req->layer_digest, req->image_ref, e.msg);
        return SNAP_OK;
    }
    if (r == PLAN_FAILED) {
        log_msg("warn", "layer %s of %s: %s: deferring to containerd", req->layer_digest, req->image_ref, e.msg);
        return SNAP_OK;
    }
    if (r == PLAN_REFUSED) {
        discard(sn, key, c, 0, 0, 0);
        snap_mount_free(mount);
        memset(mount, 0, sizeof(*mount));
        error_set(err, "layer %s of %s: %s", req->layer_digest, req->image_ref, e.msg);
        return SNAP_ERR_NOT_FOUND;
    }
    if (commit_labels(labels, ns, &p, &cl) != 0) {
        snap_labels_free(&cl);
        log_msg("warn", "layer %s: out of memory: deferring to containerd", req->layer_digest);
        return SNAP_OK;
    }
    lazy = p.has_ztoc && p.layer_size >= sn->cfg.min_layer_size;
    rc = lazy ? mount_layer(sn, c, &p, &cl, &e) : unpack_layer(sn, c, &p, &cl, &e);
    if (rc != 0) {
        log_msg("warn", "layer %s of %s: %s: deferring to containerd", req->layer_digest, req->image_ref, e.msg);
        snap_labels_free(&cl);
        return SNAP_OK;
    }
    /* a du of a FUSE layer would walk it file by file: not measured */
    st = lazy ? snapstore_commit_remote(sn->store, req->target, key, &cl, &e)
              : snapstore_commit(sn->store, req->target, key, &cl, &e);
    if (st != SNAP_OK) {
        discard(sn, key, c, lazy, label_int(&cl, LABEL_MOUNT_MEM), label_int(&cl, LABEL_MOUNT_DISK));
        snap_labels_free(&cl);
        if (st == SNAP_ERR_ALREADY_EXISTS) /* a Prepare of the same layer beat us to it */
            return already_exists(mount, req->target, err);
        snap_mount_free(mount);
        memset(mount, 0, sizeof(*mount));
        error_set(err, "committing %s: %s", req->target, e.msg);
        return st;
    }
    log_msg("info", "layer %s of %s: %s as %s", p.layer_digest, req->image_ref, lazy ? "mounted lazily" : "unpacked",
            req->target);
    snap_labels_free(&cl);
    return already_exists(mount, req->target, err);
}

static int has_private_labels(const struct snap_labels *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        if (strncmp(l->v[i].key, LABEL_MOUNT_PREFIX, strlen(LABEL_MOUNT_PREFIX)) == 0)
            return 1;
    return 0;
}

/* a request's labels less the ones that tell this daemon how to mount a
 * snapshot (only a lazy commit may write those) */
static int without_private_labels(const struct snap_labels *in, struct snap_labels *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < in->n; i++)
        if (strncmp(in->v[i].key, LABEL_MOUNT_PREFIX, strlen(LABEL_MOUNT_PREFIX)) != 0 &&
            snap_labels_set(out, in->v[i].key, in->v[i].value) != 0)
            return -1;
    return 0;
}

enum snap_status snapshotter_prepare(struct snapshotter *sn, const char *ns, enum snap_kind kind, const char *key,
                                     const char *parent, const struct snap_labels *labels,
                                     struct snap_mount *mount, struct error *err)
{
    struct layer_req req;
    struct snap_created c;
    struct error e;
    enum snap_status st;

    memset(&req, 0, sizeof(req));
    if (labels && has_private_labels(labels)) {
        struct snap_labels clean;
        if (without_private_labels(labels, &clean) != 0) {
            snap_labels_free(&clean);
            error_set(err, "prepare %s: out of memory", key);
            return SNAP_ERR_INTERNAL;
        }
        st = snapshotter_prepare(sn, ns, kind, key, parent, &clean, mount, err);
        snap_labels_free(&clean);
        return st;
    }
    if (kind == SNAP_KIND_ACTIVE && labels && layer_req_parse(labels, &req, &e) != 0)
        log_msg("warn", "prepare %s: %s: not a lazy layer", key, e.msg);
    if (req.dialect == LAYER_REQ_NONE)
        return snapstore_prepare(sn->store, kind, key, parent, labels, mount, NULL, err);
    switch (target_present(sn, req.target, parent)) {
    case 1:
        memset(mount, 0, sizeof(*mount));
        return already_exists(mount, req.target, err);
    case -1: /* the chain ID is taken with another parent: containerd's own unpack */
        return snapstore_prepare(sn->store, kind, key, parent, labels, mount, NULL, err);
    default:
        break;
    }
    st = snapstore_prepare(sn->store, kind, key, parent, labels, mount, &c, err);
    if (st != SNAP_OK)
        return st;
    /* max_concurrency (< 0: unlimited) bounds the layers being resolved,
     * mounted or unpacked at once; the rest wait their turn */
    pthread_mutex_lock(&sn->mu);
    while (sn->cfg.max_concurrency > 0 && sn->busy >= sn->cfg.max_concurrency)
        pthread_cond_wait(&sn->slot_free, &sn->mu);
    sn->busy++;
    pthread_mutex_unlock(&sn->mu);
    st = prepare_remote(sn, ns, key, &req, labels, &c, mount, err);
    pthread_mutex_lock(&sn->mu);
    sn->busy--;
    pthread_cond_signal(&sn->slot_free);
    pthread_mutex_unlock(&sn->mu);
    return st;
}

static int has_child(const struct snap_info *info, void *arg)
{
    return strcmp(info->parent ? info->parent : "", (const char *)arg) == 0 ? WALK_STOP : 0;
}

enum snap_status snapshotter_remove(struct snapshotter *sn, const char *key, struct error *err)
{
    struct snap_info info;
    char fs_dir[4200], cache[4200], log[4200];
    int64_t id, mem, disk;
    const char *kind;
    enum snap_status st;
    int fuse, child;

    st = snapstore_stat(sn->store, key, &info, err);
    if (st != SNAP_OK)
        return st;
    kind = snap_labels_get(&info.labels, LABEL_MOUNT_KIND);
    fuse = kind && strcmp(kind, KIND_FUSE) == 0;
    mem = label_int(&info.labels, LABEL_MOUNT_MEM);
    disk = label_int(&info.labels, LABEL_MOUNT_DISK);
    if (!fuse) {
        snap_info_free(&info);
        /* an active snapshot may still carry a mount from a Prepare cut
         * short; unmount it rather than remove files under it */
        if (snapshot_paths(sn, key, &id, fs_dir, sizeof(fs_dir), err) == 0 &&
            remote_mount_state(fs_dir) != MOUNT_ABSENT && remote_mount_unmount(fs_dir, err) != 0)
            return SNAP_ERR_INTERNAL;
        return snapstore_remove(sn->store, key, err);
    }
    /* a layer with children stays mounted: snapstore refuses its removal */
    child = (int)snapstore_walk(sn->store, NULL, 0, has_child, (void *)key, err);
    if (child != SNAP_OK) {
        snap_info_free(&info);
        if (child == WALK_STOP)
            return snapstore_remove(sn->store, key, err); /* its own precondition error */
        return (enum snap_status)child;
    }
    if (snapshot_paths(sn, key, &id, fs_dir, sizeof(fs_dir), err) != 0) {
        snap_info_free(&info);
        return SNAP_ERR_INTERNAL;
    }
    if (remote_mount_unmount(fs_dir, err) != 0) {
        snap_info_free(&info);
        return SNAP_ERR_INTERNAL;
    }
    st = snapstore_remove(sn->store, key, err);
    if (st != SNAP_OK) {
        struct error e;
        /* still there: serve it again */
        if (spawn_mount(sn, id, fs_dir, label_or_empty(&info.labels, LABEL_MOUNT_SOURCE),
                        label_or_empty(&info.labels, LABEL_MOUNT_LAYER), label_or_empty(&info.labels, LABEL_MOUNT_INDEX),
                        mem, disk, &e) != 0)
            log_msg("warn", "snapshot %s: could not mount it again: %s", key, e.msg);
        snap_info_free(&info);
        return st;
    }
    snap_info_free(&info);
    release_grant(sn, mem, disk);
    mount_paths(sn, id, cache, sizeof(cache), log, sizeof(log));
    remove_tree(cache);
    unlink(log);
    return SNAP_OK;
}

/* span caches and mount logs of snapshots that are gone (a removal cut
 * short by a crash): named by snapshot id, removed when that id's
 * directory no longer exists */
static void remove_orphans(struct snapshotter *sn, const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char snap[4096], path[4400], *end;
        struct stat st;
        long long id = strtoll(de->d_name, &end, 10);
        if (end == de->d_name || id <= 0 || strcmp(end, suffix) != 0)
            continue;
        snapstore_dir(sn->store, (int64_t)id, snap, sizeof(snap));
        if (stat(snap, &st) == 0 || errno != ENOENT)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        remove_tree(path);
    }
    closedir(d);
}

enum snap_status snapshotter_cleanup(struct snapshotter *sn, struct error *err)
{
    char logs[4200];
    int removed = 0;
    enum snap_status st = snapstore_cleanup(sn->store, &removed, err);

    if (st != SNAP_OK)
        return st;
    snprintf(logs, sizeof(logs), "%s/soci/logs", sn->root);
    remove_orphans(sn, sn->cache_dir, "");
    remove_orphans(sn, logs, ".log");
    return SNAP_OK;
}

int snapshotter_status(struct snapshotter *sn, snapshotter_status_fn emit, void *arg, struct error *err)
{
    struct remote_list l;
    size_t i;

    if (list_remote(sn, &l, err) != 0)
        return -1;
    for (i = 0; i < l.n; i++) {
        struct remote_rec *r = &l.v[i];
        struct remote_layer_status st = {.key = r->name, .layer = r->layer, .state = "unpacked"};
        char fs_dir[4200];
        struct error perr;
        int64_t id;
        if (r->active)
            continue;
        if (r->fuse) {
            st.state = "lost";
            if (snapshot_paths(sn, r->name, &id, fs_dir, sizeof(fs_dir), &perr) == 0 &&
                remote_mount_state(fs_dir) == MOUNT_LIVE) {
                st.state = "mounted";
                remote_mount_progress(fs_dir, r->layer, &st.fetched_pct, &st.bytes_fetched);
            }
        } else {
            st.fetched_pct = 100;
        }
        emit(arg, &st);
    }
    remote_list_free(&l);
    return 0;
}
