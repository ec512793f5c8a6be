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
#include "reg_cli.h"
#include "registry.h"
#include "store.h"
#include "extract.h"
#include "fileio.h"
#include "gojson.h"
#include "zinfo.h"
#include "ztoc.h"
#include "catalog.h"
#include "layout_arg.h"
#include "table.h"
#include "oci_layout.h"
#include "strutil.h"

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
        RETURN_ERROR_IF(l == NULL, err, "%s: no such ztoc", path);
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

#define INFO_USAGE "usage: soci ztoc info [--layout DIR] ZTOC|DIGEST\n" \
    "A DIGEST is looked up in the layout, or without one in every layout of the store (soci --root)."
#define GROUP_USAGE                                                                  \
    "usage: soci ztoc COMMAND [options]\n\n"                                         \
    "commands:\n"                                                                     \
    "  info [--layout DIR] ZTOC|DIGEST         a ztoc's summary, as JSON\n"           \
    "  get-file [-o OUT] ZTOC LAYER PATH       one file of a layer, to stdout or OUT\n" \
    "  get-file [-o OUT] DIGEST PATH           the same for a ztoc of a layout or of the store\n" \
    "  list [--layout DIR] [oci:DIR[:TAG]]     the ztocs of a layout, or of the store\n" \
    "'soci ztoc COMMAND --help' for a command's options.  --layout defaults to $SOCI_LAYOUT;\n" \
    "without either, a DIGEST is looked up in every layout of the store (soci --root DIR, $SOCI_ROOT)\n"

static int fail(const struct error *err)
{
    fprintf(stderr, "soci: %s\n", err->msg);
    return 1;
}

/* upstream's Info struct, json.MarshalIndent(v, "", "  ") */
static const struct option layout_opts[] = {
    REG_CLI_LONG_OPTIONS,
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
    struct reg_cli reg;   /* get-file: a store layout's layer comes from its registry */
};

/* 0: parsed; 1: --help printed; 2: a bad option, said in one line */
static int parse_args(int argc, char **argv, struct ztoc_args *a, const char *usage)
{
    int c;
    char cmd[64];

    snprintf(cmd, sizeof(cmd), "soci ztoc %s", argv[0]);
    memset(a, 0, sizeof(*a));
    reg_cli_init(&a->reg);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", layout_opts, NULL)) != -1) {
        if (reg_cli_option(&a->reg, c, optarg))
            continue;
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

/* the layouts to look a digest up in: the one named (--layout, a leading
 * oci: argument, SOCI_LAYOUT), else the store's */
static int digest_layouts(const struct ztoc_args *a, int argc, char **argv, struct store_list *sl, struct error *err)
{
    char tag[512];
    const char *ref = NULL;

    if (optind < argc && strncmp(argv[optind], "oci:", 4) == 0)
        ref = argv[optind++];
    return layouts_from_args(a->layout, ref, NULL, sl, tag, sizeof(tag), err);
}

/* is arg a digest to look up (not a ztoc file of that name)? */
static int is_digest_arg(const char *arg)
{
    return strncmp(arg, "sha256:", 7) == 0 && access(arg, F_OK) != 0;
}

/* open the first listed layout that holds ztoc `digest` -- as a blob, or
 * (by_catalog) as a ztoc one of its SOCI indexes names -- into *l and *cat;
 * *at gets its position.  Not found: -1 with err saying what the digest is. */
static int find_ztoc(const struct store_list *sl, const char *digest, int by_catalog, struct oci_layout *l,
                     struct catalog *cat, size_t *at, struct error *err)
{
    size_t i;
    int index = 0;

    for (i = 0; i < sl->n; i++) {
        if (layout_entry_open(&sl->v[i], l, cat, err) != 0)
            return -1;
        if (by_catalog ? catalog_find_ztoc(cat, digest, NULL) != NULL
                       : layout_blob_exists(l, digest, NULL) && catalog_find_index(cat, digest) == NULL) {
            *at = i;
            return 0;
        }
        index |= catalog_find_index(cat, digest) != NULL;
        layout_entry_close(l, cat);
    }
    RETURN_ERROR_IF(index, err, "the provided digest belongs to a SOCI index. Use `soci index info` to get the detailed information about it");
    if (sl->n == 1 && sl->v[0].name == NULL)
        return error_set(err, by_catalog ? "no SOCI index in %s names ztoc %s, so its layer is unknown"
                                         : "no ztoc %2$s in %1$s", sl->v[0].dir, digest);
    return error_set(err, "no ztoc %s in the store", digest);
}

static int ztoc_info(int argc, char **argv)
{
    struct loaded_ztoc lz;
    struct ztoc_args a;
    struct store_list sl;
    struct gojson j;
    struct error err;
    const char *out;
    size_t out_len, i;
    int multi = 0, rc;

    if ((rc = parse_args(argc, argv, &a, INFO_USAGE)) != 0)
        return rc == 1 ? 0 : rc;
    if (optind < argc && strncmp(argv[optind], "oci:", 4) == 0 ? argc - optind != 2 : argc - optind != 1)
        return cli_bad_args("soci ztoc info", "want one ZTOC file or digest");
    if (is_digest_arg(argv[argc - 1])) {
        struct oci_layout l;
        struct catalog cat;
        if (digest_layouts(&a, argc, argv, &sl, &err) != 0)
            return fail(&err);
        rc = find_ztoc(&sl, argv[optind], 0, &l, &cat, &i, &err);
        store_list_free(&sl);
        if (rc != 0)
            return fail(&err);
        rc = load_ztoc(argv[optind], &l, &lz, &err);
        layout_entry_close(&l, &cat);
    } else {
        if (optind < argc - 1)
            optind++; /* a file needs no layout */
        rc = load_ztoc(argv[optind], NULL, &lz, &err);
    }
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

/* the layer a file is read from: a local file, or a blob in a registry */
struct layer_reader {
    int fd;
    int64_t size;
    struct reg_client *client;
    struct reg_ref ref;
    char digest[80];
};

static int read_layer(void *ctx, int64_t off, size_t n, uint8_t *buf, struct error *err)
{
    struct layer_reader *r = ctx;

    RETURN_ERROR_IF(off < 0 || off + (int64_t)n > r->size, err,
                    "the ztoc points past the end of the layer (byte %lld of %lld)",
                    (long long)(off + (int64_t)n), (long long)r->size);
    if (r->client)
        return reg_blob_get_range(r->client, r->ref.repo, r->digest, off, n, buf, err);
    return pread_full(r->fd, buf, n, off, err);
}

static int write_fd(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    return write_all(*(int *)ctx, data, n, err);
}

/* the layer of a store layout that has no copy of it: from the registry
 * of the layout's repository, only the spans the file needs */
static int open_remote_layer(struct ztoc_args *a, const char *name, const char *digest, struct layer_reader *rd,
                             struct error *err)
{
    int found;

    if (reg_ref_parse(name, &rd->ref, err) != 0 || reg_cli_finish(&a->reg, err) != 0)
        return -1;
    str_copy(rd->digest, sizeof(rd->digest), digest);
    rd->client = reg_cli_client(&a->reg, rd->ref.host, err);
    if (rd->client == NULL || reg_ping(rd->client, err) != 0 ||
        reg_blob_head(rd->client, rd->ref.repo, digest, &rd->size, &found, err) != 0)
        return -1;
    RETURN_ERROR_IF(!found, err, "layer %s is not in %s any more", digest, name);
    return 0;
}

/* the layer of ztoc `digest` as its layout (or the store) knows it */
static int open_layer_of(struct ztoc_args *a, int argc, char **argv, const char *digest, struct loaded_ztoc *lz,
                         struct layer_reader *rd, char *path, size_t path_len, struct error *err)
{
    struct store_list sl;
    struct oci_layout l;
    struct catalog cat;
    const struct soci_ztoc_ref *z;
    size_t at;
    int rc = -1;

    if (digest_layouts(a, argc, argv, &sl, err) != 0)
        return -1;
    if (find_ztoc(&sl, digest, 1, &l, &cat, &at, err) != 0) {
        store_list_free(&sl);
        return -1;
    }
    z = catalog_find_ztoc(&cat, digest, NULL);
    if (load_ztoc(digest, &l, lz, err) == 0) {
        layout_blob_path(&l, z->layer_digest, path, path_len);
        if (sl.v[at].name && !layout_blob_exists(&l, z->layer_digest, NULL)) {
            rc = open_remote_layer(a, sl.v[at].name, z->layer_digest, rd, err);
            if (rc != 0)
                unload_ztoc(lz);
        } else {
            rc = 0;
        }
    }
    layout_entry_close(&l, &cat);
    store_list_free(&sl);
    return rc;
}

static int ztoc_get_file(int argc, char **argv)
{
    static const char usage[] = "usage: soci ztoc get-file [-o OUT] ZTOC LAYER PATH\n"
                                "       soci ztoc get-file [-o OUT] [--layout DIR] [registry options] ZTOC-DIGEST PATH\n"
                                "Without a layout the ztoc is looked up in the store (soci --root); a layer the\n"
                                "store has no copy of is read from its registry, only the spans the file needs.";
    int rc;
    struct ztoc_args a;
    struct loaded_ztoc lz;
    struct extract_source src;
    struct layer_reader rd;
    struct out_file of;
    const struct ztoc_entry *e;
    struct error err;
    const char *file;
    char layer_path[4096];
    int out_fd = STDOUT_FILENO, nargs;

    memset(&rd, 0, sizeof(rd));
    rd.fd = -1;
    if ((rc = parse_args(argc, argv, &a, usage)) != 0)
        return rc == 1 ? 0 : rc;
    nargs = argc - optind - (optind < argc && strncmp(argv[optind], "oci:", 4) == 0);
    if (nargs == 3 && argc - optind == 3) {
        str_copy(layer_path, sizeof(layer_path), argv[optind + 1]);
        file = argv[optind + 2];
        rc = load_ztoc(argv[optind], NULL, &lz, &err);
    } else if (nargs == 2) {
        file = argv[argc - 1];
        rc = open_layer_of(&a, argc, argv, argv[argc - 2], &lz, &rd, layer_path, sizeof(layer_path), &err);
    } else {
        return cli_bad_args("soci ztoc get-file", "want ZTOC LAYER PATH, or ZTOC-DIGEST PATH");
    }
    if (rc != 0) {
        memset(&a.reg, 0, sizeof(a.reg));
        return fail(&err);
    }
    memset(&a.reg, 0, sizeof(a.reg)); /* the password is in the client now */
    e = extract_find_file(&lz.z, file, &err);
    if (e == NULL)
        goto fail;
    if (rd.client == NULL) {
        /* regular files only: a FIFO or device as the layer would block or
         * never end */
        if (open_regular(layer_path, -1, &rd.fd, &err) != 0)
            goto fail;
        rd.size = lseek(rd.fd, 0, SEEK_END);
    } else {
        snprintf(layer_path, sizeof(layer_path), "%s@%s", rd.ref.repo, rd.digest);
    }
    if (rd.size != lz.z.compressed_size) {
        error_set(&err, "%s: %lld bytes, but the ztoc is for a layer of %lld bytes", layer_path,
                  (long long)rd.size, (long long)lz.z.compressed_size);
        goto fail;
    }
    if (a.output) {
        if (out_file_open(&of, a.output, 0644, &err) != 0)
            goto fail;
        out_fd = of.fd;
    }
    src.ztoc = &lz.z;
    src.zinfo = &lz.zi;
    src.read = read_layer;
    src.read_ctx = &rd;
    src.verify = 1;
    if (extract_range(&src, e->offset, e->size, write_fd, &out_fd, &err) != 0) {
        if (a.output)
            out_file_abort(&of);
        goto fail;
    }
    if (a.output && out_file_commit(&of, &err) != 0)
        goto fail;
    if (rd.fd >= 0)
        close(rd.fd);
    reg_client_free(rd.client);
    unload_ztoc(&lz);
    return 0;
fail:
    if (rd.fd >= 0)
        close(rd.fd);
    reg_client_free(rd.client);
    unload_ztoc(&lz);
    return fail(&err);
}

/* ztoc digests already listed: a ztoc shared by several indexes (or
 * layouts) is listed once */
struct seen {
    char (*v)[80];
    size_t n, cap;
};

/* 1 if digest was seen, 0 if not (now it is), -1 out of memory */
static int seen_add(struct seen *s, const char *digest)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        if (strcmp(s->v[i], digest) == 0)
            return 1;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        char (*v)[80] = realloc(s->v, ncap * sizeof(*v));
        if (v == NULL)
            return -1;
        s->v = v;
        s->cap = ncap;
    }
    str_copy(s->v[s->n++], sizeof(s->v[0]), digest);
    return 0;
}

/* one catalog's ztocs as rows of the list */
static int list_catalog(const struct ztoc_args *a, const struct catalog *cat, const char *tag, struct seen *seen,
                        struct table *t, struct gojson *j, struct error *err)
{
    size_t i, k;

    for (i = 0; i < cat->n; i++) {
        const struct catalog_index *ci = &cat->v[i];
        if (tag[0] && strcmp(ci->image_ref, tag) != 0)
            continue;
        for (k = 0; k < ci->ix.nztocs; k++) {
            const struct soci_ztoc_ref *z = &ci->ix.ztocs[k];
            char size[32];
            int was;
            if (a->ztoc_digest && strcmp(z->ztoc_digest, a->ztoc_digest) != 0)
                continue;
            was = seen_add(seen, z->ztoc_digest);
            RETURN_ERROR_IF(was < 0, err, "out of memory");
            if (was)
                continue;
            if (a->quiet) {
                printf("%s\n", z->ztoc_digest);
                continue;
            }
            snprintf(size, sizeof(size), "%lld", (long long)z->ztoc_size);
            if (a->json) {
                gojson_begin_object(j);
                gojson_key(j, "digest");
                gojson_cstr(j, z->ztoc_digest);
                gojson_key(j, "size");
                gojson_int(j, z->ztoc_size);
                gojson_key(j, "layerDigest");
                gojson_cstr(j, z->layer_digest);
                gojson_key(j, "spanSize");
                gojson_int(j, z->span_size);
                gojson_end_object(j);
            } else {
                const char *row[] = {z->ztoc_digest, size, z->layer_digest};
                table_add(t, row);
            }
        }
    }
    return 0;
}

static int ztoc_list(int argc, char **argv)
{
    static const char usage[] = "usage: soci ztoc list [--layout DIR] [--ztoc-digest D] [--image-ref TAG|REGISTRY/REPO:TAG] [--json] [-q] [oci:DIR[:TAG]]\n"
                                "Without a layout (--layout, oci:DIR, SOCI_LAYOUT): every layout of the store (soci --root).";
    int rc;
    struct ztoc_args a;
    struct store_list sl;
    struct seen seen = {NULL, 0, 0};
    struct error err;
    struct table t;
    struct gojson j;
    char tag[512] = "";
    const char *ref = NULL;
    size_t i;

    if ((rc = parse_args(argc, argv, &a, usage)) != 0)
        return rc == 1 ? 0 : rc;
    if (optind < argc && strncmp(argv[optind], "oci:", 4) == 0)
        ref = argv[optind++];
    if (optind != argc)
        return cli_bad_args("soci ztoc list", "unexpected argument");
    if (layouts_from_args(a.layout, ref, a.image_ref, &sl, tag, sizeof(tag), &err) != 0)
        return fail(&err);
    table_init(&t, 3);
    gojson_init(&j, 2);
    gojson_begin_array(&j);
    if (!a.quiet && !a.json) {
        const char *hdr[] = {"DIGEST", "SIZE", "LAYER DIGEST"};
        table_add(&t, hdr);
    }
    for (i = 0, rc = 0; i < sl.n && rc == 0; i++) {
        struct oci_layout l;
        struct catalog cat;
        if (layout_entry_open(&sl.v[i], &l, &cat, &err) != 0) {
            rc = -1;
            break;
        }
        rc = list_catalog(&a, &cat, tag, &seen, &t, &j, &err);
        layout_entry_close(&l, &cat);
    }
    gojson_end_array(&j);
    if (rc == 0 && a.json) {
        const char *out;
        size_t len;
        if (gojson_result(&j, &out, &len, &err) == 0)
            printf("%s\n", out);
    } else if (rc == 0 && !a.quiet) {
        table_print(&t, stdout);
    }
    gojson_free(&j);
    table_free(&t);
    free(seen.v);
    store_list_free(&sl);
    return rc == 0 ? 0 : fail(&err);
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
