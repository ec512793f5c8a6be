/* unpack_layer.c -- a driver for lib/layer_unpack, for tests/cli/layer_unpack.sh
 *
 *   unpack_layer [-s BLOB_SIZE] [-d DIFF_ID] [-w] BLOB_DIGEST FILE DEST
 *
 * Reads FILE through layer_unpack's reader in pieces of varying size (so
 * gzip members, tar blocks and reads do not line up), -w converts overlay
 * whiteouts.  Exits 0, or 1 with layer_unpack's one line on stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "layer_unpack.h"

struct file_reader {
    int fd;
    unsigned step;
};

static ssize_t read_file_piece(void *ctx, uint8_t *buf, size_t n, struct error *err)
{
    struct file_reader *r = ctx;
    static const size_t sizes[] = {1, 511, 4096, 7919, 65536, 1 << 20};
    size_t want = sizes[r->step++ % 6];
    ssize_t got;

    got = read(r->fd, buf, want < n ? want : n);
    if (got < 0)
        return error_set(err, "reading the blob failed");
    return got;
}

int main(int argc, char **argv)
{
    struct layer_unpack_opts opts = {.blob_size = -1};
    struct file_reader r = {0};
    struct error err = {{0}};
    int c;

    while ((c = getopt(argc, argv, "s:d:w")) != -1) {
        if (c == 's')
            opts.blob_size = atoll(optarg);
        else if (c == 'd')
            opts.diff_id = optarg;
        else if (c == 'w')
            opts.overlay_whiteouts = 1;
        else
            return 2;
    }
    if (argc - optind != 3) {
        fprintf(stderr, "usage: unpack_layer [-s SIZE] [-d DIFF_ID] [-w] BLOB_DIGEST FILE DEST\n");
        return 2;
    }
    opts.blob_digest = argv[optind];
    r.fd = open(argv[optind + 1], O_RDONLY);
    if (r.fd < 0) {
        perror(argv[optind + 1]);
        return 2;
    }
    if (layer_unpack(read_file_piece, &r, &opts, argv[optind + 2], &err) != 0) {
        fprintf(stderr, "unpack_layer: %s\n", err.msg);
        return 1;
    }
    return 0;
}
