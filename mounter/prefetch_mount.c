/* prefetch_mount.c -- prefetch artifacts at mount time (see prefetch_mount.h) */
#include "prefetch_mount.h"

#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "fileio.h"
#include "prefetch.h"

int prefetch_mount_run(struct span_cache *sc, const struct zinfo *zi, const uint8_t *artifact, size_t len,
                       int64_t *nspans, struct error *err)
{
    struct prefetch_artifact a;
    size_t i;

    if (prefetch_decode(artifact, len, &a, err) != 0)
        return -1;
    if (prefetch_check_spans(&a, zi->nspans, err) != 0) {
        prefetch_release(&a);
        return -1;
    }
    for (i = 0; i < a.nranges; i++)
        if (span_cache_prefetch(sc, a.ranges[i].start_span, a.ranges[i].end_span, err) != 0) {
            error_prefix(err, "prefetching spans %d-%d", a.ranges[i].start_span, a.ranges[i].end_span);
            prefetch_release(&a);
            return -1;
        }
    if (nspans)
        *nspans = prefetch_total_spans(&a);
    prefetch_release(&a);
    return 0;
}

int prefetch_mount_load(const char *arg, const struct located_image *img, uint8_t **out, size_t *len,
                        struct error *err)
{
    /* a digest names a blob unless a file of that name is here */
    if (digest_valid(arg) && access(arg, F_OK) != 0)
        return locate_read_blob(img, arg, -1, PREFETCH_MAX_BYTES, out, len, err) == 0
                   ? 0
                   : error_prefix(err, "--prefetch-artifact %s", arg);
    if (read_file(arg, PREFETCH_MAX_BYTES, out, len, err) != 0)
        return error_prefix(err, "--prefetch-artifact");
    return 0;
}
