/* span_cache_dec.c -- the span cache's decompressed tier and its writer
 * thread
 *
 * Locking: sc->mu guards spans[].dec_on_disk/dec_queued/dec_seq, the
 * writer's queue (dec_q, dec_qn), dec_seq, dec_used and disk_used;
 * dec_cond wakes the writer (a span queued, or stopping).  Files are
 * written, read and deleted without it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "span_cache_internal.h"

/* A span that leaves the memory LRU is written, decompressed, to a file of
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
int sc_dec_keep(struct span_cache *sc, int32_t s)
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
int sc_dec_evict_oldest(struct span_cache *sc, char *out, size_t n)
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
int sc_dec_read(struct span_cache *sc, int32_t s, int64_t from, int64_t to, uint8_t *out)
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

void *sc_dec_main(void *arg)
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
        rc = sc_write_cache_file(path, tmp, it.data, it.len);
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
int sc_is_dec_file(const char *name)
{
    return name[0] == 'u';
}
