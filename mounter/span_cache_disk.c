/* span_cache_disk.c -- the span cache's compressed tier: verified
 * compressed spans in files "<span>" of the cache directory, kept across
 * mounts (each is checked against its digest again when it is loaded)
 *
 * Locking: sc->mu guards spans[].on_disk and disk_used (both tiers'
 * bytes; dec_used is the decompressed tier's share).  File I/O is done
 * without it: a span being stored or loaded is FETCHING, owned by the
 * caller, so no other thread writes or loads the same file meanwhile.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fileio.h"
#include "prefault.h"
#include "span_cache_internal.h"

void sc_disk_path(const struct span_cache *sc, int32_t s, char *out, size_t n)
{
    snprintf(out, n, "%s/%d", sc->disk_dir, s);
}

/* a cache file: written under a temporary name and renamed, without
 * fsync -- a file torn or lost in a crash fails the digest check when it
 * is loaded and is fetched again, so reads never wait for the disk (an
 * fsync per span cost 20-50 ms here) */
int sc_write_cache_file(const char *path, const char *tmp, const uint8_t *data, size_t n)
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

/* caller owns the FETCHING state of s: nobody else stores it meanwhile */
void sc_disk_store(struct span_cache *sc, int32_t s, const uint8_t *data, size_t n)
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
    while (sc->disk_used + (int64_t)n > sc->opts.disk_budget && sc_dec_evict_oldest(sc, path, sizeof(path))) {
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
    sc_disk_path(sc, s, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (sc_write_cache_file(path, tmp, data, n) == 0) {
        pthread_mutex_lock(&sc->mu);
        sc->spans[s].on_disk = 1;
        pthread_mutex_unlock(&sc->mu);
    } else {
        pthread_mutex_lock(&sc->mu);
        sc->disk_used -= (int64_t)n;
        pthread_mutex_unlock(&sc->mu);
    }
}

/* compressed bytes of span s from the disk cache (verified), or -1 */
static int disk_load(struct span_cache *sc, int32_t s, uint8_t *buf, size_t n)
{
    char path[4200];
    int fd;
    struct error err;

    sc_disk_path(sc, s, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (pread_full(fd, buf, n, 0, &err) != 0 || sc_check_digest(sc, s, buf, n) != 0) {
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

/* load span s (FETCHING by us) from the disk cache; -1 if not there;
 * pin: as publish's */
int sc_load_from_disk(struct span_cache *sc, int32_t s, int pin, struct error *err)
{
    size_t n = (size_t)(cend(sc, s) - cstart(sc, s));
    uint8_t *buf;
    int rc;

    if (!sc->spans[s].on_disk)
        return -1;
    buf = malloc(n ? n : 1);
    if (buf == NULL)
        return -1;
    prefault_large(buf, n);
    if (disk_load(sc, s, buf, n) != 0) {
        free(buf);
        return -1;
    }
    rc = sc_publish(sc, s, buf, n, pin, err);
    free(buf);
    if (rc == 0) {
        pthread_mutex_lock(&sc->mu);
        sc->st.disk_hits++;
        pthread_mutex_unlock(&sc->mu);
    }
    return rc;
}
