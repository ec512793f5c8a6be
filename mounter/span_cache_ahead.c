/* span_cache_ahead.c -- fetching before reads: readahead for sequential
 * readers, and the background fetch of the whole layer after a quiet time
 *
 * Locking: sc->mu guards the readahead window (ra_next, ra_limit,
 * ra_prev_end, ra_prev_span, ra_streak) and stopping; ra_cond wakes the
 * readahead threads (the window moved, or stopping), bg_cond the
 * background fetcher (stopping).  last_read_ms is atomic.  Spans are
 * claimed (FETCHING) under mu and fetched without it, as readers do.
 */
#include <stdatomic.h>
#include <time.h>

#include "span_cache_internal.h"

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
void sc_readahead_note(struct span_cache *sc, int64_t off, int64_t end, int32_t last)
{
    pthread_mutex_lock(&sc->mu);
    if (sc->ra_prev_end < 0 || off < sc->ra_prev_end - RA_GAP || off > sc->ra_prev_end + RA_GAP)
        sc->ra_streak = 0; /* not a sequential reader (any more) */
    /* a read into a prefetched span is the prefetch list at work (a file
     * read whole), not a reader heading further: the spans after a
     * prefetched file stay unfetched until a read enters one of them */
    if (sc->nra > 0 && sc->ra_prev_end >= 0 && off >= sc->ra_prev_end && off - sc->ra_prev_end <= RA_GAP &&
        last > sc->ra_prev_span && !sc->spans[last].prefetched) {
        int32_t window = sc->ra_streak < (RA_WINDOW - RA_NEAR) / 2 ? RA_NEAR + 2 * sc->ra_streak++ : RA_WINDOW;
        sc->ra_next = last + 1;
        sc->ra_limit = sc->nspans - last - 1 > window ? last + 1 + window : sc->nspans;
        pthread_cond_broadcast(&sc->ra_cond);
    }
    sc->ra_prev_end = end;
    sc->ra_prev_span = last;
    pthread_mutex_unlock(&sc->mu);
}

void *sc_ra_main(void *arg)
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
            if (sc_load_from_disk(sc, s, 0, &err) != 0)
                sc_fetch_run(sc, s, s, FETCH_KEEP, &err);
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
        rc = sc_fetch_run(sc, s, run_end, near ? FETCH_KEEP : 0, &err);
        pthread_mutex_lock(&sc->mu);
        if (rc != 0)
            sc->ra_next = sc->ra_limit;
    }
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

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

void *sc_bg_main(void *arg)
{
    struct span_cache *sc = arg;
    int32_t s = 0;
    struct error err;

    while (s < sc->nspans) {
        long quiet = (long)(sc_mono_ms() - atomic_load(&sc->last_read_ms));
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
        if (sc_fetch_run(sc, s, s, 0, &err) != 0) {
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
