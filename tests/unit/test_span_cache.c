/* test_span_cache.c -- the span cache's memory LRU, pinning, budgets and
 * disk tiers, over real layers read through a local blob source
 *
 * Layers are tars built here (ustar headers, pseudo-random file bodies),
 * plain or gzipped by zlib, indexed by the real layer indexer with small
 * spans; the cache reads them through blob_source_local (pread on the
 * layer file), and every byte it returns is compared with the tar.  What
 * is checked:
 *   - eviction order: least recently *used* goes first (a span read again
 *     moves to the front), seen from which reads go back to the source;
 *   - the memory budget holds after every read, and a read covering more
 *     spans than the budget holds still returns the right bytes;
 *   - a pinned span (the pin a reader holds between making a span ready
 *     and copying from it) is never evicted, however many spans come after
 *     it, and is evictable again once unpinned;
 *   - the disk tiers: spans evicted from memory come back without the
 *     source (compressed or decompressed tier); a later cache over the same
 *     directory finds the compressed spans and wipes the decompressed ones;
 *     a damaged cache file is fetched again (never wrong bytes); the disk
 *     budget bounds the directory.
 * The pin is taken through span_cache_internal.h (white box: the public
 * API pins only for the length of a read); everything else goes through
 * span_cache.h.  Linked without libfuse3 (build/Makefile FUSELESS_TESTS).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "blob_source.h"
#include "check.h"
#include "digest.h"
#include "layer_index.h"
#include "span_cache.h"
#include "span_cache_internal.h"
#include "tar_build.h"
#include "zinfo.h"
#include "ztoc.h"

struct layer {
    uint8_t *tar;               /* the uncompressed stream: what reads must return */
    size_t tar_len;
    struct layer_index_result res;
    struct ztoc z;
    struct zinfo zi;
    struct blob_source src;
    char path[256];
};

static uint32_t rnd(uint32_t *r)
{
    *r ^= *r << 13;
    *r ^= *r >> 17;
    *r ^= *r << 5;
    return *r;
}

/* nfiles regular files of fsize bytes each, then the end-of-archive blocks */
static uint8_t *make_tar(int nfiles, size_t fsize, size_t *len)
{
    size_t cap = (size_t)nfiles * (512 + fsize + 512) + 1024, at = 0;
    uint8_t *t = calloc(1, cap);
    uint32_t seed = 0x9e3779b9u;
    int i;

    if (t == NULL)
        abort();
    for (i = 0; i < nfiles; i++) {
        char name[32];
        size_t k;
        snprintf(name, sizeof(name), "dir/file%03d", i);
        tar_build_header(t + at, name, fsize);
        at += 512;
        /* a small alphabet, so that the gzipped layer is smaller */
        for (k = 0; k < fsize; k++)
            t[at + k] = (uint8_t)('a' + rnd(&seed) % 16);
        at += (fsize + 511) & ~(size_t)511;
    }
    *len = at + 1024;
    return t;
}

/* memLevel 1: a deflate block every few hundred bytes, so that small
 * spans find checkpoints */
static uint8_t *gzip_buf(const uint8_t *in, size_t n, size_t *out_len)
{
    uLongf cap = compressBound((uLong)n) + 64;
    uint8_t *out = malloc(cap);
    z_stream s;

    memset(&s, 0, sizeof(s));
    if (out == NULL || deflateInit2(&s, 6, Z_DEFLATED, 31, 1, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)n;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    if (deflate(&s, Z_FINISH) != Z_STREAM_END)
        abort();
    *out_len = s.total_out;
    deflateEnd(&s);
    return out;
}

/* index the layer (gzipped when gz) with the given span size, write it to
 * dir/name and open it as the cache's source; 0 or -1 */
static int layer_open(struct layer *L, const char *dir, const char *name, int gz, int nfiles, size_t fsize,
                      int64_t span_size)
{
    struct layer_index_opts opts = {span_size, "test_span_cache", 0};
    struct layer_indexer *li;
    struct error err;
    uint8_t *blob;
    size_t blob_len;
    char digest[DIGEST_STR_SIZE];
    FILE *f;

    memset(L, 0, sizeof(*L));
    L->tar = make_tar(nfiles, fsize, &L->tar_len);
    blob = gz ? gzip_buf(L->tar, L->tar_len, &blob_len) : L->tar;
    if (!gz)
        blob_len = L->tar_len;
    li = layer_indexer_new(&opts, &err);
    if (li == NULL || layer_indexer_feed(li, blob, blob_len, &err) != 0 ||
        layer_indexer_finish(li, &L->res, &err) != 0) {
        fprintf(stderr, "indexing %s: %s\n", name, err.msg);
        return -1;
    }
    layer_indexer_free(li);
    if (ztoc_decode(L->res.ztoc, L->res.ztoc_len, &L->z, &err) != 0 || zinfo_parse(&L->zi, &L->z, &err) != 0 ||
        zinfo_check(&L->zi, &L->z, &err) != 0) {
        fprintf(stderr, "the ztoc of %s: %s\n", name, err.msg);
        return -1;
    }
    snprintf(L->path, sizeof(L->path), "%s/%s", dir, name);
    f = fopen(L->path, "wb");
    if (f == NULL || fwrite(blob, 1, blob_len, f) != blob_len || fclose(f) != 0)
        return -1;
    if (gz)
        free(blob);
    digest_format(L->res.blob_digest, digest);
    if (blob_source_local(&L->src, L->path, (int64_t)blob_len, digest, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static void layer_close(struct layer *L)
{
    blob_source_close(&L->src);
    ztoc_release(&L->z);
    layer_index_result_free(&L->res);
    free(L->tar);
}

static int64_t span_len(const struct layer *L, int32_t s)
{
    return zinfo_span_uncompressed_end(&L->zi, s) - zinfo_span_uncompressed_start(&L->zi, s);
}

static int64_t max_span_len(const struct layer *L, int compressed)
{
    int64_t m = 0;
    int32_t s;

    for (s = 0; s < L->zi.nspans; s++) {
        int64_t n = compressed ? zinfo_span_compressed_end(&L->zi, s) - zinfo_span_compressed_start(&L->zi, s)
                               : span_len(L, s);
        if (n > m)
            m = n;
    }
    return m;
}

/* read [off, off+len) through the cache and compare it with the tar */
static int read_ok(struct span_cache *sc, const struct layer *L, int64_t off, size_t len)
{
    uint8_t *buf = malloc(len + 1);
    struct error err;
    int ok;

    if (buf == NULL)
        abort();
    err.msg[0] = '\0';
    ok = span_cache_read(sc, off, len, buf, &err) == 0 && memcmp(buf, L->tar + off, len) == 0;
    if (!ok)
        fprintf(stderr, "read of [%lld, +%zu): %s\n", (long long)off, len, err.msg[0] ? err.msg : "wrong bytes");
    free(buf);
    return ok;
}

/* the whole of span s */
static int read_span(struct span_cache *sc, const struct layer *L, int32_t s)
{
    return read_ok(sc, L, zinfo_span_uncompressed_start(&L->zi, s), (size_t)span_len(L, s));
}

static struct span_cache_stats stats(struct span_cache *sc)
{
    struct span_cache_stats st;

    span_cache_stats(sc, &st);
    return st;
}

static int64_t fetched(struct span_cache *sc) { return stats(sc).spans_fetched; }

/* up to 2 s for more than n spans fetched (readahead runs on its threads) */
static void wait_fetched_over(struct span_cache *sc, int64_t n)
{
    for (int i = 0; i < 200 && fetched(sc) <= n; i++)
        usleep(10000);
}

static struct span_cache *cache_new_opts(struct layer *L, size_t mem, const char *disk_dir, int64_t disk,
                                         int defer_helpers)
{
    struct span_cache_opts o = {mem, disk_dir, disk, 0, 0, 0, defer_helpers};
    struct error err;
    struct span_cache *sc = span_cache_new(&L->z, &L->zi, &L->src, &o, &err);

    if (sc == NULL) {
        fprintf(stderr, "span_cache_new: %s\n", err.msg);
        abort();
    }
    return sc;
}

static struct span_cache *cache_new(struct layer *L, size_t mem, const char *disk_dir, int64_t disk)
{
    return cache_new_opts(L, mem, disk_dir, disk, 0);
}

/* read span s and expect the source to be asked (miss) or not (hit) */
static void expect_read(struct span_cache *sc, const struct layer *L, int32_t s, int miss, const char *why)
{
    int64_t before = fetched(sc);

    CHECK_MSG(read_span(sc, L, s), "span %d (%s)", s, why);
    CHECK_MSG(fetched(sc) - before == miss, "span %d was %s, expected %s (%s)", s,
              fetched(sc) > before ? "fetched" : "a hit", miss ? "a fetch" : "a hit", why);
    CHECK_MSG(stats(sc).mem_used <= (int64_t)sc->opts.mem_budget, "%lld bytes in memory, budget %zu",
              (long long)stats(sc).mem_used, sc->opts.mem_budget);
}

/* room for three spans: the least recently used one goes, not the oldest */
static void test_lru_order(const char *dir)
{
    struct layer L;
    struct span_cache *sc;
    int64_t S = 4096;

    if (layer_open(&L, dir, "lru.tar", 0, 12, 3000, S) != 0) {
        CHECK(!"layer");
        return;
    }
    CHECK(L.zi.nspans >= 8 && span_len(&L, 0) == S);
    sc = cache_new(&L, (size_t)(3 * S), NULL, 0);
    expect_read(sc, &L, 0, 1, "first read");
    expect_read(sc, &L, 1, 1, "first read");
    expect_read(sc, &L, 2, 1, "first read");
    CHECK(stats(sc).mem_used == 3 * S);
    expect_read(sc, &L, 0, 0, "in memory");           /* order now 0 2 1 */
    expect_read(sc, &L, 3, 1, "first read");          /* evicts 1: 3 0 2 */
    expect_read(sc, &L, 0, 0, "used after 1");        /* 0 3 2 */
    expect_read(sc, &L, 2, 0, "used after 1");        /* 2 0 3 */
    expect_read(sc, &L, 1, 1, "least recently used"); /* evicts 3: 1 2 0 */
    expect_read(sc, &L, 3, 1, "least recently used"); /* evicts 0: 3 1 2 */
    expect_read(sc, &L, 2, 0, "kept");
    expect_read(sc, &L, 1, 0, "kept");
    expect_read(sc, &L, 0, 1, "evicted");
    CHECK(stats(sc).fetch_requests == stats(sc).spans_fetched); /* one request per single-span miss */
    CHECK(stats(sc).bytes_fetched == stats(sc).spans_fetched * S);
    span_cache_free(sc);
    layer_close(&L);
}

/* a span pinned as a reader pins it survives any number of later spans */
static void test_pinned_not_evicted(const char *dir)
{
    struct layer L;
    struct span_cache *sc;
    int64_t S = 4096;
    uint8_t *p0;
    int32_t s;

    if (layer_open(&L, dir, "pin.tar", 0, 12, 3000, S) != 0) {
        CHECK(!"layer");
        return;
    }
    sc = cache_new(&L, (size_t)(3 * S), NULL, 0);
    expect_read(sc, &L, 0, 1, "first read");
    pthread_mutex_lock(&sc->mu);
    CHECK(sc->spans[0].state == SPAN_READY && sc->spans[0].pins == 0);
    sc->spans[0].pins++;
    p0 = sc->spans[0].data;
    pthread_mutex_unlock(&sc->mu);
    /* span 0 is the LRU's tail all along: only the pin keeps it */
    for (s = 1; s <= 6; s++)
        expect_read(sc, &L, s, 1, "first read");
    pthread_mutex_lock(&sc->mu);
    CHECK(sc->spans[0].state == SPAN_READY && sc->spans[0].data == p0 && sc->spans[0].len == (size_t)S);
    if (sc->spans[0].state == SPAN_READY && sc->spans[0].data == p0)
        CHECK(memcmp(p0, L.tar, (size_t)S) == 0);
    CHECK(sc->spans[6].state == SPAN_READY && sc->spans[5].state == SPAN_READY);
    CHECK(sc->spans[4].state == SPAN_EMPTY && sc->spans[1].state == SPAN_EMPTY);
    pthread_mutex_unlock(&sc->mu);
    expect_read(sc, &L, 0, 0, "pinned");              /* order 0 6 5 */
    pthread_mutex_lock(&sc->mu);
    sc->spans[0].pins--;
    pthread_mutex_unlock(&sc->mu);
    expect_read(sc, &L, 7, 1, "first read");          /* evicts 5: 7 0 6 */
    expect_read(sc, &L, 8, 1, "first read");          /* evicts 6: 8 7 0 */
    expect_read(sc, &L, 9, 1, "first read");          /* evicts 0: unpinned */
    expect_read(sc, &L, 0, 1, "unpinned and least recently used");
    span_cache_free(sc);

    /* room for one and a half spans: with span 0 pinned, a read of span 1
     * goes over the budget, and comes back under it once done */
    sc = cache_new(&L, (size_t)(S + S / 2), NULL, 0);
    expect_read(sc, &L, 0, 1, "first read");
    pthread_mutex_lock(&sc->mu);
    sc->spans[0].pins++;
    pthread_mutex_unlock(&sc->mu);
    expect_read(sc, &L, 1, 1, "first read");
    expect_read(sc, &L, 2, 1, "first read");
    pthread_mutex_lock(&sc->mu);
    CHECK(sc->spans[0].state == SPAN_READY && sc->spans[0].pins == 1);
    sc->spans[0].pins--;
    pthread_mutex_unlock(&sc->mu);
    expect_read(sc, &L, 3, 1, "first read");
    expect_read(sc, &L, 0, 1, "evicted once unpinned");
    span_cache_free(sc);
    layer_close(&L);
}

/* reads wider than the budget (each span pinned while it is copied), and
 * random reads: right bytes, and the budget holds after each */
static void test_budget(const char *dir, int gz)
{
    struct layer L;
    struct span_cache *sc;
    size_t budget;
    uint32_t seed = 12345;
    int i;

    if (layer_open(&L, dir, gz ? "budget.tar.gz" : "budget.tar", gz, 40, 5000, 8192) != 0) {
        CHECK(!"layer");
        return;
    }
    CHECK(L.zi.nspans >= 12);
    /* room for one span: six spans in one read, from inside span 1, then
     * the whole layer in one read */
    budget = (size_t)max_span_len(&L, 0);
    sc = cache_new(&L, budget, NULL, 0);
    {
        int64_t off = zinfo_span_uncompressed_start(&L.zi, 1) + 100;
        int64_t end = zinfo_span_uncompressed_start(&L.zi, 7) + 100;
        CHECK(read_ok(sc, &L, off, (size_t)(end - off)));
        CHECK(stats(sc).mem_used <= (int64_t)budget);
    }
    CHECK(read_ok(sc, &L, 0, L.tar_len));
    CHECK(stats(sc).mem_used <= (int64_t)budget);
    span_cache_free(sc);
    /* room for two: random reads of up to three spans */
    budget = (size_t)(2 * max_span_len(&L, 0));
    sc = cache_new(&L, budget, NULL, 0);
    for (i = 0; i < 200; i++) {
        int64_t off = (int64_t)(rnd(&seed) % L.tar_len);
        size_t len = 1 + rnd(&seed) % (uint32_t)(3 * max_span_len(&L, 0));
        if ((size_t)off + len > L.tar_len)
            len = L.tar_len - (size_t)off;
        CHECK_MSG(read_ok(sc, &L, off, len), "random read %d", i);
        CHECK_MSG(stats(sc).mem_used <= (int64_t)budget, "random read %d: %lld bytes in memory, budget %zu", i,
                  (long long)stats(sc).mem_used, budget);
    }
    CHECK(stats(sc).verify_failures == 0);
    span_cache_free(sc);
    layer_close(&L);
}

/* bytes of the regular files in dir (want_dec 1: the decompressed tier's "u..."
 * files only, 0: the others, -1: all), their number in *n */
static int64_t dir_bytes(const char *dir, int want_dec, int *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int64_t total = 0;

    *n = 0;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char p[600];
        struct stat st;
        if (e->d_name[0] == '.' || (want_dec >= 0 && (e->d_name[0] == 'u') != want_dec))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            total += st.st_size;
            (*n)++;
        }
    }
    closedir(d);
    return total;
}

/* wait (up to 10 s) for the decompressed tier's writer to drain its queue */
static void writer_idle(struct span_cache *sc)
{
    int i, qn = 1;

    for (i = 0; i < 1000 && qn > 0; i++) {
        pthread_mutex_lock(&sc->mu);
        qn = sc->dec_qn;
        for (int32_t s = 0; s < sc->nspans; s++)
            qn += sc->spans[s].dec_queued;
        pthread_mutex_unlock(&sc->mu);
        if (qn > 0)
            usleep(10000);
    }
    CHECK_MSG(qn == 0, "the decompressed tier's writer did not finish");
}

/* spans evicted from memory come back without the source; a later cache
 * finds the compressed ones; a damaged file is fetched again.  Reads go
 * from the last span down, so that readahead never starts. */
static void test_disk_tiers(const char *dir)
{
    struct layer L;
    struct span_cache *sc;
    char cdir[300];
    int32_t s, n;
    int files;
    int64_t bytes, comp_total = 0;
    struct span_cache_stats st;

    snprintf(cdir, sizeof(cdir), "%s/cache", dir);
    if (layer_open(&L, dir, "disk.tar.gz", 1, 40, 5000, 8192) != 0) {
        CHECK(!"layer");
        return;
    }
    n = L.zi.nspans;
    for (s = 0; s < n; s++)
        comp_total += zinfo_span_compressed_end(&L.zi, s) - zinfo_span_compressed_start(&L.zi, s);
    sc = cache_new(&L, (size_t)(2 * max_span_len(&L, 0)), cdir, 64 << 20);
    for (s = n - 1; s >= 0; s--)
        expect_read(sc, &L, s, 1, "first read");
    writer_idle(sc);
    bytes = dir_bytes(cdir, 0, &files);
    CHECK_MSG(files == n && bytes == comp_total, "%d compressed files of %lld bytes, want %d of %lld", files,
              (long long)bytes, n, (long long)comp_total);
    st = stats(sc);
    CHECK_MSG(st.dec_spans > 0 && dir_bytes(cdir, 1, &files) > 0 && files == st.dec_spans,
              "%d spans in the decompressed tier, %d files", st.dec_spans, files);
    /* everything again: nothing from the source */
    for (s = n - 1; s >= 0; s--)
        expect_read(sc, &L, s, 0, "on disk");
    st = stats(sc);
    CHECK_MSG(st.disk_hits + st.dec_hits >= n - 2, "%lld disk and %lld decompressed-tier hits for %d spans",
              (long long)st.disk_hits, (long long)st.dec_hits, n);
    CHECK(st.dec_hits > 0);
    span_cache_free(sc);
    dir_bytes(cdir, 1, &files);
    CHECK_MSG(files == 0, "%d decompressed files left after the cache was freed", files);

    /* a later mount: the compressed spans are there */
    sc = cache_new(&L, (size_t)(2 * max_span_len(&L, 0)), cdir, 64 << 20);
    for (s = n - 1; s >= 0; s--)
        expect_read(sc, &L, s, 0, "on disk from the earlier cache");
    st = stats(sc);
    CHECK_MSG(st.disk_hits == n, "%lld disk hits, want %d", (long long)st.disk_hits, n);
    span_cache_free(sc);
    layer_close(&L);
}

/* spans fetched by prefetch (a prefetch artifact's list) and then read in
 * order, as a prefetched file is: readahead must not start behind them.
 * The control: the same reader going on into a span nobody prefetched
 * starts readahead (so the first check can fail). */
static void test_prefetch_not_readahead(const char *dir)
{
    struct layer L;
    struct span_cache *sc;
    struct error err;
    char cdir[300];
    int64_t base;
    int i;

    snprintf(cdir, sizeof(cdir), "%s/ra-cache", dir);
    if (layer_open(&L, dir, "ra.tar.gz", 1, 40, 5000, 8192) != 0) {
        CHECK(!"layer");
        return;
    }
    CHECK_MSG(L.zi.nspans >= 12, "%d spans, want 12 or more", L.zi.nspans);
    sc = cache_new(&L, (size_t)(16 * max_span_len(&L, 0)), cdir, 64 << 20);
    CHECK_MSG(span_cache_prefetch(sc, 2, 4, &err) == 0, "prefetch: %s", err.msg);
    base = fetched(sc);
    CHECK_MSG(base == 3, "prefetch of spans 2-4 fetched %lld spans", (long long)base);
    for (i = 2; i <= 4; i++)
        CHECK_MSG(read_span(sc, &L, i), "prefetched span %d", i);
    usleep(300000);
    CHECK_MSG(fetched(sc) == base, "reading the prefetched spans in order fetched %lld more spans (readahead)",
              (long long)(fetched(sc) - base));
    /* on into span 5: a sequential reader beyond the list */
    CHECK(read_span(sc, &L, 5));
    wait_fetched_over(sc, base + 1);
    CHECK_MSG(fetched(sc) > base + 1, "a sequential read into span 5 started no readahead (%lld fetched)",
              (long long)(fetched(sc) - base));
    span_cache_free(sc);
    layer_close(&L);
}

/* opts.defer_helpers (soci-mount's way): before span_cache_start_helpers
 * reads are served whole and right, and a sequential reader starts no
 * readahead (there is no thread to do it); once they are started, the same
 * reader going on starts it */
static void test_deferred_helpers(const char *dir)
{
    struct layer L;
    struct span_cache *sc;
    char cdir[300];
    int64_t base;
    int i;

    snprintf(cdir, sizeof(cdir), "%s/defer-cache", dir);
    if (layer_open(&L, dir, "defer.tar.gz", 1, 40, 5000, 8192) != 0) {
        CHECK(!"layer");
        return;
    }
    CHECK_MSG(L.zi.nspans >= 12, "%d spans, want 12 or more", L.zi.nspans);
    sc = cache_new_opts(&L, (size_t)(16 * max_span_len(&L, 0)), cdir, 64 << 20, 1);
    for (i = 0; i <= 3; i++)
        CHECK_MSG(read_span(sc, &L, i), "span %d before the helpers started", i);
    usleep(300000);
    CHECK_MSG(fetched(sc) == 4, "4 spans read in order before the helpers started fetched %lld",
              (long long)fetched(sc));
    span_cache_start_helpers(sc);
    base = fetched(sc);
    CHECK(read_span(sc, &L, 4));
    wait_fetched_over(sc, base + 1);
    CHECK_MSG(fetched(sc) > base + 1, "with the helpers started a sequential read into span 4 started no readahead "
              "(%lld fetched)", (long long)(fetched(sc) - base));
    for (i = 5; i < L.zi.nspans; i++)
        CHECK_MSG(read_span(sc, &L, i), "span %d after the helpers started", i);
    span_cache_free(sc);
    layer_close(&L);
}

/* a cache file damaged between two mounts is fetched again, never served:
 * a plain tar layer, so that the damaged bytes would "decompress" fine */
static void test_disk_damaged(const char *dir)
{
    struct layer L;
    struct span_cache *sc;
    char cdir[300], p[400];
    int64_t S = 4096;
    int32_t s;
    FILE *f;
    int c;

    snprintf(cdir, sizeof(cdir), "%s/damaged", dir);
    if (layer_open(&L, dir, "damaged.tar", 0, 12, 3000, S) != 0) {
        CHECK(!"layer");
        return;
    }
    sc = cache_new(&L, (size_t)(2 * S), cdir, 64 << 20);
    for (s = L.zi.nspans - 1; s >= 0; s--)
        expect_read(sc, &L, s, 1, "first read");
    span_cache_free(sc);
    /* byte 100 of span 3 (12388) is file data: 3 headers of 512 and 3000
     * bytes of data (padded to 3072) each before it, file 3 from 11264 */
    snprintf(p, sizeof(p), "%s/3", cdir);
    f = fopen(p, "r+b");
    CHECK(f != NULL);
    if (f != NULL) {
        fseek(f, 100, SEEK_SET);
        c = fgetc(f);
        fseek(f, 100, SEEK_SET);
        fputc(c ^ 0x55, f);
        fclose(f);
    }
    sc = cache_new(&L, (size_t)(2 * S), cdir, 64 << 20);
    for (s = L.zi.nspans - 1; s >= 0; s--)
        expect_read(sc, &L, s, s == 3, s == 3 ? "damaged on disk" : "on disk from the earlier cache");
    CHECK(stats(sc).disk_hits == L.zi.nspans - 1);
    span_cache_free(sc);
    layer_close(&L);
}

/* the disk budget bounds both tiers together */
static void test_disk_budget(const char *dir)
{
    struct layer L;
    struct span_cache *sc;
    char cdir[300];
    int32_t s, n;
    int files;
    int64_t budget, bytes;

    snprintf(cdir, sizeof(cdir), "%s/small", dir);
    if (layer_open(&L, dir, "small.tar.gz", 1, 40, 5000, 8192) != 0) {
        CHECK(!"layer");
        return;
    }
    n = L.zi.nspans;
    budget = 3 * max_span_len(&L, 0);
    sc = cache_new(&L, (size_t)(2 * max_span_len(&L, 0)), cdir, budget);
    for (s = n - 1; s >= 0; s--) {
        CHECK_MSG(read_span(sc, &L, s), "span %d", s);
        bytes = dir_bytes(cdir, -1, &files);
        CHECK_MSG(bytes <= budget, "after span %d: %lld bytes on disk, budget %lld", s, (long long)bytes,
                  (long long)budget);
    }
    writer_idle(sc);
    bytes = dir_bytes(cdir, -1, &files);
    CHECK_MSG(bytes <= budget && bytes > 0, "%lld bytes on disk, budget %lld", (long long)bytes, (long long)budget);
    for (s = n - 1; s >= 0; s--)
        CHECK_MSG(read_span(sc, &L, s), "span %d again", s);
    CHECK(dir_bytes(cdir, -1, &files) <= budget);
    span_cache_free(sc);
    layer_close(&L);
}

int main(void)
{
    char dir[] = "/tmp/test_span_cache.XXXXXX";
    char cmd[300];

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_lru_order(dir);
    test_pinned_not_evicted(dir);
    test_budget(dir, 0);
    test_budget(dir, 1);
    test_disk_tiers(dir);
    test_disk_damaged(dir);
    test_disk_budget(dir);
    test_prefetch_not_readahead(dir);
    test_deferred_helpers(dir);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_exit();
}
