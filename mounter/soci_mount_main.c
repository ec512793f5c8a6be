/* soci_mount_main.c -- soci-mount: a layer (or an image) lazily, through FUSE
 *
 *   soci-mount [options] SOURCE --layer DIGEST MOUNTPOINT
 *   soci-mount [options] SOURCE --image MOUNTPOINT
 *
 * SOURCE is oci:DIR[:TAG] or REGISTRY/REPO[:TAG].  The layer's ztoc comes
 * from the image's SOCI index (--soci-index-digest, or discovery); files
 * are served from spans fetched on demand.  With --image every layer is
 * mounted (FUSE for layers with a ztoc, unpacked for the others) and
 * overlayfs merges them read-only on MOUNTPOINT.  soci-mount goes to the
 * background once mounted (-f: stay); SIGTERM/SIGINT or `fusermount3 -u`
 * unmount it cleanly.  Logs are JSON lines on stderr, or in --log-file
 * FILE; in the background, once mounted, soci-mount lets go of the
 * caller's stdout and stderr (`soci-mount ... 2>&1 | grep` returns), so
 * without --log-file its later records go nowhere.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob_source.h"
#include "cli.h"
#include "fileio.h"
#include "layer_extract.h"
#include "layer_fs.h"
#include "log.h"
#include "reg_cli.h"
#include "prefault.h"
#include "prefetch_mount.h"
#include "span_cache.h"
#include "strutil.h"
#include "zinfo.h"
#include "ztoc.h"
#include "ztoc_locate.h"

#define PROG "soci-mount"

struct options {
    const char *source, *mountpoint, *layer, *index_digest, *prefetch, *cache_dir, *work_dir, *log_file;
    int image, foreground, background, allow_other;
    int64_t cache_mem, cache_disk;
    long quiet_ms, period_ms;
    long fetch_timeout, fetch_retries;
    int64_t fetch_min_rate;
    struct platform_sel sel;
    struct reg_cli reg;
    const char *prefetch_artifact;  /* --prefetch-artifact FILE|DIGEST (with --layer) */
    int no_prefetch_artifact;       /* --no-prefetch-artifact */
};

struct mounted {
    struct located_layer *L;
    int fuse;                   /* 1: served by FUSE; 0: unpacked directory */
    struct ztoc z;
    struct zinfo zi;
    struct blob_source src;
    struct span_cache *cache;
    struct layer_fs fs;
    char dir[4096];
    pthread_t thread;
    int running, mounted;
};

/* Everything one soci-mount run holds, passed explicitly (no file-level
 * state).  Threads: main, the signal thread, the --image mount watcher
 * and one FUSE loop per layer.
 *   - opt: written by parse(), read-only once any thread exists.
 *   - units, nunits, image_mode, work_base, overlay_dev, overlay_ino:
 *     written by main before the signal thread and the watcher start,
 *     read-only afterwards (units[i].mounted: see stop_mu).
 *   - stop_mu guards overlay_target (cleared once it is unmounted),
 *     units[i].mounted and the sessions' exit: the signal thread, the
 *     watcher and main's cleanup each end the sessions, and the lock
 *     makes that happen once; stop_cond is signalled when stopping
 *     becomes 1.
 *   - stopping is atomic: the watcher and the signal thread read it
 *     without the lock; set_stopping() also wakes the watcher, which main
 *     joins before the context is freed. */
struct mount_ctx {
    struct options opt;
    struct mounted *units;
    size_t nunits;
    int image_mode;             /* --image: units[].dir are our own directories */
    char work_base[4096];       /* --image: the work dir we made ("" if the user's) */
    dev_t overlay_dev;
    ino_t overlay_ino;          /* with overlay_dev: a bind mount of a same-device dir shows too */
    sigset_t sigs;              /* what the signal thread waits for */
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cond;
    char overlay_target[4096];  /* under stop_mu */
    atomic_int stopping;
    int wake_fd;                /* eventfd: readable once stopping is 1 (wakes the watcher) */
};

/* stopping := 1, and the watcher wakes up to see it */
static void set_stopping(struct mount_ctx *ctx)
{
    uint64_t one = 1;

    atomic_store(&ctx->stopping, 1);
    if (ctx->wake_fd >= 0 && write(ctx->wake_fd, &one, sizeof(one)) != sizeof(one))
        (void)0; /* the counter is already non-zero: the watcher wakes anyway */
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [options] SOURCE --layer DIGEST MOUNTPOINT\n"
            "       " PROG " [options] SOURCE --image MOUNTPOINT\n"
            "SOURCE: oci:DIR[:TAG] or REGISTRY/REPO[:TAG]\n\n"
            "  -f, --foreground            stay in the foreground\n"
            "  --soci-index-digest D       use this SOCI index (default: discover it)\n"
            "  --platform os/arch[/v]      the platform image (default: this host's, or the only one)\n"
            "  --cache-mem N               decompressed spans kept in memory (default 256M)\n"
            "  --cache-disk N              spans kept on disk, compressed and decompressed (default 2G; 0: off)\n"
            "  --cache-dir DIR             where (default /var/cache/soci-c/spans)\n"
            "  --work-dir DIR              --image: where the layers are mounted (default /run/soci-mount.PID)\n"
            "  --no-background-fetch       fetch only what is read\n"
            "  --bg-quiet-ms N, --bg-period-ms N   background fetch timing (30000, 500)\n"
            "  --fetch-timeout SECS        a registry request that cannot connect, or moves slower than\n"
            "                              --fetch-min-rate, for this long is abandoned (then retried) (default 5)\n"
            "  --fetch-min-rate N          bytes per second (default 32K)\n"
            "  --fetch-retries N           retries of a failed registry request (default 3)\n"
            "  --prefetch FILE             paths (one per line) whose spans are fetched before mounting\n"
            "  --prefetch-artifact F|D     --layer: this prefetch artifact (file, or digest of a blob of\n"
            "                              SOURCE) instead of the one the SOCI index names for the layer\n"
            "  --no-prefetch-artifact      do not fetch the spans of the index's prefetch artifacts\n"
            "  --log-file FILE             JSON log lines go to FILE (appended) instead of stderr\n"
            "  --plain-http, --insecure, --user U[:P], --password-stdin, --verbose\n");
}

static int parse(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        REG_CLI_LONG_OPTIONS,
        {"layer", required_argument, NULL, 'l'},
        {"image", no_argument, NULL, 'I'},
        {"foreground", no_argument, NULL, 'f'},
        {"soci-index-digest", required_argument, NULL, 'x'},
        {"platform", required_argument, NULL, 'p'},
        {"cache-mem", required_argument, NULL, 'M'},
        {"cache-disk", required_argument, NULL, 'D'},
        {"cache-dir", required_argument, NULL, 'C'},
        {"work-dir", required_argument, NULL, 'W'},
        {"no-background-fetch", no_argument, NULL, 'B'},
        {"bg-quiet-ms", required_argument, NULL, 'Q'},
        {"bg-period-ms", required_argument, NULL, 'P'},
        {"prefetch", required_argument, NULL, 'F'},
        {"prefetch-artifact", required_argument, NULL, 'A'},
        {"no-prefetch-artifact", no_argument, NULL, 'N'},
        {"fetch-timeout", required_argument, NULL, 'T'},
        {"fetch-retries", required_argument, NULL, 'R'},
        {"fetch-min-rate", required_argument, NULL, 'S'},
        {"log-file", required_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct error err;
    int c;
    int64_t v;

    memset(o, 0, sizeof(*o));
    reg_cli_init(&o->reg);
    o->background = 1;
    o->allow_other = geteuid() == 0;
    o->cache_mem = 256LL << 20;
    o->cache_disk = 2LL << 30;
    o->cache_dir = "/var/cache/soci-c/spans";
    o->quiet_ms = 30000;
    o->period_ms = 500;
    /* a read must fail (EIO) in bounded time when the registry stops
     * answering: (retries + 1) attempts of at most fetch_timeout each, plus
     * backoff (0.1 s, 0.2 s, 0.4 s) -- about 21 s by default */
    o->fetch_timeout = 5;
    o->fetch_retries = 3;
    /* a registry trickling a few KiB/s would otherwise hold a read for as
     * long as a span takes at that rate (4 MiB at 2 KiB/s: 34 minutes);
     * any link worth mounting over moves a span far faster than this */
    o->fetch_min_rate = 32 << 10;
    while ((c = getopt_long(argc, argv, "fhl:p:", opts, NULL)) != -1) {
        if (reg_cli_option(&o->reg, c, optarg))
            continue;
        switch (c) {
        case 'l': o->layer = optarg; break;
        case 'I': o->image = 1; break;
        case 'f': o->foreground = 1; break;
        case 'x': o->index_digest = optarg; break;
        case 'p':
            if (platform_sel_add(&o->sel, optarg, &err) != 0) {
                fprintf(stderr, PROG ": %s\n", err.msg);
                return 2;
            }
            break;
        case 'M':
            if (cli_parse_size(optarg, &o->cache_mem) != 0) {
                fprintf(stderr, PROG ": invalid --cache-mem \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'D':
            if (strcmp(optarg, "0") == 0)
                o->cache_disk = 0;
            else if (cli_parse_size(optarg, &o->cache_disk) != 0) {
                fprintf(stderr, PROG ": invalid --cache-disk \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'C': o->cache_dir = optarg; break;
        case 'W': o->work_dir = optarg; break;
        case 'B': o->background = 0; break;
        case 'Q':
        case 'P':
            if (cli_parse_size(optarg, &v) != 0 && strcmp(optarg, "0") != 0) {
                fprintf(stderr, PROG ": invalid timing \"%s\"\n", optarg);
                return 2;
            }
            if (strcmp(optarg, "0") == 0)
                v = 0;
            if (c == 'Q')
                o->quiet_ms = (long)v;
            else
                o->period_ms = (long)v;
            break;
        case 'F': o->prefetch = optarg; break;
        case 'A': o->prefetch_artifact = optarg; break;
        case 'N': o->no_prefetch_artifact = 1; break;
        case 'G': o->log_file = optarg; break;
        case 'S':
            if (cli_parse_size(optarg, &o->fetch_min_rate) != 0 || o->fetch_min_rate < 1 ||
                o->fetch_min_rate > (1LL << 30)) {
                fprintf(stderr, PROG ": invalid --fetch-min-rate \"%s\" (bytes per second, 1 to 1G)\n", optarg);
                return 2;
            }
            break;
        case 'T':
        case 'R': {
            char *end;
            long n;
            errno = 0;
            n = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || n < (c == 'T' ? 1 : 0) || n > (c == 'T' ? 3600 : 100)) {
                fprintf(stderr, PROG ": invalid %s \"%s\"\n", c == 'T' ? "--fetch-timeout" : "--fetch-retries",
                        optarg);
                return 2;
            }
            if (c == 'T')
                o->fetch_timeout = n;
            else
                o->fetch_retries = n;
            break;
        }
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 2 || (!o->layer == !o->image)) {
        usage(stderr);
        return 2;
    }
    if (o->prefetch_artifact && (!o->layer || o->no_prefetch_artifact)) {
        fprintf(stderr, PROG ": --prefetch-artifact goes with --layer, and not with --no-prefetch-artifact\n");
        return 2;
    }
    o->source = argv[optind];
    o->mountpoint = argv[optind + 1];
    return 0;
}

static int check_mountpoint(const char *mp, struct error *err)
{
    struct stat st;
    DIR *d;
    struct dirent *de;

    RETURN_ERROR_IF(stat(mp, &st) != 0, err, "mountpoint %s: %s", mp, strerror(errno));
    RETURN_ERROR_IF(!S_ISDIR(st.st_mode), err, "mountpoint %s is not a directory", mp);
    d = opendir(mp);
    RETURN_ERROR_IF(d == NULL, err, "mountpoint %s: %s", mp, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            closedir(d);
            return error_set(err, "mountpoint %s is not empty", mp);
        }
    }
    closedir(d);
    return 0;
}

/* what parse() cannot check alone: the registry options, the mountpoint,
 * the log file; 0, or the exit status after one line on stderr */
static int finish_options(struct options *o, struct error *err)
{
    o->reg.opts.connect_timeout_ms = o->fetch_timeout * 1000;
    o->reg.opts.low_speed_secs = o->fetch_timeout;
    o->reg.opts.low_speed_bytes = (long)o->fetch_min_rate;
    o->reg.opts.max_retries = o->fetch_retries > 0 ? (int)o->fetch_retries : -1; /* -1: none */
    if (reg_cli_finish(&o->reg, err) != 0) {
        fprintf(stderr, PROG ": %s\n", err->msg);
        return 2;
    }
    if (check_mountpoint(o->mountpoint, err) != 0) {
        fprintf(stderr, PROG ": %s\n", err->msg);
        return 1;
    }
    if (o->log_file) {
        FILE *lf = fopen(o->log_file, "ae");
        if (lf == NULL) {
            fprintf(stderr, PROG ": --log-file %s: %s\n", o->log_file, strerror(errno));
            return 1;
        }
        log_set_output(lf); /* kept open until exit */
    }
    return 0;
}

/* span_cache_check_first on a thread of its own */
struct first_check {
    struct span_cache *cache;
    struct error err;
    int rc;
};

static void *check_first_main(void *arg)
{
    struct first_check *fc = arg;

    fc->rc = span_cache_check_first(fc->cache, &fc->err);
    return NULL;
}

/* the decoded ztoc checked against the layer, its cache and FUSE fs */
static int prepare_decoded_layer(struct mounted *m, const struct options *o, struct located_image *img,
                                 struct error *err)
{
    struct located_layer *L = m->L;
    struct span_cache_opts co;
    struct first_check fc;
    pthread_t checker;
    int threaded, tree_rc;
    char cache_dir[4200];

    if (zinfo_parse(&m->zi, &m->z, err) != 0 || zinfo_check(&m->zi, &m->z, err) != 0)
        return error_prefix(err, "ztoc %s of layer %s", L->ztoc_digest, L->digest);
    RETURN_ERROR_IF(m->z.compressed_size != L->size, err,
                    "ztoc %s is for a layer of %lld bytes, but layer %s has %lld", L->ztoc_digest,
                    (long long)m->z.compressed_size, L->digest, (long long)L->size);
    if (img->remote)
        blob_source_remote(&m->src, img->client, img->ref.repo, L->digest, L->size);
    else if (blob_source_local(&m->src, L->blob_path, L->size, L->digest, err) != 0)
        return -1;
    memset(&co, 0, sizeof(co));
    co.mem_budget = (size_t)o->cache_mem;
    if (o->cache_disk > 0) {
        snprintf(cache_dir, sizeof(cache_dir), "%s/%s", o->cache_dir, L->digest + 7);
        co.disk_dir = cache_dir;
        co.disk_budget = o->cache_disk;
    }
    co.background = o->background;
    co.quiet_ms = o->quiet_ms;
    co.period_ms = o->period_ms;
    co.defer_helpers = 1; /* started once mounted: see run() */
    m->cache = span_cache_new(&m->z, &m->zi, &m->src, &co, err);
    if (m->cache == NULL)
        return -1;
    /* proves the ztoc belongs to this blob before anything is mounted; span
     * 0's read and digest overlap with building the tree */
    fc.cache = m->cache;
    fc.rc = -1;
    threaded = pthread_create(&checker, NULL, check_first_main, &fc) == 0;
    if (!threaded)
        check_first_main(&fc);
    tree_rc = layer_fs_init(&m->fs, L->digest, &m->z, &m->zi, m->cache, err);
    if (threaded)
        pthread_join(checker, NULL);
    if (fc.rc != 0) {
        if (tree_rc == 0)
            layer_fs_release(&m->fs);
        *err = fc.err;
        return error_prefix(err, "layer %s", L->digest);
    }
    if (tree_rc != 0)
        return -1;
    m->fs.disable_xattrs = 0;
    m->fuse = 1;
    return 0;
}

/* the decoded entries, kept for the mount's life: a last huge page only
 * when it adds at most a third */
static void *alloc_entries(size_t n)
{
    return alloc_huge_populated(n, n / 3);
}

/* ztoc -> verified tree, cache and FUSE fs for one layer; on failure what
 * it made is released here (cleanup() releases only layers with m->fuse) */
static int prepare_layer(struct mounted *m, const struct options *o, struct located_image *img, struct error *err)
{
    struct located_layer *L = m->L;

    /* its ~170 bytes per entry are written at once: populated up front on
     * huge pages, the decode of a 9,601-entry ztoc takes 1 ms, against 3.5
     * on populated 4 KiB pages and 6 faulting them in one by one */
    if (ztoc_decode_alloc(L->ztoc, L->ztoc_len, &m->z, alloc_entries, err) != 0)
        return error_prefix(err, "ztoc %s of layer %s", L->ztoc_digest, L->digest);
    if (prepare_decoded_layer(m, o, img, err) == 0)
        return 0;
    span_cache_free(m->cache);
    m->cache = NULL;
    ztoc_release(&m->z);
    return -1;
}

/* --prefetch FILE: the spans of the listed paths, fetched now */
static int prefetch(struct mounted *m, const char *file, struct error *err)
{
    FILE *f = fopen(file, "r");
    char line[4096], clean[4200];

    RETURN_ERROR_IF(f == NULL, err, "--prefetch %s: %s", file, strerror(errno));
    /* a prefetch bigger than --cache-mem evicts spans: the cache's writer
     * must run to keep them, decompressed, on disk */
    span_cache_start_helpers(m->cache);
    while (fgets(line, sizeof(line), f)) {
        uint32_t id;
        const struct fs_node *n;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        fs_clean_name(line, strlen(line), clean);
        id = fs_tree_lookup_path(&m->fs.tree, clean);
        n = fs_tree_node(&m->fs.tree, id);
        if (n == NULL) {
            log_msg("warn", "--prefetch: %.1000s is not in the layer", line);
            continue;
        }
        if (n->entry == NULL || n->size == 0)
            continue; /* a directory, a link, an empty file: nothing to fetch */
        if (span_cache_prefetch(m->cache, zinfo_span_of(&m->zi, n->entry->offset),
                                zinfo_span_of(&m->zi, n->entry->offset + n->size - 1), err) != 0) {
            fclose(f);
            return error_prefix(err, "prefetching %s", line);
        }
    }
    fclose(f);
    return 0;
}

/* the layers' prefetch artifacts (the index's, or --prefetch-artifact):
 * their spans, fetched before the mount answers */
static int prefetch_artifacts(struct mount_ctx *ctx, const struct located_image *img, struct error *err)
{
    const struct options *o = &ctx->opt;
    size_t i;

    if (o->no_prefetch_artifact)
        return 0;
    if (o->prefetch_artifact && ctx->nunits == 1) {
        struct located_layer *L = ctx->units[0].L;
        uint8_t *bytes;
        size_t len;
        if (prefetch_mount_load(o->prefetch_artifact, img, &bytes, &len, err) != 0)
            return -1;
        free(L->prefetch);
        L->prefetch = bytes;
        L->prefetch_len = len;
    }
    for (i = 0; i < ctx->nunits; i++) {
        struct mounted *m = &ctx->units[i];
        int64_t nspans = 0;
        if (!m->fuse || m->L->prefetch == NULL)
            continue;
        span_cache_start_helpers(m->cache); /* as for --prefetch */
        if (prefetch_mount_run(m->cache, &m->zi, m->L->prefetch, m->L->prefetch_len, &nspans, err) != 0)
            return error_prefix(err, "prefetch artifact of layer %s", m->L->digest);
        log_kv("info", "prefetched", LOG_STR("layer", m->L->digest), LOG_INT("spans", nspans));
    }
    return 0;
}

static int any_fuse_unit(const struct mount_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nunits; i++)
        if (ctx->units[i].fuse)
            return 1;
    return 0;
}

static void *loop_main(void *arg)
{
    struct mounted *m = arg;

    layer_fs_loop(&m->fs);
    return NULL;
}

/* end every FUSE session (unmounting makes the loops return) and the
 * overlay, once; overlay_gone: it was unmounted already */
static void stop_all(struct mount_ctx *ctx, int overlay_gone)
{
    size_t i;

    pthread_mutex_lock(&ctx->stop_mu);
    set_stopping(ctx);
    pthread_cond_broadcast(&ctx->stop_cond);
    if (ctx->overlay_target[0] && !overlay_gone)
        umount2(ctx->overlay_target, MNT_DETACH);
    ctx->overlay_target[0] = '\0';
    for (i = 0; i < ctx->nunits; i++) {
        struct mounted *m = &ctx->units[i];
        if (m->fuse && m->mounted && m->fs.se) {
            fuse_session_exit(m->fs.se);
            umount2(m->dir, MNT_DETACH);
        }
    }
    pthread_mutex_unlock(&ctx->stop_mu);
}

/* signals end every session */
static void *signal_main(void *arg)
{
    struct mount_ctx *ctx = arg;
    int sig;

    if (sigwait(&ctx->sigs, &sig) != 0 || atomic_load(&ctx->stopping))
        return NULL; /* main woke us to end: the mount is gone already */
    log_msg("info", "signal %d: unmounting", sig);
    stop_all(ctx, 0);
    return NULL;
}

/* --image: unmounting MOUNTPOINT (umount, fusermount3 -u) ends the layers'
 * sessions too, as a signal would; the mount table is watched for changes,
 * and ctx->wake_fd ends the wait as soon as stopping is set */
static void *watch_main(void *arg)
{
    struct mount_ctx *ctx = arg;
    const char *target = ctx->opt.mountpoint;
    int fd = open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);
    char buf[4096];

    while (!atomic_load(&ctx->stopping)) {
        struct pollfd p[2] = {{ctx->wake_fd, POLLIN, 0}, {fd, POLLPRI, 0}};
        struct stat st;
        if (poll(p, fd >= 0 ? 2 : 1, 1000) > 0 && fd >= 0 && p[1].revents) {
            /* reading it re-arms the change notification */
            lseek(fd, 0, SEEK_SET);
            while (read(fd, buf, sizeof(buf)) > 0)
                ;
        }
        if (atomic_load(&ctx->stopping))
            break;
        if (stat(target, &st) == 0 && st.st_dev == ctx->overlay_dev && st.st_ino == ctx->overlay_ino)
            continue;
        log_msg("info", "%s was unmounted: unmounting the layers", target);
        stop_all(ctx, 1);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* --image: the layers' directories (unpacked layers included), and the
 * work dir itself when we made it; never across a mount point */
static void remove_work_dirs(const struct mount_ctx *ctx)
{
    size_t i;

    for (i = 0; i < ctx->nunits; i++) {
        const struct mounted *m = &ctx->units[i];
        if (!m->dir[0])
            continue;
        if (m->fuse)
            rmdir(m->dir);
        else
            nftw(m->dir, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    }
    if (ctx->work_base[0])
        rmdir(ctx->work_base);
}

static void cleanup(struct mount_ctx *ctx)
{
    size_t i;

    /* the signal thread and the watcher may still run: under stop_mu,
     * they find every session unmounted, or wait until it is */
    pthread_mutex_lock(&ctx->stop_mu);
    set_stopping(ctx);
    if (ctx->overlay_target[0])
        umount2(ctx->overlay_target, MNT_DETACH);
    ctx->overlay_target[0] = '\0';
    for (i = 0; i < ctx->nunits; i++) {
        struct mounted *m = &ctx->units[i];
        if (m->fuse) {
            if (m->running) /* a failure after the loops started */
                fuse_session_exit(m->fs.se);
            if (m->mounted)
                layer_fs_unmount(&m->fs);
            m->mounted = 0;
            if (m->running) {
                pthread_join(m->thread, NULL);
                m->running = 0;
            }
            layer_fs_release(&m->fs);
            span_cache_free(m->cache);
            ztoc_release(&m->z);
        }
        blob_source_close(&m->src);
    }
    pthread_mutex_unlock(&ctx->stop_mu);
    if (ctx->image_mode)
        remove_work_dirs(ctx);
}

/* fork before any thread exists: the parent waits for the child to say
 * the mount is up (0) or why it failed, and exits with that; returns 1 in
 * the parent (*parent_rc set), 0 in the child (*ready_fd: where to say it) */
static int daemonize(int *ready_fd, int *parent_rc, struct error *err)
{
    int ready[2];
    pid_t pid;
    char byte = 1;

    RETURN_ERROR_IF(pipe(ready) != 0, err, "pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(ready[0]);
        close(ready[1]);
        return error_set(err, "fork: %s", strerror(errno));
    }
    if (pid > 0) {
        close(ready[1]);
        if (read(ready[0], &byte, 1) != 1)
            byte = 1;
        *parent_rc = byte == 0 ? 0 : 1;
        return 1;
    }
    close(ready[0]);
    setsid();
    if (freopen("/dev/null", "r", stdin) == NULL)
        (void)0;
    *ready_fd = ready[1];
    return 0;
}

/* the units to mount: one layer (--layer), or every layer of the image
 * under the work dir, FUSE for those with a ztoc, unpacked for the rest */
static int prepare_units(struct mount_ctx *ctx, struct located_image *img, struct reg_client *client,
                         struct error *err)
{
    const struct options *o = &ctx->opt;
    char base[3800];
    size_t i;

    ctx->units = calloc(img->nlayers + 1, sizeof(*ctx->units));
    RETURN_ERROR_IF(ctx->units == NULL, err, "out of memory");
    if (o->layer) {
        for (i = 0; i < img->nlayers; i++)
            if (strcmp(img->layers[i].digest, o->layer) == 0)
                break;
        RETURN_ERROR_IF(i == img->nlayers, err, "layer %s is not a layer of %s", o->layer, o->source);
        RETURN_ERROR_IF(img->layers[i].ztoc == NULL, err, "layer %s has no ztoc in %s (index: %s)", o->layer,
                        o->source, img->index_digest[0] ? img->index_digest : "none found");
        ctx->units[0].L = &img->layers[i];
        ctx->nunits = 1;
        if (prepare_layer(&ctx->units[0], o, img, err) != 0)
            return -1;
        str_copy(ctx->units[0].dir, sizeof(ctx->units[0].dir), o->mountpoint);
        return 0;
    }
    ctx->image_mode = 1;
    if (o->work_dir) {
        str_copy(base, sizeof(base), o->work_dir);
    } else {
        snprintf(base, sizeof(base), "/run/soci-mount.%d", (int)getpid());
        str_copy(ctx->work_base, sizeof(ctx->work_base), base);
    }
    if (mkdir_p(base, 0700, err) != 0)
        return -1;
    for (i = 0; i < img->nlayers; i++) {
        struct mounted *m = &ctx->units[ctx->nunits++];
        m->L = &img->layers[i];
        snprintf(m->dir, sizeof(m->dir), "%s/%zu", base, i);
        if (mkdir_p(m->dir, 0755, err) != 0)
            return -1;
        if (m->L->ztoc) {
            if (prepare_layer(m, o, img, err) != 0)
                return -1;
            continue;
        }
        log_msg("info", "layer %s has no ztoc: unpacking it whole", m->L->digest);
        if (img->remote)
            blob_source_remote(&m->src, client, img->ref.repo, m->L->digest, m->L->size);
        else if (blob_source_local(&m->src, m->L->blob_path, m->L->size, m->L->digest, err) != 0)
            return -1;
        if (layer_extract(&m->src, m->L->diff_id[0] ? m->L->diff_id : NULL, m->dir, err) != 0)
            return -1;
    }
    return 0;
}

/* mount every FUSE unit and start its loop: they serve before overlayfs
 * looks at the layers, since mounting it waits for their FUSE INIT and
 * root lookups, which only a running loop answers */
static int start_sessions(struct mount_ctx *ctx, struct error *err)
{
    size_t i;

    for (i = 0; i < ctx->nunits; i++) {
        struct mounted *m = &ctx->units[i];
        if (!m->fuse)
            continue;
        if (layer_fs_mount(&m->fs, m->dir, ctx->opt.allow_other, err) != 0)
            return -1;
        pthread_mutex_lock(&ctx->stop_mu);
        m->mounted = 1;
        pthread_mutex_unlock(&ctx->stop_mu);
    }
    for (i = 0; i < ctx->nunits; i++) {
        struct mounted *m = &ctx->units[i];
        if (!m->fuse || !m->mounted)
            continue;
        RETURN_ERROR_IF(pthread_create(&m->thread, NULL, loop_main, m) != 0, err, "cannot start a FUSE thread");
        m->running = 1;
    }
    return 0;
}

/* --image: the layers merged on MOUNTPOINT (a bind mount for one layer),
 * then the watcher that notices it unmounted */
static int mount_image(struct mount_ctx *ctx, pthread_t *watcher, int *watching, struct error *err)
{
    const char *mp = ctx->opt.mountpoint;
    struct stat st;
    char lower[8192];
    size_t used, i;

    if (ctx->nunits == 1) {
        RETURN_ERROR_IF(mount(ctx->units[0].dir, mp, NULL, MS_BIND | MS_RDONLY, NULL) != 0 ||
                            mount(NULL, mp, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0,
                        err, "bind mount on %s: %s", mp, strerror(errno));
    } else {
        /* overlayfs: lowerdir lists the topmost layer first */
        used = (size_t)snprintf(lower, sizeof(lower), "lowerdir=");
        for (i = ctx->nunits; i-- > 0 && used < sizeof(lower);)
            used += (size_t)snprintf(lower + used, sizeof(lower) - used, "%s%s", ctx->units[i].dir, i ? ":" : "");
        RETURN_ERROR_IF(used >= sizeof(lower), err, "overlay mount on %s: too many layers for its options", mp);
        RETURN_ERROR_IF(mount("overlay", mp, "overlay", MS_RDONLY, lower) != 0, err, "overlay mount on %s: %s", mp,
                        strerror(errno));
    }
    pthread_mutex_lock(&ctx->stop_mu);
    str_copy(ctx->overlay_target, sizeof(ctx->overlay_target), mp);
    pthread_mutex_unlock(&ctx->stop_mu);
    RETURN_ERROR_IF(stat(mp, &st) != 0, err, "%s: %s", mp, strerror(errno));
    ctx->overlay_dev = st.st_dev;
    ctx->overlay_ino = st.st_ino;
    ctx->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    RETURN_ERROR_IF(ctx->wake_fd < 0, err, "eventfd: %s", strerror(errno));
    RETURN_ERROR_IF(pthread_create(watcher, NULL, watch_main, ctx) != 0, err, "cannot start the mount watcher");
    *watching = 1;
    return 0;
}

/* in the background, let go of the caller's output: a pipe reading it
 * ends now, not when the mount ends (logs: --log-file, or nowhere) */
static int detach_output(struct error *err)
{
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (null_fd < 0 || dup2(null_fd, STDOUT_FILENO) < 0 || dup2(null_fd, STDERR_FILENO) < 0) {
        int e = errno;
        if (null_fd >= 0)
            close(null_fd);
        return error_set(err, "cannot detach from the terminal: %s", strerror(e));
    }
    close(null_fd);
    return 0;
}

/* serve until every session ends (unmount or signal); with every layer
 * unpacked there is none, so wait for the unmount or signal itself */
static void serve(struct mount_ctx *ctx)
{
    size_t i;

    pthread_mutex_lock(&ctx->stop_mu);
    while (ctx->opt.image && !atomic_load(&ctx->stopping) && !any_fuse_unit(ctx))
        pthread_cond_wait(&ctx->stop_cond, &ctx->stop_mu);
    pthread_mutex_unlock(&ctx->stop_mu);
    for (i = 0; i < ctx->nunits; i++)
        if (ctx->units[i].running) {
            pthread_join(ctx->units[i].thread, NULL);
            ctx->units[i].running = 0;
        }
}

static void say_ready(int *ready_fd, char byte)
{
    if (*ready_fd < 0)
        return;
    if (write(*ready_fd, &byte, 1) != 1)
        (void)0; /* the parent is gone: nobody to tell */
    close(*ready_fd);
    *ready_fd = -1;
}

static struct mount_ctx *ctx_new(void)
{
    struct mount_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    pthread_mutex_init(&ctx->stop_mu, NULL);
    pthread_cond_init(&ctx->stop_cond, NULL);
    atomic_init(&ctx->stopping, 0);
    ctx->wake_fd = -1;
    return ctx;
}

/* only once every thread that saw it is joined */
static void ctx_free(struct mount_ctx *ctx)
{
    if (ctx->wake_fd >= 0)
        close(ctx->wake_fd);
    free(ctx->units);
    pthread_cond_destroy(&ctx->stop_cond);
    pthread_mutex_destroy(&ctx->stop_mu);
    free(ctx);
}

/* the whole run once options are parsed: 0, or 1 with err set; *parent_rc
 * >= 0 when this is the parent of a daemonized run */
static int run(struct mount_ctx *ctx, int *parent_rc, struct error *err)
{
    struct options *o = &ctx->opt;
    struct located_image img;
    struct locate_opts lo;
    struct reg_client *client = NULL;
    pthread_t sig_thread, watcher;
    int ready_fd = -1, sig_running = 0, watching = 0, rc = -1;

    memset(&img, 0, sizeof(img));
    img.layout.dir_fd = -1;
    if (!o->foreground) {
        int d = daemonize(&ready_fd, parent_rc, err);
        if (d > 0)
            return 0; /* the parent: the child mounts */
        if (d < 0)
            goto out;
    }
    sigemptyset(&ctx->sigs);
    sigaddset(&ctx->sigs, SIGTERM);
    sigaddset(&ctx->sigs, SIGINT);
    sigaddset(&ctx->sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &ctx->sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&lo, 0, sizeof(lo));
    lo.source = o->source;
    lo.index_digest = o->index_digest;
    lo.sel = &o->sel;
    lo.only_layer = o->layer;
    lo.want_diff_ids = o->image;
    lo.no_prefetch = o->no_prefetch_artifact;
    if (strncmp(o->source, "oci:", 4) != 0) {
        struct reg_ref r;
        if (reg_ref_parse(o->source, &r, err) != 0 || (client = reg_cli_client(&o->reg, r.host, err)) == NULL ||
            reg_ping(client, err) != 0)
            goto out;
        lo.client = client;
    }
    if (ztoc_locate(&lo, &img, err) != 0 || prepare_units(ctx, &img, client, err) != 0)
        goto out;
    if (o->prefetch)
        for (size_t i = 0; i < ctx->nunits; i++)
            if (ctx->units[i].fuse && prefetch(&ctx->units[i], o->prefetch, err) != 0)
                goto out;
    if (prefetch_artifacts(ctx, &img, err) != 0)
        goto out;
    if (start_sessions(ctx, err) != 0 || (o->image && mount_image(ctx, &watcher, &watching, err) != 0))
        goto out;
    if (pthread_create(&sig_thread, NULL, signal_main, ctx) != 0) {
        error_set(err, "cannot start the signal thread");
        goto out;
    }
    sig_running = 1;
    log_kv("info", "mounted", LOG_STR("source", o->source), LOG_STR("mountpoint", o->mountpoint),
           LOG_INT("layers", ctx->nunits), LOG_STR("index", img.index_digest));
    if (!o->foreground && detach_output(err) != 0)
        goto out;
    say_ready(&ready_fd, 0);
    /* the caches' own threads, now that the caller has its mount (unless a
     * prefetch started them): starting them earlier delayed the answer by
     * 1-2 ms, and nothing needs them before the first reads (a read
     * fetches what it wants itself) */
    for (size_t i = 0; i < ctx->nunits; i++)
        if (ctx->units[i].cache)
            span_cache_start_helpers(ctx->units[i].cache);
    serve(ctx);
    log_msg("info", "unmounted %s", o->mountpoint);
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, PROG ": %s\n", err->msg);
    set_stopping(ctx);
    if (sig_running) {
        /* it waits for a signal that will not come now */
        pthread_kill(sig_thread, SIGTERM);
        pthread_join(sig_thread, NULL);
    }
    cleanup(ctx);
    if (watching)
        pthread_join(watcher, NULL);
    located_image_release(&img);
    say_ready(&ready_fd, 1);
    reg_client_free(client);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct mount_ctx *ctx;
    struct error err;
    int rc, parent_rc = -1;

    /* span buffers are megabytes: keep them out of the per-thread heaps so
     * that freeing one gives the memory back and RSS follows the cache */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_ARENA_MAX, 4);
    ctx = ctx_new();
    if (ctx == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    rc = parse(argc, argv, &ctx->opt);
    if (rc == 1)
        rc = 0; /* --help */
    else if (rc == 0 && (rc = finish_options(&ctx->opt, &err)) == 0) {
        rc = run(ctx, &parent_rc, &err);
        if (parent_rc >= 0) {
            /* the parent of a daemonized run has only the child's word to
             * pass on: the libraries' exit handlers (OpenSSL's, and the
             * unmapping of each) would only delay the caller, who waits
             * for this exit to use the mount */
            fflush(NULL);
            _exit(parent_rc);
        }
    }
    ctx_free(ctx);
    return rc;
}
