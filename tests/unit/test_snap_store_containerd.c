/* test_snap_store_containerd.c -- the same calls against containerd 1.6's
 * own overlayfs snapshotter (through `ctr snapshots`, a containerd started
 * here with its own root and unix sockets) and against snapstore; the
 * answers must agree: mounts to the letter (snapshot directories by id),
 * error kinds, and the listing (names, parents, kinds, order) */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "snapdir.h"
#include "snapstore.h"

static char dir[256], sock[320], ours[320], theirs[400];

/* one call: verb, key, and a parent or name */
struct call {
    const char *verb, *key, *arg;
};

static const struct call calls[] = {
    {"prepare", "a", NULL},       {"prepare", "a", NULL},        {"prepare", "b", "missing"},
    {"prepare", "b", "a"},        {"view", "v0", NULL},          {"mounts", "v0", NULL},
    {"mounts", "a", NULL},        {"commit", "a", "base"},       {"commit", "a", "base2"},
    {"commit", "v0", "base"},     {"commit", "v0", "c"},         {"mounts", "base", NULL},
    {"prepare", "c1", "base"},    {"view", "v1", "base"},        {"commit", "c1", "layer2"},
    {"mounts", "c1", NULL},       {"prepare", "c2", "layer2"},   {"view", "v2", "layer2"},
    {"prepare", "c3", "layer2"},  {"commit", "c3", "layer3"},    {"prepare", "c4", "layer3"},
    {"view", "v3", "layer3"},     {"mounts", "c2", NULL},        {"mounts", "v2", NULL},
    {"mounts", "c4", NULL},       {"mounts", "v3", NULL},        {"rm", "base", NULL},          {"rm", "layer2", NULL},
    {"rm", "missing", NULL},      {"rm", "v1", NULL},            {"view", "v1", "base"},
    {"mounts", "v1", NULL},       {"rm", "c4", NULL},            {"mounts", "c4", NULL},
    {"prepare", "layer3", NULL},  {"view", "x", "v0"},
};

/* "ERR <kind>" from the end of ctr's error line */
static const char *kind_of(const char *msg)
{
    static const char *kinds[] = {"not found", "already exists", "failed precondition", "invalid argument"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
        if (strstr(msg, kinds[i]) != NULL)
            return kinds[i];
    return "unknown";
}

/* replace every occurrence of from by to, in place */
static void replace_all(char *s, size_t cap, const char *from, const char *to)
{
    char *p;
    size_t lf = strlen(from), lt = strlen(to);

    while ((p = strstr(s, from)) != NULL && strlen(s) - lf + lt < cap) {
        memmove(p + lt, p + lf, strlen(p + lf) + 1);
        memcpy(p, to, lt);
        s = p + lt;
    }
}

static void run_ctr(const struct call *c, char *out, size_t cap)
{
    char cmd[1024], buf[4096] = "";
    FILE *p;
    size_t n;

    if (strcmp(c->verb, "mounts") == 0)
        snprintf(cmd, sizeof(cmd), "ctr -a %s -n t snapshots --snapshotter overlayfs mounts /mnt %s 2>&1", sock,
                 c->key);
    else if (strcmp(c->verb, "commit") == 0)
        snprintf(cmd, sizeof(cmd), "ctr -a %s -n t snapshots --snapshotter overlayfs commit %s %s 2>&1", sock,
                 c->arg, c->key);
    else
        snprintf(cmd, sizeof(cmd), "ctr -a %s -n t snapshots --snapshotter overlayfs %s %s %s 2>&1", sock, c->verb,
                 c->key, c->arg ? c->arg : "");
    p = popen(cmd, "r");
    n = p ? fread(buf, 1, sizeof(buf) - 1, p) : 0;
    buf[n] = '\0';
    if (p == NULL || pclose(p) != 0) {
        snprintf(out, cap, "ERR %s", kind_of(buf));
        return;
    }
    buf[strcspn(buf, "\n")] = '\0';
    replace_all(buf, sizeof(buf), theirs, "S");
    /* prepare and view print nothing with ctr; their mounts come next */
    snprintf(out, cap, "OK %s", buf);
}

static const char *status_kind(enum snap_status st)
{
    switch (st) {
    case SNAP_ERR_NOT_FOUND:
        return "not found";
    case SNAP_ERR_ALREADY_EXISTS:
        return "already exists";
    case SNAP_ERR_FAILED_PRECONDITION:
        return "failed precondition";
    case SNAP_ERR_INVALID_ARGUMENT:
        return "invalid argument";
    default:
        return "unknown";
    }
}

static void run_ours(struct snapstore *s, const struct call *c, char *out, size_t cap)
{
    struct snap_mount m = {0};
    struct error err;
    enum snap_status st;
    char buf[4096] = "";

    if (strcmp(c->verb, "mounts") == 0)
        st = snapstore_mounts(s, c->key, &m, &err);
    else if (strcmp(c->verb, "commit") == 0)
        st = snapstore_commit(s, c->arg, c->key, NULL, &err);
    else if (strcmp(c->verb, "rm") == 0)
        st = snapstore_remove(s, c->key, &err);
    else
        st = snapstore_prepare(s, strcmp(c->verb, "view") == 0 ? SNAP_KIND_VIEW : SNAP_KIND_ACTIVE, c->key, c->arg,
                               NULL, NULL, NULL, &err);
    if (st != SNAP_OK) {
        snprintf(out, cap, "ERR %s", status_kind(st));
        return;
    }
    if (strcmp(c->verb, "mounts") == 0) {
        /* ctr's rendering: mount -t TYPE SOURCE TARGET -o OPTIONS */
        size_t n = (size_t)snprintf(buf, sizeof(buf), "mount -t %s %s /mnt -o ", m.type, m.source);
        for (size_t i = 0; i < m.noptions && n < sizeof(buf); i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "," : "", m.options[i]);
        replace_all(buf, sizeof(buf), ours, "S");
    }
    snap_mount_free(&m);
    snprintf(out, cap, "OK %s", buf);
}

/* "key parent kind" lines in order, from ctr's table */
static void list_ctr(char *out, size_t cap)
{
    char cmd[512], line[512];
    FILE *p;
    size_t n = 0;

    snprintf(cmd, sizeof(cmd), "ctr -a %s -n t snapshots --snapshotter overlayfs ls", sock);
    out[0] = '\0';
    if ((p = popen(cmd, "r")) == NULL)
        return;
    while (fgets(line, sizeof(line), p) != NULL) {
        char a[256], b[256], c[256];
        int k = sscanf(line, "%255s %255s %255s", a, b, c);
        if (strcmp(a, "KEY") == 0)
            continue;
        if (k == 2)
            n += (size_t)snprintf(out + n, cap - n, "%s - %s\n", a, b);
        else if (k == 3)
            n += (size_t)snprintf(out + n, cap - n, "%s %s %s\n", a, b, c);
    }
    pclose(p);
}

struct list_acc {
    char *out;
    size_t cap, n;
};

static int list_cb(const struct snap_info *info, void *arg)
{
    struct list_acc *l = arg;
    static const char *kinds[] = {"Unknown", "View", "Active", "Committed"};
    l->n += (size_t)snprintf(l->out + l->n, l->cap - l->n, "%s %s %s\n", info->name,
                             info->parent[0] ? info->parent : "-", kinds[info->kind & 3]);
    return 0;
}

static pid_t start_containerd(void)
{
    char cfg[512], log[512], cmd[1024];
    FILE *f;
    pid_t pid;

    snprintf(cfg, sizeof(cfg), "%s/config.toml", dir);
    snprintf(log, sizeof(log), "%s/containerd.log", dir);
    f = fopen(cfg, "w");
    if (f == NULL)
        return -1;
    /* unix sockets only, nothing on the network; no garbage collection,
     * which would take ctr's views (not labelled as roots) at random times */
    fprintf(f,
            "version = 2\nroot = \"%s/root\"\nstate = \"%s/state\"\n"
            "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.gc.v1.scheduler\"]\n"
            "[grpc]\n  address = \"%s\"\n[ttrpc]\n  address = \"%s.ttrpc\"\n"
            "[debug]\n  address = \"%s/debug.sock\"\n[metrics]\n  address = \"\"\n",
            dir, dir, sock, sock, dir);
    fclose(f);
    if ((pid = fork()) == 0) {
        if (freopen(log, "w", stdout) == NULL || dup2(fileno(stdout), 2) < 0)
            _exit(126);
        execlp("containerd", "containerd", "--config", cfg, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(cmd, sizeof(cmd), "ctr -a %s version >/dev/null 2>&1", sock);
        if (system(cmd) == 0)
            return pid;
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

int main(void)
{
    static char a[65536], b[65536];
    struct snapstore *s;
    struct error err;
    struct list_acc acc = {.out = b, .cap = sizeof(b)};
    pid_t pid;

    snprintf(dir, sizeof(dir), "%s/snapstore-ctrd-XXXXXX", getenv("TMP") ? getenv("TMP") : "/tmp");
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(sock, sizeof(sock), "%s/c.sock", dir);
    snprintf(theirs, sizeof(theirs), "%s/root/io.containerd.snapshotter.v1.overlayfs/snapshots", dir);
    snprintf(ours, sizeof(ours), "%s/ours/snapshotter/snapshots", dir);
    if ((pid = start_containerd()) < 0) {
        fprintf(stderr, "containerd did not start (see %s/containerd.log)\n", dir);
        return 1;
    }
    snprintf(a, sizeof(a), "%s/ours", dir);
    if (snapstore_open(a, &s, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        kill(pid, SIGTERM);
        return 1;
    }
    for (size_t i = 0; i < sizeof(calls) / sizeof(*calls); i++) {
        const struct call *c = &calls[i];
        run_ctr(c, a, sizeof(a));
        run_ours(s, c, b, sizeof(b));
        printf("%s %s %s: %s\n", c->verb, c->key, c->arg ? c->arg : "", a);
        CHECK_MSG(strcmp(a, b) == 0, "%s %s %s:\n  containerd: %s\n  snapstore:  %s", c->verb, c->key,
                  c->arg ? c->arg : "", a, b);
    }
    list_ctr(a, sizeof(a));
    CHECK(snapstore_walk(s, NULL, 0, list_cb, &acc, &err) == SNAP_OK);
    printf("%s", a);
    CHECK_MSG(strcmp(a, b) == 0, "listing:\ncontainerd:\n%ssnapstore:\n%s", a, b);
    CHECK(strlen(a) > 40);
    snapstore_close(s);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (check_exit() == 0 && snapdir_remove(dir, &err) != 0)
        fprintf(stderr, "cleanup: %s\n", err.msg);
    return check_exit();
}
