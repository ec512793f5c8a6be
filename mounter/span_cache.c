/* span_cache.c -- the span cache's public entry points (see span_cache.h):
 * lifecycle, reads, prefetch and counters; the tiers, fetching and
 * readahead live in span_cache_{mem,disk,dec,fetch,ahead}.c, their shared
 * state and its locking in span_cache_internal.h
 */
#include "span_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "span_cache_internal.h"
#include "strutil.h"

int span_cache_read(struct span_cache *sc, int64_t off, size_t len, uint8_t *out, struct error *err)
{
    int32_t first, last, s;
    int64_t end = off + (int64_t)len;

    if (len == 0)
        return 0;
    RETURN_ERROR_IF(off < 0 || end > sc->zi->uncompressed_size, err, "read past the layer's end");
    atomic_store(&sc->last_read_ms, sc_mono_ms());
    first = zinfo_span_of(sc->zi, off);
    last = zinfo_span_of(sc->zi, end - 1);
    sc_readahead_note(sc, off, end, last);
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
        if (dec && sc_dec_read(sc, s, from, to, out + (from - off)) == 0) {
            pthread_mutex_lock(&sc->mu);
            sc->st.dec_hits++;
            pthread_mutex_unlock(&sc->mu);
            continue;
        }
        /* s comes back pinned (the rest of the read fetched with it when
         * missing): it cannot be evicted before it is copied */
        if (sc_ensure(sc, s, run_end, 1, err) != 0)
            return -1;
        if (to > from)
            memcpy(out + (from - off), x->data + (from - us), (size_t)(to - from));
        pthread_mutex_lock(&sc->mu);
        x->pins--;
        sc->st.mem_hits++;
        /* spans pinned while others were published may have kept the
         * cache over its budget: back under it once they are free */
        if (sc->mem_used > sc->opts.mem_budget)
            sc_evict_for(sc, 0);
        pthread_mutex_unlock(&sc->mu);
    }
    return 0;
}

int span_cache_prefetch(struct span_cache *sc, int32_t first, int32_t last, struct error *err)
{
    int32_t s;

    if (first < 0)
        first = 0;
    if (last >= sc->nspans)
        last = sc->nspans - 1;
    if (first > last)
        return 0;
    pthread_mutex_lock(&sc->mu);
    for (s = first; s <= last; s++)
        sc->spans[s].prefetched = 1;
    pthread_mutex_unlock(&sc->mu);
    return sc_ensure(sc, first, last, 0, err);
}

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
    atomic_store(&sc->last_read_ms, sc_mono_ms());
    sc->st.nspans = sc->nspans;
    sc->st.layer_size = zi->compressed_size;
    if (opts->disk_dir && opts->disk_dir[0] && opts->disk_budget > 0) {
        str_copy(sc->disk_dir, sizeof(sc->disk_dir), opts->disk_dir);
        if (mkdir_p(sc->disk_dir, 0700, err) != 0) {
            span_cache_free(sc);
            return NULL;
        }
        unlink_matching(sc->disk_dir, sc_is_dec_file);
        /* spans cached by an earlier mount of the same layer */
        for (s = 0; s < sc->nspans; s++) {
            char path[4200];
            struct stat st;
            sc_disk_path(sc, s, path, sizeof(path));
            if (stat(path, &st) == 0 && st.st_size == cend(sc, s) - cstart(sc, s)) {
                sc->spans[s].on_disk = 1;
                sc->spans[s].ever_fetched = 1;
                sc->st.fetched_size += st.st_size;
                sc->disk_used += st.st_size;
            }
        }
    }
    for (s = 0; s < sc->nspans; s++)
        if (uend(sc, s) - ustart(sc, s) > (int64_t)(opts->mem_budget / (4 * RA_NEAR)))
            break;
    sc->ra_keep = s == sc->nspans;
    if (!opts->defer_helpers)
        span_cache_start_helpers(sc);
    return sc;
}

/* The helpers are optional: one that cannot start leaves its work undone
 * (no background fetch, no readahead, evicted spans not kept on disk), and
 * reads still work.  Their flags are set under mu, since readers may be
 * running by now (sc_readahead_note and sc_dec_keep read them under mu). */
void span_cache_start_helpers(struct span_cache *sc)
{
    pthread_t t;

    if (!sc->disk_dir[0] || sc->helpers_started)
        return;
    sc->helpers_started = 1;
    if (sc->opts.background && pthread_create(&t, NULL, sc_bg_main, sc) == 0) {
        pthread_mutex_lock(&sc->mu);
        sc->bg = t;
        sc->bg_running = 1;
        pthread_mutex_unlock(&sc->mu);
    }
    if (pthread_create(&t, NULL, sc_dec_main, sc) == 0) {
        pthread_mutex_lock(&sc->mu);
        sc->dec_writer = t;
        sc->dec_running = 1;
        pthread_mutex_unlock(&sc->mu);
    }
    while (sc->nra < RA_THREADS && pthread_create(&t, NULL, sc_ra_main, sc) == 0) {
        pthread_mutex_lock(&sc->mu);
        sc->ra[sc->nra++] = t;
        pthread_mutex_unlock(&sc->mu);
    }
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
        unlink_matching(sc->disk_dir, sc_is_dec_file); /* no later mount trusts them */
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
