/* soci_snapshotter_main.c -- soci-snapshotter-grpc, the containerd proxy snapshotter
 *
 *   soci-snapshotter-grpc [--address SOCK] [--root DIR] [--config FILE] [--log-level L]
 *   soci-snapshotter-grpc [--config FILE] config dump | config default
 *   soci-snapshotter-grpc [--root DIR] status
 *
 * Serves containerd.services.snapshots.v1.Snapshots on a unix socket
 * (service.h).  Flags win over SOCI_SNAPSHOTTER_ADDRESS / _ROOT / _CONFIG,
 * which win over config.h's defaults; flags take one or two dashes and
 * "--flag value" or "--flag=value", as Go's flag package does upstream.
 * Logs are JSON lines on stdout; a failure to start is one plain line on
 * stderr and exit 1 (exit 2 for bad usage).  SIGTERM: stop serving and exit
 * leaving lazily mounted layers serving (the next start re-attaches);
 * SIGINT: the same, but unmount every lazily mounted layer first; SIGUSR1:
 * write the status of every remote layer (daemon_status.h).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "daemon_status.h"
#include "error.h"
#include "gojson.h"
#include "log.h"
#include "rpc_server.h"
#include "service.h"
#include "snapshotter.h"
#include "version.h"

#define PROG "soci-snapshotter-grpc"
#define NWORKERS 16
/* how long running calls may take to finish on SIGTERM/SIGINT */
#define SHUTDOWN_GRACE_MS 5000

struct args {
    const char *address;
    const char *root;
    const char *config;
    int config_given;        /* --config or the environment: a missing file is an error */
    const char *log_level;
    const char *command;     /* NULL, "status", or "config" with subcommand */
    const char *subcommand;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [--address SOCK] [--root DIR] [--config FILE] [--log-level LEVEL]\n"
            "       " PROG " [--config FILE] config dump|default\n"
            "       " PROG " [--root DIR] status\n"
            "\n"
            "containerd proxy snapshotter with SOCI lazy loading.\n"
            "\n"
            "  --address SOCK     unix socket to serve on (env SOCI_SNAPSHOTTER_ADDRESS;\n"
            "                     default " SNAP_DEFAULT_ADDRESS ")\n"
            "  --root DIR         state directory (env SOCI_SNAPSHOTTER_ROOT; default " SNAP_DEFAULT_ROOT ")\n"
            "  --config FILE      config.toml (env SOCI_SNAPSHOTTER_CONFIG; default " SNAP_DEFAULT_CONFIG ",\n"
            "                     where a missing file means the defaults)\n"
            "  --log-level LEVEL  trace, debug, info (default), warn, error\n"
            "  --version          print the version\n"
            "\n"
            "  config dump        print the effective configuration as TOML\n"
            "  config default     print the default configuration as TOML\n"
            "  status             one line per remote layer of the daemon serving --root:\n"
            "                     key, layer, state (mounted, lost, unpacked), fetched %%, bytes\n"
            "\n"
            "SIGTERM stops serving and leaves lazily mounted layers for the next start;\n"
            "SIGINT unmounts them first; SIGUSR1 writes ROOT/status.  Logs are JSON lines\n"
            "on stdout.\n");
}

/* logrus's level names as upstream accepts them, onto lib/log's four */
static const char *log_level_of(const char *l)
{
    static const char *const names[][2] = {
        {"trace", "debug"}, {"debug", "debug"}, {"info", "info"},   {"warn", "warn"},
        {"warning", "warn"}, {"error", "error"}, {"fatal", "error"}, {"panic", "error"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(l, names[i][0]) == 0)
            return names[i][1];
    return NULL;
}

static int bad_usage(const char *what, const char *arg)
{
    fprintf(stderr, PROG ": %s %s; see --help\n", what, arg);
    return 2;
}

/* 0 to go on, 1 to exit 0 (help, version), 2 for bad usage */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const char *const value_flags[] = {"address", "root", "config", "log-level"};
    const char **targets[] = {&a->address, &a->root, &a->config, &a->log_level};

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *name, *eq, *value = NULL;
        size_t len;
        int which = -1;

        if (arg[0] != '-' || !arg[1]) {
            if (!a->command && (strcmp(arg, "config") == 0 || strcmp(arg, "status") == 0))
                a->command = arg;
            else if (a->command && strcmp(a->command, "config") == 0 && !a->subcommand)
                a->subcommand = arg;
            else
                return bad_usage("unexpected argument", arg);
            continue;
        }
        name = arg + (arg[1] == '-' ? 2 : 1);
        eq = strchr(name, '=');
        len = eq ? (size_t)(eq - name) : strlen(name);
        if ((len == 1 && name[0] == 'h') || (len == 4 && strncmp(name, "help", 4) == 0)) {
            usage(stdout);
            return 1;
        }
        if (len == 7 && strncmp(name, "version", 7) == 0) {
            printf(PROG " " SOCI_C_VERSION " (" SOCI_C_NAME ")\n");
            return 1;
        }
        for (size_t f = 0; f < sizeof(value_flags) / sizeof(value_flags[0]); f++)
            if (strlen(value_flags[f]) == len && strncmp(name, value_flags[f], len) == 0)
                which = (int)f;
        if (which < 0)
            return bad_usage("unknown flag", arg);
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        else
            return bad_usage("missing value for", arg);
        *targets[which] = value;
    }
    if (a->command && strcmp(a->command, "config") == 0 && (!a->subcommand || (strcmp(a->subcommand, "dump") != 0 &&
                                          strcmp(a->subcommand, "default") != 0)))
        return bad_usage("config: want dump or default, got", a->subcommand ? a->subcommand : "nothing");
    if (a->config)
        a->config_given = 1;
    return 0;
}

static void apply_env(struct args *a)
{
    const char *v;

    if (!a->address)
        a->address = (v = getenv("SOCI_SNAPSHOTTER_ADDRESS")) && *v ? v : SNAP_DEFAULT_ADDRESS;
    if (!a->root)
        a->root = (v = getenv("SOCI_SNAPSHOTTER_ROOT")) && *v ? v : SNAP_DEFAULT_ROOT;
    if (!a->config) {
        if ((v = getenv("SOCI_SNAPSHOTTER_CONFIG")) && *v) {
            a->config = v;
            a->config_given = 1;
        } else {
            a->config = SNAP_DEFAULT_CONFIG;
        }
    }
    if (!a->log_level)
        a->log_level = "info";
}

/* mkdir -p with mode for the directories created */
static int mkdir_all(const char *path, mode_t mode, struct error *err)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);

    RETURN_ERROR_IF(n == 0 || n >= sizeof(buf), err, "directory \"%s\": bad path", path);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            RETURN_ERROR_IF(mkdir(buf, mode) != 0 && errno != EEXIST, err, "creating %s: %s", buf, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

/* the socket's directory: the default one may be created (as upstream
 * does); any other must exist, so that a typo fails in one line instead of
 * leaving a tree behind */
static int prepare_socket_dir(const char *address, struct error *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(address, '/');

    if (strcmp(address, SNAP_DEFAULT_ADDRESS) != 0 || !slash)
        return 0;
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - address), address);
    return mkdir_all(dir, 0700, err);
}

/* soci-mount beside this program */
static int mount_helper_path(char *buf, size_t len, struct error *err)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    RETURN_ERROR_IF(n <= 0, err, "/proc/self/exe: %s", strerror(errno));
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    RETURN_ERROR_IF(!slash, err, "/proc/self/exe: %s is not a path", exe);
    *slash = '\0';
    RETURN_ERROR_IF((size_t)snprintf(buf, len, "%s/soci-mount", exe) >= len, err, "%s/soci-mount: path too long",
                    exe);
    return 0;
}

static int print_config(const struct args *a)
{
    struct snap_config cfg;
    struct error err = {{0}};

    snap_config_defaults(&cfg);
    if (strcmp(a->subcommand, "dump") == 0 && snap_config_load(&cfg, a->config, !a->config_given, &err) != 0) {
        cli_report(PROG, &err);
        snap_config_free(&cfg);
        return 1;
    }
    snap_config_dump(&cfg, stdout);
    snap_config_free(&cfg);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* everything up to serving; on failure err says what */
static int start(const struct args *a, const struct snap_config *cfg, struct snapshotter **sn,
                 struct rpc_server **srv, struct error *err)
{
    char helper[PATH_MAX];
    struct rpc_server_opts opts = {.nworkers = NWORKERS};

    if (prepare_socket_dir(a->address, err) != 0 || rpc_unix_socket_claim(a->address, err) != 0)
        return -1;
    if (mkdir_all(a->root, 0700, err) != 0 || mount_helper_path(helper, sizeof(helper), err) != 0)
        return -1;
    if (snapshotter_open(cfg, a->root, helper, sn, err) != 0)
        return error_prefix(err, "starting the snapshotter");
    if (rpc_server_new(&opts, srv, err) != 0 || snap_service_register(*srv, *sn, err) != 0 ||
        rpc_server_listen_unix(*srv, a->address, err) != 0)
        return -1;
    return 0;
}

static const char *address_path(const char *address)
{
    /* upstream takes a path; accept containerd's unix:// spelling too */
    if (strncmp(address, "unix://", 7) == 0)
        return address + 7;
    if (strncmp(address, "unix:", 5) == 0)
        return address + 5;
    return address;
}

/* the line tests and operators wait for */
static void log_serving(const struct args *a)
{
    struct gojson j;

    gojson_init(&j, 0);
    gojson_raw(&j, "\"address\":", 10);
    gojson_escape(&j, a->address, strlen(a->address));
    gojson_raw(&j, ",\"root\":", 8);
    gojson_escape(&j, a->root, strlen(a->root));
    log_event("info", "serving", j.buf);
    gojson_free(&j);
}

int main(int argc, char **argv)
{
    struct args a = {0};
    struct snap_config cfg;
    struct snapshotter *sn = NULL;
    struct rpc_server *srv = NULL;
    struct error err = {{0}};
    sigset_t sigs;
    int rc, sig = 0;
    char fields[64];

    if ((rc = parse_args(argc, argv, &a)) != 0)
        return rc == 1 ? 0 : rc;
    apply_env(&a);
    a.address = address_path(a.address);
    if (!log_level_of(a.log_level))
        return bad_usage("unknown log level", a.log_level);
    if (a.command && strcmp(a.command, "status") == 0) {
        if (daemon_status_query(a.root, stdout, &err) != 0) {
            cli_report(PROG, &err);
            return 1;
        }
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (a.command)
        return print_config(&a);

    /* every thread (gRPC's, the workers, the snapshotter's) inherits this
     * mask, so the two signals only ever reach sigwait below */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    log_set_output(stdout);
    log_set_level(log_level_of(a.log_level));

    snap_config_defaults(&cfg);
    if (snap_config_load(&cfg, a.config, !a.config_given, &err) != 0 || start(&a, &cfg, &sn, &srv, &err) != 0) {
        cli_report(PROG, &err);
        rpc_server_free(srv);
        if (sn)
            snapshotter_close(sn, 0);
        snap_config_free(&cfg);
        return 1;
    }
    if (daemon_pid_write(a.root, &err) != 0)
        log_event("warn", err.msg, NULL); /* only `status` needs it */
    log_serving(&a);

    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (daemon_status_write(sn, a.root, &err) != 0)
            log_event("warn", err.msg, NULL);
    }
    daemon_pid_remove(a.root);
    snprintf(fields, sizeof(fields), "\"signal\":\"%s\"", sig == SIGINT ? "SIGINT" : "SIGTERM");
    log_event("info", sig == SIGINT ? "shutting down, unmounting layers" : "shutting down, leaving layers mounted",
              fields);
    rpc_server_shutdown(srv, SHUTDOWN_GRACE_MS);
    snapshotter_close(sn, sig == SIGINT);
    rpc_server_free(srv);
    snap_config_free(&cfg);
    log_event("info", "stopped", NULL);
    return 0;
}
