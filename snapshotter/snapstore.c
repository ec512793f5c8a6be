/* snapstore.c -- snapshots as containerd's overlayfs snapshotter keeps them
 *
 * Metadata: SQLite in WAL mode with synchronous=FULL, one connection used
 * under the store's mutex, every call one transaction (run_tx).  Schema
 * version 1 (PRAGMA user_version):
 *
 *   snapshots(id INTEGER PRIMARY KEY AUTOINCREMENT, name UNIQUE, parent -> id,
 *             kind 1..3, created_ns, updated_ns, size, inodes)
 *   labels(snapshot -> id, key, value)    empty values are never stored
 *
 * AUTOINCREMENT keeps the id of a removed snapshot from being handed out
 * again, so a directory that outlived its row can never be taken for a new
 * snapshot's.  A snapshot keeps its id (and so its directory) when committed,
 * and children point at the parent's id, as in containerd's bolt store.
 *
 * Crash safety: Prepare builds the directory under a temporary name
 * (snapshots/new-XXXXXX), fsyncs it, renames it to snapshots/<id> and fsyncs
 * snapshots/ before the row commits; Remove deletes the directory after the
 * row is gone.  A crash in between leaves only a directory no row names,
 * which snapstore_open and snapstore_cleanup delete.
 */
#include "snapstore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "fileio.h"
#include "snapdir.h"
#include "snapfilter.h"

#define SCHEMA_VERSION 1
/* deeper parent chains mean a corrupt (cyclic) store: overlayfs itself
 * stacks at most 500 lower layers */
#define CHAIN_MAX 4096

struct snapstore {
    pthread_mutex_t mu; /* serialises every use of db */
    sqlite3 *db;
    int lock_fd;        /* flock'd: one process per root */
    int index_off;      /* the kernel knows overlay's index= option */
    char dir[PATH_MAX];   /* ROOT/snapshotter */
    char snaps[PATH_MAX]; /* ROOT/snapshotter/snapshots */
};

static const char schema_sql[] =
    "CREATE TABLE snapshots ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " parent INTEGER REFERENCES snapshots(id),"
    " kind INTEGER NOT NULL CHECK (kind IN (1, 2, 3)),"
    " created_ns INTEGER NOT NULL,"
    " updated_ns INTEGER NOT NULL,"
    " size INTEGER NOT NULL DEFAULT 0,"
    " inodes INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX snapshots_parent ON snapshots(parent);"
    "CREATE TABLE labels ("
    " snapshot INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL,"
    " PRIMARY KEY (snapshot, key)) WITHOUT ROWID;"
    "PRAGMA user_version = 1;";

/* ---- errors and small helpers ---- */

static enum snap_status fail(struct error *err, enum snap_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum snap_status fail(struct error *err, enum snap_status st, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL) {
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return st;
}

static enum snap_status db_fail(struct snapstore *s, struct error *err, const char *what)
{
    return fail(err, SNAP_ERR_INTERNAL, "metadata.db: %s: %s", what, sqlite3_errmsg(s->db));
}

/* snprintf for paths; the root's length is bounded at open, so the
 * buffers below (PATH_MAX and more) always hold what they are given; a
 * truncation is still reported, as -1 */
static int pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static enum snap_status check_key(const char *what, const char *key, struct error *err)
{
    if (key == NULL || key[0] == '\0')
        return fail(err, SNAP_ERR_INVALID_ARGUMENT, "%s: empty", what);
    if (strnlen(key, SNAP_KEY_MAX + 1) > SNAP_KEY_MAX)
        return fail(err, SNAP_ERR_INVALID_ARGUMENT, "%s \"%.40s...\": longer than %d bytes", what, key,
                    SNAP_KEY_MAX);
    return SNAP_OK;
}

/* containerd's labels.Validate, plus what its bolt store refuses (empty keys) */
static enum snap_status check_labels(const struct snap_labels *l, struct error *err)
{
    if (l == NULL)
        return SNAP_OK;
    if (l->n > SNAP_LABELS_MAX)
        return fail(err, SNAP_ERR_INVALID_ARGUMENT, "%zu labels: at most %d", l->n, SNAP_LABELS_MAX);
    for (size_t i = 0; i < l->n; i++) {
        const char *k = l->v[i].key, *v = l->v[i].value ? l->v[i].value : "";
        if (k == NULL || k[0] == '\0')
            return fail(err, SNAP_ERR_INVALID_ARGUMENT, "label %zu: empty key", i);
        if (strnlen(k, SNAP_LABEL_MAX + 1) + strnlen(v, SNAP_LABEL_MAX + 1) > SNAP_LABEL_MAX)
            return fail(err, SNAP_ERR_INVALID_ARGUMENT,
                        "label key and value greater than maximum size (%d bytes), key: %.10s", SNAP_LABEL_MAX, k);
    }
    return SNAP_OK;
}

/* ---- labels in memory ---- */

const char *snap_labels_get(const struct snap_labels *l, const char *key)
{
    if (l == NULL || key == NULL)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].key != NULL && strcmp(l->v[i].key, key) == 0)
            return l->v[i].value ? l->v[i].value : "";
    return NULL;
}

int snap_labels_set(struct snap_labels *l, const char *key, const char *value)
{
    char *v = strdup(value ? value : ""), *k;
    struct snap_label *grown;

    if (v == NULL)
        return -1;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].key, key) == 0) {
            free(l->v[i].value);
            l->v[i].value = v;
            return 0;
        }
    if ((k = strdup(key)) == NULL || (grown = realloc(l->v, (l->n + 1) * sizeof(*grown))) == NULL) {
        free(k);
        free(v);
        return -1;
    }
    l->v = grown;
    l->v[l->n].key = k;
    l->v[l->n].value = v;
    l->n++;
    return 0;
}

static void labels_del(struct snap_labels *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].key, key) == 0) {
            free(l->v[i].key);
            free(l->v[i].value);
            l->v[i] = l->v[--l->n];
            return;
        }
}

/* set, or delete when the value is empty (a label with an empty value is
 * not stored, as in containerd) */
static int labels_assign(struct snap_labels *l, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        labels_del(l, key);
        return 0;
    }
    return snap_labels_set(l, key, value);
}

void snap_labels_free(struct snap_labels *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].value);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void snap_info_free(struct snap_info *info)
{
    if (info == NULL)
        return;
    free(info->name);
    free(info->parent);
    snap_labels_free(&info->labels);
    memset(info, 0, sizeof(*info));
}

void snap_mount_free(struct snap_mount *m)
{
    if (m == NULL)
        return;
    free(m->source);
    for (size_t i = 0; i < m->noptions; i++)
        free(m->options[i]);
    free(m->options);
    memset(m, 0, sizeof(*m));
}

/* ---- SQL plumbing ---- */

/* prepare sql and bind arguments by fmt: 't' text, 'i' int64 */
static sqlite3_stmt *vquery(struct snapstore *s, struct error *err, const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_OK;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "prepare");
        return NULL;
    }
    for (int i = 0; fmt[i] != '\0' && rc == SQLITE_OK; i++) {
        if (fmt[i] == 't')
            rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
        else
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
    }
    if (rc != SQLITE_OK) {
        db_fail(s, err, "bind");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static sqlite3_stmt *query(struct snapstore *s, struct error *err, const char *sql, const char *fmt, ...)
{
    va_list ap;
    sqlite3_stmt *st;

    va_start(ap, fmt);
    st = vquery(s, err, sql, fmt, ap);
    va_end(ap);
    return st;
}

/* run a statement that returns no rows */
static enum snap_status exec_sql(struct snapstore *s, struct error *err, const char *sql, const char *fmt, ...)
{
    va_list ap;
    sqlite3_stmt *st;
    enum snap_status rc = SNAP_ERR_INTERNAL;

    va_start(ap, fmt);
    st = vquery(s, err, sql, fmt, ap);
    va_end(ap);
    if (st == NULL)
        return rc;
    if (sqlite3_step(st) == SQLITE_DONE)
        rc = SNAP_OK;
    else
        db_fail(s, err, "write");
    sqlite3_finalize(st);
    return rc;
}

/* ---- rows ---- */

struct row {
    int64_t id, parent, size, inodes; /* parent 0: none */
    struct snap_info info;            /* name, parent name, kind, times; labels on demand */
};

#define ROW_SELECT                                                                                    \
    "SELECT s.id, IFNULL(s.parent, 0), s.kind, s.created_ns, s.updated_ns, s.size, s.inodes, s.name," \
    " IFNULL(p.name, '') FROM snapshots s LEFT JOIN snapshots p ON p.id = s.parent"

static enum snap_status row_read(struct snapstore *s, sqlite3_stmt *st, struct row *r, struct error *err)
{
    const char *name = (const char *)sqlite3_column_text(st, 7);
    const char *parent = (const char *)sqlite3_column_text(st, 8);
    int64_t kind = sqlite3_column_int64(st, 2);

    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    r->parent = sqlite3_column_int64(st, 1);
    if (r->id <= 0 || r->parent < 0 || kind < SNAP_KIND_VIEW || kind > SNAP_KIND_COMMITTED || name == NULL)
        return fail(err, SNAP_ERR_INTERNAL, "metadata.db: corrupt snapshot row %" PRId64, r->id);
    r->info.kind = (enum snap_kind)kind;
    r->info.created_ns = sqlite3_column_int64(st, 3);
    r->info.updated_ns = sqlite3_column_int64(st, 4);
    r->size = sqlite3_column_int64(st, 5);
    r->inodes = sqlite3_column_int64(st, 6);
    r->info.name = strdup(name);
    r->info.parent = strdup(parent ? parent : "");
    if (r->info.name == NULL || r->info.parent == NULL) {
        snap_info_free(&r->info);
        return fail(err, SNAP_ERR_INTERNAL, "out of memory");
    }
    (void)s;
    return SNAP_OK;
}

/* free the strings of a row, keeping its ids and kind */
static void row_release(struct row *r)
{
    free(r->info.name);
    free(r->info.parent);
    snap_labels_free(&r->info.labels);
    r->info.name = r->info.parent = NULL;
}

/* the row named key; NOT_FOUND says so in err */
static enum snap_status row_get(struct snapstore *s, const char *key, struct row *r, struct error *err)
{
    sqlite3_stmt *st = query(s, err, ROW_SELECT " WHERE s.name = ?", "t", key);
    enum snap_status rc;
    int step;

    if (st == NULL)
        return SNAP_ERR_INTERNAL;
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = row_read(s, st, r, err);
    else if (step == SQLITE_DONE)
        rc = fail(err, SNAP_ERR_NOT_FOUND, "snapshot \"%s\": not found", key);
    else
        rc = db_fail(s, err, "read");
    sqlite3_finalize(st);
    return rc;
}

static enum snap_status row_labels(struct snapstore *s, struct row *r, struct error *err)
{
    sqlite3_stmt *st = query(s, err, "SELECT key, value FROM labels WHERE snapshot = ? ORDER BY key", "i", r->id);
    int step;

    if (st == NULL)
        return SNAP_ERR_INTERNAL;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0), *v = (const char *)sqlite3_column_text(st, 1);
        if (k == NULL || r->info.labels.n >= SNAP_LABELS_MAX ||
            snap_labels_set(&r->info.labels, k, v ? v : "") != 0) {
            sqlite3_finalize(st);
            return fail(err, SNAP_ERR_INTERNAL, "metadata.db: labels of snapshot %" PRId64 ": corrupt or out of memory",
                        r->id);
        }
    }
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? SNAP_OK : db_fail(s, err, "read labels");
}

/* replace a snapshot's labels; in request order, so a repeated key keeps
 * its last value, and an empty value removes the key */
static enum snap_status labels_write(struct snapstore *s, int64_t id, const struct snap_labels *l, struct error *err)
{
    enum snap_status rc = exec_sql(s, err, "DELETE FROM labels WHERE snapshot = ?", "i", id);

    for (size_t i = 0; l != NULL && rc == SNAP_OK && i < l->n; i++) {
        const char *v = l->v[i].value ? l->v[i].value : "";
        if (v[0] == '\0')
            rc = exec_sql(s, err, "DELETE FROM labels WHERE snapshot = ? AND key = ?", "it", id, l->v[i].key);
        else
            rc = exec_sql(s, err, "INSERT OR REPLACE INTO labels (snapshot, key, value) VALUES (?, ?, ?)", "itt", id,
                      l->v[i].key, v);
    }
    return rc;
}

/* ids of parent and its ancestors, nearest first */
static enum snap_status chain_load(struct snapstore *s, int64_t parent, int64_t **ids, size_t *n,
                                   struct error *err)
{
    *ids = NULL;
    *n = 0;
    while (parent != 0) {
        sqlite3_stmt *st;
        int64_t *grown;
        int step;

        if (*n >= CHAIN_MAX)
            return fail(err, SNAP_ERR_INTERNAL, "metadata.db: parent chain longer than %d (corrupt)", CHAIN_MAX);
        if ((grown = realloc(*ids, (*n + 1) * sizeof(*grown))) == NULL)
            return fail(err, SNAP_ERR_INTERNAL, "out of memory");
        *ids = grown;
        (*ids)[(*n)++] = parent;
        if ((st = query(s, err, "SELECT IFNULL(parent, 0) FROM snapshots WHERE id = ?", "i", parent)) == NULL)
            return SNAP_ERR_INTERNAL;
        step = sqlite3_step(st);
        parent = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        if (parent < 0)
            return step == SQLITE_DONE ? fail(err, SNAP_ERR_INTERNAL, "metadata.db: missing parent snapshot")
                                       : db_fail(s, err, "read parent");
    }
    return SNAP_OK;
}

/* ---- transactions ---- */

typedef enum snap_status (*tx_fn)(struct snapstore *s, void *arg, struct error *err);

/* fn inside one transaction under the mutex; undo (may be NULL) runs, still
 * under the mutex, when fn succeeded but the commit did not */
static enum snap_status run_tx(struct snapstore *s, int write, tx_fn fn, tx_fn undo, void *arg, struct error *err)
{
    enum snap_status rc;

    pthread_mutex_lock(&s->mu);
    rc = exec_sql(s, err, write ? "BEGIN IMMEDIATE" : "BEGIN", "");
    if (rc == SNAP_OK) {
        rc = fn(s, arg, err);
        if (rc == SNAP_OK) {
            rc = exec_sql(s, err, "COMMIT", "");
            if (rc != SNAP_OK && undo != NULL)
                undo(s, arg, NULL);
        }
        if (rc != SNAP_OK)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- mounts (containerd's overlay snapshotter mounts()) ---- */

void snapstore_dir(const struct snapstore *s, int64_t id, char *buf, size_t len)
{
    /* the root's length was bounded at open: this does not truncate */
    if (pathf(buf, len, "%s/%" PRId64, s->snaps, id) != 0 && len > 0)
        buf[0] = '\0';
}

/* append one option, printf-style */
static int add_option(struct snap_mount *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_option(struct snap_mount *m, const char *fmt, ...)
{
    char **grown = realloc(m->options, (m->noptions + 1) * sizeof(*grown));
    va_list ap;
    int rc;

    if (grown == NULL)
        return -1;
    m->options = grown;
    va_start(ap, fmt);
    rc = vasprintf(&m->options[m->noptions], fmt, ap);
    va_end(ap);
    if (rc < 0)
        return -1;
    m->noptions++;
    return 0;
}

/* "lowerdir=" and the parents' fs/ joined by ':', nearest first */
static int add_lowerdir(const struct snapstore *s, struct snap_mount *m, const int64_t *chain, size_t n)
{
    size_t cap = 16 + n * (strlen(s->snaps) + 32), len;
    char *opt = malloc(cap);
    int rc;

    if (opt == NULL)
        return -1;
    len = (size_t)snprintf(opt, cap, "lowerdir=");
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(opt + len, cap - len, "%s%s/%" PRId64 "/fs", i ? ":" : "", s->snaps, chain[i]);
    rc = add_option(m, "%s", opt);
    free(opt);
    return rc;
}

/* the mounts containerd's overlay snapshotter answers for snapshot id of
 * kind with parents chain[0..n) (nearest first) */
static enum snap_status mounts_build(const struct snapstore *s, int64_t id, enum snap_kind kind,
                                     const int64_t *chain, size_t n, struct snap_mount *m, struct error *err)
{
    int rc;

    memset(m, 0, sizeof(*m));
    if (n == 0 || (kind == SNAP_KIND_VIEW && n == 1)) {
        /* a single layer is a bind mount (overlay needs two): the snapshot's
         * own fs/, or for a view of one parent the parent's, read-only */
        strcpy(m->type, "bind");
        rc = asprintf(&m->source, "%s/%" PRId64 "/fs", s->snaps, n == 0 ? id : chain[0]) < 0 ? -1 : 0;
        if (rc == 0)
            rc = add_option(m, "%s", n == 0 && kind == SNAP_KIND_ACTIVE ? "rw" : "ro");
        if (rc == 0)
            rc = add_option(m, "rbind");
    } else {
        strcpy(m->type, "overlay");
        rc = (m->source = strdup("overlay")) == NULL ? -1 : 0;
        if (rc == 0 && s->index_off)
            rc = add_option(m, "index=off");
        if (rc == 0 && kind == SNAP_KIND_ACTIVE)
            rc = add_option(m, "workdir=%s/%" PRId64 "/work", s->snaps, id);
        if (rc == 0 && kind == SNAP_KIND_ACTIVE)
            rc = add_option(m, "upperdir=%s/%" PRId64 "/fs", s->snaps, id);
        if (rc == 0)
            rc = add_lowerdir(s, m, chain, n);
    }
    if (rc != 0) {
        snap_mount_free(m);
        return fail(err, SNAP_ERR_INTERNAL, "out of memory");
    }
    return SNAP_OK;
}

/* ---- directories ---- */

/* rename tmp to final; a directory already named final was left by a crash
 * before its row committed (the id is new, so no row names it) and goes */
static int rename_over_stale(const char *tmp, const char *final, struct error *err)
{
    if (rename(tmp, final) == 0)
        return 0;
    if (errno != EEXIST && errno != ENOTEMPTY)
        return error_set(err, "rename %s: %s", final, strerror(errno));
    FORWARD_IF_ERROR(snapdir_remove(final, err), err, "stale %s", final);
    if (rename(tmp, final) != 0)
        return error_set(err, "rename %s: %s", final, strerror(errno));
    return 0;
}

/* fs/ (and work/ for an active snapshot) in tmp; fs/ takes the owner of the
 * nearest parent's fs/, so a container's root keeps the image's owner */
static int dir_fill(struct snapstore *s, const char *tmp, enum snap_kind kind, int64_t parent, struct error *err)
{
    char sub[PATH_MAX + 16], pfs[PATH_MAX + 32];
    struct stat pst;

    pathf(sub, sizeof(sub), "%s/fs", tmp);
    RETURN_ERROR_IF(mkdir(sub, 0755) != 0, err, "mkdir %s: %s", sub, strerror(errno));
    if (parent != 0) {
        pathf(pfs, sizeof(pfs), "%s/%" PRId64 "/fs", s->snaps, parent);
        RETURN_ERROR_IF(stat(pfs, &pst) != 0, err, "stat parent %s: %s", pfs, strerror(errno));
        RETURN_ERROR_IF(lchown(sub, pst.st_uid, pst.st_gid) != 0, err, "chown %s: %s", sub, strerror(errno));
    }
    pathf(sub, sizeof(sub), "%s/work", tmp);
    if (kind == SNAP_KIND_ACTIVE)
        RETURN_ERROR_IF(mkdir(sub, 0711) != 0, err, "mkdir %s: %s", sub, strerror(errno));
    return snapdir_sync(tmp, err);
}

/* snapshots/<id>, built under a temporary name, renamed into place, fsynced */
static enum snap_status dir_create(struct snapstore *s, int64_t id, enum snap_kind kind, int64_t parent,
                                   struct error *err)
{
    char tmp[PATH_MAX + 16], final[PATH_MAX];
    struct error ignored;

    pathf(tmp, sizeof(tmp), "%s/new-XXXXXX", s->snaps);
    snapstore_dir(s, id, final, sizeof(final));
    if (mkdtemp(tmp) == NULL)
        return fail(err, SNAP_ERR_INTERNAL, "create directory in %s: %s", s->snaps, strerror(errno));
    if (dir_fill(s, tmp, kind, parent, err) != 0 || rename_over_stale(tmp, final, err) != 0) {
        snapdir_remove(tmp, &ignored);
        error_prefix(err, "snapshot directory");
        return SNAP_ERR_INTERNAL;
    }
    if (snapdir_sync(s->snaps, err) != 0) {
        snapdir_remove(final, &ignored);
        return SNAP_ERR_INTERNAL;
    }
    return SNAP_OK;
}

/* ---- Prepare / View ---- */

struct prepare_args {
    enum snap_kind kind;
    const char *key, *parent;
    const struct snap_labels *labels;
    struct snap_mount *mount;
    int64_t id;
};

/* the parent's id (0 for none); as containerd's storage.CreateSnapshot: a
 * missing parent is NOT_FOUND, an uncommitted one INVALID_ARGUMENT, worded
 * as overlayfs words it (ctr prints the message as is) */
static enum snap_status parent_id(struct snapstore *s, const char *parent, int64_t *id, struct error *err)
{
    struct row pr;
    enum snap_status rc;

    *id = 0;
    if (parent == NULL || parent[0] == '\0')
        return SNAP_OK;
    rc = row_get(s, parent, &pr, err);
    if (rc == SNAP_ERR_NOT_FOUND)
        return fail(err, rc, "parent \"%s\": not found", parent);
    if (rc != SNAP_OK)
        return rc;
    row_release(&pr);
    if (pr.info.kind != SNAP_KIND_COMMITTED)
        return fail(err, SNAP_ERR_INVALID_ARGUMENT, "failed to create snapshot: parent \"%s\" is not committed snapshot", parent);
    *id = pr.id;
    return SNAP_OK;
}

/* SNAP_OK when no snapshot is named key, else ALREADY_EXISTS (or a failure) */
static enum snap_status name_free(struct snapstore *s, const char *key, struct error *err)
{
    struct row r;
    enum snap_status rc = row_get(s, key, &r, err);

    if (rc == SNAP_ERR_NOT_FOUND)
        return SNAP_OK;
    if (rc != SNAP_OK)
        return rc;
    row_release(&r);
    return fail(err, SNAP_ERR_ALREADY_EXISTS, "snapshot \"%s\": already exists", key);
}

static enum snap_status op_prepare(struct snapstore *s, void *arg, struct error *err)
{
    struct prepare_args *a = arg;
    int64_t parent, now = now_ns(), *chain = NULL;
    size_t n = 0;
    enum snap_status rc;

    if ((rc = parent_id(s, a->parent, &parent, err)) != SNAP_OK || (rc = name_free(s, a->key, err)) != SNAP_OK)
        return rc;
    rc = exec_sql(s, err,
                  "INSERT INTO snapshots (name, parent, kind, created_ns, updated_ns)"
                  " VALUES (?, NULLIF(?, 0), ?, ?, ?)",
                  "tiiii", a->key, parent, (int64_t)a->kind, now, now);
    if (rc != SNAP_OK)
        return rc;
    a->id = sqlite3_last_insert_rowid(s->db);
    if ((rc = labels_write(s, a->id, a->labels, err)) != SNAP_OK ||
        (rc = chain_load(s, parent, &chain, &n, err)) != SNAP_OK)
        goto out;
    if (a->mount != NULL && (rc = mounts_build(s, a->id, a->kind, chain, n, a->mount, err)) != SNAP_OK)
        goto out;
    /* last, so that nothing after it can fail and leave it behind */
    if ((rc = dir_create(s, a->id, a->kind, parent, err)) != SNAP_OK)
        snap_mount_free(a->mount);
out:
    free(chain);
    return rc;
}

/* the commit failed after the directory was made */
static enum snap_status undo_prepare(struct snapstore *s, void *arg, struct error *err)
{
    struct prepare_args *a = arg;
    char dir[PATH_MAX];
    struct error ignored;

    (void)err;
    snapstore_dir(s, a->id, dir, sizeof(dir));
    snapdir_remove(dir, &ignored);
    snap_mount_free(a->mount);
    return SNAP_OK;
}

enum snap_status snapstore_prepare(struct snapstore *s, enum snap_kind kind, const char *key, const char *parent,
                                   const struct snap_labels *labels, struct snap_mount *mount,
                                   struct snap_created *created, struct error *err)
{
    struct prepare_args a = {.kind = kind, .key = key, .parent = parent, .labels = labels, .mount = mount};
    enum snap_status rc;

    if (kind != SNAP_KIND_ACTIVE && kind != SNAP_KIND_VIEW)
        return fail(err, SNAP_ERR_INVALID_ARGUMENT,
                    "snapshot type %d invalid; only snapshots of type Active or View can be created", (int)kind);
    if ((rc = check_key("key", key, err)) != SNAP_OK || (rc = check_labels(labels, err)) != SNAP_OK)
        return rc;
    if (parent != NULL && parent[0] != '\0' && (rc = check_key("parent", parent, err)) != SNAP_OK)
        return rc;
    rc = run_tx(s, 1, op_prepare, undo_prepare, &a, err);
    if (rc == SNAP_OK && created != NULL) {
        created->id = a.id;
        if (pathf(created->fs_dir, sizeof(created->fs_dir), "%s/%" PRId64 "/fs", s->snaps, a.id) != 0)
            created->fs_dir[0] = '\0';
    }
    return rc;
}

/* ---- Mounts ---- */

struct mounts_args {
    const char *key;
    struct snap_mount *mount;
};

static enum snap_status op_mounts(struct snapstore *s, void *arg, struct error *err)
{
    struct mounts_args *a = arg;
    struct row r;
    int64_t *chain = NULL;
    size_t n = 0;
    enum snap_status rc = row_get(s, a->key, &r, err);

    if (rc != SNAP_OK)
        return rc;
    row_release(&r);
    if (r.info.kind == SNAP_KIND_COMMITTED)
        return fail(err, SNAP_ERR_FAILED_PRECONDITION, "snapshot \"%s\" is not active or view", a->key);
    if ((rc = chain_load(s, r.parent, &chain, &n, err)) == SNAP_OK)
        rc = mounts_build(s, r.id, r.info.kind, chain, n, a->mount, err);
    free(chain);
    return rc;
}

enum snap_status snapstore_mounts(struct snapstore *s, const char *key, struct snap_mount *mount, struct error *err)
{
    struct mounts_args a = {.key = key, .mount = mount};
    enum snap_status rc = check_key("key", key, err);

    return rc != SNAP_OK ? rc : run_tx(s, 0, op_mounts, NULL, &a, err);
}

/* ---- Commit ---- */

struct commit_args {
    const char *name, *key;
    const struct snap_labels *labels;
    int measure; /* the usage of fs/, or 0 for a lazily mounted layer */
};

/* containerd's overlay Commit + storage.CommitActive: the key must exist,
 * the name must not, the key must be active; the committed snapshot keeps
 * the id, gets fresh times, the usage of its fs/ and only the given labels */
static enum snap_status op_commit(struct snapstore *s, void *arg, struct error *err)
{
    struct commit_args *a = arg;
    struct row r;
    char fs[PATH_MAX + 16];
    int64_t size, inodes, now = now_ns();
    enum snap_status rc = row_get(s, a->key, &r, err);

    if (rc != SNAP_OK)
        return rc;
    row_release(&r);
    if ((rc = name_free(s, a->name, err)) != SNAP_OK)
        return rc;
    if (r.info.kind != SNAP_KIND_ACTIVE)
        return fail(err, SNAP_ERR_FAILED_PRECONDITION, "snapshot \"%s\" is not active", a->key);
    size = inodes = 0;
    pathf(fs, sizeof(fs), "%s/%" PRId64 "/fs", s->snaps, r.id);
    if (a->measure && snapdir_usage(fs, &size, &inodes, err) != 0)
        return SNAP_ERR_INTERNAL;
    rc = exec_sql(s, err,
              "UPDATE snapshots SET name = ?, kind = ?, created_ns = ?, updated_ns = ?, size = ?, inodes = ?"
              " WHERE id = ?",
              "tiiiiii", a->name, (int64_t)SNAP_KIND_COMMITTED, now, now, size, inodes, r.id);
    return rc != SNAP_OK ? rc : labels_write(s, r.id, a->labels, err);
}

static enum snap_status commit(struct snapstore *s, const char *name, const char *key,
                               const struct snap_labels *labels, int measure, struct error *err)
{
    struct commit_args a = {.name = name, .key = key, .labels = labels, .measure = measure};
    enum snap_status rc;

    if ((rc = check_key("name", name, err)) != SNAP_OK || (rc = check_key("key", key, err)) != SNAP_OK ||
        (rc = check_labels(labels, err)) != SNAP_OK)
        return rc;
    return run_tx(s, 1, op_commit, NULL, &a, err);
}

enum snap_status snapstore_commit(struct snapstore *s, const char *name, const char *key,
                                  const struct snap_labels *labels, struct error *err)
{
    return commit(s, name, key, labels, 1, err);
}

enum snap_status snapstore_commit_remote(struct snapstore *s, const char *name, const char *key,
                                         const struct snap_labels *labels, struct error *err)
{
    return commit(s, name, key, labels, 0, err);
}

/* ---- Remove ---- */

struct remove_args {
    const char *key;
    int64_t id;
};

static enum snap_status op_remove(struct snapstore *s, void *arg, struct error *err)
{
    struct remove_args *a = arg;
    struct row r;
    sqlite3_stmt *st;
    int step;
    enum snap_status rc = row_get(s, a->key, &r, err);

    if (rc != SNAP_OK)
        return rc;
    row_release(&r);
    if ((st = query(s, err, "SELECT 1 FROM snapshots WHERE parent = ? LIMIT 1", "i", r.id)) == NULL)
        return SNAP_ERR_INTERNAL;
    step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step == SQLITE_ROW)
        return fail(err, SNAP_ERR_FAILED_PRECONDITION, "cannot remove snapshot \"%s\" with child", a->key);
    if (step != SQLITE_DONE)
        return db_fail(s, err, "read");
    a->id = r.id;
    rc = exec_sql(s, err, "DELETE FROM labels WHERE snapshot = ?", "i", r.id);
    return rc != SNAP_OK ? rc : exec_sql(s, err, "DELETE FROM snapshots WHERE id = ?", "i", r.id);
}

enum snap_status snapstore_remove(struct snapstore *s, const char *key, struct error *err)
{
    struct remove_args a = {.key = key};
    char dir[PATH_MAX];
    struct error ignored;
    enum snap_status rc = check_key("key", key, err);

    if (rc == SNAP_OK)
        rc = run_tx(s, 1, op_remove, NULL, &a, err);
    if (rc != SNAP_OK)
        return rc;
    /* the row is gone and its id is never reused, so this needs no lock; a
     * failure only leaves a directory for snapstore_cleanup (containerd,
     * too, does not fail a Remove whose directory would not go) */
    snapstore_dir(s, a.id, dir, sizeof(dir));
    snapdir_remove(dir, &ignored);
    return SNAP_OK;
}

/* ---- Stat / Update ---- */

struct stat_args {
    const char *key;
    struct snap_info *info;
    int64_t id, size, inodes;
};

static enum snap_status op_stat(struct snapstore *s, void *arg, struct error *err)
{
    struct stat_args *a = arg;
    struct row r;
    enum snap_status rc = row_get(s, a->key, &r, err);

    if (rc != SNAP_OK)
        return rc;
    a->id = r.id;
    a->size = r.size;
    a->inodes = r.inodes;
    if (a->info == NULL) {
        row_release(&r);
        return SNAP_OK;
    }
    if ((rc = row_labels(s, &r, err)) != SNAP_OK)
        row_release(&r);
    else
        *a->info = r.info;
    return rc;
}

enum snap_status snapstore_stat(struct snapstore *s, const char *key, struct snap_info *info, struct error *err)
{
    struct stat_args a = {.key = key, .info = info};
    enum snap_status rc = check_key("key", key, err);

    return rc != SNAP_OK ? rc : run_tx(s, 0, op_stat, NULL, &a, err);
}

enum snap_status snapstore_id(struct snapstore *s, const char *key, int64_t *id, struct error *err)
{
    struct stat_args a = {.key = key};
    enum snap_status rc = check_key("key", key, err);

    if (rc == SNAP_OK && (rc = run_tx(s, 0, op_stat, NULL, &a, err)) == SNAP_OK)
        *id = a.id;
    return rc;
}

struct update_args {
    const struct snap_info *in;
    const char *const *paths;
    size_t npaths;
    struct snap_info *out;
};

/* the labels an update leaves, as containerd's storage.UpdateInfo */
static enum snap_status update_labels(const struct update_args *a, struct snap_labels *labels, struct error *err)
{
    const struct snap_labels *in = &a->in->labels;
    int all = a->npaths == 0, rc = 0;

    for (size_t i = 0; i < a->npaths; i++) {
        const char *p = a->paths[i] ? a->paths[i] : "";
        if (strncmp(p, "labels.", 7) == 0)
            rc |= labels_assign(labels, p + 7, snap_labels_get(in, p + 7));
        else if (strcmp(p, "labels") == 0)
            all = 1; /* applied below, and wins over any labels.KEY */
        else
            return fail(err, SNAP_ERR_INVALID_ARGUMENT, "cannot update \"%.100s\" field on snapshot \"%s\"", p,
                        a->in->name);
    }
    if (all) {
        snap_labels_free(labels);
        for (size_t i = 0; i < in->n && rc == 0; i++)
            rc = labels_assign(labels, in->v[i].key, in->v[i].value);
    }
    return rc == 0 ? SNAP_OK : fail(err, SNAP_ERR_INTERNAL, "out of memory");
}

static enum snap_status op_update(struct snapstore *s, void *arg, struct error *err)
{
    struct update_args *a = arg;
    struct row r;
    enum snap_status rc = row_get(s, a->in->name, &r, err);

    if (rc != SNAP_OK)
        return rc;
    r.info.updated_ns = now_ns();
    if ((rc = row_labels(s, &r, err)) == SNAP_OK && (rc = update_labels(a, &r.info.labels, err)) == SNAP_OK &&
        (rc = check_labels(&r.info.labels, err)) == SNAP_OK &&
        (rc = exec_sql(s, err, "UPDATE snapshots SET updated_ns = ? WHERE id = ?", "ii", r.info.updated_ns, r.id)) ==
            SNAP_OK)
        rc = labels_write(s, r.id, &r.info.labels, err);
    if (rc == SNAP_OK && a->out != NULL)
        *a->out = r.info;
    else
        row_release(&r);
    return rc;
}

enum snap_status snapstore_update(struct snapstore *s, const struct snap_info *in, const char *const *paths,
                                  size_t npaths, struct snap_info *out, struct error *err)
{
    struct update_args a = {.in = in, .paths = paths, .npaths = npaths, .out = out};
    enum snap_status rc;

    if (in == NULL)
        return fail(err, SNAP_ERR_INVALID_ARGUMENT, "update: no snapshot info");
    if ((rc = check_key("name", in->name, err)) != SNAP_OK || (rc = check_labels(&in->labels, err)) != SNAP_OK)
        return rc;
    if (npaths > SNAP_LABELS_MAX)
        return fail(err, SNAP_ERR_INVALID_ARGUMENT, "%zu field paths: at most %d", npaths, SNAP_LABELS_MAX);
    rc = run_tx(s, 1, op_update, NULL, &a, err);
    if (rc != SNAP_OK && out != NULL)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* ---- Walk ---- */

struct walk_args {
    struct snapfilter *filter;
    struct snap_info *found;
    size_t n;
};

static enum snap_status op_walk(struct snapstore *s, void *arg, struct error *err)
{
    struct walk_args *a = arg;
    /* by name in byte order, the order of containerd's bolt buckets */
    sqlite3_stmt *st = query(s, err, ROW_SELECT " ORDER BY s.name", "");
    enum snap_status rc = SNAP_OK;
    int step = SQLITE_DONE;

    if (st == NULL)
        return SNAP_ERR_INTERNAL;
    while (rc == SNAP_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct row r;
        struct snap_info *grown;
        if ((rc = row_read(s, st, &r, err)) != SNAP_OK || (rc = row_labels(s, &r, err)) != SNAP_OK)
            break;
        if (!snapfilter_match(a->filter, &r.info)) {
            row_release(&r);
            continue;
        }
        if ((grown = realloc(a->found, (a->n + 1) * sizeof(*grown))) == NULL) {
            row_release(&r);
            rc = fail(err, SNAP_ERR_INTERNAL, "out of memory");
            break;
        }
        a->found = grown;
        a->found[a->n++] = r.info;
    }
    if (rc == SNAP_OK && step != SQLITE_DONE)
        rc = db_fail(s, err, "read");
    sqlite3_finalize(st);
    return rc;
}

enum snap_status snapstore_walk(struct snapstore *s, const char *const *filters, size_t nfilters, snap_walk_fn fn,
                                void *arg, struct error *err)
{
    struct walk_args a = {0};
    enum snap_status rc;
    int stop = 0;

    if (snapfilter_parse(filters, nfilters, &a.filter, err) != 0)
        return SNAP_ERR_INVALID_ARGUMENT;
    rc = run_tx(s, 0, op_walk, NULL, &a, err);
    /* the callback runs with the store unlocked, so it may call the store */
    for (size_t i = 0; i < a.n; i++) {
        if (rc == SNAP_OK && stop == 0)
            stop = fn(&a.found[i], arg);
        snap_info_free(&a.found[i]);
    }
    free(a.found);
    snapfilter_free(a.filter);
    return rc != SNAP_OK ? rc : (enum snap_status)stop;
}

/* ---- Usage ---- */

enum snap_status snapstore_usage(struct snapstore *s, const char *key, int64_t *size, int64_t *inodes,
                                 struct error *err)
{
    struct snap_info info = {0};
    struct stat_args a = {.key = key, .info = &info};
    char fs[PATH_MAX + 16];
    enum snap_status rc = check_key("key", key, err);

    if (rc != SNAP_OK || (rc = run_tx(s, 0, op_stat, NULL, &a, err)) != SNAP_OK)
        return rc;
    *size = a.size;
    *inodes = a.inodes;
    /* active snapshots are measured now, outside the lock (containerd too
     * scans after its transaction); the rest report what Commit stored */
    if (info.kind == SNAP_KIND_ACTIVE) {
        pathf(fs, sizeof(fs), "%s/%" PRId64 "/fs", s->snaps, a.id);
        if (snapdir_usage(fs, size, inodes, err) != 0)
            rc = SNAP_ERR_INTERNAL;
    }
    snap_info_free(&info);
    return rc;
}

/* ---- Cleanup ---- */

struct cleanup_args {
    int removed;
};

static int id_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* every snapshot id, sorted */
static enum snap_status ids_load(struct snapstore *s, int64_t **ids, size_t *n, struct error *err)
{
    sqlite3_stmt *st = query(s, err, "SELECT id FROM snapshots ORDER BY id", "");
    int step;

    *ids = NULL;
    *n = 0;
    if (st == NULL)
        return SNAP_ERR_INTERNAL;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t *grown = realloc(*ids, (*n + 1) * sizeof(*grown));
        if (grown == NULL) {
            sqlite3_finalize(st);
            return fail(err, SNAP_ERR_INTERNAL, "out of memory");
        }
        *ids = grown;
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? SNAP_OK : db_fail(s, err, "read");
}

/* whether a directory entry is snapshots/<id> of a row: the canonical
 * decimal of one of ids */
static int names_row(const char *name, const int64_t *ids, size_t n)
{
    char canon[24];
    char *end;
    long long v;

    errno = 0;
    v = strtoll(name, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0)
        return 0;
    snprintf(canon, sizeof(canon), "%lld", v);
    return strcmp(canon, name) == 0 && bsearch(&(int64_t){v}, ids, n, sizeof(*ids), id_cmp) != NULL;
}

/* runs under the lock, inside a read transaction: a directory of an id no
 * row has yet could otherwise be taken over by a Prepare while it goes */
static enum snap_status op_cleanup(struct snapstore *s, void *arg, struct error *err)
{
    struct cleanup_args *a = arg;
    int64_t *ids;
    size_t n;
    DIR *d;
    struct dirent *e;
    enum snap_status rc = ids_load(s, &ids, &n, err);

    if (rc != SNAP_OK)
        return rc;
    if ((d = opendir(s->snaps)) == NULL) {
        free(ids);
        return fail(err, SNAP_ERR_INTERNAL, "open %s: %s", s->snaps, strerror(errno));
    }
    while (rc == SNAP_OK && (e = readdir(d)) != NULL) {
        char path[PATH_MAX + 256];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || names_row(e->d_name, ids, n))
            continue;
        pathf(path, sizeof(path), "%s/%s", s->snaps, e->d_name);
        if (snapdir_remove(path, err) != 0)
            rc = SNAP_ERR_INTERNAL;
        else
            a->removed++;
    }
    closedir(d);
    free(ids);
    return rc;
}

enum snap_status snapstore_cleanup(struct snapstore *s, int *removed, struct error *err)
{
    struct cleanup_args a = {0};
    enum snap_status rc = run_tx(s, 0, op_cleanup, NULL, &a, err);

    if (removed != NULL)
        *removed = a.removed;
    return rc;
}

/* ---- open / close ---- */

static int db_schema(struct snapstore *s, struct error *err)
{
    sqlite3_stmt *st = query(s, err, "PRAGMA user_version", "");
    int64_t version = -1;

    if (st == NULL)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (version < 0)
        return db_fail(s, err, "read schema version"), -1;
    if (version == SCHEMA_VERSION)
        return 0;
    RETURN_ERROR_IF(version != 0, err, "metadata.db: schema version %" PRId64 " is not %d, which this program knows",
                    version, SCHEMA_VERSION);
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, err, "create schema"), -1;
    /* another version-0 database with tables is not ours */
    if (sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(s, err, "create schema");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* a pragma that must answer `want` (NULL: anything) */
static int db_pragma(struct snapstore *s, const char *sql, const char *want, struct error *err)
{
    sqlite3_stmt *st = query(s, err, sql, "");
    int ok;

    if (st == NULL)
        return -1;
    ok = sqlite3_step(st);
    ok = want == NULL ? ok == SQLITE_ROW || ok == SQLITE_DONE
                      : ok == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL &&
                            strcmp((const char *)sqlite3_column_text(st, 0), want) == 0;
    if (!ok)
        db_fail(s, err, sql);
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

static int db_open(struct snapstore *s, struct error *err)
{
    char path[PATH_MAX + 16];

    pathf(path, sizeof(path), "%s/metadata.db", s->dir);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        return error_set(err, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
    sqlite3_busy_timeout(s->db, 5000);
    /* WAL with a sync at every commit: an acknowledged call survives a
     * crash of the process or of the machine */
    if (db_pragma(s, "PRAGMA journal_mode = WAL", "wal", err) != 0 ||
        db_pragma(s, "PRAGMA synchronous = FULL", NULL, err) != 0 ||
        db_pragma(s, "PRAGMA foreign_keys = ON", NULL, err) != 0 || db_schema(s, err) != 0 ||
        db_pragma(s, "PRAGMA quick_check", "ok", err) != 0)
        return error_prefix(err, "%s", path);
    return 0;
}

static int lock_root(struct snapstore *s, struct error *err)
{
    char path[PATH_MAX + 16];

    pathf(path, sizeof(path), "%s/lock", s->dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    RETURN_ERROR_IF(s->lock_fd < 0, err, "open %s: %s", path, strerror(errno));
    RETURN_ERROR_IF(flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0, err, "%s: %s", s->dir,
                    errno == EWOULDBLOCK ? "in use by another process" : strerror(errno));
    return 0;
}

int snapstore_open(const char *root, struct snapstore **out, struct error *err)
{
    struct snapstore *s;
    int removed;

    RETURN_ERROR_IF(root == NULL || root[0] == '\0', err, "snapshotter root: empty");
    /* room for "/snapshotter/snapshots/<id>/work" and what the remote half
     * puts below fs/ */
    RETURN_ERROR_IF(strlen(root) > PATH_MAX - 512, err, "snapshotter root %.60s...: too long", root);
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return error_set(err, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    s->lock_fd = -1;
    if (pathf(s->dir, sizeof(s->dir), "%s/snapshotter", root) != 0 ||
        pathf(s->snaps, sizeof(s->snaps), "%s/snapshots", s->dir) != 0)
        s->snaps[0] = '\0'; /* cannot happen: the length is bounded above */
    /* containerd's overlay snapshotter: 0700 root and snapshots/ */
    if (mkdir_p(s->dir, 0700, err) != 0 || mkdir_p(s->snaps, 0700, err) != 0 || lock_root(s, err) != 0 ||
        db_open(s, err) != 0 || snapstore_cleanup(s, &removed, err) != SNAP_OK) {
        snapstore_close(s);
        return -1;
    }
    /* index=off only where the kernel has the option, as containerd 1.6 */
    s->index_off = access("/sys/module/overlay/parameters/index", F_OK) == 0;
    *out = s;
    return 0;
}

void snapstore_close(struct snapstore *s)
{
    if (s == NULL)
        return;
    if (s->db != NULL)
        sqlite3_close(s->db);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
