/* cmd_prefetch.c -- soci prefetch list | info: the prefetch artifacts of a layout
 *
 *   soci prefetch list [--layout DIR] [--json] [oci:DIR[:TAG]]
 *   soci prefetch info [--layout DIR] [--json] [oci:DIR] DIGEST
 *
 * Upstream's shapes (a table DIGEST / LAYER DIGEST / SPANS / CREATED, or a
 * JSON array of {Digest, LayerDigest, TotalSpans, CreatedAt}; info as a text
 * summary or the artifact itself, indented), read from the SOCI indexes of
 * an OCI layout.  A layout keeps no artifact database, so CREATED is when
 * the blob was written (its mtime).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "cli.h"
#include "commands.h"
#include "gojson.h"
#include "gotime.h"
#include "oci_layout.h"
#include "prefetch.h"
#include "table.h"

#define LIST_USAGE "usage: soci prefetch list [--layout DIR] [--json] [oci:DIR[:TAG]]"
#define INFO_USAGE "usage: soci prefetch info [--layout DIR] [--json] [oci:DIR] DIGEST"
#define GROUP_USAGE                                                                       \
    "usage: soci prefetch COMMAND [options]\n\n"                                          \
    "commands:\n"                                                                          \
    "  list [--layout DIR] [--json] [oci:DIR[:TAG]]   the prefetch artifacts of a layout\n" \
    "  info [--layout DIR] [--json] DIGEST            one artifact: its span ranges\n"     \
    "'soci prefetch COMMAND --help' for a command's options; --layout defaults to $SOCI_LAYOUT\n"

struct pf_args {
    const char *layout;
    int json;
};

static int fail(const struct error *err)
{
    fprintf(stderr, "soci: %s\n", err->msg);
    return 1;
}

/* 0: parsed; 1: --help printed; 2: a bad option, said in one line */
static int parse_args(int argc, char **argv, struct pf_args *a, const char *usage)
{
    static const struct option opts[] = {
        {"layout", required_argument, NULL, 'L'},
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char cmd[64];
    int c;

    snprintf(cmd, sizeof(cmd), "soci prefetch %s", argv[0]);
    memset(a, 0, sizeof(*a));
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'L': a->layout = optarg; break;
        case 'J': a->json = 1; break;
        case 'h': printf("%s\n", usage); return 1;
        default: return cli_bad_option(cmd, c, argv, optind);
        }
    }
    return 0;
}

/* the layout: an oci:DIR[:TAG] argument (consumed), --layout, $SOCI_LAYOUT */
static int open_layout(const struct pf_args *a, int argc, char **argv, struct oci_layout *l, char *tag,
                       size_t tag_len, struct error *err)
{
    char dir[4096];
    const char *d = a->layout;

    tag[0] = '\0';
    if (optind < argc && strncmp(argv[optind], "oci:", 4) == 0) {
        RETURN_ERROR_IF(layout_ref_parse(argv[optind], dir, sizeof(dir), tag, tag_len) != 0, err,
                        "\"%s\" is not of the form oci:DIR[:TAG]", argv[optind]);
        optind++;
        d = dir;
    }
    if (d == NULL)
        d = getenv("SOCI_LAYOUT");
    RETURN_ERROR_IF(d == NULL, err, "no layout given: use --layout DIR (or SOCI_LAYOUT=DIR)");
    return layout_open(l, d, 0, err);
}

/* the blob's mtime, as Go prints a time; "" when it cannot be read */
static void created_at(const struct oci_layout *l, const char *digest, char out[GOTIME_MAX])
{
    char path[4200];
    struct stat st;
    size_t n = 0;

    layout_blob_path(l, digest, path, sizeof(path));
    if (stat(path, &st) == 0)
        n = gotime_format((int64_t)st.st_mtim.tv_sec, 0, out);
    out[n] = '\0';
}

/* the artifact's bytes (digest-checked) and its decoded ranges */
static int load_artifact(const struct oci_layout *l, const struct soci_prefetch_ref *r, uint8_t **bytes,
                         size_t *len, struct prefetch_artifact *a, struct error *err)
{
    if (layout_read_blob(l, r->digest, r->size, PREFETCH_MAX_BYTES, bytes, len, err) != 0)
        return -1;
    if (prefetch_decode(*bytes, *len, a, err) != 0) {
        free(*bytes);
        *bytes = NULL;
        return error_prefix(err, "%s", r->digest);
    }
    return 0;
}

/* is the artifact of index i, entry k, listed by an earlier entry? */
static int seen_before(const struct catalog *cat, size_t i, size_t k, const char *tag)
{
    const char *digest = cat->v[i].ix.prefetch[k].digest;
    size_t m, q;

    for (m = 0; m <= i; m++) {
        if (tag[0] && strcmp(cat->v[m].image_ref, tag) != 0)
            continue;
        for (q = 0; q < (m == i ? k : cat->v[m].ix.nprefetch); q++)
            if (strcmp(cat->v[m].ix.prefetch[q].digest, digest) == 0)
                return 1;
    }
    return 0;
}

static int prefetch_list(int argc, char **argv)
{
    struct pf_args a;
    struct oci_layout l;
    struct catalog cat;
    struct error err;
    struct table t;
    struct gojson j;
    char tag[512];
    size_t i, k;
    int rc;

    if ((rc = parse_args(argc, argv, &a, LIST_USAGE)) != 0)
        return rc == 1 ? 0 : rc;
    if (open_layout(&a, argc, argv, &l, tag, sizeof(tag), &err) != 0)
        return fail(&err);
    if (optind != argc) {
        layout_close(&l);
        return cli_bad_args("soci prefetch list", "want no argument but oci:DIR[:TAG]");
    }
    if (catalog_load(&l, &cat, &err) != 0) {
        layout_close(&l);
        return fail(&err);
    }
    table_init(&t, 4);
    gojson_init(&j, 2);
    gojson_begin_array(&j);
    if (!a.json) {
        const char *hdr[] = {"DIGEST", "LAYER DIGEST", "SPANS", "CREATED"};
        table_add(&t, hdr);
    }
    for (i = 0; i < cat.n; i++) {
        if (tag[0] && strcmp(cat.v[i].image_ref, tag) != 0)
            continue;
        for (k = 0; k < cat.v[i].ix.nprefetch; k++) {
            const struct soci_prefetch_ref *r = &cat.v[i].ix.prefetch[k];
            struct prefetch_artifact art;
            struct error e2;
            uint8_t *bytes = NULL;
            size_t len;
            char spans[32], created[GOTIME_MAX];
            int64_t total = -1;
            if (seen_before(&cat, i, k, tag))
                continue;
            if (load_artifact(&l, r, &bytes, &len, &art, &e2) == 0) {
                total = prefetch_total_spans(&art);
                prefetch_release(&art);
                free(bytes);
            }
            created_at(&l, r->digest, created);
            if (a.json) {
                gojson_begin_object(&j);
                gojson_key(&j, "Digest");
                gojson_cstr(&j, r->digest);
                gojson_key(&j, "LayerDigest");
                gojson_cstr(&j, r->layer_digest);
                gojson_key(&j, "TotalSpans");
                gojson_int(&j, total < 0 ? 0 : total);
                gojson_key(&j, "CreatedAt");
                gojson_cstr(&j, created);
                gojson_end_object(&j);
            } else {
                const char *row[] = {r->digest, r->layer_digest, spans, created};
                if (total < 0)
                    snprintf(spans, sizeof(spans), "N/A");
                else
                    snprintf(spans, sizeof(spans), "%lld", (long long)total);
                table_add(&t, row);
            }
        }
    }
    gojson_end_array(&j);
    rc = 0;
    if (a.json) {
        const char *out;
        size_t len;
        if (gojson_result(&j, &out, &len, &err) == 0)
            printf("%s\n", out);
        else
            rc = fail(&err);
    } else {
        table_print(&t, stdout);
    }
    gojson_free(&j);
    table_free(&t);
    catalog_release(&cat);
    layout_close(&l);
    return rc == 0 && fflush(stdout) == 0 ? 0 : 1;
}

static int prefetch_info(int argc, char **argv)
{
    struct pf_args a;
    struct oci_layout l;
    struct catalog cat;
    const struct soci_prefetch_ref *r = NULL;
    struct prefetch_artifact art;
    struct error err;
    char tag[512], created[GOTIME_MAX];
    uint8_t *bytes = NULL;
    size_t len, i, k;
    int rc;

    if ((rc = parse_args(argc, argv, &a, INFO_USAGE)) != 0)
        return rc == 1 ? 0 : rc;
    if (open_layout(&a, argc, argv, &l, tag, sizeof(tag), &err) != 0)
        return fail(&err);
    if (argc - optind != 1) {
        layout_close(&l);
        return cli_bad_args("soci prefetch info", "want one prefetch artifact digest");
    }
    if (catalog_load(&l, &cat, &err) != 0) {
        layout_close(&l);
        return fail(&err);
    }
    for (i = 0; i < cat.n && r == NULL; i++)
        for (k = 0; k < cat.v[i].ix.nprefetch && r == NULL; k++)
            if (strcmp(cat.v[i].ix.prefetch[k].digest, argv[optind]) == 0)
                r = &cat.v[i].ix.prefetch[k];
    if (r == NULL) {
        error_set(&err, "no SOCI index in %s names a prefetch artifact %s", l.dir, argv[optind]);
        goto fail;
    }
    if (load_artifact(&l, r, &bytes, &len, &art, &err) != 0)
        goto fail;
    if (a.json) {
        char *pretty;
        size_t plen;
        rc = gojson_reindent((const char *)bytes, len, 2, &pretty, &plen, &err);
        if (rc == 0) {
            printf("%s\n", pretty);
            free(pretty);
        }
    } else {
        created_at(&l, r->digest, created);
        printf("Digest: %s\nVersion: %s\nSpan Ranges: %zu\nLayer Digest: %s\nSize: %lld\nCreated: %s\n\n", r->digest,
               PREFETCH_VERSION, art.nranges, r->layer_digest, (long long)r->size, created);
        for (i = 0; i < art.nranges; i++) {
            printf("  Range %zu: spans %d-%d", i + 1, art.ranges[i].start_span, art.ranges[i].end_span);
            if (art.ranges[i].priority)
                printf(" (priority %d)", art.ranges[i].priority);
            printf("\n");
        }
    }
    prefetch_release(&art);
    free(bytes);
    catalog_release(&cat);
    layout_close(&l);
    if (rc != 0)
        return fail(&err);
    return fflush(stdout) == 0 ? 0 : 1;
fail:
    catalog_release(&cat);
    layout_close(&l);
    return fail(&err);
}

int cmd_prefetch(int argc, char **argv)
{
    if (argc < 2)
        return cli_bad_args("soci prefetch", "want a command: list, info");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        printf("%s", GROUP_USAGE);
        return 0;
    }
    if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)
        return prefetch_list(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0)
        return prefetch_info(argc - 1, argv + 1);
    fprintf(stderr, "soci prefetch: unknown command \"%s\"; see 'soci prefetch --help'\n", argv[1]);
    return 2;
}
