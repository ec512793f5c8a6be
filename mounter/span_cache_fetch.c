/* span_cache_fetch.c -- fetching spans: one range request per run of
 * missing spans, each span checked against its digest (one refetch, then
 * an error), the gzip header checked in front of span 0, and readers of a
 * span being fetched waiting for that one fetch
 *
 * Locking: sc->mu guards spans[].state/fail_gen/failed_ms/ever_fetched,
 * st and last_error; cond is broadcast whenever a span leaves FETCHING
 * (published, released, or left on disk).  The thread that moves a span to
 * FETCHING owns it until it moves it out: only it fetches, stores and
 * publishes that span, without mu.  header_checked and checking_first are
 * atomics, read without mu.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "log.h"
#include "prefault.h"
#include "sha256.h"
#include "span_cache_internal.h"
#include "strutil.h"

/* the length of the gzip member header at p, or -1 (defined below) */
static int64_t gzip_header_len(const uint8_t *p, size_t n);

int sc_check_digest(const struct span_cache *sc, int32_t s, const uint8_t *data, size_t n)
{
    uint8_t want[32], got[32];
    const struct strv *d = &sc->z->span_digests[s];

    if (digest_parse(d->ptr, d->len, want) != 0)
        return -1;
    sha256_buf(data, n, got);
    return memcmp(want, got, 32) == 0 ? 0 : -1;
}

/* a fetch of spans first..last failed: the ones still FETCHING (ours) go
 * back to EMPTY, and the readers waiting for them fail with err (they
 * share the fetch, its failure included, rather than each trying again in
 * turn); remember: a source failure of a reader's fetch (FAILED_MEMORY_MS) */
static void release_failed(struct span_cache *sc, int32_t first, int32_t last, const struct error *err,
                           int remember)
{
    int64_t now = remember ? sc_mono_ms() : 0;
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

/* fetch spans first..last (all FETCHING by us) with one range request,
 * verify each, publish each; spans that fail are retried alone once.  On
 * return none of them is FETCHING any more: on failure the unpublished ones
 * are released by release_failed (callers must not touch their states:
 * another reader may have claimed them since) */
int sc_fetch_run(struct span_cache *sc, int32_t first, int32_t last, int flags, struct error *err)
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
    /* freed once its spans are published: its size again may be wasted */
    buf = alloc_huge_populated((size_t)total, (size_t)total);
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
            if (sc_check_digest(sc, s, p, n) == 0)
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
        if (attempt >= 1 && sc_check_digest(sc, s, p, n) != 0) {
            free(again);
            rc = -1;
            /* the remaining spans of the run are released unfetched */
            release_failed(sc, s, last, err, 0);
            break;
        }
        if (!(flags & FETCH_CHECK_ONLY))
            sc_disk_store(sc, s, p, n);
        pthread_mutex_lock(&sc->mu);
        sc->st.spans_fetched++;
        if (!sc->spans[s].ever_fetched) {
            sc->spans[s].ever_fetched = 1;
            sc->st.fetched_size += (int64_t)n;
        }
        pthread_mutex_unlock(&sc->mu);
        if ((flags & FETCH_KEEP) || (!sc->spans[s].on_disk && !(flags & FETCH_CHECK_ONLY))) {
            int pin = (flags & FETCH_PIN) && s == first;
            if (sc_publish(sc, s, p, n, pin, err) != 0) {
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

/* make spans first..last READY (or fail), each visited once (a span
 * evicted again after it was READY is the caller's to fetch again); caller
 * does not hold mu.  pin: on success `first` is also pinned for the caller
 * (READY, and not evictable until the caller unpins it) */
int sc_ensure(struct span_cache *sc, int32_t first, int32_t last, int pin, struct error *err)
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
                sc_lru_unlink(sc, s);
                sc_lru_push_front(sc, s);
                pinned = 1;
            }
            pthread_mutex_unlock(&sc->mu);
            s++;
            continue;
        }
        if (sc->spans[s].failed_ms && !sc->spans[s].on_disk && sc_mono_ms() - sc->spans[s].failed_ms < FAILED_MEMORY_MS) {
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
        if (run_end == s && sc_load_from_disk(sc, s, want_pin, err) == 0) {
            pinned |= want_pin;
            s++;
            continue;
        }
        if (sc_fetch_run(sc, s, run_end, FETCH_KEEP | FETCH_READER | (want_pin ? FETCH_PIN : 0), err) != 0)
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
    int rc, fresh;

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
    pthread_mutex_lock(&sc->mu);
    fresh = sc->spans[0].state == SPAN_EMPTY && !sc->spans[0].on_disk && !sc->spans[0].dec_on_disk;
    if (fresh)
        sc->spans[0].state = SPAN_FETCHING;
    pthread_mutex_unlock(&sc->mu);
    /* a fresh span 0 is fetched and digest-checked (with the gzip header)
     * but not decompressed: that proves the ztoc is this blob's, and the
     * decompression and the tar header check wait for the first read of
     * span 0, as for every other span (a file elsewhere is served without
     * them).  A remote span 0 is kept compressed on disk when there is a
     * disk cache, else decompressed now (a read would fetch it again); a
     * local one is kept nowhere: a read takes it from the blob again. */
    if (fresh)
        rc = sc_fetch_run(sc, 0, 0, FETCH_READER | (sc->src->fd >= 0 ? FETCH_CHECK_ONLY : 0), err);
    else
        rc = sc_ensure(sc, 0, 0, 0, err);
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
