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

static struct mounted *units;
static size_t nunits;
/* stopping: the signal thread, the mount watcher and main's cleanup each
 * end the sessions; stop_mu makes that happen once, and guards
 * overlay_target (cleared once it is unmounted) */
static pthread_mutex_t stop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER; /* stopping became 1 */
static char overlay_target[4096];
static dev_t overlay_dev;
static ino_t overlay_ino;       /* with overlay_dev: a bind mount of a same-device dir shows too */
static int image_mode;          /* --image: units[].dir are our own directories */
static char work_base[4096];    /* --image: the work dir we made ("" if the user's) */
static atomic_int stopping;

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

/* ztoc -> verified tree, cache and FUSE fs for one layer */
static int prepare_layer(struct mounted *m, const struct options *o, struct located_image *img, struct error *err)
{
    struct located_layer *L = m->L;
    struct span_cache_opts co;
    char cache_dir[4200];

    if (ztoc_decode(L->ztoc, L->ztoc_len, &m->z, err) != 0 || zinfo_parse(&m->zi, &m->z, err) != 0 ||
        zinfo_check(&m->zi, &m->z, err) != 0)
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
    m->cache = span_cache_new(&m->z, &m->zi, &m->src, &co, err);
    if (m->cache == NULL)
        return -1;
    /* proves the ztoc belongs to this blob before anything is mounted */
    if (span_cache_check_first(m->cache, err) != 0)
        return error_prefix(err, "layer %s", L->digest);
    if (layer_fs_init(&m->fs, L->digest, &m->z, &m->zi, m->cache, err) != 0)
        return -1;
    m->fs.disable_xattrs = 0;
    m->fuse = 1;
    return 0;
}

/* --prefetch FILE: the spans of the listed paths, fetched now */
static int prefetch(struct mounted *m, const char *file, struct error *err)
{
    FILE *f = fopen(file, "r");
    char line[4096], clean[4200];

    RETURN_ERROR_IF(f == NULL, err, "--prefetch %s: %s", file, strerror(errno));
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

static int any_fuse_unit(void)
{
    for (size_t i = 0; i < nunits; i++)
        if (units[i].fuse)
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
static void stop_all(int overlay_gone)
{
    size_t i;

    pthread_mutex_lock(&stop_mu);
    atomic_store(&stopping, 1);
    pthread_cond_broadcast(&stop_cond);
    if (overlay_target[0] && !overlay_gone)
        umount2(overlay_target, MNT_DETACH);
    overlay_target[0] = '\0';
    for (i = 0; i < nunits; i++)
        if (units[i].fuse && units[i].mounted && units[i].fs.se) {
            fuse_session_exit(units[i].fs.se);
            umount2(units[i].dir, MNT_DETACH);
        }
    pthread_mutex_unlock(&stop_mu);
}

/* signals end every session */
static void *signal_main(void *arg)
{
    sigset_t *set = arg;
    int sig;

    if (sigwait(set, &sig) != 0 || atomic_load(&stopping))
        return NULL; /* main woke us to end: the mount is gone already */
    log_msg("info", "signal %d: unmounting", sig);
    stop_all(0);
    return NULL;
}

/* --image: unmounting MOUNTPOINT (umount, fusermount3 -u) ends the layers'
 * sessions too, as a signal would; the mount table is watched for changes.
 * arg: the overlay's path (main's copy, which outlives this thread's use) */
static void *watch_main(void *arg)
{
    const char *target = arg;
    int fd = open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);
    char buf[4096];

    while (!atomic_load(&stopping)) {
        struct pollfd p = {fd, POLLPRI, 0};
        struct stat st;
        if (poll(&p, fd >= 0 ? 1 : 0, 1000) > 0 && fd >= 0) {
            /* reading it re-arms the change notification */
            lseek(fd, 0, SEEK_SET);
            while (read(fd, buf, sizeof(buf)) > 0)
                ;
        }
        if (atomic_load(&stopping))
            break;
        if (stat(target, &st) == 0 && st.st_dev == overlay_dev && st.st_ino == overlay_ino)
            continue;
        log_msg("info", "%s was unmounted: unmounting the layers", target);
        stop_all(1);
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
static void remove_work_dirs(void)
{
    size_t i;

    for (i = 0; i < nunits; i++) {
        if (!units[i].dir[0])
            continue;
        if (units[i].fuse)
            rmdir(units[i].dir);
        else
            nftw(units[i].dir, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    }
    if (work_base[0])
        rmdir(work_base);
}

static void cleanup(void)
{
    size_t i;

    /* the signal thread and the watcher may still run: under stop_mu,
     * they find every session unmounted, or wait until it is */
    pthread_mutex_lock(&stop_mu);
    atomic_store(&stopping, 1);
    if (overlay_target[0])
        umount2(overlay_target, MNT_DETACH);
    overlay_target[0] = '\0';
    for (i = 0; i < nunits; i++) {
        struct mounted *m = &units[i];
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
    pthread_mutex_unlock(&stop_mu);
    if (image_mode)
        remove_work_dirs();
}

int main(int argc, char **argv)
{
    struct options o;
    struct located_image img;
    struct locate_opts lo;
    struct reg_client *client = NULL;
    struct error err;
    sigset_t sigs;
    pthread_t sig_thread;
    int ready[2] = {-1, -1}, rc;
    size_t i;

    /* span buffers are megabytes: keep them out of the per-thread heaps so
     * that freeing one gives the memory back and RSS follows the cache */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_ARENA_MAX, 4);
    memset(&img, 0, sizeof(img));
    img.layout.dir_fd = -1;
    rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    o.reg.opts.connect_timeout_ms = o.fetch_timeout * 1000;
    o.reg.opts.low_speed_secs = o.fetch_timeout;
    o.reg.opts.low_speed_bytes = (long)o.fetch_min_rate;
    o.reg.opts.max_retries = o.fetch_retries > 0 ? (int)o.fetch_retries : -1; /* -1: none */
    if (reg_cli_finish(&o.reg, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    if (check_mountpoint(o.mountpoint, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    if (o.log_file) {
        FILE *lf = fopen(o.log_file, "ae");
        if (lf == NULL) {
            fprintf(stderr, PROG ": --log-file %s: %s\n", o.log_file, strerror(errno));
            return 1;
        }
        log_set_output(lf); /* kept open until exit */
    }
    /* go to the background before any thread exists; the parent waits
     * for the child to say the mount is up (or why it failed) */
    if (!o.foreground) {
        pid_t pid;
        char byte = 1;
        if (pipe(ready) != 0) {
            fprintf(stderr, PROG ": pipe: %s\n", strerror(errno));
            return 1;
        }
        pid = fork();
        if (pid < 0) {
            fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
            return 1;
        }
        if (pid > 0) {
            close(ready[1]);
            if (read(ready[0], &byte, 1) != 1)
                byte = 1;
            return byte == 0 ? 0 : 1;
        }
        close(ready[0]);
        setsid();
        if (freopen("/dev/null", "r", stdin) == NULL)
            (void)0;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&lo, 0, sizeof(lo));
    lo.source = o.source;
    lo.index_digest = o.index_digest;
    lo.sel = &o.sel;
    lo.only_layer = o.layer;
    lo.want_diff_ids = o.image;
    if (strncmp(o.source, "oci:", 4) != 0) {
        struct reg_ref r;
        if (reg_ref_parse(o.source, &r, &err) != 0 || (client = reg_cli_client(&o.reg, r.host, &err)) == NULL ||
            reg_ping(client, &err) != 0)
            goto fail;
        lo.client = client;
    }
    if (ztoc_locate(&lo, &img, &err) != 0)
        goto fail;
    units = calloc(img.nlayers + 1, sizeof(*units));
    if (units == NULL) {
        error_set(&err, "out of memory");
        goto fail;
    }
    if (o.layer) {
        for (i = 0; i < img.nlayers; i++)
            if (strcmp(img.layers[i].digest, o.layer) == 0)
                break;
        if (i == img.nlayers) {
            error_set(&err, "layer %s is not a layer of %s", o.layer, o.source);
            goto fail;
        }
        if (img.layers[i].ztoc == NULL) {
            error_set(&err, "layer %s has no ztoc in %s (index: %s)", o.layer, o.source,
                      img.index_digest[0] ? img.index_digest : "none found");
            goto fail;
        }
        units[0].L = &img.layers[i];
        nunits = 1;
        if (prepare_layer(&units[0], &o, &img, &err) != 0)
            goto fail;
        str_copy(units[0].dir, sizeof(units[0].dir), o.mountpoint);
    } else {
        char base[3800];
        image_mode = 1;
        if (o.work_dir) {
            str_copy(base, sizeof(base), o.work_dir);
        } else {
            snprintf(base, sizeof(base), "/run/soci-mount.%d", (int)getpid());
            str_copy(work_base, sizeof(work_base), base);
        }
        if (mkdir_p(base, 0700, &err) != 0)
            goto fail;
        for (i = 0; i < img.nlayers; i++) {
            struct mounted *m = &units[nunits++];
            m->L = &img.layers[i];
            snprintf(m->dir, sizeof(m->dir), "%s/%zu", base, i);
            if (mkdir_p(m->dir, 0755, &err) != 0)
                goto fail;
            if (m->L->ztoc) {
                if (prepare_layer(m, &o, &img, &err) != 0)
                    goto fail;
            } else {
                log_msg("info", "layer %s has no ztoc: unpacking it whole", m->L->digest);
                if (img.remote)
                    blob_source_remote(&m->src, client, img.ref.repo, m->L->digest, m->L->size);
                else if (blob_source_local(&m->src, m->L->blob_path, m->L->size, m->L->digest, &err) != 0)
                    goto fail;
                if (layer_extract(&m->src, m->L->diff_id[0] ? m->L->diff_id : NULL, m->dir, &err) != 0)
                    goto fail;
            }
        }
    }
    if (o.prefetch)
        for (i = 0; i < nunits; i++)
            if (units[i].fuse && prefetch(&units[i], o.prefetch, &err) != 0)
                goto fail;
    for (i = 0; i < nunits; i++) {
        struct mounted *m = &units[i];
        if (!m->fuse)
            continue;
        if (layer_fs_mount(&m->fs, m->dir, o.allow_other, &err) != 0)
            goto fail;
        m->mounted = 1;
    }
    /* serve before overlayfs looks at the layers: mounting it waits for
     * their FUSE INIT and root lookups, which only a running loop answers */
    for (i = 0; i < nunits; i++)
        if (units[i].fuse && units[i].mounted) {
            if (pthread_create(&units[i].thread, NULL, loop_main, &units[i]) != 0) {
                error_set(&err, "cannot start a FUSE thread");
                goto fail;
            }
            units[i].running = 1;
        }
    if (o.image) {
        /* overlayfs: lowerdir lists the topmost layer first */
        char lower[8192];
        size_t used = 0;
        if (nunits == 1) {
            if (mount(units[0].dir, o.mountpoint, NULL, MS_BIND | MS_RDONLY, NULL) != 0 ||
                mount(NULL, o.mountpoint, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0) {
                error_set(&err, "bind mount on %s: %s", o.mountpoint, strerror(errno));
                goto fail;
            }
        } else {
            used = (size_t)snprintf(lower, sizeof(lower), "lowerdir=");
            for (i = nunits; i-- > 0;)
                used += (size_t)snprintf(lower + used, sizeof(lower) - used, "%s%s", units[i].dir, i ? ":" : "");
            if (used >= sizeof(lower) || mount("overlay", o.mountpoint, "overlay", MS_RDONLY, lower) != 0) {
                error_set(&err, "overlay mount on %s: %s", o.mountpoint, strerror(errno));
                goto fail;
            }
        }
        str_copy(overlay_target, sizeof(overlay_target), o.mountpoint);
        {
            struct stat st;
            pthread_t watcher;
            if (stat(o.mountpoint, &st) != 0) {
                error_set(&err, "%s: %s", o.mountpoint, strerror(errno));
                goto fail;
            }
            overlay_dev = st.st_dev;
            overlay_ino = st.st_ino;
            if (pthread_create(&watcher, NULL, watch_main, (void *)o.mountpoint) != 0) {
                error_set(&err, "cannot start the mount watcher");
                goto fail;
            }
            pthread_detach(watcher);
        }
    }
    if (pthread_create(&sig_thread, NULL, signal_main, &sigs) != 0) {
        error_set(&err, "cannot start the signal thread");
        goto fail;
    }
    log_kv("info", "mounted", LOG_STR("source", o.source), LOG_STR("mountpoint", o.mountpoint),
           LOG_INT("layers", nunits), LOG_STR("index", img.index_digest));
    /* in the background, let go of the caller's output: a pipe reading it
     * ends now, not when the mount ends (logs: --log-file, or nowhere) */
    if (!o.foreground) {
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDOUT_FILENO) < 0 || dup2(null_fd, STDERR_FILENO) < 0) {
            error_set(&err, "cannot detach from the terminal: %s", strerror(errno));
            goto fail;
        }
        close(null_fd);
    }
    if (ready[1] >= 0) {
        char ok = 0;
        if (write(ready[1], &ok, 1) != 1)
            (void)0;
        close(ready[1]);
        ready[1] = -1;
    }
    /* serve until every session ends (unmount or signal); with every layer
     * unpacked there is none, so wait for the unmount or signal itself */
    pthread_mutex_lock(&stop_mu);
    while (o.image && !atomic_load(&stopping) && !any_fuse_unit())
        pthread_cond_wait(&stop_cond, &stop_mu);
    pthread_mutex_unlock(&stop_mu);
    for (i = 0; i < nunits; i++)
        if (units[i].running) {
            pthread_join(units[i].thread, NULL);
            units[i].running = 0;
        }
    /* the signal thread waits for a signal that will not come now */
    atomic_store(&stopping, 1);
    pthread_kill(sig_thread, SIGTERM);
    pthread_join(sig_thread, NULL);
    log_msg("info", "unmounted %s", o.mountpoint);
    cleanup();
    located_image_release(&img);
    reg_client_free(client);
    return 0;
fail:
    fprintf(stderr, PROG ": %s\n", err.msg);
    cleanup();
    located_image_release(&img);
    if (ready[1] >= 0) {
        char bad = 1;
        if (write(ready[1], &bad, 1) != 1)
            (void)0;
    }
    reg_client_free(client);
    return 1;
}
