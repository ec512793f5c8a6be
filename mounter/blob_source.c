/* blob_source.c -- compressed bytes of a layer (see blob_source.h) */
#include "blob_source.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "strutil.h"

int blob_source_local(struct blob_source *s, const char *path, int64_t size, const char *digest,
                      struct error *err)
{
    struct stat st;

    memset(s, 0, sizeof(*s));
    /* a regular file only: a FIFO put where the blob should be would block
     * the open itself (and SIGTERM with it), a device would never end */
    if (open_regular(path, -1, &s->fd, err) != 0)
        return -1;
    if (fstat(s->fd, &st) != 0 || st.st_size != size) {
        close(s->fd);
        s->fd = -1;
        return error_set(err, "layer %s: the blob has %lld bytes, its descriptor says %lld", digest,
                         (long long)st.st_size, (long long)size);
    }
    s->size = size;
    str_copy(s->digest, sizeof(s->digest), digest);
    return 0;
}

void blob_source_remote(struct blob_source *s, struct reg_client *c, const char *repo, const char *digest,
                        int64_t size)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->client = c;
    str_copy(s->repo, sizeof(s->repo), repo);
    str_copy(s->digest, sizeof(s->digest), digest);
    s->size = size;
}

void blob_source_close(struct blob_source *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

int blob_source_read(struct blob_source *s, int64_t off, size_t n, uint8_t *buf, struct error *err)
{
    RETURN_ERROR_IF(off < 0 || off > s->size || (int64_t)n > s->size - off, err,
                    "read of %zu bytes at %lld is past the layer's %lld bytes", n, (long long)off,
                    (long long)s->size);
    if (n == 0)
        return 0;
    if (s->fd >= 0)
        return pread_full(s->fd, buf, n, off, err);
    return reg_blob_get_range(s->client, s->repo, s->digest, off, n, buf, err);
}
