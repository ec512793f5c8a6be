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
#include "gzip_index.h"
#include "index_opts.h"
#include "layer_index.h"
#include "layer_job.h"
#include "stream.h"
#include "stream_mode.h"
#include "version.h"

#define PROG "ztoc-gen"
#define READ_SIZE (1024 * 1024)

#ifdef HAVE_ISAL
#define DEFAULT_INFLATER "isal"
#else
#define DEFAULT_INFLATER "zlib, the only one built in"
#endif

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
            "  --inflater isal|zlib          gzip inflater, same ztoc either way (default: " DEFAULT_INFLATER ")\n"
            "\nRecord-stream mode (stdin from soci-layers, see formats/STREAM.md):\n"
            "  -j, --jobs N                  index N layers at once (default: number of CPUs)\n"
            "  --min-layer-size N            skip smaller layers (default 10485760)\n"
            "  -q, --quiet                   no progress line\n"
            "  -h, --help                    this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        INDEX_LONG_OPTIONS,
        {"output", required_argument, NULL, 'o'},
        {"print-digest", no_argument, NULL, 'p'},
        {"expect-digest", required_argument, NULL, 'e'},
        {"no-threads", no_argument, NULL, 'T'},
        {"inflater", required_argument, NULL, 'I'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct index_params params;
    struct layer_index_opts lo;
    const char *output = NULL, *input = NULL, *expect = NULL;
    int print_digest = 0, fd = 0, c, jobs, quiet = 0;
    struct layer_indexer *li = NULL;
    struct layer_index_result res;
    struct error err;
    uint8_t *buf;
    size_t sniffed = 0;
    char label[512];

    memset(&res, 0, sizeof(res));
    index_opts_init(&params, &jobs);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:hj:q", opts, NULL)) != -1) {
        int known = index_opts_option(c, optarg, &params, &jobs, &err);
        if (known < 0) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            return 2;
        }
        if (known)
            continue;
        switch (c) {
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
            params.threaded_hash = 0;
            break;
        case 'I':
            if (gzip_index_set_inflater(optarg) != 0) {
                fprintf(stderr, PROG ": invalid --inflater \"%s\": want zlib or isal (if built with ISA-L)\n", optarg);
                return 2;
            }
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return cli_bad_option(PROG, c, argv, optind);
        }
    }
    lo.span_size = params.span_size;
    lo.build_tool = params.build_tool;
    lo.threaded = params.threaded_hash;
    if (argc - optind > 1)
        return cli_bad_args(PROG, "want at most one LAYER file");
    if (optind < argc && strcmp(argv[optind], "-") != 0)
        input = argv[optind];
    snprintf(label, sizeof(label), "%s", input ? input : "stdin");
    buf = malloc(READ_SIZE);
    if (buf == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (input == NULL) {
        /* sniff stdin: a record stream from soci-layers, or a layer.  64
         * bytes hold the header record in its widest encoding (map32, str32) */
        size_t have = 0;
        while (have < 64) {
            ssize_t n = read(STDIN_FILENO, buf + have, 64 - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            have += (size_t)n;
        }
        if (stream_looks_like(buf, have)) {
            struct stream_mode_opts so;
            int status;
            so.params = params;
            so.jobs = jobs;
            so.progress = !quiet;
            if (output || print_digest || expect) {
                fprintf(stderr, PROG ": -o, --print-digest and --expect-digest do not apply to a record stream\n");
                free(buf);
                return 2;
            }
            /* the records are binary, as a single ztoc is */
            if (isatty(STDOUT_FILENO)) {
                fprintf(stderr, PROG ": stdout is a terminal; pipe the record stream into soci-pack\n");
                free(buf);
                return 2;
            }
            status = ztoc_gen_stream(buf, have, &so);
            free(buf);
            return status;
        }
        sniffed = have;
    }
    if (output == NULL && isatty(STDOUT_FILENO)) {
        fprintf(stderr, PROG ": refusing to write a binary ztoc to a terminal; use -o FILE or redirect stdout\n");
        free(buf);
        return 2;
    }
    if (input) {
        fd = open(input, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, PROG ": %s: %s\n", input, strerror(errno));
            free(buf);
            return 1;
        }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    li = layer_indexer_new(&lo, &err);
    if (li == NULL) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        free(buf);
        return 1;
    }
    if (sniffed > 0 && layer_indexer_feed(li, buf, sniffed, &err) != 0)
        goto fail;
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
