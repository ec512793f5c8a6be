/* test_snap_store_crash.c -- SIGKILL a process in the middle of prepares,
 * commits, views and removes, 30 times at random points; after each, reopen
 * and check the store is consistent: every acknowledged call is there, every
 * row has its directory, and no directory is left that no row names */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "snapdir.h"
#include "snapstore.h"

#define ITERATIONS 30
#define MAX_STEPS 400

static char root[256], snaps[320];

/* what the child acknowledged for step j of an iteration */
struct acks {
    int prepared[MAX_STEPS], committed[MAX_STEPS], removed[MAX_STEPS];
};

static void ack(int fd, char what, int j)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "%c %d\n", what, j);
    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

static void name(char *buf, size_t len, int it, char what, int j)
{
    snprintf(buf, len, "it%d-%c%d", it, what, j);
}

/* the child: a chain of layers, each prepared, written, committed, viewed
 * and its view removed; every call that returns OK is acknowledged */
static void child(int it, int fd)
{
    struct snapstore *s;
    struct error err;
    char a[64], c[64], v[64], prev[64] = "", file[4200];

    if (snapstore_open(root, &s, &err) != 0)
        _exit(2);
    for (int j = 0; j < MAX_STEPS; j++) {
        struct snap_created cr;
        struct snap_mount m = {0};
        FILE *f;

        name(a, sizeof(a), it, 'a', j);
        name(c, sizeof(c), it, 'c', j);
        name(v, sizeof(v), it, 'v', j);
        if (snapstore_prepare(s, SNAP_KIND_ACTIVE, a, prev, NULL, &m, &cr, &err) != SNAP_OK)
            _exit(4);
        snap_mount_free(&m);
        ack(fd, 'P', j);
        snprintf(file, sizeof(file), "%s/layer", cr.fs_dir);
        if ((f = fopen(file, "w")) == NULL || fprintf(f, "%s\n", c) < 0 || fclose(f) != 0)
            _exit(5);
        if (snapstore_commit(s, c, a, NULL, &err) != SNAP_OK)
            _exit(6);
        ack(fd, 'C', j);
        if (snapstore_prepare(s, SNAP_KIND_VIEW, v, c, NULL, NULL, NULL, &err) != SNAP_OK ||
            snapstore_remove(s, v, &err) != SNAP_OK)
            _exit(7);
        ack(fd, 'R', j);
        strcpy(prev, c);
    }
    _exit(0);
}

static int read_acks(int fd, struct acks *acks)
{
    static char buf[65536];
    size_t len = 0;
    ssize_t n;
    int last = -1;

    memset(acks, 0, sizeof(*acks));
    while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char what;
        int j;
        if (sscanf(line, "%c %d", &what, &j) != 2 || j < 0 || j >= MAX_STEPS)
            continue; /* a line cut by the kill */
        if (what == 'P')
            acks->prepared[j] = 1;
        else if (what == 'C')
            acks->committed[j] = 1;
        else if (what == 'R')
            acks->removed[j] = 1;
        last = j;
    }
    return last;
}

static int dir_exists(int64_t id, const char *sub)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%" PRId64 "/%s", snaps, id, sub);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

struct rows {
    struct snapstore *s;
    int64_t ids[ITERATIONS * MAX_STEPS * 3];
    size_t n;
};

/* every row has its directories and mounts whose paths exist */
static int check_row(const struct snap_info *info, void *arg)
{
    struct rows *r = arg;
    struct error err;
    int64_t id = 0;

    CHECK(snapstore_id(r->s, info->name, &id, &err) == SNAP_OK);
    if (r->n < sizeof(r->ids) / sizeof(*r->ids))
        r->ids[r->n++] = id;
    CHECK_MSG(dir_exists(id, "fs"), "%s (id %" PRId64 "): no fs/", info->name, id);
    if (info->kind == SNAP_KIND_ACTIVE)
        CHECK_MSG(dir_exists(id, "work"), "%s: no work/", info->name);
    if (info->kind != SNAP_KIND_COMMITTED) {
        struct snap_mount m = {0};
        struct stat st;
        CHECK(snapstore_mounts(r->s, info->name, &m, &err) == SNAP_OK);
        if (strcmp(m.type, "bind") == 0)
            CHECK(stat(m.source, &st) == 0);
        snap_mount_free(&m);
    }
    return 0;
}

/* every entry of snapshots/ is the directory of a row */
static void check_dirs(const struct rows *r)
{
    DIR *d = opendir(snaps);
    struct dirent *e;

    CHECK(d != NULL);
    while (d != NULL && (e = readdir(d)) != NULL) {
        char want[32];
        int found = 0;
        if (e->d_name[0] == '.')
            continue;
        for (size_t i = 0; !found && i < r->n; i++) {
            snprintf(want, sizeof(want), "%" PRId64, r->ids[i]);
            found = strcmp(want, e->d_name) == 0;
        }
        CHECK_MSG(found, "snapshots/%s: no row names it", e->d_name);
    }
    if (d)
        closedir(d);
}

static int count_entries(void)
{
    DIR *d = opendir(snaps);
    struct dirent *e;
    int n = 0;

    while (d != NULL && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* acknowledged calls survived; unacknowledged ones are all or nothing */
static void check_acks(struct snapstore *s, int it, const struct acks *acks, int last)
{
    struct error err;

    for (int j = 0; j <= last; j++) {
        char a[64], c[64], v[64], file[512], line[64] = "";
        struct snap_info ia = {0}, ic = {0};
        enum snap_status ra, rc;
        int64_t id;
        FILE *f;

        name(a, sizeof(a), it, 'a', j);
        name(c, sizeof(c), it, 'c', j);
        name(v, sizeof(v), it, 'v', j);
        ra = snapstore_stat(s, a, &ia, &err);
        rc = snapstore_stat(s, c, &ic, &err);
        if (acks->prepared[j])
            CHECK_MSG((ra == SNAP_OK && ia.kind == SNAP_KIND_ACTIVE) || rc == SNAP_OK, "it %d: %s lost", it, a);
        if (acks->committed[j]) {
            CHECK_MSG(rc == SNAP_OK && ic.kind == SNAP_KIND_COMMITTED && ra == SNAP_ERR_NOT_FOUND,
                      "it %d: %s lost", it, c);
            CHECK(snapstore_id(s, c, &id, &err) == SNAP_OK);
            snprintf(file, sizeof(file), "%s/%" PRId64 "/fs/layer", snaps, id);
            f = fopen(file, "r");
            CHECK_MSG(f != NULL && fgets(line, sizeof(line), f) != NULL && strncmp(line, c, strlen(c)) == 0,
                      "it %d: %s: content lost", it, c);
            if (f)
                fclose(f);
        }
        if (acks->removed[j])
            CHECK_MSG(snapstore_stat(s, v, NULL, &err) == SNAP_ERR_NOT_FOUND, "it %d: %s back", it, v);
        /* an active and a committed snapshot of one step never both exist */
        CHECK(!(ra == SNAP_OK && rc == SNAP_OK));
        snap_info_free(&ia);
        snap_info_free(&ic);
    }
}

int main(void)
{
    static struct rows rows;
    struct snapstore *s;
    struct error err;
    int orphans = 0, acked = 0;
    unsigned seed = (unsigned)time(NULL);

    snprintf(root, sizeof(root), "%s/snapstore-crash-XXXXXX", getenv("TMP") ? getenv("TMP") : "/tmp");
    if (mkdtemp(root) == NULL)
        return 1;
    snprintf(snaps, sizeof(snaps), "%s/snapshotter/snapshots", root);
    printf("seed %u\n", seed);
    for (int it = 0; it < ITERATIONS; it++) {
        struct acks acks;
        int fds[2], status, before, last;
        pid_t pid;

        if (pipe(fds) != 0)
            return 1;
        if ((pid = fork()) == 0) {
            close(fds[0]);
            child(it, fds[1]);
        }
        close(fds[1]);
        /* every other time, let the child get into its work first (its
         * first acknowledgement), so that the kills land mid-chain even
         * where open is slow (sanitizers); the others may land inside open */
        if (it % 2 == 1) {
            struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
            CHECK(poll(&pfd, 1, 20000) == 1);
        }
        /* 5..300 ms: from inside open to a few dozen calls in (each call
         * syncs the database and directories: some ms here) */
        usleep(5000 + (unsigned)rand_r(&seed) % 295000);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFSIGNALED(status), "iteration %d: child ended by itself (status %d)", it, status);
        last = read_acks(fds[0], &acks);
        close(fds[0]);
        acked += last + 1;

        before = count_entries();
        if (snapstore_open(root, &s, &err) != 0) {
            fprintf(stderr, "iteration %d: reopen: %s\n", it, err.msg);
            return 1;
        }
        {
            int removed = -1;
            CHECK(snapstore_cleanup(s, &removed, &err) == SNAP_OK && removed == 0); /* open did it */
        }
        orphans += before - count_entries();
        check_acks(s, it, &acks, last);
        rows.s = s;
        rows.n = 0;
        CHECK(snapstore_walk(s, NULL, 0, check_row, &rows, &err) == SNAP_OK);
        check_dirs(&rows);
        snapstore_close(s);
    }
    printf("%d iterations, %d steps acknowledged, %d orphan directories removed on reopen\n", ITERATIONS, acked,
           orphans);
    CHECK(acked >= ITERATIONS / 2); /* the kills did land in the middle of work */
    if (snapdir_remove(root, &err) != 0)
        fprintf(stderr, "cleanup: %s\n", err.msg);
    return check_exit();
}
