/* inflate_only.c -- the baseline: inflate a gzip file and do nothing else
 *
 *   inflate_only FILE
 *
 * A one-pass zlib indexer cannot beat this loop: same zlib, 256 KiB input
 * and output buffers, no checkpoints, no hashing, no tar parsing, output
 * thrown away.  Multi-member files (pigz, concatenated gzip) are followed
 * to the end.  Prints "compressed_bytes uncompressed_bytes" on stdout.
 *
 * Built by bench/ztoc-gen.sh: cc -O2 inflate_only.c -lz
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define BUF_SIZE (256 * 1024)

static unsigned char in[BUF_SIZE], out[BUF_SIZE];

int main(int argc, char **argv)
{
    z_stream s;
    long long total_in = 0, total_out = 0;
    int fd, ret = Z_OK, in_member = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: inflate_only FILE.gz\n");
        return 2;
    }
    fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "inflate_only: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    memset(&s, 0, sizeof(s));
    if (inflateInit2(&s, 15 + 16) != Z_OK) {
        fprintf(stderr, "inflate_only: inflateInit2 failed\n");
        return 1;
    }
    for (;;) {
        ssize_t n = read(fd, in, sizeof(in));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "inflate_only: read: %s\n", strerror(errno));
            return 1;
        }
        if (n == 0)
            break;
        total_in += n;
        s.next_in = in;
        s.avail_in = (uInt)n;
        /* until this input is used up and inflate has no more output pending */
        do {
            if (!in_member) { /* another member follows the last one */
                if (inflateReset(&s) != Z_OK)
                    return 1;
                in_member = 1;
            }
            s.next_out = out;
            s.avail_out = sizeof(out);
            ret = inflate(&s, Z_NO_FLUSH);
            total_out += (long long)(sizeof(out) - s.avail_out);
            if (ret == Z_STREAM_END) {
                in_member = 0;
            } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
                fprintf(stderr, "inflate_only: %s: corrupt gzip at byte %lld (%s)\n", argv[1],
                        total_in - s.avail_in, s.msg ? s.msg : "?");
                return 1;
            }
        } while (s.avail_in > 0 || (in_member && s.avail_out == 0));
    }
    inflateEnd(&s);
    close(fd);
    if (in_member) {
        fprintf(stderr, "inflate_only: %s: truncated gzip\n", argv[1]);
        return 1;
    }
    printf("%lld %lld\n", total_in, total_out);
    return 0;
}
