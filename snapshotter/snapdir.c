/* snapdir.c -- snapshot directories on disk: removal and disk usage */
#include "snapdir.h"

#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int snapdir_sync(const char *path, struct error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return error_set(err, "open %s: %s", path, strerror(errno));
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return error_set(err, "fsync %s: %s", path, strerror(e));
    }
    close(fd);
    return 0;
}

/* ---- mounts below a tree ---- */

struct path_list {
    char **v;
    size_t n, cap;
};

static int path_list_add(struct path_list *l, const char *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    if ((l->v[l->n] = strdup(p)) == NULL)
        return -1;
    l->n++;
    return 0;
}

static void path_list_free(struct path_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape_octal(char *s)
{
    char *out = s;

    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
            s[3] <= '7') {
            *out++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

/* the mount point (fifth field) of one /proc/self/mountinfo line, in place */
static char *mountinfo_point(char *line)
{
    char *save = NULL, *f = strtok_r(line, " ", &save);

    for (int i = 1; f != NULL && i < 5; i++)
        f = strtok_r(NULL, " ", &save);
    if (f != NULL)
        unescape_octal(f);
    return f;
}

static int by_length_desc(const void *a, const void *b)
{
    size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

/* detach every mount at or below dir (a canonical path), deepest first */
static int detach_mounts_below(const char *dir, struct error *err)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    struct path_list found = {0};
    char *line = NULL;
    size_t cap = 0, dlen = strlen(dir);
    int rc = 0;

    if (f == NULL)
        return error_set(err, "open /proc/self/mountinfo: %s", strerror(errno));
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        char *mp = mountinfo_point(line);
        if (mp != NULL && strncmp(mp, dir, dlen) == 0 && (mp[dlen] == '\0' || mp[dlen] == '/'))
            rc = path_list_add(&found, mp) == 0 ? 0 : error_set(err, "out of memory");
    }
    free(line);
    fclose(f);
    if (rc == 0 && found.n > 0)
        qsort(found.v, found.n, sizeof(*found.v), by_length_desc);
    for (size_t i = 0; rc == 0 && i < found.n; i++)
        if (umount2(found.v[i], MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
            rc = error_set(err, "unmount %s: %s", found.v[i], strerror(errno));
    path_list_free(&found);
    return rc;
}

/* ---- removal ---- */

static int remove_entry(const FTSENT *e, struct error *err)
{
    int rc;

    switch (e->fts_info) {
    case FTS_D:
        return 0; /* removed on the way back up (FTS_DP) */
    case FTS_DP:
        rc = rmdir(e->fts_accpath);
        break;
    case FTS_DNR:
    case FTS_ERR:
    case FTS_NS:
        if (e->fts_errno == ENOENT)
            return 0;
        return error_set(err, "remove %s: %s", e->fts_path, strerror(e->fts_errno));
    default:
        rc = unlink(e->fts_accpath);
        break;
    }
    if (rc != 0 && errno != ENOENT)
        return error_set(err, "remove %s: %s", e->fts_path, strerror(errno));
    return 0;
}

int snapdir_remove(const char *path, struct error *err)
{
    char canon[PATH_MAX];
    char *argv[2] = {canon, NULL};
    FTS *fts;
    FTSENT *e;
    int rc = 0;

    struct stat st;

    /* never follow the tree's own name: an entry that is a symlink (or any
     * non-directory) is removed itself, not what it points to */
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : error_set(err, "remove %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return error_set(err, "remove %s: %s", path, strerror(errno));
        return 0;
    }
    if (realpath(path, canon) == NULL) {
        if (errno == ENOENT)
            return 0;
        return error_set(err, "resolve %s: %s", path, strerror(errno));
    }
    FORWARD_IF_ERROR(detach_mounts_below(canon, err), err, "remove %s", path);
    /* FTS_XDEV: a mount that could not be detached is left alone (its
     * directory then fails to go with EBUSY) rather than emptied */
    fts = fts_open(argv, FTS_PHYSICAL | FTS_NOCHDIR | FTS_XDEV, NULL);
    if (fts == NULL)
        return error_set(err, "remove %s: %s", path, strerror(errno));
    while ((e = fts_read(fts)) != NULL) {
        /* keep going after a failure so that as much as possible goes;
         * the first failure is the one reported */
        struct error tmp;
        if (remove_entry(e, rc == 0 ? err : &tmp) != 0)
            rc = -1;
    }
    if (errno != 0 && rc == 0)
        rc = error_set(err, "remove %s: %s", path, strerror(errno));
    fts_close(fts);
    return rc;
}

/* ---- disk usage ---- */

/* (dev, ino) pairs seen, open addressing; ino 0 never occurs on Linux
 * filesystems this walks, so a zero slot is empty */
struct inode_set {
    struct inode_key {
        uint64_t dev, ino;
    } *slots;
    size_t n, cap;
};

static size_t inode_hash(uint64_t dev, uint64_t ino, size_t cap)
{
    uint64_t h = (ino * 0x9e3779b97f4a7c15ull) ^ (dev + 0x632be59bd9b4e019ull);
    h ^= h >> 29;
    return (size_t)(h & (cap - 1));
}

static int inode_set_grow(struct inode_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    struct inode_key *slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i].ino == 0)
            continue;
        size_t j = inode_hash(s->slots[i].dev, s->slots[i].ino, cap);
        while (slots[j].ino != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

/* 1 if added, 0 if already there, -1 out of memory */
static int inode_set_add(struct inode_set *s, uint64_t dev, uint64_t ino)
{
    size_t j;

    if ((s->n + 1) * 2 > s->cap && inode_set_grow(s) != 0)
        return -1;
    for (j = inode_hash(dev, ino, s->cap); s->slots[j].ino != 0; j = (j + 1) & (s->cap - 1))
        if (s->slots[j].ino == ino && s->slots[j].dev == dev)
            return 0;
    s->slots[j].dev = dev;
    s->slots[j].ino = ino;
    s->n++;
    return 1;
}

int snapdir_usage(const char *path, int64_t *size, int64_t *inodes, struct error *err)
{
    char *argv[2] = {(char *)path, NULL};
    struct inode_set seen = {0};
    int64_t bytes = 0;
    FTS *fts;
    FTSENT *e;
    int rc = 0;

    /* like filepath.Walk: lstat every entry, follow no link, cross mounts */
    fts = fts_open(argv, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
    if (fts == NULL)
        return error_set(err, "usage of %s: %s", path, strerror(errno));
    while (rc == 0 && (e = fts_read(fts)) != NULL) {
        int added;
        switch (e->fts_info) {
        case FTS_DP:
            continue;
        case FTS_DNR:
        case FTS_ERR:
        case FTS_NS:
            rc = error_set(err, "usage of %s: %s", e->fts_path, strerror(e->fts_errno));
            continue;
        default:
            break;
        }
        added = inode_set_add(&seen, (uint64_t)e->fts_statp->st_dev, (uint64_t)e->fts_statp->st_ino);
        if (added < 0)
            rc = error_set(err, "usage of %s: out of memory", path);
        else if (added > 0)
            bytes += (int64_t)e->fts_statp->st_blocks * 512;
    }
    if (rc == 0 && errno != 0)
        rc = error_set(err, "usage of %s: %s", path, strerror(errno));
    fts_close(fts);
    if (rc == 0) {
        *size = bytes;
        *inodes = (int64_t)seen.n;
    }
    free(seen.slots);
    return rc;
}
