/* layer_extract.c -- unpack a layer for overlayfs (see layer_extract.h) */
#include "layer_extract.h"

#include "layer_unpack.h"

/* layer_unpack's reader over a blob source, front to back */
struct blob_cursor {
    struct blob_source *src;
    int64_t off;
};

static ssize_t read_next(void *ctx, uint8_t *buf, size_t n, struct error *err)
{
    struct blob_cursor *c = ctx;
    int64_t left = c->src->size - c->off;

    if (left <= 0)
        return 0;
    if ((int64_t)n > left)
        n = (size_t)left;
    if (n > (1 << 20))
        n = 1 << 20;
    if (blob_source_read(c->src, c->off, n, buf, err) != 0)
        return -1;
    c->off += (int64_t)n;
    return (ssize_t)n;
}

int layer_extract(struct blob_source *src, const char *diff_id, const char *dir, struct error *err)
{
    struct blob_cursor c = {src, 0};
    struct layer_unpack_opts opts = {
        .blob_digest = src->digest,
        .blob_size = src->size,
        .diff_id = diff_id,
        .overlay_whiteouts = 1,
    };

    return layer_unpack(read_next, &c, &opts, dir, err);
}
