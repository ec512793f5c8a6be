/* layer_extract.c -- unpack a layer for overlayfs (see layer_extract.h) */
#include "layer_extract.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"

#define CHUNK (1 << 20)

static int convert_whiteout(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    const char *base = path + f->base;
    char target[4096], dir[4096];
    size_t dl = (size_t)f->base;
    struct stat dst;
    int have_dir;

    (void)st;
    if (flag != FTW_F || strncmp(base, ".wh.", 4) != 0)
        return 0;
    if (dl >= sizeof(target) || dl < 1)
        return 0;
    memcpy(target, path, dl);
    target[dl] = '\0';
    /* the directory holding the whiteout: its times are the layer's, and
     * must stay so after the entries in it change */
    memcpy(dir, path, dl - 1);
    dir[dl - 1] = '\0';
    have_dir = lstat(dir, &dst) == 0;
    if (strcmp(base, ".wh..wh..opq") == 0) {
        unlink(path);
        setxattr(dir, "trusted.overlay.opaque", "y", 1, 0);
    } else {
        snprintf(target + dl, sizeof(target) - dl, "%s", base + 4);
        unlink(path);
        mknod(target, S_IFCHR | 0, makedev(0, 0));
    }
    if (have_dir) {
        struct timespec ts[2] = {dst.st_atim, dst.st_mtim};
        utimensat(AT_FDCWD, dir, ts, AT_SYMLINK_NOFOLLOW);
    }
    return 0;
}

int layer_extract(struct blob_source *src, const char *media_type, const char *dir, struct error *err)
{
    int pipefd[2], status;
    pid_t pid;
    uint8_t *buf;
    int64_t off = 0;
    int rc = 0;

    if (mkdir_p(dir, 0755, err) != 0)
        return -1;
    RETURN_ERROR_IF(strstr(media_type, "zstd") != NULL, err, "zstd layers cannot be unpacked here");
    RETURN_ERROR_IF(pipe(pipefd) != 0, err, "pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return error_set(err, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(pipefd[0], 0);
        if (null >= 0)
            dup2(null, 1);
        close(pipefd[0]);
        close(pipefd[1]);
        if (strstr(media_type, "gzip"))
            execlp("tar", "tar", "-x", "-z", "-f", "-", "-C", dir, "--numeric-owner", "--same-owner", "-p",
                   "--xattrs", "--xattrs-include=*", (char *)NULL);
        else
            execlp("tar", "tar", "-x", "-f", "-", "-C", dir, "--numeric-owner", "--same-owner", "-p", "--xattrs",
                   "--xattrs-include=*", (char *)NULL);
        _exit(127);
    }
    close(pipefd[0]);
    signal(SIGPIPE, SIG_IGN);
    buf = malloc(CHUNK);
    while (buf && off < src->size) {
        size_t n = src->size - off < CHUNK ? (size_t)(src->size - off) : CHUNK;
        if (blob_source_read(src, off, n, buf, err) != 0 || write_all(pipefd[1], buf, n, err) != 0) {
            rc = -1;
            break;
        }
        off += (int64_t)n;
    }
    free(buf);
    close(pipefd[1]);
    waitpid(pid, &status, 0);
    if (rc != 0)
        return error_prefix(err, "unpacking layer %s", src->digest);
    RETURN_ERROR_IF(!WIFEXITED(status) || WEXITSTATUS(status) != 0, err, "tar failed unpacking layer %s",
                    src->digest);
    nftw(dir, convert_whiteout, 32, FTW_PHYS);
    return 0;
}
