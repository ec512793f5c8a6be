/* span_cache_internal.h -- the span cache's shared state, private to
 * mounter/span_cache*.c (the API is span_cache.h)
 *
 * Files: span_cache.c (entry points, lifecycle), span_cache_mem.c (memory
 * LRU, publishing), span_cache_disk.c (compressed tier),
 * span_cache_dec.c (decompressed tier and its writer), span_cache_fetch.c
 * (range requests, digests, waiting for a fetch, the gzip header),
 * span_cache_ahead.c (readahead, background fetch).
 *
 * Locking.  One mutex, mu, guards every mutable field of struct span_cache
 * and every field of every span_slot, except:
 *   - fields set by span_cache_new before any thread starts and read-only
 *     until span_cache_free: z, zi, src, opts, disk_dir, nspans, spans (the
 *     array itself), ra_keep;
 *   - the thread handles, bg_running, dec_running, nra and helpers_started:
 *     written by span_cache_start_helpers (the flags and handles under mu,
 *     since readers may run by then and read the flags under mu) and read
 *     by span_cache_free, both on the owner's thread, without mu there;
 *   - the atomics checking_first, header_checked and last_read_ms;
 *   - a READY span's data and len, which a thread holding a pin on it
 *     (pins > 0, taken under mu) reads without mu: a pinned span is never
 *     evicted;
 *   - a span in FETCHING belongs to the thread that put it there: only that
 *     thread fetches, stores and publishes it (outside mu), and moves it out
 *     of FETCHING (under mu, broadcasting cond); only it writes the span's
 *     on_disk meanwhile (under mu), so it may read that flag without mu.
 * Condition variables, all with mu: cond (a span left FETCHING), bg_cond
 * (stopping, for the background fetcher's sleeps), ra_cond (the readahead
 * window moved, or stopping), dec_cond (the writer's queue has an item, or
 * stopping).  Functions named "caller holds mu" expect it held; the others
 * take it themselves and must be called without it.
 */
#ifndef SOCI_SPAN_CACHE_INTERNAL_H
#define SOCI_SPAN_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "span_cache.h"

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
/* fetch_run's flags */
#define FETCH_KEEP 1    /* decompress into memory (else: disk cache only, when there is one) */
#define FETCH_PIN 2     /* publish the first span pinned for the caller (only if it all succeeds) */
#define FETCH_READER 4  /* a reader waits for it: remember a source failure (FAILED_MEMORY_MS) */
#define FETCH_CHECK_ONLY 8  /* without FETCH_KEEP: verify only, neither kept on disk nor decompressed (local source) */
#define MAX_GZIP_HEADER ((int64_t)1 << 20)  /* what may lie before span 0 */

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
    int prefetched;         /* asked for by span_cache_prefetch: entering it is no sign of a sequential reader */
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
    int helpers_started;        /* span_cache_start_helpers ran */
    struct dec_item { int32_t s; uint8_t *data; size_t len; } dec_q[DEC_QUEUE];
    int dec_qn;
    pthread_cond_t dec_cond;
};

static inline int64_t cstart(const struct span_cache *sc, int32_t s) { return zinfo_span_compressed_start(sc->zi, s); }
static inline int64_t cend(const struct span_cache *sc, int32_t s) { return zinfo_span_compressed_end(sc->zi, s); }
static inline int64_t ustart(const struct span_cache *sc, int32_t s) { return zinfo_span_uncompressed_start(sc->zi, s); }
static inline int64_t uend(const struct span_cache *sc, int32_t s) { return zinfo_span_uncompressed_end(sc->zi, s); }

/* CLOCK_MONOTONIC in milliseconds */
static inline int64_t sc_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- span_cache_mem.c ---- */
void sc_lru_unlink(struct span_cache *sc, int32_t s);       /* caller holds mu */
void sc_lru_push_front(struct span_cache *sc, int32_t s);   /* caller holds mu */
/* caller holds mu: drop unpinned spans from the LRU's tail until `need`
 * more bytes fit the budget (to the decompressed tier when it takes them) */
void sc_evict_for(struct span_cache *sc, size_t need);
/* decompress span s (FETCHING, the caller's) from its verified compressed
 * bytes, check its tar headers, make it READY; pin: pinned for the caller */
int sc_publish(struct span_cache *sc, int32_t s, const uint8_t *comp, size_t clen, int pin, struct error *err);

/* ---- span_cache_disk.c ---- */
void sc_disk_path(const struct span_cache *sc, int32_t s, char *out, size_t n);
/* a cache file written under tmp and renamed into path: 0, or -1 (nothing left) */
int sc_write_cache_file(const char *path, const char *tmp, const uint8_t *data, size_t n);
/* keep the verified compressed bytes of s (FETCHING, the caller's) on
 * disk if the budget allows, making room from the decompressed tier */
void sc_disk_store(struct span_cache *sc, int32_t s, const uint8_t *data, size_t n);
/* publish s (FETCHING, the caller's) from the compressed tier; -1 if it is
 * not there (or fails its digest, then forgotten) */
int sc_load_from_disk(struct span_cache *sc, int32_t s, int pin, struct error *err);

/* ---- span_cache_dec.c ---- */
int sc_dec_keep(struct span_cache *sc, int32_t s);   /* caller holds mu: 1 if the writer took s's data */
/* caller holds mu: forget the oldest decompressed file, its path in out; 0 if none */
int sc_dec_evict_oldest(struct span_cache *sc, char *out, size_t n);
/* copy [from, to) of span s from its decompressed file; -1 if not there whole */
int sc_dec_read(struct span_cache *sc, int32_t s, int64_t from, int64_t to, uint8_t *out);
void *sc_dec_main(void *arg);                        /* the writer thread */
int sc_is_dec_file(const char *name);                /* a decompressed tier file name */

/* ---- span_cache_fetch.c ---- */
int sc_check_digest(const struct span_cache *sc, int32_t s, const uint8_t *data, size_t n);
int sc_fetch_run(struct span_cache *sc, int32_t first, int32_t last, int flags, struct error *err);
/* make spans first..last READY (or fail); pin: `first` pinned for the caller */
int sc_ensure(struct span_cache *sc, int32_t first, int32_t last, int pin, struct error *err);

/* ---- span_cache_ahead.c ---- */
void sc_readahead_note(struct span_cache *sc, int64_t off, int64_t end, int32_t last);
void *sc_ra_main(void *arg);                         /* a readahead thread */
void *sc_bg_main(void *arg);                         /* the background fetcher */

#endif
