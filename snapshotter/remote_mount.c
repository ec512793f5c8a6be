/* remote_mount.c -- soci-mount processes (see remote_mount.h) */
#include "remote_mount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "strutil.h"

extern char **environ;

#define MAX_STATE_FILE 65536

/* the last line soci-mount wrote to its log after offset `from` */
static void last_log_line(const char *log_path, off_t from, char *out, size_t n)
{
    char buf[2048];
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    ssize_t got;
    off_t off;
    char *end, *start;

    out[0] = '\0';
    if (fd < 0)
        return;
    if (fstat(fd, &st) != 0 || st.st_size <= from) {
        close(fd);
        return;
    }
    off = st.st_size - (off_t)sizeof(buf) + 1 > from ? st.st_size - (off_t)sizeof(buf) + 1 : from;
    got = pread(fd, buf, sizeof(buf) - 1, off);
    close(fd);
    if (got <= 0)
        return;
    buf[got] = '\0';
    end = buf + got;
    while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    start = strrchr(buf, '\n');
    str_copy(out, n, start ? start + 1 : buf);
}

/* pids of mount processes for dir other than `not`: argv ends with dir and
 * argv[0] is the helper -- the background half of a mount we gave up on */
static void kill_helpers_for(const char *helper, const char *dir, pid_t not)
{
    DIR *d = opendir("/proc");
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[300], cmd[8192];
        char *end, *last;
        ssize_t got;
        long pid = strtol(de->d_name, &end, 10);
        int fd;
        if (*end || pid <= 0 || pid == not)
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        got = read(fd, cmd, sizeof(cmd) - 1);
        close(fd);
        if (got <= 1)
            continue;
        cmd[got] = '\0';
        if (cmd[got - 1] == '\0')
            got--;
        last = memrchr(cmd, '\0', (size_t)got);
        if (last && strcmp(cmd, helper) == 0 && strcmp(last + 1, dir) == 0)
            kill((pid_t)pid, SIGKILL);
    }
    closedir(d);
}

static void fmt_int(char *buf, size_t n, int64_t v)
{
    snprintf(buf, n, "%lld", (long long)v);
}

int remote_mount_spawn(const struct mount_spec *s, struct error *err)
{
    char mem[32], disk[32], quiet[32], period[32];
    const char *argv[32];
    size_t argc = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    struct stat st;
    off_t log_from = 0;
    pid_t pid;
    int rc, status = 0, pidfd;
    char why[400];

    if (mkdir_p(s->cache_dir, 0700, err) != 0)
        return -1;
    if (stat(s->log_path, &st) == 0)
        log_from = st.st_size;
    fmt_int(mem, sizeof(mem), s->cache_mem);
    fmt_int(disk, sizeof(disk), s->cache_disk);
    fmt_int(quiet, sizeof(quiet), s->cfg->bg_silence_period_msec);
    fmt_int(period, sizeof(period), s->cfg->bg_fetch_period_msec);
    argv[argc++] = s->helper;
    argv[argc++] = s->source;
    argv[argc++] = "--layer";
    argv[argc++] = s->layer;
    argv[argc++] = "--soci-index-digest";
    argv[argc++] = s->index;
    argv[argc++] = "--cache-dir";
    argv[argc++] = s->cache_dir;
    argv[argc++] = "--cache-mem";
    argv[argc++] = mem;
    argv[argc++] = "--cache-disk";
    argv[argc++] = disk;
    if (s->cfg->bg_disable) {
        argv[argc++] = "--no-background-fetch";
    } else {
        argv[argc++] = "--bg-quiet-ms";
        argv[argc++] = quiet;
        argv[argc++] = "--bg-period-ms";
        argv[argc++] = period;
    }
    /* soci-mount finds the layer's prefetch artifact in the index itself */
    if (!s->cfg->prefetch_enable)
        argv[argc++] = "--no-prefetch-artifact";
    {
        /* the registry host of HOST/REPO@MANIFEST, reached as the daemon reaches it */
        char host[256];
        const char *slash = strchr(s->source, '/');
        size_t hl = slash ? (size_t)(slash - s->source) : 0;
        if (hl > 0 && hl < sizeof(host)) {
            memcpy(host, s->source, hl);
            host[hl] = '\0';
            if (snap_config_plain_http(s->cfg, host))
                argv[argc++] = "--plain-http";
        }
    }
    argv[argc++] = s->dir;
    argv[argc] = NULL;

    /* its own session (it outlives us), stdin from /dev/null, stdout and
     * stderr to its log, none of our descriptors */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    {
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        sigdelset(&all, SIGKILL);
        sigdelset(&all, SIGSTOP);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setsigdefault(&at, &all);
    }
    rc = posix_spawn(&pid, s->helper, &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    RETURN_ERROR_IF(rc != 0, err, "cannot start %s: %s", s->helper, strerror(rc));

    /* soci-mount's first process exits once the layer is mounted */
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) {
        struct pollfd p = {pidfd, POLLIN, 0};
        int64_t ms = (int64_t)(s->timeout_sec > 0 ? s->timeout_sec : 30) * 1000;
        while ((rc = poll(&p, 1, ms > 0x7fffffff ? 0x7fffffff : (int)ms)) < 0 && errno == EINTR)
            ;
        close(pidfd);
    } else {
        rc = 1; /* no pidfd: wait without a deadline */
    }
    if (rc == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        kill_helpers_for(s->helper, s->dir, pid);
        remote_mount_unmount(s->dir, NULL);
        return error_set(err, "layer %s: not mounted within mount_timeout_sec (%d s)", s->layer, s->timeout_sec);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (remote_mount_state(s->dir) == MOUNT_LIVE)
            return 0;
        return error_set(err, "layer %s: soci-mount exited 0 but nothing answers on %s", s->layer, s->dir);
    }
    last_log_line(s->log_path, log_from, why, sizeof(why));
    if (WIFEXITED(status))
        return error_set(err, "soci-mount exited %d: %s", WEXITSTATUS(status), why[0] ? why : "(no message)");
    return error_set(err, "soci-mount killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* is there a FUSE mount of type fuse.soci on dir in /proc/self/mountinfo?
 * (mount points there escape space, tab, newline and backslash as \ooo) */
static int in_mountinfo(const char *dir)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[8192], esc[8192];
    size_t o = 0;
    const char *p;
    int found = 0;

    if (f == NULL)
        return 0;
    for (p = dir; *p && o + 5 < sizeof(esc); p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\')
            o += (size_t)snprintf(esc + o, sizeof(esc) - o, "\\%03o", (unsigned char)*p);
        else
            esc[o++] = *p;
    }
    esc[o] = '\0';
    while (fgets(line, sizeof(line), f)) {
        char *save = NULL, *tok, *mp = NULL, *dash;
        int i;
        dash = strstr(line, " - ");
        if (dash == NULL)
            continue;
        tok = strtok_r(line, " ", &save);
        for (i = 0; tok && i < 4; i++)
            tok = strtok_r(NULL, " ", &save);
        mp = tok;
        if (mp && strcmp(mp, esc) == 0 && strncmp(dash + 3, "fuse", 4) == 0)
            found = 1; /* the last match is the one on top; any will do */
    }
    fclose(f);
    return found;
}

enum mount_state remote_mount_state(const char *dir)
{
    struct stat st;

    if (!in_mountinfo(dir))
        return MOUNT_ABSENT;
    if (stat(dir, &st) != 0 && errno == ENOTCONN)
        return MOUNT_DEAD;
    return MOUNT_LIVE;
}

int remote_mount_unmount(const char *dir, struct error *err)
{
    int tries;

    /* a dead mount, or stacked ones, come off one at a time */
    for (tries = 0; tries < 8 && in_mountinfo(dir); tries++) {
        if (umount2(dir, 0) == 0)
            continue;
        if (errno == EBUSY && umount2(dir, MNT_DETACH) == 0)
            continue;
        if (errno == EINVAL || errno == ENOENT)
            return 0;
        return error_set(err, "unmounting %s: %s", dir, strerror(errno));
    }
    return 0;
}

int remote_mount_progress(const char *dir, const char *layer, double *fetched_pct, int64_t *bytes_fetched)
{
    char path[4400];
    uint8_t *buf = NULL;
    size_t len;
    json_t *doc;
    struct error err;

    snprintf(path, sizeof(path), "%s/.soci-snapshotter/%s.json", dir, layer);
    if (read_file(path, MAX_STATE_FILE, &buf, &len, &err) != 0)
        return -1;
    doc = json_loadb((const char *)buf, len, 0, NULL);
    free(buf);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return -1;
    }
    *fetched_pct = json_number_value(json_object_get(doc, "fetchedPercent"));
    *bytes_fetched = (int64_t)json_integer_value(json_object_get(doc, "bytesFetched"));
    json_decref(doc);
    return 0;
}
