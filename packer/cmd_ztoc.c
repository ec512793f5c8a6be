/* cmd_ztoc.c -- soci ztoc info | get-file */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "extract.h"
#include "fileio.h"
#include "gojson.h"
#include "zinfo.h"
#include "ztoc.h"

struct loaded_ztoc {
    uint8_t *bytes;
    size_t len;
    struct ztoc z;
    struct zinfo zi;
};

static int load_ztoc(const char *path, struct loaded_ztoc *lz, struct error *err)
{
    memset(lz, 0, sizeof(*lz));
    if (read_file(path, SOCI_MAX_ZTOC_SIZE, &lz->bytes, &lz->len, err) != 0)
        return -1;
    if (ztoc_decode(lz->bytes, lz->len, &lz->z, err) != 0 || zinfo_parse(&lz->zi, &lz->z, err) != 0 ||
        zinfo_check(&lz->zi, &lz->z, err) != 0) {
        ztoc_release(&lz->z);
        free(lz->bytes);
        return error_prefix(err, "%s", path);
    }
    return 0;
}

static void unload_ztoc(struct loaded_ztoc *lz)
{
    ztoc_release(&lz->z);
    free(lz->bytes);
}

static int fail(const struct error *err)
{
    fprintf(stderr, "soci: %s\n", err->msg);
    return 1;
}

/* upstream's Info struct, json.MarshalIndent(v, "", "  ") */
static int ztoc_info(int argc, char **argv)
{
    struct loaded_ztoc lz;
    struct gojson j;
    struct error err;
    const char *out;
    size_t out_len, i;
    int multi = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: soci ztoc info ZTOC\n");
        return 2;
    }
    if (load_ztoc(argv[1], &lz, &err) != 0)
        return fail(&err);
    for (i = 0; i < lz.z.nentries; i++) {
        const struct ztoc_entry *e = &lz.z.entries[i];
        if (zinfo_span_of(&lz.zi, e->offset) != zinfo_span_of(&lz.zi, e->offset + e->size))
            multi++;
    }
    gojson_init(&j, 2);
    gojson_begin_object(&j);
    gojson_key(&j, "version");
    gojson_string(&j, lz.z.version.ptr, lz.z.version.len);
    gojson_key(&j, "build_tool");
    gojson_string(&j, lz.z.build_tool.ptr, lz.z.build_tool.len);
    gojson_key(&j, "size");
    gojson_int(&j, (int64_t)lz.len);
    gojson_key(&j, "span_size");
    gojson_int(&j, lz.zi.span_size);
    gojson_key(&j, "num_spans");
    gojson_int(&j, (int64_t)lz.z.max_span_id + 1);
    gojson_key(&j, "num_files");
    gojson_int(&j, (int64_t)lz.z.nentries);
    gojson_key(&j, "num_multi_span_files");
    gojson_int(&j, multi);
    gojson_key(&j, "files");
    if (lz.z.nentries == 0) {
        gojson_null(&j);
    } else {
        gojson_begin_array(&j);
        for (i = 0; i < lz.z.nentries; i++) {
            const struct ztoc_entry *e = &lz.z.entries[i];
            gojson_begin_object(&j);
            gojson_key(&j, "filename");
            gojson_string(&j, e->name.ptr, e->name.len);
            gojson_key(&j, "offset");
            gojson_int(&j, e->offset);
            gojson_key(&j, "size");
            gojson_int(&j, e->size);
            gojson_key(&j, "type");
            gojson_string(&j, e->type.ptr, e->type.len);
            gojson_key(&j, "start_span");
            gojson_int(&j, zinfo_span_of(&lz.zi, e->offset));
            gojson_key(&j, "end_span");
            gojson_int(&j, zinfo_span_of(&lz.zi, e->offset + e->size));
            gojson_end_object(&j);
        }
        gojson_end_array(&j);
    }
    gojson_end_object(&j);
    if (gojson_result(&j, &out, &out_len, &err) != 0) {
        gojson_free(&j);
        unload_ztoc(&lz);
        return fail(&err);
    }
    fwrite(out, 1, out_len, stdout);
    fputc('\n', stdout);
    gojson_free(&j);
    unload_ztoc(&lz);
    return fflush(stdout) == 0 ? 0 : 1;
}

struct fd_reader {
    int fd;
    int64_t size;
};

static int read_layer(void *ctx, int64_t off, size_t n, uint8_t *buf, struct error *err)
{
    struct fd_reader *r = ctx;

    RETURN_ERROR_IF(off < 0 || off + (int64_t)n > r->size, err,
                    "the ztoc points past the end of the layer (byte %lld of %lld)",
                    (long long)(off + (int64_t)n), (long long)r->size);
    return pread_full(r->fd, buf, n, off, err);
}

static int write_fd(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    return write_all(*(int *)ctx, data, n, err);
}

static int ztoc_get_file(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    const char *output = NULL;
    struct loaded_ztoc lz;
    struct extract_source src;
    struct fd_reader rd;
    struct out_file of;
    const struct ztoc_entry *e;
    struct error err;
    int c, out_fd = STDOUT_FILENO;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o')
            output = optarg;
        else
            return 2;
    }
    if (argc - optind != 3) {
        fprintf(stderr, "usage: soci ztoc get-file [-o OUT] ZTOC LAYER PATH\n");
        return 2;
    }
    if (load_ztoc(argv[optind], &lz, &err) != 0)
        return fail(&err);
    e = extract_find_file(&lz.z, argv[optind + 2], &err);
    if (e == NULL) {
        unload_ztoc(&lz);
        return fail(&err);
    }
    rd.fd = open(argv[optind + 1], O_RDONLY | O_CLOEXEC);
    if (rd.fd < 0) {
        error_set(&err, "%s: %s", argv[optind + 1], strerror(errno));
        unload_ztoc(&lz);
        return fail(&err);
    }
    rd.size = lseek(rd.fd, 0, SEEK_END);
    if (rd.size != lz.z.compressed_size) {
        error_set(&err, "%s: %lld bytes, but the ztoc is for a layer of %lld bytes", argv[optind + 1],
                  (long long)rd.size, (long long)lz.z.compressed_size);
        goto fail;
    }
    if (output) {
        if (out_file_open(&of, output, 0644, &err) != 0)
            goto fail;
        out_fd = of.fd;
    }
    src.ztoc = &lz.z;
    src.zinfo = &lz.zi;
    src.read = read_layer;
    src.read_ctx = &rd;
    src.verify = 1;
    if (extract_range(&src, e->offset, e->size, write_fd, &out_fd, &err) != 0) {
        if (output)
            out_file_abort(&of);
        goto fail;
    }
    if (output && out_file_commit(&of, &err) != 0)
        goto fail;
    close(rd.fd);
    unload_ztoc(&lz);
    return 0;
fail:
    close(rd.fd);
    unload_ztoc(&lz);
    return fail(&err);
}

int cmd_ztoc(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: soci ztoc info|get-file ...\n");
        return 2;
    }
    if (strcmp(argv[1], "info") == 0)
        return ztoc_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "get-file") == 0)
        return ztoc_get_file(argc - 1, argv + 1);
    fprintf(stderr, "soci: unknown ztoc command \"%s\"\n", argv[1]);
    return 2;
}
