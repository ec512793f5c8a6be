/* test_snap_store.c -- every snapstore call and error case, against what
 * containerd 1.6's overlayfs snapshotter answers; the mounts are mounted for
 * real (overlayfs, bind) and usage is compared with GNU du */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "snapdir.h"
#include "snapstore.h"

static char root[256], snaps[320];
static int index_off;

/* "type source opt,opt,..." */
static char *mount_str(const struct snap_mount *m)
{
    static char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "%s %s ", m->type, m->source ? m->source : "(null)");

    for (size_t i = 0; i < m->noptions && n < sizeof(buf); i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "," : "", m->options[i]);
    return buf;
}

/* what containerd's overlay snapshotter answers: "index=off," when the
 * kernel has the option, then the rest */
static char *overlay_expect(const char *rest)
{
    static char buf[8192];
    snprintf(buf, sizeof(buf), "overlay overlay %s%s", index_off ? "index=off," : "", rest);
    return buf;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[1024];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    f = fopen(p, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static int exists(const char *fmt, const char *a, int64_t id)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof(p), fmt, a, id);
    return lstat(p, &st) == 0;
}

static enum snap_status prep(struct snapstore *s, enum snap_kind k, const char *key, const char *parent,
                             char *mounts_out, struct snap_created *c)
{
    struct snap_mount m = {0};
    struct error err = {{0}};
    enum snap_status rc = snapstore_prepare(s, k, key, parent, NULL, &m, c, &err);

    if (mounts_out != NULL)
        strcpy(mounts_out, rc == SNAP_OK ? mount_str(&m) : err.msg);
    snap_mount_free(&m);
    return rc;
}

static void test_prepare_and_view(struct snapstore *s)
{
    char got[8192], want[8192];
    struct snap_created c;
    struct error err;

    CHECK(prep(s, SNAP_KIND_ACTIVE, "a", NULL, got, &c) == SNAP_OK);
    snprintf(want, sizeof(want), "bind %s/1/fs rw,rbind", snaps);
    CHECK_MSG(strcmp(got, want) == 0, "%s", got);
    CHECK(c.id == 1);
    snprintf(want, sizeof(want), "%s/1/fs", snaps);
    CHECK(strcmp(c.fs_dir, want) == 0);
    CHECK(exists("%s/%" PRId64 "/fs", snaps, 1) && exists("%s/%" PRId64 "/work", snaps, 1));

    CHECK(prep(s, SNAP_KIND_ACTIVE, "a", NULL, got, NULL) == SNAP_ERR_ALREADY_EXISTS);
    CHECK(prep(s, SNAP_KIND_VIEW, "a", "", got, NULL) == SNAP_ERR_ALREADY_EXISTS);
    CHECK(prep(s, SNAP_KIND_ACTIVE, "b", "missing", got, NULL) == SNAP_ERR_NOT_FOUND);
    CHECK_MSG(strstr(got, "missing") != NULL, "%s", got);
    /* containerd: a parent that is not committed is InvalidArgument, and the
     * parent is checked before the key */
    CHECK(prep(s, SNAP_KIND_ACTIVE, "b", "a", got, NULL) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(prep(s, SNAP_KIND_ACTIVE, "a", "a", got, NULL) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(prep(s, SNAP_KIND_COMMITTED, "b", NULL, got, NULL) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(prep(s, SNAP_KIND_ACTIVE, "", NULL, got, NULL) == SNAP_ERR_INVALID_ARGUMENT);

    /* a view without parent binds its own fs/ read-only and has no work/ */
    CHECK(prep(s, SNAP_KIND_VIEW, "v0", NULL, got, &c) == SNAP_OK);
    snprintf(want, sizeof(want), "bind %s/2/fs ro,rbind", snaps);
    CHECK_MSG(strcmp(got, want) == 0, "%s", got);
    CHECK(c.id == 2 && exists("%s/%" PRId64 "/fs", snaps, 2) && !exists("%s/%" PRId64 "/work", snaps, 2));

    /* failed calls left nothing behind: two rows, two directories */
    CHECK(!exists("%s/%" PRId64, snaps, 3));
    {
        int removed = -1;
        CHECK(snapstore_cleanup(s, &removed, &err) == SNAP_OK && removed == 0);
    }
}

static void test_commit(struct snapstore *s)
{
    struct snap_labels l = {0};
    struct snap_info info = {0};
    struct error err;
    char dir[512];

    snprintf(dir, sizeof(dir), "%s/1/fs", snaps);
    write_file(dir, "base.txt", "from base\n");
    CHECK(chown(dir, 1234, 5678) == 0);
    snap_labels_set(&l, "x", "y");
    CHECK(snapstore_commit(s, "base", "a", &l, &err) == SNAP_OK);
    CHECK(snapstore_stat(s, "a", &info, &err) == SNAP_ERR_NOT_FOUND);
    CHECK(snapstore_stat(s, "base", &info, &err) == SNAP_OK);
    CHECK(info.kind == SNAP_KIND_COMMITTED && strcmp(info.parent, "") == 0 && strcmp(info.name, "base") == 0);
    CHECK(info.labels.n == 1 && strcmp(snap_labels_get(&info.labels, "x"), "y") == 0);
    CHECK(info.created_ns == info.updated_ns && info.created_ns > 1700000000000000000LL);
    snap_info_free(&info);

    CHECK(snapstore_commit(s, "base2", "a", NULL, &err) == SNAP_ERR_NOT_FOUND);
    /* the name is checked before the kind */
    CHECK(snapstore_commit(s, "base", "v0", NULL, &err) == SNAP_ERR_ALREADY_EXISTS);
    CHECK(snapstore_commit(s, "c", "v0", NULL, &err) == SNAP_ERR_FAILED_PRECONDITION);
    CHECK(snapstore_commit(s, "c", "base", NULL, &err) == SNAP_ERR_FAILED_PRECONDITION);
    CHECK(snapstore_stat(s, "c", &info, &err) == SNAP_ERR_NOT_FOUND);
    snap_labels_free(&l);
}

static void test_mounts(struct snapstore *s)
{
    char got[8192], want[8192], rest[8192];
    struct snap_created c;
    struct snap_mount m = {0};
    struct error err;
    struct stat st;

    CHECK(snapstore_mounts(s, "base", &m, &err) == SNAP_ERR_FAILED_PRECONDITION);
    CHECK(snapstore_mounts(s, "missing", &m, &err) == SNAP_ERR_NOT_FOUND);

    /* id 3: active on base; its fs/ takes base's owner */
    CHECK(prep(s, SNAP_KIND_ACTIVE, "c1", "base", got, &c) == SNAP_OK && c.id == 3);
    snprintf(rest, sizeof(rest), "workdir=%s/3/work,upperdir=%s/3/fs,lowerdir=%s/1/fs", snaps, snaps, snaps);
    CHECK_MSG(strcmp(got, overlay_expect(rest)) == 0, "%s", got);
    CHECK(stat(c.fs_dir, &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678);
    CHECK(snapstore_mounts(s, "c1", &m, &err) == SNAP_OK && strcmp(mount_str(&m), got) == 0);
    snap_mount_free(&m);

    /* id 4: a view of one committed parent binds the parent read-only */
    CHECK(prep(s, SNAP_KIND_VIEW, "v1", "base", got, &c) == SNAP_OK && c.id == 4);
    snprintf(want, sizeof(want), "bind %s/1/fs ro,rbind", snaps);
    CHECK_MSG(strcmp(got, want) == 0, "%s", got);

    snprintf(want, sizeof(want), "%s/3/fs", snaps);
    write_file(want, "layer2.txt", "from layer2\n");
    CHECK(snapstore_commit(s, "layer2", "c1", NULL, &err) == SNAP_OK);

    /* id 5: lowerdir nearest parent first */
    CHECK(prep(s, SNAP_KIND_ACTIVE, "c2", "layer2", got, &c) == SNAP_OK && c.id == 5);
    snprintf(rest, sizeof(rest), "workdir=%s/5/work,upperdir=%s/5/fs,lowerdir=%s/3/fs:%s/1/fs", snaps, snaps, snaps,
             snaps);
    CHECK_MSG(strcmp(got, overlay_expect(rest)) == 0, "%s", got);
    /* id 6: a view of two layers is a read-only overlay, lowerdir only */
    CHECK(prep(s, SNAP_KIND_VIEW, "v2", "layer2", got, &c) == SNAP_OK && c.id == 6);
    snprintf(rest, sizeof(rest), "lowerdir=%s/3/fs:%s/1/fs", snaps, snaps);
    CHECK_MSG(strcmp(got, overlay_expect(rest)) == 0, "%s", got);
}

/* mount what the store answers and look through it: the kernel is the judge */
static void test_real_mounts(struct snapstore *s)
{
    char mnt[512], opts[8192], p[1024], buf[64] = {0};
    struct snap_mount m = {0};
    struct error err;
    FILE *f;

    snprintf(mnt, sizeof(mnt), "%s/mnt", root);
    CHECK(mkdir(mnt, 0755) == 0);
    CHECK(snapstore_mounts(s, "c2", &m, &err) == SNAP_OK);
    opts[0] = '\0';
    for (size_t i = 0; i < m.noptions; i++)
        snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), "%s%s", i ? "," : "", m.options[i]);
    CHECK_MSG(mount(m.source, mnt, m.type, 0, opts) == 0, "mount overlay: %s", strerror(errno));
    snprintf(p, sizeof(p), "%s/base.txt", mnt);
    f = fopen(p, "r");
    CHECK(f != NULL && fgets(buf, sizeof(buf), f) != NULL && strcmp(buf, "from base\n") == 0);
    if (f)
        fclose(f);
    snprintf(p, sizeof(p), "%s/layer2.txt", mnt);
    CHECK(access(p, F_OK) == 0);
    write_file(mnt, "new.txt", "written in c2\n");
    CHECK(umount2(mnt, 0) == 0);
    snap_mount_free(&m);
    CHECK(exists("%s/%" PRId64 "/fs/new.txt", snaps, 5));
    CHECK(!exists("%s/%" PRId64 "/fs/new.txt", snaps, 3));

    /* the view of one parent is a read-only bind */
    CHECK(snapstore_mounts(s, "v1", &m, &err) == SNAP_OK);
    CHECK(strcmp(m.type, "bind") == 0);
    CHECK(mount(m.source, mnt, NULL, MS_BIND | MS_REC, NULL) == 0);
    CHECK(mount(NULL, mnt, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) == 0);
    snprintf(p, sizeof(p), "%s/base.txt", mnt);
    CHECK(access(p, F_OK) == 0);
    snprintf(p, sizeof(p), "%s/nope", mnt);
    CHECK(open(p, O_CREAT | O_WRONLY, 0644) < 0 && errno == EROFS);
    CHECK(umount2(mnt, 0) == 0);
    snap_mount_free(&m);
}

static void test_remove(struct snapstore *s)
{
    struct error err;
    char got[8192];

    CHECK(snapstore_remove(s, "base", &err) == SNAP_ERR_FAILED_PRECONDITION);
    CHECK(snapstore_remove(s, "layer2", &err) == SNAP_ERR_FAILED_PRECONDITION);
    CHECK(snapstore_remove(s, "missing", &err) == SNAP_ERR_NOT_FOUND);
    CHECK(snapstore_remove(s, "v1", &err) == SNAP_OK);
    CHECK(!exists("%s/%" PRId64, snaps, 4));
    CHECK(snapstore_remove(s, "v1", &err) == SNAP_ERR_NOT_FOUND);
    /* a removed id is not handed out again; the key is free again */
    CHECK(prep(s, SNAP_KIND_VIEW, "v1", "base", got, NULL) == SNAP_OK);
    CHECK(exists("%s/%" PRId64, snaps, 7) && !exists("%s/%" PRId64, snaps, 4));
}

static void test_update(struct snapstore *s)
{
    struct snap_info in = {0}, out = {0}, st = {0};
    const char *only_a[] = {"labels.a"}, *only_b[] = {"labels.b"}, *bad[] = {"labels.a", "name"},
               *all[] = {"labels"};
    struct error err;
    char big[4200];

    CHECK(snapstore_stat(s, "layer2", &st, &err) == SNAP_OK);
    in.name = "layer2";
    in.parent = "zzz";             /* ignored, as containerd */
    in.kind = SNAP_KIND_ACTIVE;    /* ignored */
    in.created_ns = 1;             /* ignored */
    snap_labels_set(&in.labels, "a", "1");
    snap_labels_set(&in.labels, "b", "2");
    CHECK(snapstore_update(s, &in, NULL, 0, &out, &err) == SNAP_OK);
    CHECK(out.kind == SNAP_KIND_COMMITTED && strcmp(out.parent, "base") == 0 && out.created_ns == st.created_ns);
    CHECK(out.updated_ns > st.updated_ns && out.labels.n == 2);
    snap_info_free(&out);

    snap_labels_free(&in.labels);
    snap_labels_set(&in.labels, "a", "9");
    snap_labels_set(&in.labels, "b", "7");
    CHECK(snapstore_update(s, &in, only_a, 1, &out, &err) == SNAP_OK);
    CHECK(strcmp(snap_labels_get(&out.labels, "a"), "9") == 0 && strcmp(snap_labels_get(&out.labels, "b"), "2") == 0);
    snap_info_free(&out);
    snap_labels_free(&in.labels);
    /* labels.KEY absent from the request deletes the label */
    CHECK(snapstore_update(s, &in, only_b, 1, &out, &err) == SNAP_OK);
    CHECK(out.labels.n == 1 && snap_labels_get(&out.labels, "b") == NULL);
    snap_info_free(&out);
    /* an invalid path fails the whole update */
    snap_labels_set(&in.labels, "a", "10");
    CHECK(snapstore_update(s, &in, bad, 2, &out, &err) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(snapstore_stat(s, "layer2", &out, &err) == SNAP_OK && strcmp(snap_labels_get(&out.labels, "a"), "9") == 0);
    snap_info_free(&out);
    /* "labels" replaces; an empty value is not stored */
    snap_labels_set(&in.labels, "e", "");
    CHECK(snapstore_update(s, &in, all, 1, NULL, &err) == SNAP_OK);
    CHECK(snapstore_stat(s, "layer2", &out, &err) == SNAP_OK && out.labels.n == 1);
    CHECK(strcmp(snap_labels_get(&out.labels, "a"), "10") == 0);
    snap_info_free(&out);

    /* containerd's label bound: key + value <= 4096 bytes */
    memset(big, 'v', sizeof(big));
    big[4096 - 3] = '\0';
    snap_labels_set(&in.labels, "big", big);
    CHECK(snapstore_update(s, &in, NULL, 0, NULL, &err) == SNAP_OK);
    big[4096 - 3] = 'v';
    big[4096 - 2] = '\0';
    snap_labels_set(&in.labels, "big", big);
    CHECK(snapstore_update(s, &in, NULL, 0, NULL, &err) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(err.msg, "maximum size (4096 bytes)") != NULL, "%s", err.msg);
    {
        struct snap_mount m = {0};
        CHECK(snapstore_prepare(s, SNAP_KIND_ACTIVE, "biglabel", NULL, &in.labels, &m, NULL, &err) ==
              SNAP_ERR_INVALID_ARGUMENT);
        CHECK(snapstore_commit(s, "biglabel", "c2", &in.labels, &err) == SNAP_ERR_INVALID_ARGUMENT);
    }
    snap_labels_free(&in.labels);

    in.name = "missing";
    CHECK(snapstore_update(s, &in, NULL, 0, &out, &err) == SNAP_ERR_NOT_FOUND);
    snap_info_free(&st);
}

struct walk_seen {
    char names[512];
    int calls, stop_after;
};

static int walk_cb(const struct snap_info *info, void *arg)
{
    struct walk_seen *w = arg;
    snprintf(w->names + strlen(w->names), sizeof(w->names) - strlen(w->names), "%s%s", w->names[0] ? " " : "",
             info->name);
    w->calls++;
    return w->stop_after && w->calls == w->stop_after ? 7 : 0;
}

static const char *walk(struct snapstore *s, const char *const *filters, size_t n, enum snap_status *rc)
{
    static struct walk_seen w;
    struct error err;

    memset(&w, 0, sizeof(w));
    *rc = snapstore_walk(s, filters, n, walk_cb, &w, &err);
    return w.names;
}

#define WALK(want, ...)                                                                      \
    do {                                                                                     \
        const char *f_[] = {__VA_ARGS__};                                                    \
        enum snap_status rc_;                                                                \
        const char *got_ = walk(s, f_, sizeof(f_) / sizeof(*f_), &rc_);                      \
        CHECK_MSG(rc_ == SNAP_OK && strcmp(got_, want) == 0, "%s: got \"%s\"", f_[0], got_); \
    } while (0)

static void test_walk(struct snapstore *s)
{
    enum snap_status rc;
    struct walk_seen w = {.stop_after = 2};
    struct error err;
    const char *bad1[] = {"name=="}, *bad2[] = {"name=x"}, *bad3[] = {"name==a b"}, *bad4[] = {"name==/x/"},
               *bad5[] = {"name==\"\\q\""}, *bad6[] = {"name==\"open"}, *bad7[] = {"na@me"},
               *bad8[] = {"name==layer2 "};

    /* byte order of names, as bolt's buckets */
    CHECK(strcmp(walk(s, NULL, 0, &rc), "base c2 layer2 v0 v1 v2") == 0 && rc == SNAP_OK);
    WALK("base layer2", "kind==committed");
    WALK("c2", "kind==active");
    WALK("v0 v1 v2", "kind==view");
    WALK("layer2 v1", "parent==base");
    WALK("base v0", "parent==\"\"");
    WALK("base c2 layer2 v0 v1 v2", "parent");
    WALK("c2 layer2", "kind!=view,name!=base,name!=v0,name!=v1", "name==c2");
    WALK("c2 v1", "name==c2", "name==v1");
    WALK("layer2", "labels.a==10");
    WALK("layer2", "labels.\"a\"");
    WALK("base", "labels.x,kind==committed");
    WALK("base c2 v0 v1 v2", "labels.a!=10");
    WALK("v0 v1 v2", "name~=^v");
    WALK("v1 v2", "name~=/^v[12]$/");
    WALK("base c2 layer2 v0 v1 v2", "");
    WALK("layer2", "labels.\"a\"==\"10\"");
    WALK("c2", "name==\"c\\x32\"");           /* Go escapes in quoted values */
    WALK("c2", "name==\"\\143\\u0032\"");
    WALK("c2", "name~=|^c|");
    WALK("layer2", " name == layer2"); /* spaces before tokens, none after (containerd) */
    WALK("", "labels.nope");
    WALK("", "name~=(");    /* does not compile: matches nothing, as containerd */
    CHECK(snapstore_walk(s, bad1, 1, walk_cb, &w, &err) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(snapstore_walk(s, bad2, 1, walk_cb, &w, &err) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(snapstore_walk(s, bad3, 1, walk_cb, &w, &err) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(snapstore_walk(s, bad4, 1, walk_cb, &w, &err) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(snapstore_walk(s, bad5, 1, walk_cb, &w, &err) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(snapstore_walk(s, bad6, 1, walk_cb, &w, &err) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(snapstore_walk(s, bad7, 1, walk_cb, &w, &err) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(snapstore_walk(s, bad8, 1, walk_cb, &w, &err) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(w.calls == 0);
    /* a callback's non-zero answer stops the walk and comes back */
    CHECK(snapstore_walk(s, NULL, 0, walk_cb, &w, &err) == 7 && w.calls == 2);
}

/* GNU du over dir: bytes of allocated blocks, or inodes */
static int64_t du(const char *dir, const char *how)
{
    char cmd[1024];
    long long v = -1;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "du -s %s '%s'", how, dir);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    if (fscanf(p, "%lld", &v) != 1)
        v = -1;
    pclose(p);
    return v;
}

static void test_usage(struct snapstore *s)
{
    char fs[512], a[600], b[600], big[100000];
    int64_t size = -1, inodes = -1, size2, inodes2;
    struct error err;

    snprintf(fs, sizeof(fs), "%s/5/fs", snaps);
    memset(big, 'x', sizeof(big));
    CHECK(mkdir(strcat(strcpy(a, fs), "/d"), 0755) == 0);
    write_file(fs, "d/big", "");
    {
        FILE *f = fopen(strcat(strcpy(a, fs), "/d/big"), "w");
        CHECK(f != NULL && fwrite(big, 1, sizeof(big), f) == sizeof(big));
        if (f)
            fclose(f);
    }
    snprintf(b, sizeof(b), "%s/hardlink", fs);
    CHECK(link(a, b) == 0);
    CHECK(snapstore_usage(s, "c2", &size, &inodes, &err) == SNAP_OK);
    CHECK_MSG(size == du(fs, "-B1") && inodes == du(fs, "--inodes"), "size %" PRId64 " du %" PRId64
              ", inodes %" PRId64 " du %" PRId64, size, du(fs, "-B1"), inodes, du(fs, "--inodes"));
    CHECK(size > 100000 && inodes == 4); /* fs, new.txt, d, d/big (twice linked) */

    /* a committed snapshot reports what it had at commit time */
    CHECK(snapstore_commit(s, "layer3", "c2", NULL, &err) == SNAP_OK);
    write_file(fs, "later.txt", "after commit\n");
    CHECK(snapstore_usage(s, "layer3", &size2, &inodes2, &err) == SNAP_OK);
    CHECK(size2 == size && inodes2 == inodes);
    /* a view's usage is zero */
    CHECK(snapstore_usage(s, "v0", &size2, &inodes2, &err) == SNAP_OK && size2 == 0 && inodes2 == 0);
    CHECK(snapstore_usage(s, "missing", &size2, &inodes2, &err) == SNAP_ERR_NOT_FOUND);
}

static void test_cleanup(struct snapstore *s)
{
    char p[1024], outside[512], sentinel[600];
    struct error err;
    int removed = -1;

    snprintf(p, sizeof(p), "%s/999", snaps);
    CHECK(mkdir(p, 0700) == 0);
    snprintf(p, sizeof(p), "%s/999/fs", snaps);
    CHECK(mkdir(p, 0755) == 0);
    write_file(p, "orphan", "x");
    snprintf(p, sizeof(p), "%s/new-abcdef", snaps);
    CHECK(mkdir(p, 0700) == 0);
    snprintf(p, sizeof(p), "%s/007", snaps); /* not how an id is named */
    CHECK(mkdir(p, 0700) == 0);
    /* an entry that links elsewhere goes itself, never what it points to */
    snprintf(p, sizeof(p), "%s/link", snaps);
    snprintf(outside, sizeof(outside), "%s/outside", root);
    CHECK(symlink(outside, p) == 0);
    /* something still mounted in an orphan is detached, never emptied */
    CHECK(mkdir(outside, 0755) == 0);
    write_file(outside, "keep", "keep me");
    snprintf(p, sizeof(p), "%s/999/fs/mnt", snaps);
    CHECK(mkdir(p, 0755) == 0);
    CHECK(mount(outside, p, NULL, MS_BIND, NULL) == 0);

    CHECK(snapstore_cleanup(s, &removed, &err) == SNAP_OK);
    CHECK_MSG(removed == 4, "removed %d", removed);
    CHECK(!exists("%s/%" PRId64, snaps, 999));
    snprintf(sentinel, sizeof(sentinel), "%s/keep", outside);
    CHECK(access(sentinel, F_OK) == 0);
    for (int64_t id = 1; id <= 9; id++)
        CHECK(exists("%s/%" PRId64, snaps, id) == (id != 4 && id != 8 && id != 9));
}

/* a lazily mounted layer is committed without walking its fs/ */
static void test_commit_remote(struct snapstore *s)
{
    struct snap_created c;
    struct snap_info info = {0};
    struct snap_labels l = {0};
    struct error err;
    int64_t size = -1, inodes = -1;

    CHECK(prep(s, SNAP_KIND_ACTIVE, "r", NULL, NULL, &c) == SNAP_OK);
    write_file(c.fs_dir, "file", "content\n");
    snap_labels_set(&l, "kind", "fuse");
    CHECK(snapstore_commit_remote(s, "remote", "r", &l, &err) == SNAP_OK);
    CHECK(snapstore_usage(s, "remote", &size, &inodes, &err) == SNAP_OK && size == 0 && inodes == 0);
    CHECK(snapstore_stat(s, "remote", &info, &err) == SNAP_OK && info.kind == SNAP_KIND_COMMITTED);
    CHECK(snap_labels_get(&info.labels, "kind") != NULL);
    CHECK(snapstore_commit_remote(s, "remote2", "remote", &l, &err) == SNAP_ERR_FAILED_PRECONDITION);
    snap_info_free(&info);
    snap_labels_free(&l);
}

/* threads at once on one store: chains of prepare, commit, view, remove,
 * with walks between; every chain must come out whole */
#define THREADS 4
#define CHAIN 12

struct worker {
    struct snapstore *s;
    int k, failures;
};

static int count_cb(const struct snap_info *info, void *arg)
{
    (void)info;
    (*(int *)arg)++;
    return 0;
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    char a[32], c[32], v[32], prev[32] = "";
    struct error err;

    for (int i = 0; i < CHAIN; i++) {
        int n = 0;
        snprintf(a, sizeof(a), "t%d-a%d", w->k, i);
        snprintf(c, sizeof(c), "t%d-c%d", w->k, i);
        snprintf(v, sizeof(v), "t%d-v%d", w->k, i);
        w->failures += snapstore_prepare(w->s, SNAP_KIND_ACTIVE, a, prev, NULL, NULL, NULL, &err) != SNAP_OK;
        w->failures += snapstore_walk(w->s, NULL, 0, count_cb, &n, &err) != SNAP_OK || n == 0;
        w->failures += snapstore_commit(w->s, c, a, NULL, &err) != SNAP_OK;
        w->failures += snapstore_prepare(w->s, SNAP_KIND_VIEW, v, c, NULL, NULL, NULL, &err) != SNAP_OK;
        w->failures += snapstore_remove(w->s, v, &err) != SNAP_OK;
        strcpy(prev, c);
    }
    return NULL;
}

static void test_threads(struct snapstore *s)
{
    pthread_t t[THREADS];
    struct worker w[THREADS];
    struct error err;
    int removed = -1;

    for (int k = 0; k < THREADS; k++) {
        w[k] = (struct worker){.s = s, .k = k};
        CHECK(pthread_create(&t[k], NULL, worker_run, &w[k]) == 0);
    }
    for (int k = 0; k < THREADS; k++) {
        pthread_join(t[k], NULL);
        CHECK_MSG(w[k].failures == 0, "thread %d: %d failed calls", k, w[k].failures);
    }
    /* each chain's last layer sits on all the others of its thread */
    for (int k = 0; k < THREADS; k++) {
        struct snap_mount m = {0};
        char last[32], key[32];
        size_t colons = 0;
        snprintf(last, sizeof(last), "t%d-c%d", k, CHAIN - 1);
        snprintf(key, sizeof(key), "t%d-top", k);
        CHECK(snapstore_prepare(s, SNAP_KIND_VIEW, key, last, NULL, &m, NULL, &err) == SNAP_OK);
        for (size_t i = 0; i < m.noptions; i++)
            if (strncmp(m.options[i], "lowerdir=", 9) == 0)
                for (const char *p = m.options[i]; *p; p++)
                    colons += *p == ':';
        CHECK_MSG(colons == CHAIN - 1, "t%d: %zu lower dirs", k, colons + 1);
        snap_mount_free(&m);
        CHECK(snapstore_remove(s, key, &err) == SNAP_OK);
    }
    CHECK(snapstore_cleanup(s, &removed, &err) == SNAP_OK && removed == 0);
}

/* everything the store holds, as one string */
static void dump(struct snapstore *s, char *out, size_t len)
{
    const char *keys[] = {"base", "layer2", "layer3", "v0", "v1", "v2", "c2"};
    struct error err;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
        struct snap_info info = {0};
        struct snap_mount m = {0};
        size_t n = strlen(out);
        enum snap_status rc = snapstore_stat(s, keys[i], &info, &err);
        snprintf(out + n, len - n, "%s:%d:%d:%s:%" PRId64 ":%" PRId64 ":%zu|", keys[i], (int)rc, (int)info.kind,
                 info.parent ? info.parent : "", info.created_ns, info.updated_ns, info.labels.n);
        if (snapstore_mounts(s, keys[i], &m, &err) == SNAP_OK) {
            n = strlen(out);
            snprintf(out + n, len - n, "%s|", mount_str(&m));
        }
        snap_mount_free(&m);
        snap_info_free(&info);
    }
}

static void test_reopen(struct snapstore **sp)
{
    static char before[65536], after[65536];
    struct snapstore *other = NULL;
    struct error err;

    dump(*sp, before, sizeof(before));
    CHECK(snapstore_open(root, &other, &err) != 0); /* one process per root */
    CHECK_MSG(strstr(err.msg, "in use") != NULL, "%s", err.msg);
    snapstore_close(*sp);
    if (snapstore_open(root, sp, &err) != 0) {
        fprintf(stderr, "reopen: %s\n", err.msg);
        exit(1);
    }
    dump(*sp, after, sizeof(after));
    CHECK_MSG(strcmp(before, after) == 0, "\n%s\n%s", before, after);
}

static void test_bad_metadata(void)
{
    char r[512], p[600];
    struct snapstore *s = NULL;
    struct error err;
    sqlite3 *db;

    /* a newer schema version is refused */
    snprintf(r, sizeof(r), "%s/other", root);
    CHECK(snapstore_open(r, &s, &err) == 0);
    snapstore_close(s);
    snprintf(p, sizeof(p), "%s/snapshotter/metadata.db", r);
    CHECK(sqlite3_open(p, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(snapstore_open(r, &s, &err) != 0);
    CHECK_MSG(strstr(err.msg, "schema version 7") != NULL, "%s", err.msg);
    /* random bytes are no database */
    unlink(p);
    snprintf(p, sizeof(p), "%s/snapshotter/metadata.db-wal", r);
    unlink(p);
    snprintf(p, sizeof(p), "%s/snapshotter/metadata.db-shm", r);
    unlink(p);
    snprintf(p, sizeof(p), "%s/snapshotter/metadata.db", r);
    {
        FILE *f = fopen(p, "w");
        for (int i = 0; f != NULL && i < 8192; i++)
            fputc((i * 7919) & 0xff, f);
        if (f)
            fclose(f);
    }
    CHECK(snapstore_open(r, &s, &err) != 0);
    CHECK_MSG(strstr(err.msg, "metadata.db") != NULL, "%s", err.msg);
}

static void test_bounds(struct snapstore *s)
{
    char key[SNAP_KEY_MAX + 2];
    struct snap_mount m = {0};
    struct error err;

    memset(key, 'k', sizeof(key));
    key[SNAP_KEY_MAX] = '\0';
    CHECK(snapstore_prepare(s, SNAP_KIND_VIEW, key, NULL, NULL, &m, NULL, &err) == SNAP_OK);
    snap_mount_free(&m);
    CHECK(snapstore_remove(s, key, &err) == SNAP_OK);
    key[SNAP_KEY_MAX] = 'k';
    key[SNAP_KEY_MAX + 1] = '\0';
    CHECK(snapstore_prepare(s, SNAP_KIND_VIEW, key, NULL, NULL, &m, NULL, &err) == SNAP_ERR_INVALID_ARGUMENT);
    CHECK(snapstore_commit(s, key, "c2", NULL, &err) == SNAP_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    struct snapstore *s = NULL;
    struct error err;

    snprintf(root, sizeof(root), "%s/snapstore-test-XXXXXX", getenv("TMP") ? getenv("TMP") : "/tmp");
    if (mkdtemp(root) == NULL)
        return 1;
    snprintf(snaps, sizeof(snaps), "%s/snapshotter/snapshots", root);
    index_off = access("/sys/module/overlay/parameters/index", F_OK) == 0;
    if (snapstore_open(root, &s, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    test_prepare_and_view(s);
    test_commit(s);
    test_mounts(s);
    test_real_mounts(s);
    test_remove(s);
    test_update(s);
    test_walk(s);
    test_usage(s);
    test_bounds(s);
    test_cleanup(s);
    test_commit_remote(s);
    test_threads(s);
    test_reopen(&s);
    snapstore_close(s);
    test_bad_metadata();
    if (snapdir_remove(root, &err) != 0)
        fprintf(stderr, "cleanup: %s\n", err.msg);
    return check_exit();
}
