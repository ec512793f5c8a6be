/* remote_unpack.c -- download and unpack a whole layer (see remote_unpack.h) */
#include "remote_unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "layer_unpack.h"

struct file_sink {
    int fd;
    int64_t written, max;
};

static int to_file(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    struct file_sink *f = ctx;

    RETURN_ERROR_IF((int64_t)n > f->max - f->written, err, "the registry sent more than the layer's %lld bytes",
                    (long long)f->max);
    f->written += (int64_t)n;
    return write_all(f->fd, data, n, err);
}

static ssize_t from_file(void *ctx, uint8_t *buf, size_t n, struct error *err)
{
    int fd = *(int *)ctx;
    ssize_t got;

    while ((got = read(fd, buf, n)) < 0 && errno == EINTR)
        ;
    RETURN_ERROR_IF(got < 0, err, "reading the downloaded layer: %s", strerror(errno));
    return got;
}

int remote_unpack(struct reg_client *c, const char *repo, const char *digest, int64_t size, const char *diff_id,
                  const char *tmp_dir, const char *dest_dir, struct error *err)
{
    struct file_sink f;
    struct layer_unpack_opts o;
    int rc;

    RETURN_ERROR_IF(size < 0, err, "layer %s: no size", digest);
    if (mkdir_p(tmp_dir, 0700, err) != 0)
        return -1;
    f.fd = open(tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    RETURN_ERROR_IF(f.fd < 0, err, "%s: cannot make a temporary file: %s", tmp_dir, strerror(errno));
    f.written = 0;
    f.max = size;
    if (reg_blob_get(c, repo, digest, to_file, &f, err) != 0) {
        close(f.fd);
        return error_prefix(err, "downloading layer %s", digest);
    }
    if (lseek(f.fd, 0, SEEK_SET) != 0) {
        close(f.fd);
        return error_set(err, "%s: seek: %s", tmp_dir, strerror(errno));
    }
    memset(&o, 0, sizeof(o));
    o.blob_digest = digest;
    o.blob_size = size;
    o.diff_id = diff_id && diff_id[0] ? diff_id : NULL;
    o.overlay_whiteouts = 1;
    rc = layer_unpack(from_file, &f.fd, &o, dest_dir, err);
    close(f.fd);
    return rc;
}
