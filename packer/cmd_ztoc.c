/* cmd_ztoc.c -- soci ztoc info | get-file */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "extract.h"
#include "fileio.h"
#include "gojson.h"
#include "zinfo.h"
#include "ztoc.h"
#include "catalog.h"
#include "cli.h"
#include "layout_arg.h"
#include "table.h"
#include "oci_layout.h"

struct loaded_ztoc {
    uint8_t *bytes;
    size_t len;
    struct ztoc z;
    struct zinfo zi;
};

/* a ztoc given as a file path, or as a digest found in the layout */
static int load_ztoc(const char *path, struct oci_layout *l, struct loaded_ztoc *lz, struct error *err)
{
    memset(lz, 0, sizeof(*lz));
    if (strncmp(path, "sha256:", 7) == 0 && access(path, F_OK) != 0) {
        RETURN_ERROR_IF(l == NULL, err, "%s: give --layout DIR to look up a ztoc by digest", path);
        if (layout_read_blob(l, path, -1, SOCI_MAX_ZTOC_SIZE, &lz->bytes, &lz->len, err) != 0)
            return -1;
    } else if (read_file(path, SOCI_MAX_ZTOC_SIZE, &lz->bytes, &lz->len, err) != 0) {
        return -1;
    }
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

#define INFO_USAGE "usage: soci ztoc info [--layout DIR] ZTOC|DIGEST"
#define GROUP_USAGE                                                                  \
    "usage: soci ztoc COMMAND [options]\n\n"                                         \
    "commands:\n"                                                                     \
    "  info [--layout DIR] ZTOC|DIGEST         a ztoc's summary, as JSON\n"           \
    "  get-file [-o OUT] ZTOC LAYER PATH       one file of a layer, to stdout or OUT\n" \
    "  list [--layout DIR] [oci:DIR[:TAG]]     the ztocs of a layout\n"               \
    "'soci ztoc COMMAND --help' for a command's options; --layout defaults to $SOCI_LAYOUT\n"

static int fail(const struct error *err)
{
    fprintf(stderr, "soci: %s\n", err->msg);
    return 1;
}

/* upstream's Info struct, json.MarshalIndent(v, "", "  ") */
static const struct option layout_opts[] = {
    {"layout", required_argument, NULL, 'L'},
    {"output", required_argument, NULL, 'o'},
    {"ztoc-digest", required_argument, NULL, 'z'},
    {"image-ref", required_argument, NULL, 'r'},
    {"json", no_argument, NULL, 'J'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct ztoc_args {
    const char *layout, *output, *ztoc_digest, *image_ref;
    int json, quiet;
};

/* 0: parsed; 1: --help printed; 2: a bad option, said in one line */
static int parse_args(int argc, char **argv, struct ztoc_args *a, const char *usage)
{
    int c;
    char cmd[64];

    snprintf(cmd, sizeof(cmd), "soci ztoc %s", argv[0]);
    memset(a, 0, sizeof(*a));
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", layout_opts, NULL)) != -1) {
        switch (c) {
        case 'L': a->layout = optarg; break;
        case 'o': a->output = optarg; break;
        case 'z': a->ztoc_digest = optarg; break;
        case 'r': a->image_ref = optarg; break;
        case 'J': a->json = 1; break;
        case 'q': a->quiet = 1; break;
        case 'h': printf("%s\n", usage); return 1;
        default: return cli_bad_option(cmd, c, argv, optind);
        }
    }
    return 0;
}

/* a layout when one is named (--layout, SOCI_LAYOUT) or an oci: argument leads */
static int maybe_layout(const struct ztoc_args *a, int argc, char **argv, struct oci_layout *l, int *have,
                        struct error *err)
{
    char tag[512];
    const char *ref = NULL;

    *have = 0;
    if (optind < argc && strncmp(argv[optind], "oci:", 4) == 0)
        ref = argv[optind++];
    if (a->layout == NULL && ref == NULL && getenv("SOCI_LAYOUT") == NULL)
        return 0;
    if (layout_from_args(a->layout, ref, l, tag, sizeof(tag), err) != 0)
        return -1;
    *have = 1;
    return 0;
}

static int ztoc_info(int argc, char **argv)
{
    struct loaded_ztoc lz;
    struct ztoc_args a;
    struct oci_layout l;
    struct gojson j;
    struct error err;
    const char *out;
    size_t out_len, i;
    int multi = 0, have_layout, rc;

    if ((rc = parse_args(argc, argv, &a, INFO_USAGE)) != 0)
        return rc == 1 ? 0 : rc;
    if (maybe_layout(&a, argc, argv, &l, &have_layout, &err) != 0) {
        if (optind <= argc && err.msg[0])
            return fail(&err);
        return cli_bad_args("soci ztoc info", "want one ZTOC file or digest");
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: soci ztoc info [--layout DIR] ZTOC|DIGEST\n");
        if (have_layout)
            layout_close(&l);
        return 2;
    }
    rc = load_ztoc(argv[optind], have_layout ? &l : NULL, &lz, &err);
    if (rc != 0 && have_layout) {
        struct catalog cat;
        struct error e2;
        if (catalog_load(&l, &cat, &e2) == 0) {
            if (catalog_find_index(&cat, argv[optind]))
                error_set(&err, "the provided digest belongs to a SOCI index. Use `soci index info` to get the detailed information about it");
            catalog_release(&cat);
        }
    }
    if (have_layout)
        layout_close(&l);
    if (rc != 0)
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
    static const char usage[] = "usage: soci ztoc get-file [-o OUT] ZTOC LAYER PATH\n"
                                "       soci ztoc get-file [-o OUT] --layout DIR ZTOC-DIGEST PATH";
    int rc;
    struct ztoc_args a;
    struct oci_layout l;
    struct loaded_ztoc lz;
    struct extract_source src;
    struct fd_reader rd;
    struct out_file of;
    const struct ztoc_entry *e;
    struct error err;
    const char *output, *layer_path = NULL, *file;
    char blob_path[4096];
    int out_fd = STDOUT_FILENO, have_layout = 0;

    err.msg[0] = '\0';
    if ((rc = parse_args(argc, argv, &a, usage)) != 0)
        return rc == 1 ? 0 : rc;
    if (maybe_layout(&a, argc, argv, &l, &have_layout, &err) != 0) {
        if (err.msg[0])
            return fail(&err);
        return cli_bad_args("soci ztoc get-file", "want ZTOC LAYER PATH");
    }
    output = a.output;
    if (argc - optind == 3) {
        layer_path = argv[optind + 1];
        file = argv[optind + 2];
    } else if (argc - optind == 2 && have_layout) {
        file = argv[optind + 1];
    } else {
        if (have_layout)
            layout_close(&l);
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    if (load_ztoc(argv[optind], have_layout ? &l : NULL, &lz, &err) != 0) {
        if (have_layout)
            layout_close(&l);
        return fail(&err);
    }
    if (layer_path == NULL) {
        /* the layer is the one the layout's SOCI index names for this ztoc */
        struct catalog cat;
        const struct soci_ztoc_ref *z;
        if (catalog_load(&l, &cat, &err) != 0) {
            layout_close(&l);
            unload_ztoc(&lz);
            return fail(&err);
        }
        z = catalog_find_ztoc(&cat, argv[optind], NULL);
        if (z == NULL) {
            error_set(&err, "no SOCI index in %s names ztoc %s, so its layer is unknown", l.dir, argv[optind]);
            catalog_release(&cat);
            layout_close(&l);
            unload_ztoc(&lz);
            return fail(&err);
        }
        layout_blob_path(&l, z->layer_digest, blob_path, sizeof(blob_path));
        layer_path = blob_path;
        catalog_release(&cat);
    }
    if (have_layout)
        layout_close(&l);
    e = extract_find_file(&lz.z, file, &err);
    if (e == NULL) {
        unload_ztoc(&lz);
        return fail(&err);
    }
    rd.fd = open(layer_path, O_RDONLY | O_CLOEXEC);
    if (rd.fd < 0) {
        error_set(&err, "%s: %s", layer_path, strerror(errno));
        unload_ztoc(&lz);
        return fail(&err);
    }
    rd.size = lseek(rd.fd, 0, SEEK_END);
    if (rd.size != lz.z.compressed_size) {
        error_set(&err, "%s: %lld bytes, but the ztoc is for a layer of %lld bytes", layer_path,
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

static int ztoc_list(int argc, char **argv)
{
    static const char usage[] = "usage: soci ztoc list [--layout DIR] [--ztoc-digest D] [--image-ref TAG] [--json] [-q] [oci:DIR[:TAG]]";
    int rc;
    struct ztoc_args a;
    struct oci_layout l;
    struct catalog cat;
    struct error err;
    struct table t;
    struct gojson j;
    char tag[512] = "";
    const char *ref = NULL;
    size_t i, k, m;
    int found;

    if ((rc = parse_args(argc, argv, &a, usage)) != 0)
        return rc == 1 ? 0 : rc;
    if (optind < argc && strncmp(argv[optind], "oci:", 4) == 0)
        ref = argv[optind++];
    if (optind != argc) {
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    if (layout_from_args(a.layout, ref, &l, tag, sizeof(tag), &err) != 0)
        return fail(&err);
    if (a.image_ref)
        snprintf(tag, sizeof(tag), "%s", a.image_ref);
    if (catalog_load(&l, &cat, &err) != 0) {
        layout_close(&l);
        return fail(&err);
    }
    table_init(&t, 3);
    gojson_init(&j, 2);
    gojson_begin_array(&j);
    if (!a.quiet && !a.json) {
        const char *hdr[] = {"DIGEST", "SIZE", "LAYER DIGEST"};
        table_add(&t, hdr);
    }
    for (i = 0; i < cat.n; i++) {
        const struct catalog_index *ci = &cat.v[i];
        if (tag[0] && strcmp(ci->image_ref, tag) != 0)
            continue;
        for (k = 0; k < ci->ix.nztocs; k++) {
            const struct soci_ztoc_ref *z = &ci->ix.ztocs[k];
            char size[32];
            if (a.ztoc_digest && strcmp(z->ztoc_digest, a.ztoc_digest) != 0)
                continue;
            /* a ztoc shared by several indexes is listed once */
            for (found = 0, m = 0; m < i && !found; m++)
                if (!tag[0] || strcmp(cat.v[m].image_ref, tag) == 0) {
                    size_t q;
                    for (q = 0; q < cat.v[m].ix.nztocs; q++)
                        if (strcmp(cat.v[m].ix.ztocs[q].ztoc_digest, z->ztoc_digest) == 0)
                            found = 1;
                }
            if (found)
                continue;
            if (a.quiet) {
                printf("%s\n", z->ztoc_digest);
                continue;
            }
            snprintf(size, sizeof(size), "%lld", (long long)z->ztoc_size);
            if (a.json) {
                gojson_begin_object(&j);
                gojson_key(&j, "digest");
                gojson_cstr(&j, z->ztoc_digest);
                gojson_key(&j, "size");
                gojson_int(&j, z->ztoc_size);
                gojson_key(&j, "layerDigest");
                gojson_cstr(&j, z->layer_digest);
                gojson_key(&j, "spanSize");
                gojson_int(&j, z->span_size);
                gojson_end_object(&j);
            } else {
                const char *row[] = {z->ztoc_digest, size, z->layer_digest};
                table_add(&t, row);
            }
        }
    }
    gojson_end_array(&j);
    if (a.json) {
        const char *out;
        size_t len;
        if (gojson_result(&j, &out, &len, &err) == 0)
            printf("%s\n", out);
    } else if (!a.quiet) {
        table_print(&t, stdout);
    }
    gojson_free(&j);
    table_free(&t);
    catalog_release(&cat);
    layout_close(&l);
    return 0;
}

int cmd_ztoc(int argc, char **argv)
{
    if (argc < 2)
        return cli_bad_args("soci ztoc", "want a command: info, get-file, list");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        printf("%s", GROUP_USAGE);
        return 0;
    }
    if (strcmp(argv[1], "info") == 0)
        return ztoc_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "get-file") == 0)
        return ztoc_get_file(argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)
        return ztoc_list(argc - 1, argv + 1);
    fprintf(stderr, "soci ztoc: unknown command \"%s\"; see 'soci ztoc --help'\n", argv[1]);
    return 2;
}
