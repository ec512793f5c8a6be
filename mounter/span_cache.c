/* span_cache.c -- fetch, verify, decompress and cache spans (see span_cache.h) */
#include "span_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "fileio.h"
#include "log.h"
#include "sha256.h"
#include "span_inflate.h"
#include "strutil.h"

#define MAX_RUN_BYTES ((int64_t)32 << 20)   /* one merged range request at most */
#define MAX_SPAN_BYTES ((int64_t)1 << 30)
/* readahead for sequential readers (with a disk cache only) */
#define RA_NEAR 8                           /* spans made ready ahead of the reader (memory LRU) */
#define RA_WINDOW 128                       /* at most this many fetched ahead (disk cache) */
#define RA_RUN_BYTES ((int64_t)4 << 20)     /* one readahead request at most */
#define RA_GAP ((int64_t)1 << 20)           /* "sequential": this close after the last read */
#define RA_THREADS 3                        /* readahead requests in flight */
/* a span whose fetch for a reader failed at the source (after the client's
 * retries) this recently fails again at once: the kernel retries a failed
 * readahead with a read of its own, and every buffered reader waiting for
 * that page retries in turn -- without this, each would wait for the dead
 * registry again (N readers: N+1 times --fetch-timeout x attempts) */
#define FAILED_MEMORY_MS 2000
/* decompressed spans handed to the writer thread and not yet written: what
 * memory they take on top of --cache-mem (see dec_keep) */
#define DEC_QUEUE 8

enum span_state { SPAN_EMPTY, SPAN_FETCHING, SPAN_READY };

struct span_slot {
    enum span_state state;
    uint8_t *data;          /* decompressed, when READY */
    size_t len;
    int pins;
    int on_disk;
    int dec_on_disk;        /* its decompressed bytes are in a file of ours (this mount's) */
    int dec_queued;         /* handed to the writer for that file */
    int64_t dec_seq;        /* when that file was written (evict the oldest first) */
    int ever_fetched;
    uint32_t fail_gen;      /* bumped each time a fetch of it fails */
    int64_t failed_ms;      /* when a reader's fetch of it failed at the source (0: never) */
    int32_t prev, next;     /* LRU, -1 terminated; head = most recent */
};

struct span_cache {
    const struct ztoc *z;
    const struct zinfo *zi;
    struct blob_source *src;
    struct span_cache_opts opts;
    char disk_dir[4096];
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct span_slot *spans;
    int32_t nspans;
    size_t mem_used;
    int32_t lru_head, lru_tail;
    int64_t disk_used;          /* both tiers, the writer's reservations included */
    int64_t dec_used;           /* of which decompressed files */
    int64_t dec_seq;
    struct span_cache_stats st;
    char last_error[ERROR_MSG_MAX]; /* whole: readers that waited for a fetch fail with it */
    atomic_int checking_first;  /* span_cache_check_first: its error says it all */
    atomic_int header_checked;  /* gzip: bytes [0, span 0) were read and parsed as a gzip header */
    atomic_llong last_read_ms;  /* CLOCK_MONOTONIC of the last read (readers write, the fetcher reads) */
    /* background fetcher */
    pthread_t bg;
    int bg_running, stopping;
    pthread_cond_t bg_cond;
    /* readahead (see readahead_note) */
    pthread_t ra[RA_THREADS];
    int nra;
    int32_t ra_next, ra_limit;  /* spans [ra_next, ra_limit) wanted, not yet claimed */
    int ra_keep;                /* decompress the near ones into memory (the budget has room) */
    int64_t ra_prev_end;        /* where the previous read ended (-1: none yet) */
    int32_t ra_prev_span;       /* its last span */
    int32_t ra_streak;          /* sequential span crossings in a row */
    pthread_cond_t ra_cond;
    /* the decompressed tier's writer (see dec_keep) */
    pthread_t dec_writer;
    int dec_running;
    struct dec_item { int32_t s; uint8_t *data; size_t len; } dec_q[DEC_QUEUE];
    int dec_qn;
    pthread_cond_t dec_cond;
};

static int64_t cstart(const struct span_cache *sc, int32_t s) { return zinfo_span_compressed_start(sc->zi, s); }
static int64_t cend(const struct span_cache *sc, int32_t s) { return zinfo_span_compressed_end(sc->zi, s); }
static int64_t ustart(const struct span_cache *sc, int32_t s) { return zinfo_span_uncompressed_start(sc->zi, s); }
static int64_t uend(const struct span_cache *sc, int32_t s) { return zinfo_span_uncompressed_end(sc->zi, s); }

/* ---- LRU (caller holds mu) ---- */

static void lru_unlink(struct span_cache *sc, int32_t s)
{
    struct span_slot *x = &sc->spans[s];

    if (x->prev >= 0)
        sc->spans[x->prev].next = x->next;
    else if (sc->lru_head == s)
        sc->lru_head = x->next;
    if (x->next >= 0)
        sc->spans[x->next].prev = x->prev;
    else if (sc->lru_tail == s)
        sc->lru_tail = x->prev;
    x->prev = x->next = -1;
}

static void lru_push_front(struct span_cache *sc, int32_t s)
{
    struct span_slot *x = &sc->spans[s];

    x->prev = -1;
    x->next = sc->lru_head;
    if (sc->lru_head >= 0)
        sc->spans[sc->lru_head].prev = s;
    sc->lru_head = s;
    if (sc->lru_tail < 0)
        sc->lru_tail = s;
}

static int dec_keep(struct span_cache *sc, int32_t s);

/* make room for `need` bytes by dropping unpinned spans from the tail (to
 * the decompressed tier when it takes them) */
static void evict_for(struct span_cache *sc, size_t need)
{
    int32_t s = sc->lru_tail;

    while (sc->mem_used + need > sc->opts.mem_budget && s >= 0) {
        int32_t prev = sc->spans[s].prev;
        struct span_slot *x = &sc->spans[s];
        if (x->state == SPAN_READY && x->pins == 0) {
            lru_unlink(sc, s);
            if (!dec_keep(sc, s))
                free(x->data);
            x->data = NULL;
            sc->mem_used -= x->len;
            x->len = 0;
            x->state = SPAN_EMPTY;
        }
        s = prev;
    }
}

/* ---- disk cache ---- */

static void disk_path(const struct span_cache *sc, int32_t s, char *out, size_t n)
{
    snprintf(out, n, "%s/%d", sc->disk_dir, s);
}

/* a cache file: written under a temporary name and renamed, without
 * fsync -- a file torn or lost in a crash fails the digest check when it
 * is loaded and is fetched again, so reads never wait for the disk (an
 * fsync per span cost 20-50 ms here) */
static int write_cache_file(const char *path, const char *tmp, const uint8_t *data, size_t n)
{
    struct error err;
    int fd, rc;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    rc = write_all(fd, data, n, &err);
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) == 0)
        return 0;
    unlink(tmp);
    return -1;
}

/* ---- the decompressed tier ----
 *
 * A span that leaves the memory LRU is written, decompressed, to a file of
 * the disk cache by the writer thread (off the readers' path: evict_for
 * only queues it, up to DEC_QUEUE spans) while the disk budget has room.  A
 * later read that misses memory copies just the bytes it wants from that
 * file (a pread) instead of decompressing the whole span again: what the
 * kernel drops from its page cache comes back at the cost of a disk read,
 * not of a span's decompression.  The bytes were decompressed from verified
 * spans; the files are written under a temporary name and renamed, without
 * fsync, in our private cache directory, and trusted by this mount only: a
 * crash could leave a renamed file of the right size without its bytes,
 * and they carry no digest to check them by, so a mount deletes what an
 * earlier one left (and its own on exit).  A file missing or not of the
 * span's size is forgotten and the read takes the compressed path (never
 * wrong bytes).  The budget (--cache-disk) covers both tiers; a compressed
 * span that needs room evicts decompressed files, oldest first. */

static void dec_path(const struct span_cache *sc, int32_t s, char *out, size_t n)
{
    snprintf(out, n, "%s/u%d", sc->disk_dir, s);
}

/* caller holds mu; s leaves memory: 1 if the writer took its data */
static int dec_keep(struct span_cache *sc, int32_t s)
{
    struct span_slot *x = &sc->spans[s];

    if (!sc->dec_running || sc->stopping || x->dec_on_disk || x->dec_queued || sc->dec_qn == DEC_QUEUE ||
        sc->disk_used + (int64_t)x->len > sc->opts.disk_budget)
        return 0;
    sc->dec_q[sc->dec_qn].s = s;
    sc->dec_q[sc->dec_qn].data = x->data;
    sc->dec_q[sc->dec_qn].len = x->len;
    sc->dec_qn++;
    x->dec_queued = 1;
    sc->disk_used += (int64_t)x->len;  /* reserved until written (or not) */
    sc->dec_used += (int64_t)x->len;
    pthread_cond_signal(&sc->dec_cond);
    return 1;
}

/* caller holds mu: s's decompressed file no longer counts (the caller
 * deletes it) */
static void dec_forget(struct span_cache *sc, int32_t s)
{
    int64_t n = uend(sc, s) - ustart(sc, s);

    sc->spans[s].dec_on_disk = 0;
    sc->disk_used -= n;
    sc->dec_used -= n;
}

/* caller holds mu: forget the oldest decompressed file (not one queued or
 * being written), its path in out; 0 if there is none */
static int dec_evict_oldest(struct span_cache *sc, char *out, size_t n)
{
    int32_t s, victim = -1;

    for (s = 0; s < sc->nspans; s++)
        if (sc->spans[s].dec_on_disk && (victim < 0 || sc->spans[s].dec_seq < sc->spans[victim].dec_seq))
            victim = s;
    if (victim < 0)
        return 0;
    dec_forget(sc, victim);
    dec_path(sc, victim, out, n);
    return 1;
}

/* copy uncompressed bytes [from, to) of span s from its decompressed file
 * into out; -1 (the file forgotten and deleted) if it is not there whole */
static int dec_read(struct span_cache *sc, int32_t s, int64_t from, int64_t to, uint8_t *out)
{
    char path[4200];
    struct stat st;
    struct error err;
    int fd, rc = -1, drop;

    dec_path(sc, s, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (fstat(fd, &st) == 0 && st.st_size == uend(sc, s) - ustart(sc, s) &&
            pread_full(fd, out, (size_t)(to - from), (off_t)(from - ustart(sc, s)), &err) == 0)
            rc = 0;
        close(fd);
    }
    if (rc == 0)
        return 0;
    pthread_mutex_lock(&sc->mu);
    drop = sc->spans[s].dec_on_disk;
    if (drop)
        dec_forget(sc, s);
    pthread_mutex_unlock(&sc->mu);
    if (drop)
        unlink(path);
    return -1;
}

static void *dec_main(void *arg)
{
    struct span_cache *sc = arg;
    char path[4200], tmp[4300];

    pthread_mutex_lock(&sc->mu);
    for (;;) {
        struct dec_item it;
        int rc;
        while (!sc->stopping && sc->dec_qn == 0)
            pthread_cond_wait(&sc->dec_cond, &sc->mu);
        if (sc->stopping)
            break;
        it = sc->dec_q[0];
        sc->dec_qn--;
        memmove(sc->dec_q, sc->dec_q + 1, (size_t)sc->dec_qn * sizeof(it));
        pthread_mutex_unlock(&sc->mu);
        dec_path(sc, it.s, path, sizeof(path));
        /* the pid: another mount sharing the directory writes its own */
        snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
        rc = write_cache_file(path, tmp, it.data, it.len);
        free(it.data);
        pthread_mutex_lock(&sc->mu);
        sc->spans[it.s].dec_queued = 0;
        if (rc == 0) {
            sc->spans[it.s].dec_on_disk = 1;
            sc->spans[it.s].dec_seq = ++sc->dec_seq;
        } else {
            sc->disk_used -= (int64_t)it.len;
            sc->dec_used -= (int64_t)it.len;
        }
    }
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

/* a decompressed file, or its temporary file: "u<span>[...]" (dec_path) */
static int is_dec_file(const char *name)
{
    return name[0] == 'u';
}

/* caller owns the FETCHING state of s: nobody else stores it meanwhile */
static void disk_store(struct span_cache *sc, int32_t s, const uint8_t *data, size_t n)
{
    char path[4200], tmp[4300];

    if (!sc->disk_dir[0])
        return;
    pthread_mutex_lock(&sc->mu);
    /* decompressed files give way to compressed spans */
    if (sc->spans[s].on_disk || sc->disk_used - sc->dec_used + (int64_t)n > sc->opts.disk_budget) {
        pthread_mutex_unlock(&sc->mu);
        return;
    }
    while (sc->disk_used + (int64_t)n > sc->opts.disk_budget && dec_evict_oldest(sc, path, sizeof(path))) {
        pthread_mutex_unlock(&sc->mu);
        unlink(path);
        pthread_mutex_lock(&sc->mu);
    }
    if (sc->disk_used + (int64_t)n > sc->opts.disk_budget) {
        pthread_mutex_unlock(&sc->mu); /* the rest is the writer's, being written */
        return;
    }
    sc->disk_used += (int64_t)n;
    pthread_mutex_unlock(&sc->mu);
    disk_path(sc, s, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (write_cache_file(path, tmp, data, n) == 0) {
        pthread_mutex_lock(&sc->mu);
        sc->spans[s].on_disk = 1;
        pthread_mutex_unlock(&sc->mu);
    } else {
        pthread_mutex_lock(&sc->mu);
        sc->disk_used -= (int64_t)n;
        pthread_mutex_unlock(&sc->mu);
    }
}

static int check_digest(const struct span_cache *sc, int32_t s, const uint8_t *data, size_t n)
{
    uint8_t want[32], got[32];
    const struct strv *d = &sc->z->span_digests[s];

    if (digest_parse(d->ptr, d->len, want) != 0)
        return -1;
    sha256_buf(data, n, got);
    return memcmp(want, got, 32) == 0 ? 0 : -1;
}

/* compressed bytes of span s from the disk cache (verified), or -1 */
static int disk_load(struct span_cache *sc, int32_t s, uint8_t *buf, size_t n)
{
    char path[4200];
    int fd;
    struct error err;

    disk_path(sc, s, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (pread_full(fd, buf, n, 0, &err) != 0 || check_digest(sc, s, buf, n) != 0) {
        close(fd);
        unlink(path); /* damaged on disk: forget it */
        pthread_mutex_lock(&sc->mu);
        sc->spans[s].on_disk = 0;
        pthread_mutex_unlock(&sc->mu);
        return -1;
    }
    close(fd);
    return 0;
}

/* ---- fetching ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* a fetch of spans first..last failed: the ones still FETCHING (ours) go
 * back to EMPTY, and the readers waiting for them fail with err (they
 * share the fetch, its failure included, rather than each trying again in
 * turn); remember: a source failure of a reader's fetch (FAILED_MEMORY_MS) */
static void release_failed(struct span_cache *sc, int32_t first, int32_t last, const struct error *err,
                           int remember)
{
    int64_t now = remember ? mono_ms() : 0;
    int32_t s;

    pthread_mutex_lock(&sc->mu);
    for (s = first; s <= last; s++)
        if (sc->spans[s].state == SPAN_FETCHING) {
            sc->spans[s].state = SPAN_EMPTY;
            sc->spans[s].fail_gen++;
            if (remember)
                sc->spans[s].failed_ms = now;
        }
    str_copy(sc->last_error, sizeof(sc->last_error), err->msg);
    pthread_cond_broadcast(&sc->cond);
    pthread_mutex_unlock(&sc->mu);
}

/* decompress span s from its compressed bytes and publish it (caller owns
 * the FETCHING state of s); pin: publish it pinned for the caller, who
 * unpins it once it has copied what it wants (so that other readers'
 * fetches cannot evict it first: a reader always gets the span it fetched) */
static int publish(struct span_cache *sc, int32_t s, const uint8_t *comp, size_t clen, int pin, struct error *err)
{
    struct span_inflater *si;
    size_t ulen = (size_t)(uend(sc, s) - ustart(sc, s));
    uint8_t *data;
    int rc;

    /* reserve the room first, so that concurrent fetches cannot take the
     * cache past its budget while they decompress */
    pthread_mutex_lock(&sc->mu);
    evict_for(sc, ulen);
    sc->mem_used += ulen;
    pthread_mutex_unlock(&sc->mu);
    si = span_inflater_new();
    data = malloc(ulen + 1);
    if (si == NULL || data == NULL) {
        rc = error_set(err, "out of memory");
    } else {
        rc = span_inflate(si, sc->zi, s, s, comp, clen, data, ulen, err);
        /* the digests cover compressed bytes only: the TOC's offsets are
         * proven here, against the tar headers the span holds */
        if (rc == 0)
            rc = ztoc_check_headers(sc->z, ustart(sc, s), data, ulen, err);
    }
    span_inflater_free(si);
    pthread_mutex_lock(&sc->mu);
    if (rc != 0) {
        sc->mem_used -= ulen;
        pthread_mutex_unlock(&sc->mu);
        free(data);
        return -1;
    }
    sc->spans[s].data = data;
    sc->spans[s].len = ulen;
    sc->spans[s].state = SPAN_READY;
    sc->spans[s].failed_ms = 0;
    if (pin)
        sc->spans[s].pins++;
    lru_push_front(sc, s);
    pthread_cond_broadcast(&sc->cond);
    pthread_mutex_unlock(&sc->mu);
    return 0;
}

/* fetch_run's flags */
#define FETCH_KEEP 1    /* decompress into memory (else: disk cache only, when there is one) */
#define FETCH_PIN 2     /* publish the first span pinned for the caller (only if it all succeeds) */
#define FETCH_READER 4  /* a reader waits for it: remember a source failure (FAILED_MEMORY_MS) */

/* fetch spans first..last (all FETCHING by us) with one range request,
 * verify each, publish each; spans that fail are retried alone once.  On
 * return none of them is FETCHING any more: on failure the unpublished ones
 * are released by release_failed (callers must not touch their states:
 * another reader may have claimed them since) */
static int64_t gzip_header_len(const uint8_t *p, size_t n);
#define MAX_GZIP_HEADER ((int64_t)1 << 20)

static int fetch_run(struct span_cache *sc, int32_t first, int32_t last, int flags, struct error *err)
{
    int64_t base = cstart(sc, first), total = cend(sc, last) - base;
    /* a run from span 0 whose gzip header is unchecked also reads the
     * header (bytes no digest covers) in the same request */
    int64_t lead = first == 0 && sc->zi->algorithm == ZTOC_GZIP && !atomic_load(&sc->header_checked) ? base : 0;
    uint8_t *buf;
    int32_t s;
    int rc = 0, pinned = 0;

    base -= lead;
    total += lead;

    if (total <= 0 || total > MAX_SPAN_BYTES * 2) {
        error_set(err, "spans %d..%d have an impossible size", first, last);
        release_failed(sc, first, last, err, 0);
        return -1;
    }
    buf = malloc((size_t)total);
    if (buf == NULL) {
        error_set(err, "out of memory");
        release_failed(sc, first, last, err, 0);
        return -1;
    }
    if (blob_source_read(sc->src, base, (size_t)total, buf, err) != 0) {
        free(buf);
        release_failed(sc, first, last, err, flags & FETCH_READER);
        return -1;
    }
    pthread_mutex_lock(&sc->mu);
    sc->st.fetch_requests++;
    sc->st.bytes_fetched += total;
    pthread_mutex_unlock(&sc->mu);
    if (lead > 0) {
        if (lead > MAX_GZIP_HEADER || gzip_header_len(buf, (size_t)lead) != lead) {
            if (lead < 2 || buf[0] != 0x1f || buf[1] != 0x8b)
                error_set(err, "the layer is not gzip data, but its ztoc says gzip");
            else
                error_set(err, "the ztoc's first span starts at byte %lld, but the layer's gzip header ends elsewhere",
                          (long long)lead);
            free(buf);
            release_failed(sc, first, last, err, 0);
            return -1;
        }
        atomic_store(&sc->header_checked, 1);
    }
    for (s = first; s <= last; s++) {
        const uint8_t *p = buf + (cstart(sc, s) - base);
        size_t n = (size_t)(cend(sc, s) - cstart(sc, s));
        int attempt;
        uint8_t *again = NULL;
        struct error refetch_err;
        for (attempt = 0;; attempt++) {
            if (check_digest(sc, s, p, n) == 0)
                break;
            pthread_mutex_lock(&sc->mu);
            sc->st.verify_failures++;
            pthread_mutex_unlock(&sc->mu);
            if (!atomic_load(&sc->checking_first))
                log_json("warn", "span digest mismatch", "span", s, "attempt", attempt + 1);
            if (attempt >= 1) {
                error_set(err, "span %d does not match its digest after a refetch", s);
                break;
            }
            free(again);
            again = malloc(n);
            if (again == NULL || blob_source_read(sc->src, cstart(sc, s), n, again, &refetch_err) != 0) {
                /* both causes: the mismatch, and why the refetch failed */
                error_set(err, "span %d does not match its digest, and its refetch failed: %s", s,
                          again == NULL ? "out of memory" : refetch_err.msg);
                attempt = 1;
                break;
            }
            p = again;
        }
        if (attempt >= 1 && check_digest(sc, s, p, n) != 0) {
            free(again);
            rc = -1;
            /* the remaining spans of the run are released unfetched */
            release_failed(sc, s, last, err, 0);
            break;
        }
        disk_store(sc, s, p, n);
        pthread_mutex_lock(&sc->mu);
        sc->st.spans_fetched++;
        if (!sc->spans[s].ever_fetched) {
            sc->spans[s].ever_fetched = 1;
            sc->st.fetched_size += (int64_t)n;
        }
        pthread_mutex_unlock(&sc->mu);
        if ((flags & FETCH_KEEP) || !sc->spans[s].on_disk) {
            int pin = (flags & FETCH_PIN) && s == first;
            if (publish(sc, s, p, n, pin, err) != 0) {
                free(again);
                rc = -1;
                release_failed(sc, s, last, err, 0);
                break;
            }
            pinned |= pin;
        } else {
            pthread_mutex_lock(&sc->mu);
            sc->spans[s].state = SPAN_EMPTY;
            pthread_cond_broadcast(&sc->cond);
            pthread_mutex_unlock(&sc->mu);
        }
        free(again);
    }
    free(buf);
    if (rc != 0 && pinned) { /* the caller gets no pin when the run fails */
        pthread_mutex_lock(&sc->mu);
        sc->spans[first].pins--;
        pthread_mutex_unlock(&sc->mu);
    }
    return rc;
}

/* load span s (FETCHING by us) from the disk cache; -1 if not there;
 * pin: as publish's */
static int load_from_disk(struct span_cache *sc, int32_t s, int pin, struct error *err)
{
    size_t n = (size_t)(cend(sc, s) - cstart(sc, s));
    uint8_t *buf;
    int rc;

    if (!sc->spans[s].on_disk)
        return -1;
    buf = malloc(n ? n : 1);
    if (buf == NULL)
        return -1;
    if (disk_load(sc, s, buf, n) != 0) {
        free(buf);
        return -1;
    }
    rc = publish(sc, s, buf, n, pin, err);
    free(buf);
    if (rc == 0) {
        pthread_mutex_lock(&sc->mu);
        sc->st.disk_hits++;
        pthread_mutex_unlock(&sc->mu);
    }
    return rc;
}

/* make spans first..last READY (or fail), each visited once (a span
 * evicted again after it was READY is the caller's to fetch again); caller
 * does not hold mu.  pin: on success `first` is also pinned for the caller
 * (READY, and not evictable until the caller unpins it) */
static int ensure(struct span_cache *sc, int32_t first, int32_t last, int pin, struct error *err)
{
    int32_t s;
    int pinned = 0;

    for (s = first; s <= last;) {
        int32_t run_end;
        int want_pin;
        pthread_mutex_lock(&sc->mu);
        while (sc->spans[s].state == SPAN_FETCHING) {
            uint32_t gen = sc->spans[s].fail_gen;
            pthread_cond_wait(&sc->cond, &sc->mu);
            if (sc->spans[s].fail_gen != gen) {
                /* the fetch we waited for failed: so does this read */
                error_set(err, "%s", sc->last_error);
                pthread_mutex_unlock(&sc->mu);
                goto fail;
            }
        }
        if (sc->spans[s].state == SPAN_READY) {
            if (pin && s == first) {
                sc->spans[s].pins++;
                lru_unlink(sc, s);
                lru_push_front(sc, s);
                pinned = 1;
            }
            pthread_mutex_unlock(&sc->mu);
            s++;
            continue;
        }
        if (sc->spans[s].failed_ms && !sc->spans[s].on_disk && mono_ms() - sc->spans[s].failed_ms < FAILED_MEMORY_MS) {
            /* its fetch just failed: the source is not back yet */
            error_set(err, "%s", sc->last_error);
            pthread_mutex_unlock(&sc->mu);
            goto fail;
        }
        /* claim s, and the missing, not-on-disk spans right after it */
        sc->spans[s].state = SPAN_FETCHING;
        run_end = s;
        if (!sc->spans[s].on_disk)
            while (run_end < last && sc->spans[run_end + 1].state == SPAN_EMPTY && !sc->spans[run_end + 1].on_disk &&
                   !sc->spans[run_end + 1].dec_on_disk && cend(sc, run_end + 1) - cstart(sc, s) <= MAX_RUN_BYTES) {
                run_end++;
                sc->spans[run_end].state = SPAN_FETCHING;
            }
        pthread_mutex_unlock(&sc->mu);
        want_pin = pin && s == first;
        if (run_end == s && load_from_disk(sc, s, want_pin, err) == 0) {
            pinned |= want_pin;
            s++;
            continue;
        }
        if (fetch_run(sc, s, run_end, FETCH_KEEP | FETCH_READER | (want_pin ? FETCH_PIN : 0), err) != 0)
            goto fail; /* fetch_run released the run's spans (and its pin) */
        pinned |= want_pin;
        s = run_end + 1;
    }
    return 0;
fail:
    if (pinned) {
        pthread_mutex_lock(&sc->mu);
        sc->spans[first].pins--;
        pthread_mutex_unlock(&sc->mu);
    }
    return -1;
}

/* Readahead.  A read that starts where the previous one ended (within
 * RA_GAP: tar headers and skipped entries lie between a layer's files) and
 * enters a new span is a sequential reader: the spans after the read are
 * wanted, RA_NEAR at first, two more at each such crossing in a row, up to
 * RA_WINDOW (a jump of more than RA_GAP starts over), and the readahead
 * threads fetch the missing ones, runs of up to RA_RUN_BYTES per request,
 * RA_THREADS requests in flight, into the disk cache (while it has room);
 * the RA_NEAR spans right after the read they also make
 * ready in memory, decompressed (fetched, or loaded from the disk cache) --
 * unless the memory budget is under 4 x RA_NEAR spans, so that readahead
 * cannot crowd out what readers use.  So the link stays busy through
 * stretches where the reader is slower than it (many small files), and
 * spans are decompressed on other threads while the reader consumes what
 * it has.  Random readers (and the first read of a mount) never trigger
 * it. */
static void readahead_note(struct span_cache *sc, int64_t off, int64_t end, int32_t last)
{
    pthread_mutex_lock(&sc->mu);
    if (sc->ra_prev_end < 0 || off < sc->ra_prev_end - RA_GAP || off > sc->ra_prev_end + RA_GAP)
        sc->ra_streak = 0; /* not a sequential reader (any more) */
    if (sc->nra > 0 && sc->ra_prev_end >= 0 && off >= sc->ra_prev_end && off - sc->ra_prev_end <= RA_GAP &&
        last > sc->ra_prev_span) {
        int32_t window = sc->ra_streak < (RA_WINDOW - RA_NEAR) / 2 ? RA_NEAR + 2 * sc->ra_streak++ : RA_WINDOW;
        sc->ra_next = last + 1;
        sc->ra_limit = sc->nspans - last - 1 > window ? last + 1 + window : sc->nspans;
        pthread_cond_broadcast(&sc->ra_cond);
    }
    sc->ra_prev_end = end;
    sc->ra_prev_span = last;
    pthread_mutex_unlock(&sc->mu);
}

static void *ra_main(void *arg)
{
    struct span_cache *sc = arg;
    struct error err;

    pthread_mutex_lock(&sc->mu);
    for (;;) {
        int32_t s, run_end;
        int near, rc;
        while (!sc->stopping && sc->ra_next >= sc->ra_limit)
            pthread_cond_wait(&sc->ra_cond, &sc->mu);
        if (sc->stopping)
            break;
        s = sc->ra_next++;
        near = sc->ra_keep && s <= sc->ra_prev_span + RA_NEAR;
        /* a decompressed file serves the reader as well as memory would */
        if (sc->spans[s].state != SPAN_EMPTY || sc->spans[s].dec_on_disk)
            continue;
        if (sc->spans[s].on_disk) {
            if (!near)
                continue;
            sc->spans[s].state = SPAN_FETCHING;
            pthread_mutex_unlock(&sc->mu);
            /* a damaged cache file: fetch it (released by fetch_run on failure) */
            if (load_from_disk(sc, s, 0, &err) != 0)
                fetch_run(sc, s, s, FETCH_KEEP, &err);
            pthread_mutex_lock(&sc->mu);
            continue;
        }
        /* far spans only while the disk cache has room (else they would
         * take memory from the LRU) */
        if (!near && sc->disk_used - sc->dec_used + (cend(sc, s) - cstart(sc, s)) > sc->opts.disk_budget)
            continue;
        sc->spans[s].state = SPAN_FETCHING;
        run_end = s;
        while (run_end + 1 < sc->ra_limit && sc->spans[run_end + 1].state == SPAN_EMPTY &&
               !sc->spans[run_end + 1].on_disk && !sc->spans[run_end + 1].dec_on_disk && cend(sc, run_end + 1) - cstart(sc, s) <= RA_RUN_BYTES) {
            run_end++;
            sc->spans[run_end].state = SPAN_FETCHING;
        }
        sc->ra_next = run_end + 1;
        pthread_mutex_unlock(&sc->mu);
        /* on failure fetch_run released the spans and noted the error;
         * readahead is best effort: nothing more until the next trigger */
        rc = fetch_run(sc, s, run_end, near ? FETCH_KEEP : 0, &err);
        pthread_mutex_lock(&sc->mu);
        if (rc != 0)
            sc->ra_next = sc->ra_limit;
    }
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

int span_cache_read(struct span_cache *sc, int64_t off, size_t len, uint8_t *out, struct error *err)
{
    int32_t first, last, s;
    int64_t end = off + (int64_t)len;

    if (len == 0)
        return 0;
    RETURN_ERROR_IF(off < 0 || end > sc->zi->uncompressed_size, err, "read past the layer's end");
    atomic_store(&sc->last_read_ms, mono_ms());
    first = zinfo_span_of(sc->zi, off);
    last = zinfo_span_of(sc->zi, end - 1);
    readahead_note(sc, off, end, last);
    for (s = first; s <= last; s++) {
        int64_t us = ustart(sc, s), ue = uend(sc, s);
        int64_t from = off > us ? off : us, to = end < ue ? end : ue;
        struct span_slot *x = &sc->spans[s];
        int32_t run_end;
        int dec;
        pthread_mutex_lock(&sc->mu);
        dec = x->state != SPAN_READY && x->dec_on_disk;
        /* the spans fetched with s stop before one its file serves */
        for (run_end = s; run_end < last && !sc->spans[run_end + 1].dec_on_disk; run_end++)
            ;
        pthread_mutex_unlock(&sc->mu);
        if (dec && dec_read(sc, s, from, to, out + (from - off)) == 0) {
            pthread_mutex_lock(&sc->mu);
            sc->st.dec_hits++;
            pthread_mutex_unlock(&sc->mu);
            continue;
        }
        /* s comes back pinned (the rest of the read fetched with it when
         * missing): it cannot be evicted before it is copied */
        if (ensure(sc, s, run_end, 1, err) != 0)
            return -1;
        if (to > from)
            memcpy(out + (from - off), x->data + (from - us), (size_t)(to - from));
        pthread_mutex_lock(&sc->mu);
        x->pins--;
        sc->st.mem_hits++;
        /* spans pinned while others were published may have kept the
         * cache over its budget: back under it once they are free */
        if (sc->mem_used > sc->opts.mem_budget)
            evict_for(sc, 0);
        pthread_mutex_unlock(&sc->mu);
    }
    return 0;
}

int span_cache_prefetch(struct span_cache *sc, int32_t first, int32_t last, struct error *err)
{
    if (first < 0)
        first = 0;
    if (last >= sc->nspans)
        last = sc->nspans - 1;
    if (first > last)
        return 0;
    return ensure(sc, first, last, 0, err);
}

/* the length of the gzip member header at p (RFC 1952 §2.3), or -1 if p
 * does not start with a whole one */
static int64_t gzip_header_len(const uint8_t *p, size_t n)
{
    size_t at = 10;
    uint8_t flags;

    if (n < 10 || p[0] != 0x1f || p[1] != 0x8b || p[2] != 8 || (p[3] & 0xe0))
        return -1;
    flags = p[3];
    if (flags & 4) { /* FEXTRA */
        if (n - at < 2)
            return -1;
        at += 2 + (size_t)(p[at] | p[at + 1] << 8);
        if (at > n)
            return -1;
    }
    for (int field = 8; field <= 16; field <<= 1) { /* FNAME, FCOMMENT: NUL-terminated */
        if (!(flags & field))
            continue;
        while (at < n && p[at] != 0)
            at++;
        if (at++ >= n)
            return -1;
    }
    if (flags & 2) /* FHCRC */
        at += 2;
    return at <= n ? (int64_t)at : -1;
}

int span_cache_check_first(struct span_cache *sc, struct error *err)
{
    int64_t hdr = cstart(sc, 0);
    int64_t mismatches;
    int rc;

    /* gzip: span 0 must start right after the gzip header: bytes [0, hdr)
     * are covered by no digest, and a checkpoint 0 elsewhere would decode
     * other bytes as the stream's start. Fetching span 0 reads and checks
     * the header in the same request (fetch_run). */
    RETURN_ERROR_IF(sc->zi->algorithm == ZTOC_GZIP && (hdr < 10 || hdr > MAX_GZIP_HEADER), err,
                    "the ztoc's first span starts at byte %lld, not after a gzip header", (long long)hdr);
    pthread_mutex_lock(&sc->mu);
    mismatches = sc->st.verify_failures;
    pthread_mutex_unlock(&sc->mu);
    atomic_store(&sc->checking_first, 1);
    rc = ensure(sc, 0, 0, 0, err);
    atomic_store(&sc->checking_first, 0);
    if (rc != 0) {
        int mismatched;
        pthread_mutex_lock(&sc->mu);
        mismatched = sc->st.verify_failures > mismatches;
        pthread_mutex_unlock(&sc->mu);
        /* only a digest mismatch says the ztoc is wrong; a registry error says itself */
        return mismatched ? error_prefix(err, "the ztoc does not fit this layer") : -1;
    }
    if (sc->zi->algorithm == ZTOC_GZIP && !atomic_load(&sc->header_checked)) {
        /* span 0 came from the disk cache: the header is still unread */
        uint8_t *h = malloc((size_t)hdr);
        int64_t got;
        RETURN_ERROR_IF(h == NULL, err, "out of memory");
        if (blob_source_read(sc->src, 0, (size_t)hdr, h, err) != 0) {
            free(h);
            return -1;
        }
        got = h[0] == 0x1f && h[1] == 0x8b ? gzip_header_len(h, (size_t)hdr) : -2;
        free(h);
        RETURN_ERROR_IF(got == -2, err, "the layer is not gzip data, but its ztoc says gzip");
        RETURN_ERROR_IF(got != hdr, err,
                        "the ztoc's first span starts at byte %lld, but the layer's gzip header ends elsewhere",
                        (long long)hdr);
        atomic_store(&sc->header_checked, 1);
    }
    return 0;
}

/* ---- background fetch ---- */

static int bg_sleep(struct span_cache *sc, long ms)
{
    struct timespec ts;
    int stop;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&sc->mu);
    if (!sc->stopping)
        pthread_cond_timedwait(&sc->bg_cond, &sc->mu, &ts);
    stop = sc->stopping;
    pthread_mutex_unlock(&sc->mu);
    return stop;
}

static void *bg_main(void *arg)
{
    struct span_cache *sc = arg;
    int32_t s = 0;
    struct error err;

    while (s < sc->nspans) {
        long quiet = (long)(mono_ms() - atomic_load(&sc->last_read_ms));
        if (quiet < sc->opts.quiet_ms) {
            if (bg_sleep(sc, sc->opts.quiet_ms - quiet))
                return NULL;
            continue;
        }
        pthread_mutex_lock(&sc->mu);
        if (sc->stopping) {
            pthread_mutex_unlock(&sc->mu);
            return NULL;
        }
        if (sc->spans[s].on_disk || sc->spans[s].state != SPAN_EMPTY) {
            pthread_mutex_unlock(&sc->mu);
            s++;
            continue;
        }
        sc->spans[s].state = SPAN_FETCHING;
        pthread_mutex_unlock(&sc->mu);
        if (fetch_run(sc, s, s, 0, &err) != 0) {
            /* fetch_run released the span and noted the error */
            if (bg_sleep(sc, 5000)) /* a failing source: back off */
                return NULL;
            continue;
        }
        s++;
        if (bg_sleep(sc, sc->opts.period_ms))
            return NULL;
    }
    return NULL;
}

/* ---- lifecycle ---- */

struct span_cache *span_cache_new(const struct ztoc *z, const struct zinfo *zi, struct blob_source *src,
                                  const struct span_cache_opts *opts, struct error *err)
{
    struct span_cache *sc = calloc(1, sizeof(*sc));
    int32_t s;

    if (sc == NULL) {
        error_set(err, "out of memory");
        return NULL;
    }
    sc->z = z;
    sc->zi = zi;
    sc->src = src;
    sc->opts = *opts;
    sc->nspans = zi->nspans;
    sc->spans = calloc((size_t)zi->nspans + 1, sizeof(*sc->spans));
    if (sc->spans == NULL) {
        free(sc);
        error_set(err, "out of memory");
        return NULL;
    }
    for (s = 0; s < sc->nspans; s++)
        sc->spans[s].prev = sc->spans[s].next = -1;
    sc->lru_head = sc->lru_tail = -1;
    pthread_mutex_init(&sc->mu, NULL);
    pthread_cond_init(&sc->cond, NULL);
    pthread_cond_init(&sc->bg_cond, NULL);
    pthread_cond_init(&sc->ra_cond, NULL);
    pthread_cond_init(&sc->dec_cond, NULL);
    sc->ra_prev_end = -1;
    sc->ra_prev_span = -1;
    atomic_store(&sc->last_read_ms, mono_ms());
    sc->st.nspans = sc->nspans;
    sc->st.layer_size = zi->compressed_size;
    if (opts->disk_dir && opts->disk_dir[0] && opts->disk_budget > 0) {
        str_copy(sc->disk_dir, sizeof(sc->disk_dir), opts->disk_dir);
        if (mkdir_p(sc->disk_dir, 0700, err) != 0) {
            span_cache_free(sc);
            return NULL;
        }
        unlink_matching(sc->disk_dir, is_dec_file);
        /* spans cached by an earlier mount of the same layer */
        for (s = 0; s < sc->nspans; s++) {
            char path[4200];
            struct stat st;
            disk_path(sc, s, path, sizeof(path));
            if (stat(path, &st) == 0 && st.st_size == cend(sc, s) - cstart(sc, s)) {
                sc->spans[s].on_disk = 1;
                sc->spans[s].ever_fetched = 1;
                sc->st.fetched_size += st.st_size;
                sc->disk_used += st.st_size;
            }
        }
    }
    if (opts->background && sc->disk_dir[0] && pthread_create(&sc->bg, NULL, bg_main, sc) == 0)
        sc->bg_running = 1;
    if (sc->disk_dir[0] && pthread_create(&sc->dec_writer, NULL, dec_main, sc) == 0)
        sc->dec_running = 1;
    for (s = 0; s < sc->nspans; s++)
        if (uend(sc, s) - ustart(sc, s) > (int64_t)(opts->mem_budget / (4 * RA_NEAR)))
            break;
    sc->ra_keep = s == sc->nspans;
    while (sc->disk_dir[0] && sc->nra < RA_THREADS && pthread_create(&sc->ra[sc->nra], NULL, ra_main, sc) == 0)
        sc->nra++;
    return sc;
}

void span_cache_free(struct span_cache *sc)
{
    int32_t s;

    if (sc == NULL)
        return;
    pthread_mutex_lock(&sc->mu);
    sc->stopping = 1;
    pthread_cond_broadcast(&sc->bg_cond);
    pthread_cond_broadcast(&sc->ra_cond);
    pthread_cond_broadcast(&sc->dec_cond);
    pthread_mutex_unlock(&sc->mu);
    if (sc->bg_running)
        pthread_join(sc->bg, NULL);
    while (sc->nra > 0)
        pthread_join(sc->ra[--sc->nra], NULL);
    if (sc->dec_running) {
        pthread_join(sc->dec_writer, NULL);
        while (sc->dec_qn > 0)
            free(sc->dec_q[--sc->dec_qn].data);
        unlink_matching(sc->disk_dir, is_dec_file); /* no later mount trusts them */
    }
    for (s = 0; s < sc->nspans; s++)
        free(sc->spans[s].data);
    free(sc->spans);
    pthread_mutex_destroy(&sc->mu);
    pthread_cond_destroy(&sc->cond);
    pthread_cond_destroy(&sc->bg_cond);
    pthread_cond_destroy(&sc->ra_cond);
    pthread_cond_destroy(&sc->dec_cond);
    free(sc);
}

void span_cache_stats(struct span_cache *sc, struct span_cache_stats *out)
{
    int32_t s;

    pthread_mutex_lock(&sc->mu);
    *out = sc->st;
    /* neighbouring spans may share a byte: never report more than the layer */
    if (out->fetched_size > out->layer_size)
        out->fetched_size = out->layer_size;
    out->mem_used = (int64_t)sc->mem_used;
    out->spans_present = 0;
    out->dec_spans = 0;
    for (s = 0; s < sc->nspans; s++) {
        if (sc->spans[s].on_disk || sc->spans[s].dec_on_disk || sc->spans[s].state == SPAN_READY)
            out->spans_present++;
        out->dec_spans += sc->spans[s].dec_on_disk;
    }
    pthread_mutex_unlock(&sc->mu);
}

void span_cache_last_error(struct span_cache *sc, char *out, size_t n)
{
    pthread_mutex_lock(&sc->mu);
    str_copy(out, n, sc->last_error);
    pthread_mutex_unlock(&sc->mu);
}
