/* fileio.c -- file helpers (see fileio.h) */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prefault.h"
#include "sha256.h"

void unlink_matching(const char *dir, int (*match)(const char *name))
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL)
        if (match(e->d_name))
            (void)unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

int open_regular(const char *path, int64_t want_size, int *fd, struct error *err)
{
    struct stat st;
    int e, flags;

    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    RETURN_ERROR_IF(*fd < 0, err, "%s: %s", path, strerror(errno));
    if (fstat(*fd, &st) != 0) {
        e = errno;
        goto fail_errno;
    }
    if (!S_ISREG(st.st_mode)) {
        close(*fd);
        *fd = -1;
        return error_set(err, "%s: not a regular file", path);
    }
    if (want_size >= 0 && st.st_size != want_size) {
        close(*fd);
        *fd = -1;
        return error_set(err, "%s has %lld bytes, its descriptor says %lld", path, (long long)st.st_size,
                         (long long)want_size);
    }
    flags = fcntl(*fd, F_GETFL);
    if (flags < 0 || fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        e = errno;
        goto fail_errno;
    }
    return 0;
fail_errno:
    close(*fd);
    *fd = -1;
    return error_set(err, "%s: %s", path, strerror(e));
}

/* a big file is read a chunk at a time when hashed: each chunk is hashed
 * while the kernel's readahead brings in the next from a cold disk (a
 * 3.3 MB ztoc, page cache dropped: 6-8 ms read and hashed, against 9 ms
 * read whole, then hashed) */
#define HASHED_READ_CHUNK ((size_t)1 << 20)

int read_file(const char *path, size_t max_len, uint8_t **buf, size_t *len, struct error *err)
{
    return read_file_hashed(path, max_len, buf, len, NULL, err);
}

int read_file_hashed(const char *path, size_t max_len, uint8_t **buf, size_t *len, struct sha256 *h,
                     struct error *err)
{
    struct stat st;
    uint8_t *p;
    size_t have = 0, cap;
    int fd;

    if (open_regular(path, -1, &fd, err) != 0)
        return -1;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return error_set(err, "%s: %s", path, strerror(errno));
    }
    if ((uint64_t)st.st_size > max_len) {
        close(fd);
        return error_set(err, "%s: %lld bytes is larger than the %zu-byte limit", path,
                         (long long)st.st_size, max_len);
    }
    /* the size fstat gave, plus room to see the file grow past it */
    cap = (size_t)st.st_size + 1;
    /* a file read whole may be kept a long time (soci-mount's ztoc): its
     * last huge page only when that adds at most a third */
    p = alloc_huge_populated(cap, cap / 3);
    if (p == NULL) {
        close(fd);
        return error_set(err, "%s: out of memory", path);
    }
    for (;;) {
        uint8_t probe;
        /* full to the size fstat gave: one byte more into probe says
         * whether the file grew, without growing the buffer for nothing */
        int full = have + 1 >= cap;
        size_t want = cap - 1 - have;
        ssize_t n;
        if (h != NULL && want > HASHED_READ_CHUNK)
            want = HASHED_READ_CHUNK;
        n = full ? read(fd, &probe, 1) : read(fd, p + have, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error_set(err, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        if (full) {
            uint8_t *np;
            if (cap > max_len + 1) {
                error_set(err, "%s: larger than the %zu-byte limit", path, max_len);
                goto fail;
            }
            np = realloc(p, cap * 2);
            if (np == NULL) {
                error_set(err, "%s: out of memory", path);
                goto fail;
            }
            p = np;
            cap *= 2;
            p[have] = probe;
        }
        if (h != NULL)
            sha256_update(h, p + have, (size_t)n);
        have += (size_t)n;
    }
    close(fd);
    if (have > max_len) {
        free(p);
        return error_set(err, "%s: larger than the %zu-byte limit", path, max_len);
    }
    p[have] = '\0';
    *buf = p;
    *len = have;
    return 0;
fail:
    free(p);
    close(fd);
    return -1;
}

int write_all(int fd, const void *buf, size_t n, struct error *err)
{
    const uint8_t *p = buf;

    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        RETURN_ERROR_IF(w < 0, err, "write: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int pread_full(int fd, void *buf, size_t n, off_t off, struct error *err)
{
    uint8_t *p = buf;

    while (n > 0) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        RETURN_ERROR_IF(r < 0, err, "read at byte %lld: %s", (long long)off, strerror(errno));
        RETURN_ERROR_IF(r == 0, err, "file ends before byte %lld", (long long)off);
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

static char *dir_of(const char *path)
{
    char *copy = strdup(path), *d;

    if (copy == NULL)
        return NULL;
    d = strdup(dirname(copy));
    free(copy);
    return d;
}

int out_file_open(struct out_file *of, const char *path, mode_t mode, struct error *err)
{
    char *dir = dir_of(path), *base_copy = strdup(path);
    size_t n;

    memset(of, 0, sizeof(*of));
    of->fd = -1;
    if (dir == NULL || base_copy == NULL) {
        free(dir);
        free(base_copy);
        return error_set(err, "out of memory");
    }
    n = strlen(dir) + strlen(path) + 32;
    of->tmp_path = malloc(n);
    of->final_path = strdup(path);
    if (of->tmp_path == NULL || of->final_path == NULL) {
        free(dir);
        free(base_copy);
        out_file_abort(of);
        return error_set(err, "out of memory");
    }
    snprintf(of->tmp_path, n, "%s/.%s.tmp.XXXXXX", dir, basename(base_copy));
    free(dir);
    free(base_copy);
    of->fd = mkostemp(of->tmp_path, O_CLOEXEC);
    if (of->fd < 0) {
        int e = errno;
        free(of->tmp_path);
        of->tmp_path = NULL;
        out_file_abort(of);
        return error_set(err, "%s: cannot create a file there: %s", path, strerror(e));
    }
    if (fchmod(of->fd, mode) != 0) {
        int e = errno;
        out_file_abort(of);
        return error_set(err, "%s: %s", path, strerror(e));
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *dir = dir_of(path);
    int fd, rc = 0;

    if (dir == NULL)
        return -1;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = -1;
    close(fd);
    return rc;
}

int out_file_commit(struct out_file *of, struct error *err)
{
    int e;

    if (fsync(of->fd) != 0 && errno != EINVAL) {
        e = errno;
        out_file_abort(of);
        return error_set(err, "%s: fsync: %s", of->final_path, strerror(e));
    }
    if (close(of->fd) != 0) {
        e = errno;
        of->fd = -1;
        out_file_abort(of);
        return error_set(err, "%s: close: %s", of->final_path, strerror(e));
    }
    of->fd = -1;
    if (rename(of->tmp_path, of->final_path) != 0) {
        e = errno;
        out_file_abort(of);
        return error_set(err, "%s: rename: %s", of->final_path, strerror(e));
    }
    fsync_dir_of(of->final_path);
    free(of->tmp_path);
    free(of->final_path);
    of->tmp_path = of->final_path = NULL;
    return 0;
}

void out_file_abort(struct out_file *of)
{
    if (of->fd >= 0)
        close(of->fd);
    of->fd = -1;
    if (of->tmp_path)
        unlink(of->tmp_path);
    free(of->tmp_path);
    free(of->final_path);
    of->tmp_path = of->final_path = NULL;
}

int atomic_write_file(const char *path, const void *buf, size_t n, mode_t mode,
                      struct error *err)
{
    struct out_file of;

    if (out_file_open(&of, path, mode, err) != 0)
        return -1;
    if (write_all(of.fd, buf, n, err) != 0) {
        error_prefix(err, "%s", path);
        out_file_abort(&of);
        return -1;
    }
    return out_file_commit(&of, err);
}

int mkdir_p(const char *path, mode_t mode, struct error *err)
{
    char *p = strdup(path), *s;

    RETURN_ERROR_IF(p == NULL, err, "out of memory");
    for (s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            int e = errno;
            error_set(err, "mkdir %s: %s", p, strerror(e));
            free(p);
            return -1;
        }
        *s = '/';
    }
    if (mkdir(p, mode) != 0 && errno != EEXIST) {
        int e = errno;
        error_set(err, "mkdir %s: %s", p, strerror(e));
        free(p);
        return -1;
    }
    free(p);
    return 0;
}
