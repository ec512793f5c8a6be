/* store.c -- the soci CLI's default store of layouts (see store.h) */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "strutil.h"

#define NAME_MAX_LEN 255

static const char *root_override;

void store_set_root(const char *dir)
{
    root_override = dir;
}

int store_root(char *out, size_t n, struct error *err)
{
    const char *env = getenv("SOCI_ROOT"), *base = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    int len;

    if (root_override)
        len = snprintf(out, n, "%s", root_override);
    else if (env && env[0])
        len = snprintf(out, n, "%s", env);
    else if (geteuid() == 0)
        len = snprintf(out, n, "/var/lib/soci-c");
    else if (base && base[0] == '/') /* the XDG spec ignores a relative XDG_DATA_HOME */
        len = snprintf(out, n, "%s/soci-c", base);
    else {
        if (home == NULL || home[0] != '/') {
            const struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : NULL;
        }
        RETURN_ERROR_IF(home == NULL || home[0] != '/', err,
                        "no home directory to keep the store in: give soci --root DIR or SOCI_ROOT=DIR");
        len = snprintf(out, n, "%s/.local/share/soci-c", home);
    }
    RETURN_ERROR_IF(len <= 0 || (size_t)len >= n, err, "the store root's path is empty or too long");
    return 0;
}

/* the root must be a directory; create: made 0700 when missing, and
 * writable.  *present = 0 when it is missing and create is 0. */
static int root_check(const char *root, int create, int *present, struct error *err)
{
    struct stat st;

    *present = 0;
    if (stat(root, &st) != 0) {
        RETURN_ERROR_IF(errno != ENOENT, err, "store root %s: %s", root, strerror(errno));
        if (!create)
            return 0;
        if (mkdir_p(root, 0700, err) != 0)
            return error_prefix(err, "store root");
        RETURN_ERROR_IF(stat(root, &st) != 0, err, "store root %s: %s", root, strerror(errno));
    }
    RETURN_ERROR_IF(!S_ISDIR(st.st_mode), err, "store root %s is not a directory", root);
    RETURN_ERROR_IF(create && access(root, W_OK | X_OK) != 0, err, "store root %s is not writable: %s", root,
                    strerror(errno));
    *present = 1;
    return 0;
}

int store_check_root(int create, struct error *err)
{
    char root[4096];
    int present;

    return store_root(root, sizeof(root), err) != 0 ? -1 : root_check(root, create, &present, err);
}

/* one part of a reference as one path component: from -> to, lowercased
 * when asked; only the characters of `allowed` may result */
static int encode_part(const char *in, char from, char to, int lower, const char *allowed, char *out, size_t n)
{
    size_t i;

    for (i = 0; in[i]; i++) {
        char ch = in[i];
        if (i + 1 >= n || i >= NAME_MAX_LEN)
            return -1;
        if (lower && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch == from)
            ch = to;
        if (strchr(allowed, ch) == NULL)
            return -1;
        out[i] = ch;
    }
    out[i] = '\0';
    return (i == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) ? -1 : 0;
}

#define HOST_CHARS "abcdefghijklmnopqrstuvwxyz0123456789.-_[]"
#define REPO_CHARS "abcdefghijklmnopqrstuvwxyz0123456789._-+"

static int encode_ref(const struct reg_ref *r, char *host, char *repo, size_t n, struct error *err)
{
    RETURN_ERROR_IF(encode_part(r->host, ':', '_', 1, HOST_CHARS, host, n) != 0, err,
                    "registry \"%.200s\" cannot name a store directory", r->host);
    RETURN_ERROR_IF(encode_part(r->repo, '/', '+', 0, REPO_CHARS, repo, n) != 0, err,
                    "repository \"%.200s\" cannot name a store directory (longer than %d characters?)", r->repo,
                    NAME_MAX_LEN);
    return 0;
}

int store_layout_path(const struct reg_ref *r, char *dir, size_t dir_len, char *name, size_t name_len,
                      struct error *err)
{
    char root[4096], host[NAME_MAX_LEN + 1], repo[NAME_MAX_LEN + 1];
    int len;

    if (store_root(root, sizeof(root), err) != 0 || encode_ref(r, host, repo, sizeof(host), err) != 0)
        return -1;
    len = snprintf(dir, dir_len, "%s/layouts/%s/%s", root, host, repo);
    RETURN_ERROR_IF(len < 0 || (size_t)len >= dir_len, err, "store path too long for %s/%s", r->host, r->repo);
    if (name) {
        len = snprintf(name, name_len, "%s/%s", r->host, r->repo);
        RETURN_ERROR_IF(len < 0 || (size_t)len >= name_len, err, "reference too long: %s/%s", r->host, r->repo);
        for (len = 0; name[len] != '/'; len++)
            if (name[len] >= 'A' && name[len] <= 'Z')
                name[len] = (char)(name[len] - 'A' + 'a');
    }
    return 0;
}

/* remove what layout_open(create) put into a temporary layout */
static void remove_new_layout(const char *tmp)
{
    char p[4200];

    snprintf(p, sizeof(p), "%s/oci-layout", tmp);
    unlink(p);
    snprintf(p, sizeof(p), "%s/index.json", tmp);
    unlink(p);
    snprintf(p, sizeof(p), "%s/blobs/sha256", tmp);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/blobs", tmp);
    rmdir(p);
    rmdir(tmp);
}

/* make the layout dir whole or not at all: build it beside, rename it in.
 * Losing the race to another creator is fine: its layout is complete. */
static int make_layout(const char *dir, struct error *err)
{
    char parent[4096], tmp[4200];
    struct oci_layout l;
    char *slash;
    int e;

    str_copy(parent, sizeof(parent), dir);
    slash = strrchr(parent, '/');
    RETURN_ERROR_IF(slash == NULL, err, "%s: not a store layout path", dir);
    *slash = '\0';
    if (mkdir_p(parent, 0700, err) != 0)
        return -1;
    snprintf(tmp, sizeof(tmp), "%s/.new.XXXXXX", parent);
    RETURN_ERROR_IF(mkdtemp(tmp) == NULL, err, "%s: %s", parent, strerror(errno));
    if (layout_open(&l, tmp, 1, err) != 0) {
        remove_new_layout(tmp);
        return -1;
    }
    layout_close(&l);
    if (rename(tmp, dir) == 0)
        return 0;
    e = errno;
    remove_new_layout(tmp);
    RETURN_ERROR_IF(e != EEXIST && e != ENOTEMPTY, err, "%s: %s", dir, strerror(e));
    return 0;
}

int store_open_layout(const struct reg_ref *r, int create, struct oci_layout *l, char *dir, size_t dir_len,
                      struct error *err)
{
    char root[4096], name[800];
    struct stat st;
    int present;

    if (store_root(root, sizeof(root), err) != 0 || root_check(root, create, &present, err) != 0 ||
        store_layout_path(r, dir, dir_len, name, sizeof(name), err) != 0)
        return -1;
    if (stat(dir, &st) != 0) {
        RETURN_ERROR_IF(errno != ENOENT, err, "%s: %s", dir, strerror(errno));
        RETURN_ERROR_IF(!create, err, "%s: nothing in the store %s (soci create an image of it first)", name,
                        root);
        if (make_layout(dir, err) != 0)
            return -1;
    }
    return layout_open(l, dir, 0, err);
}

static int add_layout(struct store_list *sl, size_t *cap, const char *dir, const char *name, struct error *err)
{
    struct store_layout *e;

    RETURN_ERROR_IF(sl->n >= STORE_MAX_LAYOUTS, err, "the store holds more than %d layouts", STORE_MAX_LAYOUTS);
    if (sl->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct store_layout *v = realloc(sl->v, ncap * sizeof(*v));
        RETURN_ERROR_IF(v == NULL, err, "out of memory");
        sl->v = v;
        *cap = ncap;
    }
    e = &sl->v[sl->n];
    e->dir = strdup(dir);
    e->name = name ? strdup(name) : NULL;
    if (e->dir == NULL || (name && e->name == NULL)) {
        free(e->dir);
        free(e->name);
        return error_set(err, "out of memory");
    }
    sl->n++;
    return 0;
}

int store_list_one(struct store_list *sl, const char *dir, const char *name, struct error *err)
{
    size_t cap = 0;

    memset(sl, 0, sizeof(*sl));
    return add_layout(sl, &cap, dir, name, err);
}

/* a subdirectory (not a symlink) whose name is not hidden */
static int is_plain_dir(int dirfd, const char *name)
{
    struct stat st;

    return name[0] != '.' && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* "HOST/REPO" from a host and a repository directory name, when the
 * mapping could have made exactly these names */
static int decode_names(const char *hdir, const char *rdir, char *name, size_t n)
{
    char buf[2 * NAME_MAX_LEN + 2], host[NAME_MAX_LEN + 1], repo[NAME_MAX_LEN + 1];
    struct reg_ref r;
    struct error err;
    size_t i;

    if (strlen(hdir) > NAME_MAX_LEN || strlen(rdir) > NAME_MAX_LEN)
        return -1;
    snprintf(buf, sizeof(buf), "%s/%s", hdir, rdir);
    for (i = 0; buf[i] != '/'; i++)
        if (buf[i] == '_')
            buf[i] = ':';
    for (i++; buf[i]; i++)
        if (buf[i] == '+')
            buf[i] = '/';
    if (reg_ref_parse(buf, &r, &err) != 0 || strcmp(r.tag, "latest") != 0 ||
        encode_ref(&r, host, repo, sizeof(host), &err) != 0 || strcmp(host, hdir) != 0 || strcmp(repo, rdir) != 0)
        return -1;
    return str_copy(name, n, buf);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct store_layout *)a)->name, ((const struct store_layout *)b)->name);
}

/* the layouts of one host directory */
static int list_host(struct store_list *sl, size_t *cap, const char *layouts, const char *hdir, struct error *err)
{
    char path[4400], dir[4700], name[2 * NAME_MAX_LEN + 2];
    DIR *d;
    struct dirent *de;
    int rc = 0, len;

    len = snprintf(path, sizeof(path), "%s/%s", layouts, hdir);
    RETURN_ERROR_IF(len < 0 || (size_t)len >= sizeof(path), err, "%s: path too long", layouts);
    d = opendir(path);
    RETURN_ERROR_IF(d == NULL, err, "%s: %s", path, strerror(errno));
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!is_plain_dir(dirfd(d), de->d_name) || decode_names(hdir, de->d_name, name, sizeof(name)) != 0)
            continue;
        len = snprintf(dir, sizeof(dir), "%s/%s", path, de->d_name);
        rc = len < 0 || (size_t)len >= sizeof(dir) ? error_set(err, "%s: path too long", path)
                                                   : add_layout(sl, cap, dir, name, err);
    }
    closedir(d);
    return rc;
}

int store_list_layouts(struct store_list *sl, struct error *err)
{
    char root[4096], layouts[4200];
    size_t cap = 0;
    DIR *d;
    struct dirent *de;
    int present, rc = 0;

    memset(sl, 0, sizeof(*sl));
    if (store_root(root, sizeof(root), err) != 0 || root_check(root, 0, &present, err) != 0)
        return -1;
    if (!present)
        return 0;
    snprintf(layouts, sizeof(layouts), "%s/layouts", root);
    d = opendir(layouts);
    if (d == NULL) {
        RETURN_ERROR_IF(errno != ENOENT, err, "%s: %s", layouts, strerror(errno));
        return 0;
    }
    while (rc == 0 && (de = readdir(d)) != NULL)
        if (is_plain_dir(dirfd(d), de->d_name))
            rc = list_host(sl, &cap, layouts, de->d_name, err);
    closedir(d);
    if (rc != 0) {
        store_list_free(sl);
        return -1;
    }
    if (sl->n > 1)
        qsort(sl->v, sl->n, sizeof(*sl->v), by_name);
    return 0;
}

void store_list_free(struct store_list *sl)
{
    size_t i;

    for (i = 0; i < sl->n; i++) {
        free(sl->v[i].dir);
        free(sl->v[i].name);
    }
    free(sl->v);
    memset(sl, 0, sizeof(*sl));
}
