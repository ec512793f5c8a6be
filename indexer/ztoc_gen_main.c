/* ztoc_gen_main.c -- ztoc-gen: a layer on stdin (or a file) in, its ztoc out
 *
 *   ztoc-gen [--span-size N] [--build-tool-identifier S] [-o FILE]
 *            [--print-digest] [--expect-digest sha256:...] [LAYER]
 *
 * One pass over the input: inflate, checkpoint, hash and parse the tar
 * stream together.  Nothing is written unless the whole layer indexed
 * cleanly (and, with --expect-digest, its digest matched).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "digest.h"
#include "fileio.h"
#include "layer_index.h"
#include "version.h"

#define PROG "ztoc-gen"
#define READ_SIZE (1024 * 1024)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [options] [LAYER]\n"
            "Build the ztoc of a gzip or tar layer read from LAYER or stdin.\n\n"
            "  --span-size N                 checkpoint spacing in uncompressed bytes (default 4194304)\n"
            "  --build-tool-identifier S     recorded in the ztoc (default \"" SOCI_C_BUILD_TOOL "\")\n"
            "  -o, --output FILE             write the ztoc to FILE (default: stdout)\n"
            "  --print-digest                print the layer's sha256 digest\n"
            "  --expect-digest sha256:HEX    fail unless the layer has this digest\n"
            "  --no-threads                  hash on the inflate thread\n"
            "  -h, --help                    this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"span-size", required_argument, NULL, 's'},
        {"build-tool-identifier", required_argument, NULL, 'b'},
        {"output", required_argument, NULL, 'o'},
        {"print-digest", no_argument, NULL, 'p'},
        {"expect-digest", required_argument, NULL, 'e'},
        {"no-threads", no_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct layer_index_opts lo = {LAYER_INDEX_DEFAULT_SPAN_SIZE, SOCI_C_BUILD_TOOL, 1};
    const char *output = NULL, *input = NULL, *expect = NULL;
    int print_digest = 0, fd = 0, c;
    struct layer_indexer *li = NULL;
    struct layer_index_result res;
    struct error err;
    uint8_t *buf;
    char label[512];

    memset(&res, 0, sizeof(res));
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (cli_parse_size(optarg, &lo.span_size) != 0) {
                fprintf(stderr, PROG ": invalid --span-size \"%s\": want a positive byte count\n", optarg);
                return 2;
            }
            break;
        case 'b':
            lo.build_tool = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'p':
            print_digest = 1;
            break;
        case 'e':
            if (!digest_valid(optarg)) {
                fprintf(stderr, PROG ": invalid --expect-digest \"%s\": want sha256:<64 hex digits>\n", optarg);
                return 2;
            }
            expect = optarg;
            break;
        case 'T':
            lo.threaded = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind > 1) {
        usage(stderr);
        return 2;
    }
    if (optind < argc && strcmp(argv[optind], "-") != 0)
        input = argv[optind];
    snprintf(label, sizeof(label), "%s", input ? input : "stdin");
    if (output == NULL && isatty(STDOUT_FILENO)) {
        fprintf(stderr, PROG ": refusing to write a binary ztoc to a terminal; use -o FILE or redirect stdout\n");
        return 2;
    }
    if (input) {
        fd = open(input, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, PROG ": %s: %s\n", input, strerror(errno));
            return 1;
        }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    buf = malloc(READ_SIZE);
    li = layer_indexer_new(&lo, &err);
    if (buf == NULL || li == NULL) {
        if (li == NULL)
            fprintf(stderr, PROG ": %s\n", buf ? err.msg : "out of memory");
        return 1;
    }
    for (;;) {
        ssize_t n = read(fd, buf, READ_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error_set(&err, "read: %s", strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        if (layer_indexer_feed(li, buf, (size_t)n, &err) != 0)
            goto fail;
    }
    if (layer_indexer_finish(li, &res, &err) != 0)
        goto fail;
    {
        char got[DIGEST_STR_SIZE];
        digest_format(res.blob_digest, got);
        if (expect && strcmp(expect, got) != 0) {
            error_set(&err, "layer digest mismatch: expected %s, got %s", expect, got);
            goto fail;
        }
        if (output) {
            if (atomic_write_file(output, res.ztoc, res.ztoc_len, 0644, &err) != 0)
                goto fail;
            if (print_digest)
                printf("%s\n", got);
        } else {
            if (write_all(STDOUT_FILENO, res.ztoc, res.ztoc_len, &err) != 0)
                goto fail;
            if (print_digest)
                fprintf(stderr, "%s\n", got);
        }
    }
    layer_index_result_free(&res);
    layer_indexer_free(li);
    free(buf);
    return 0;
fail:
    fprintf(stderr, PROG ": %s: %s\n", label, err.msg);
    layer_index_result_free(&res);
    layer_indexer_free(li);
    free(buf);
    return 1;
}
