/* daemon_status.c -- the pid file, the status file and the status command
 * (see daemon_status.h) */
#include "daemon_status.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "gojson.h"
#include "log.h"

#define PID_FILE "daemon.pid"
#define STATUS_FILE "status"
#define MAX_STATUS_FILE (64 << 20)
#define ANSWER_WAIT_MS 10000

static int root_path(char *out, size_t n, const char *root, const char *name, struct error *err)
{
    RETURN_ERROR_IF((size_t)snprintf(out, n, "%s/%s", root, name) >= n, err, "%s/%s: path too long", root, name);
    return 0;
}

int daemon_pid_write(const char *root, struct error *err)
{
    char path[4200], pid[32];
    int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

    if (root_path(path, sizeof(path), root, PID_FILE, err) != 0)
        return -1;
    return atomic_write_file(path, pid, (size_t)n, 0644, err);
}

void daemon_pid_remove(const char *root)
{
    char path[4200];
    struct error err;

    if (root_path(path, sizeof(path), root, PID_FILE, &err) == 0)
        unlink(path);
}

/* ---- the daemon's side ---- */

struct status_text {
    FILE *f;
};

/* a field of the status file: tab-separated, so no tab or newline inside */
static void put_field(FILE *f, const char *s, int last)
{
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? '?' : *s, f);
    fputc(last ? '\n' : '\t', f);
}

static void emit_line(void *arg, const struct remote_layer_status *st)
{
    struct status_text *t = arg;
    char num[64];
    struct gojson j;

    put_field(t->f, st->key, 0);
    put_field(t->f, st->layer, 0);
    put_field(t->f, st->state, 0);
    snprintf(num, sizeof(num), "%.1f", st->fetched_pct);
    put_field(t->f, num, 0);
    snprintf(num, sizeof(num), "%lld", (long long)st->bytes_fetched);
    put_field(t->f, num, 1);

    gojson_init(&j, 0);
    gojson_raw(&j, "\"key\":", 6);
    gojson_escape(&j, st->key, strlen(st->key));
    gojson_raw(&j, ",\"layer\":", 9);
    gojson_escape(&j, st->layer, strlen(st->layer));
    gojson_raw(&j, ",\"state\":", 9);
    gojson_escape(&j, st->state, strlen(st->state));
    snprintf(num, sizeof(num), ",\"fetchedPercent\":%.1f,\"bytesFetched\":%lld", st->fetched_pct,
             (long long)st->bytes_fetched);
    gojson_raw(&j, num, strlen(num));
    log_event("info", "remote layer", j.buf);
    gojson_free(&j);
}

int daemon_status_write(struct snapshotter *sn, const char *root, struct error *err)
{
    struct status_text t;
    char *buf = NULL, path[4200];
    size_t len = 0;
    int rc;

    if (root_path(path, sizeof(path), root, STATUS_FILE, err) != 0)
        return -1;
    t.f = open_memstream(&buf, &len);
    RETURN_ERROR_IF(t.f == NULL, err, "status: out of memory");
    rc = snapshotter_status(sn, emit_line, &t, err);
    if (fclose(t.f) != 0 && rc == 0)
        rc = error_set(err, "status: out of memory");
    if (rc == 0)
        rc = atomic_write_file(path, buf, len, 0644, err);
    free(buf);
    return rc;
}

/* ---- the command's side ---- */

/* the pid in root's pid file, if it names a live soci-snapshotter-grpc */
static int daemon_pid(const char *root, pid_t *pid, struct error *err)
{
    char path[4200], comm_path[64];
    uint8_t *buf = NULL, *comm = NULL;
    size_t len = 0, clen = 0;
    long v;
    char *end;
    int alive;

    if (root_path(path, sizeof(path), root, PID_FILE, err) != 0)
        return -1;
    if (read_file(path, 32, &buf, &len, err) != 0)
        return error_set(err, "no soci-snapshotter-grpc is serving root %s (no readable %s)", root, path);
    {
        char text[32];
        snprintf(text, sizeof(text), "%.*s", (int)len, (const char *)buf);
        free(buf);
        v = strtol(text, &end, 10);
        alive = *end == '\n' || *end == '\0';
    }
    RETURN_ERROR_IF(v <= 1 || v > 1 << 30 || !alive, err, "%s: not a pid file", path);
    /* a stale file may name a pid now used by another program: check its name */
    snprintf(comm_path, sizeof(comm_path), "/proc/%ld/comm", v);
    alive = read_file(comm_path, 64, &comm, &clen, err) == 0 && clen >= 15 &&
            memcmp(comm, "soci-snapshotte", 15) == 0;
    free(comm);
    RETURN_ERROR_IF(!alive, err, "no soci-snapshotter-grpc is serving root %s (process %ld is gone)", root, v);
    *pid = (pid_t)v;
    return 0;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void print_table(const char *text, size_t len, FILE *out)
{
    const char *p = text, *end = text + len;
    int rows = 0;

    fprintf(out, "%-71s %-71s %-9s %8s %14s\n", "KEY", "LAYER", "STATE", "FETCHED", "BYTES");
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *f[5];
        int nf = 0;
        size_t flen[5];
        const char *q = p, *line_end = nl ? nl : end;
        while (nf < 5 && q <= line_end) {
            const char *tab = memchr(q, '\t', (size_t)(line_end - q));
            const char *fe = tab ? tab : line_end;
            f[nf] = q;
            flen[nf++] = (size_t)(fe - q);
            q = fe + 1;
        }
        if (nf == 5) {
            fprintf(out, "%-71.*s %-71.*s %-9.*s %7.*s%% %14.*s\n", (int)flen[0], f[0], (int)flen[1], f[1],
                    (int)flen[2], f[2], (int)flen[3], f[3], (int)flen[4], f[4]);
            rows++;
        }
        p = line_end + 1;
    }
    if (rows == 0)
        fprintf(out, "(no remote layers)\n");
}

int daemon_status_query(const char *root, FILE *out, struct error *err)
{
    char path[4200];
    struct stat before, now;
    int had_file;
    pid_t pid = 0;
    uint8_t *buf = NULL;
    size_t len = 0;

    if (daemon_pid(root, &pid, err) != 0 || root_path(path, sizeof(path), root, STATUS_FILE, err) != 0)
        return -1;
    had_file = stat(path, &before) == 0;
    RETURN_ERROR_IF(kill(pid, SIGUSR1) != 0, err, "signalling soci-snapshotter-grpc (pid %d): %s", (int)pid,
                    strerror(errno));
    for (int waited = 0;; waited += 20) {
        if (stat(path, &now) == 0 && (!had_file || !same_file(&before, &now)))
            break;
        RETURN_ERROR_IF(waited >= ANSWER_WAIT_MS, err, "soci-snapshotter-grpc (pid %d) did not answer within %d s",
                        (int)pid, ANSWER_WAIT_MS / 1000);
        usleep(20 * 1000);
    }
    if (read_file(path, MAX_STATUS_FILE, &buf, &len, err) != 0)
        return -1;
    print_table((const char *)buf, len, out);
    free(buf);
    return 0;
}
