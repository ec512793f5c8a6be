/* randread.c -- TEST-ONLY concurrent random reader for tests/cli/mount_concurrent.sh
 *
 *   randread [-t THREADS] [-d SECONDS] [-s SEED] [-m MAXLEN] [-p PROGRESS] [-r PID]
 *            MOUNTDIR REFDIR LIST
 *
 * LIST names files (one relative path a line) present both under MOUNTDIR
 * (a soci-mount) and REFDIR (the same files extracted by GNU tar).  Each of
 * THREADS threads, for SECONDS seconds, picks a random file, a random offset
 * and a random length of 1..MAXLEN bytes (default 1 MiB), opens the file
 * under MOUNTDIR, preads that range (to EOF at most) and compares it byte for
 * byte with the same range of the file under REFDIR.  Even-numbered threads
 * open with O_DIRECT (every read goes to the FUSE daemon), odd ones read
 * through the page cache and drop what they read (POSIX_FADV_DONTNEED), so
 * that reads keep reaching the daemon rather than the kernel's cache.
 *
 * Every second the main thread rewrites PROGRESS (atomically) with one line
 *   reads=N bytes=N errors=N mismatches=N oldest_ms=N rss_kb=N maxrss_kb=N
 * where oldest_ms is the age of the oldest read still in progress (0 when
 * none) and rss_kb/maxrss_kb are VmRSS of PID (-r) now and the maximum seen,
 * sampled every 100 ms.  The first errors and mismatches are described on
 * stderr.  Exit 0 if every read returned exactly the right bytes, 1 if not,
 * 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 256
#define MAX_REPORTS 20

struct file {
    char *rel;
    int64_t size;
};

static const char *mount_dir, *ref_dir;
static struct file *files;
static size_t nfiles;
static size_t max_len = 1 << 20;
static double deadline;
static atomic_long n_reads, n_errors, n_mismatches, n_reports;
static atomic_llong n_bytes;
static atomic_llong started_ns[MAX_THREADS]; /* 0: idle */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    va_list ap;
    if (atomic_fetch_add(&n_reports, 1) >= MAX_REPORTS)
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static uint64_t next_rand(uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* read up to n bytes at off; returns bytes read (short only at EOF), -errno on error */
static ssize_t read_range(int fd, uint8_t *buf, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, off + (off_t)got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

struct worker {
    int id;
    uint64_t seed;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint8_t *got, *want;
    uint64_t rs = w->seed * 0x9E3779B97F4A7C15ULL + 1;
    char path[8192];
    int direct = (w->id % 2) == 0;

    /* O_DIRECT wants aligned buffers on some filesystems */
    if (posix_memalign((void **)&got, 4096, max_len + 4096) != 0 || (want = malloc(max_len)) == NULL) {
        report("thread %d: out of memory\n", w->id);
        atomic_fetch_add(&n_errors, 1);
        return NULL;
    }
    while ((double)now_ns() / 1e9 < deadline) {
        struct file *f = &files[next_rand(&rs) % nfiles];
        off_t off;
        size_t len, expect;
        ssize_t g, r;
        int fd, rfd;

        if (f->size <= 0)
            continue;
        off = (off_t)(next_rand(&rs) % (uint64_t)f->size);
        len = 1 + (size_t)(next_rand(&rs) % max_len);
        expect = (int64_t)len < f->size - off ? len : (size_t)(f->size - off);
        snprintf(path, sizeof(path), "%s/%s", ref_dir, f->rel);
        rfd = open(path, O_RDONLY | O_CLOEXEC);
        if (rfd < 0 || (r = read_range(rfd, want, expect, off)) != (ssize_t)expect) {
            report("reference %s: cannot read %zu bytes at %lld\n", path, expect, (long long)off);
            atomic_fetch_add(&n_errors, 1);
            if (rfd >= 0)
                close(rfd);
            continue;
        }
        close(rfd);
        snprintf(path, sizeof(path), "%s/%s", mount_dir, f->rel);
        atomic_store(&started_ns[w->id], now_ns());
        fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
        if (fd < 0 && direct && errno == EINVAL) {
            direct = 0;
            fd = open(path, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0) {
            report("open %s: %s\n", path, strerror(errno));
            atomic_fetch_add(&n_errors, 1);
            atomic_store(&started_ns[w->id], 0);
            continue;
        }
        g = read_range(fd, got, len, off);
        if (!direct && g > 0)
            posix_fadvise(fd, off, g, POSIX_FADV_DONTNEED);
        close(fd);
        atomic_store(&started_ns[w->id], 0);
        atomic_fetch_add(&n_reads, 1);
        if (g < 0) {
            report("read %s: %zu bytes at %lld: %s\n", f->rel, len, (long long)off, strerror((int)-g));
            atomic_fetch_add(&n_errors, 1);
            continue;
        }
        atomic_fetch_add(&n_bytes, g);
        if ((size_t)g != expect || memcmp(got, want, expect) != 0) {
            size_t i = 0, n = (size_t)g < expect ? (size_t)g : expect;
            while (i < n && got[i] == want[i])
                i++;
            report("MISMATCH %s: %zu bytes at %lld (size %lld): got %zd bytes, first difference at +%zu\n", f->rel,
                   len, (long long)off, (long long)f->size, g, i);
            atomic_fetch_add(&n_mismatches, 1);
        }
    }
    free(got);
    free(want);
    return NULL;
}

static long rss_kb(int pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static void write_progress(const char *path, long rss, long maxrss)
{
    char tmp[4200];
    int64_t now = now_ns(), oldest = 0;
    FILE *f;
    int i;

    for (i = 0; i < MAX_THREADS; i++) {
        int64_t s = atomic_load(&started_ns[i]);
        if (s && now - s > oldest)
            oldest = now - s;
    }
    if (path == NULL)
        return;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        return;
    fprintf(f, "reads=%ld bytes=%lld errors=%ld mismatches=%ld oldest_ms=%lld rss_kb=%ld maxrss_kb=%ld\n",
            atomic_load(&n_reads), (long long)atomic_load(&n_bytes), atomic_load(&n_errors),
            atomic_load(&n_mismatches), (long long)(oldest / 1000000), rss, maxrss);
    fclose(f);
    rename(tmp, path);
}

int main(int argc, char **argv)
{
    int nthreads = 16, seconds = 60, pid = 0, c, i;
    unsigned long seed = 1;
    const char *progress = NULL;
    pthread_t th[MAX_THREADS];
    struct worker w[MAX_THREADS];
    FILE *lf;
    char line[4096];
    size_t cap = 0;
    long maxrss = 0, rss = 0;
    int ticks = 0;
    int joined[MAX_THREADS] = {0};

    while ((c = getopt(argc, argv, "t:d:s:m:p:r:")) != -1) {
        switch (c) {
        case 't': nthreads = atoi(optarg); break;
        case 'd': seconds = atoi(optarg); break;
        case 's': seed = strtoul(optarg, NULL, 10); break;
        case 'm': max_len = strtoul(optarg, NULL, 10); break;
        case 'p': progress = optarg; break;
        case 'r': pid = atoi(optarg); break;
        default: return 2;
        }
    }
    if (argc - optind != 3 || nthreads < 1 || nthreads > MAX_THREADS || seconds < 1 || max_len < 1) {
        fprintf(stderr, "usage: randread [-t N] [-d SECS] [-s SEED] [-m MAXLEN] [-p FILE] [-r PID] MOUNT REF LIST\n");
        return 2;
    }
    mount_dir = argv[optind];
    ref_dir = argv[optind + 1];
    lf = fopen(argv[optind + 2], "r");
    if (lf == NULL) {
        perror(argv[optind + 2]);
        return 2;
    }
    while (fgets(line, sizeof(line), lf)) {
        char path[8192];
        struct stat st;
        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        snprintf(path, sizeof(path), "%s/%s", ref_dir, line);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "%s: not a regular file\n", path);
            return 2;
        }
        if (nfiles == cap) {
            cap = cap ? cap * 2 : 256;
            files = realloc(files, cap * sizeof(*files));
            if (files == NULL)
                return 2;
        }
        files[nfiles].rel = strdup(line);
        files[nfiles].size = st.st_size;
        nfiles++;
    }
    fclose(lf);
    if (nfiles == 0) {
        fprintf(stderr, "no files\n");
        return 2;
    }
    deadline = (double)now_ns() / 1e9 + seconds;
    for (i = 0; i < nthreads; i++) {
        w[i].id = i;
        w[i].seed = seed * 1000 + (unsigned long)i;
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0) {
            fprintf(stderr, "cannot start thread %d\n", i);
            return 1;
        }
    }
    /* sample the daemon's RSS every 100 ms, report every second, until the
     * deadline (the workers stop by themselves then) */
    while ((double)now_ns() / 1e9 < deadline) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
        if (pid > 0 && (rss = rss_kb(pid)) > maxrss)
            maxrss = rss;
        if (++ticks % 10 == 0)
            write_progress(progress, rss, maxrss);
    }
    /* the workers finish their last read; keep reporting meanwhile (a
     * stuck read shows as a growing oldest_ms) */
    for (;;) {
        int left = 0;
        for (i = 0; i < nthreads; i++)
            if (!joined[i] && pthread_tryjoin_np(th[i], NULL) == 0)
                joined[i] = 1;
        for (i = 0; i < nthreads; i++)
            left += !joined[i];
        if (left == 0)
            break;
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
        if (pid > 0 && (rss = rss_kb(pid)) > maxrss)
            maxrss = rss;
        if (++ticks % 10 == 0)
            write_progress(progress, rss, maxrss);
    }
    if (pid > 0 && (rss = rss_kb(pid)) > maxrss)
        maxrss = rss;
    write_progress(progress, rss, maxrss);
    printf("reads=%ld bytes=%lld errors=%ld mismatches=%ld maxrss_kb=%ld\n", atomic_load(&n_reads),
           (long long)atomic_load(&n_bytes), atomic_load(&n_errors), atomic_load(&n_mismatches), maxrss);
    return atomic_load(&n_errors) == 0 && atomic_load(&n_mismatches) == 0 ? 0 : 1;
}
