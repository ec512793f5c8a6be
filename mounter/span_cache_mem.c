/* span_cache_mem.c -- the span cache's memory tier: an LRU of decompressed
 * spans under a byte budget, and publishing a verified span into it
 *
 * Locking: every function here but sc_publish expects sc->mu held; that
 * mutex guards the LRU links (spans[].prev/next, lru_head, lru_tail),
 * spans[].state/data/len/pins and mem_used.  sc_publish takes it itself, and
 * decompresses without it (the caller owns the span's FETCHING state).
 */
#include <stdlib.h>

#include "prefault.h"
#include "span_cache_internal.h"
#include "span_inflate.h"

void sc_lru_unlink(struct span_cache *sc, int32_t s)
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

void sc_lru_push_front(struct span_cache *sc, int32_t s)
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

/* make room for `need` bytes by dropping unpinned spans from the tail (to
 * the decompressed tier when it takes them) */
void sc_evict_for(struct span_cache *sc, size_t need)
{
    int32_t s = sc->lru_tail;

    while (sc->mem_used + need > sc->opts.mem_budget && s >= 0) {
        int32_t prev = sc->spans[s].prev;
        struct span_slot *x = &sc->spans[s];
        if (x->state == SPAN_READY && x->pins == 0) {
            sc_lru_unlink(sc, s);
            if (!sc_dec_keep(sc, s))
                free(x->data);
            x->data = NULL;
            sc->mem_used -= x->len;
            x->len = 0;
            x->state = SPAN_EMPTY;
        }
        s = prev;
    }
}

/* decompress span s from its compressed bytes and publish it (caller owns
 * the FETCHING state of s); pin: publish it pinned for the caller, who
 * unpins it once it has copied what it wants (so that other readers'
 * fetches cannot evict it first: a reader always gets the span it fetched) */
int sc_publish(struct span_cache *sc, int32_t s, const uint8_t *comp, size_t clen, int pin, struct error *err)
{
    struct span_inflater *si;
    size_t ulen = (size_t)(uend(sc, s) - ustart(sc, s));
    uint8_t *data;
    int rc;

    /* reserve the room first, so that concurrent fetches cannot take the
     * cache past its budget while they decompress */
    pthread_mutex_lock(&sc->mu);
    sc_evict_for(sc, ulen);
    sc->mem_used += ulen;
    pthread_mutex_unlock(&sc->mu);
    si = span_inflater_new();
    /* counted against the memory budget at ulen: a last huge page only
     * when it adds at most an eighth (a span of 4 MiB and a few KiB keeps
     * its few KiB on small pages; a layer's shorter last span may round) */
    data = alloc_huge_populated(ulen + 1, ulen / 8);
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
    sc_lru_push_front(sc, s);
    pthread_cond_broadcast(&sc->cond);
    pthread_mutex_unlock(&sc->mu);
    return 0;
}
