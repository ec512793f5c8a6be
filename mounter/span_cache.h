/* span_cache.h -- the span engine: fetch, verify, decompress, cache
 *
 * A read of uncompressed bytes [off, off+len) of a layer becomes the spans
 * that hold it (docs/format.md §2.3).  A missing span is fetched with one
 * range request (a run of adjacent missing spans with one request), its
 * sha256 checked against the ztoc's span digest before any byte is used
 * (on mismatch: one refetch, then EIO; never wrong bytes), decompressed from
 * its checkpoint, and kept in a memory LRU of decompressed spans bounded by
 * a budget.  Compressed spans also go to an on-disk cache, from which
 * evicted spans come back without the network; spans evicted from memory go,
 * decompressed, to a second tier of that cache (this mount's only), from
 * which reads copy just their bytes; one budget bounds both tiers.  Readers of a span
 * being fetched wait for that one fetch.  A background fetcher can pull the
 * rest of the layer, compressed, at a bounded rate after a quiet period.
 * Every span buffer is sized by the span math, which zinfo_check bounds;
 * each decompressed span is checked against the tar headers its TOC puts
 * in it (ztoc_check_headers) before any byte of it is served.
 *
 * Thread safety: span_cache_read, _prefetch, _stats and _last_error may be
 * called from any number of threads at once (one mutex guards the span
 * table; the cache's own threads use it too); span_cache_check_first
 * before serving; span_cache_free once no call is in flight.
 *
 * Ownership: span_cache_new borrows the ztoc, zinfo and blob source (they
 * must outlive the cache) and owns its span buffers, disk files of this
 * mount's decompressed tier and its threads, all released by
 * span_cache_free.
 * Errors: functions returning int give 0, or -1 with *err set to one line
 * (the span, the request, the digest that did not match); the FUSE layer
 * turns a failed read into EIO.  The last error is also kept for the state
 * file (span_cache_last_error).
 */
#ifndef SOCI_SPAN_CACHE_H
#define SOCI_SPAN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "blob_source.h"
#include "error.h"
#include "zinfo.h"
#include "ztoc.h"

struct span_cache_opts {
    size_t mem_budget;          /* bytes of decompressed spans in memory */
    const char *disk_dir;       /* span cache directory (both tiers), or NULL */
    int64_t disk_budget;        /* bytes on disk, both tiers */
    int background;             /* background fetch on */
    long quiet_ms;              /* before it starts (after the last read) */
    long period_ms;             /* between two background span fetches */
    int defer_helpers;          /* threads start at span_cache_start_helpers */
};

struct span_cache_stats {
    int64_t spans_fetched;      /* network fetches of one span */
    int64_t fetch_requests;     /* range requests made */
    int64_t bytes_fetched;      /* compressed bytes over the network */
    int64_t mem_hits;           /* spans copied from memory, one per span a read covers */
    int64_t disk_hits;          /* compressed spans loaded from disk (and decompressed) */
    int64_t dec_hits;           /* spans a read copied from the decompressed tier */
    int32_t dec_spans;          /* spans in the decompressed tier now */
    int64_t verify_failures;
    int64_t fetched_size;       /* compressed bytes of spans fetched at least once */
    int64_t mem_used;
    int32_t nspans, spans_present;
    int64_t layer_size;
};

struct span_cache;

struct span_cache *span_cache_new(const struct ztoc *z, const struct zinfo *zi, struct blob_source *src,
                                  const struct span_cache_opts *opts, struct error *err);
void span_cache_free(struct span_cache *sc);   /* stops the background fetcher */

/* start the cache's own threads (background fetch, readahead, the writer
 * of evicted spans to disk), when opts.defer_helpers kept span_cache_new
 * from it: soci-mount starts them once the mount is up, off the path to its
 * first answer (five thread starts take 1-2 ms on this project's VMs), or
 * before a prefetch (whose evicted spans the writer keeps on disk).  Reads
 * work before.  A second call does nothing; call it from the thread that
 * will call span_cache_free. */
void span_cache_start_helpers(struct span_cache *sc);

/* copy uncompressed bytes [off, off+len) into out (len clamped by caller) */
int span_cache_read(struct span_cache *sc, int64_t off, size_t len, uint8_t *out, struct error *err);

/* make sure these spans are fetched (prefetch); keeps them compressed on
 * disk when there is a disk cache, else decompressed in memory */
int span_cache_prefetch(struct span_cache *sc, int32_t first, int32_t last, struct error *err);

/* fetch and verify span 0 (and the gzip header before it): proves the ztoc
 * belongs to this blob before anything is mounted */
int span_cache_check_first(struct span_cache *sc, struct error *err);

void span_cache_stats(struct span_cache *sc, struct span_cache_stats *out);
/* the last error seen (for the state file), "" if none */
void span_cache_last_error(struct span_cache *sc, char *out, size_t n);

#endif
