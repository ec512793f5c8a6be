/* cmd_index.c -- soci index list | info | rm, on an OCI layout */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "cli.h"
#include "commands.h"
#include "digest.h"
#include "gojson.h"
#include "layout_arg.h"
#include "oci.h"
#include "pack.h"
#include "table.h"
#include "discover.h"
#include "image_resolve.h"
#include "reg_cli.h"
#include "registry.h"
#include "remote_source.h"
#include "store.h"

#define GROUP_USAGE                                                                  \
    "usage: soci index COMMAND [options]\n\n"                                        \
    "commands:\n"                                                                     \
    "  list [--layout DIR] [oci:DIR[:TAG]]   the SOCI indexes of a layout, or of the store\n" \
    "  list --remote REGISTRY/REPO[:TAG]     the SOCI indexes a puller would find\n"  \
    "  info [--layout DIR] DIGEST            a SOCI index manifest, as JSON\n"        \
    "  rm [--layout DIR] DIGEST...|--ref TAG remove SOCI indexes from a layout\n"     \
    "'soci index COMMAND --help' for a command's options.  --layout defaults to $SOCI_LAYOUT;\n" \
    "without either, the commands work on every layout of the store (soci --root DIR, $SOCI_ROOT)\n"

static int fail(const struct error *err)
{
    fprintf(stderr, "soci: %s\n", err->msg);
    return 1;
}

static const struct option common_opts[] = {
    REG_CLI_LONG_OPTIONS,
    {"remote", required_argument, NULL, 'R'},
    {"all-platforms", no_argument, NULL, 'a'},
    {"layout", required_argument, NULL, 'L'},
    {"ref", required_argument, NULL, 'r'},
    {"platform", required_argument, NULL, 'p'},
    {"json", no_argument, NULL, 'J'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct common {
    const char *layout, *ref, *platform, *remote;
    int json, quiet, all_platforms;
    struct reg_cli reg;
};

static int parse_common(int argc, char **argv, struct common *c, const char *usage)
{
    int ch;
    char cmd[64];

    snprintf(cmd, sizeof(cmd), "soci index %s", argv[0]);
    memset(c, 0, sizeof(*c));
    reg_cli_init(&c->reg);
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":qhp:r:", common_opts, NULL)) != -1) {
        if (reg_cli_option(&c->reg, ch, optarg))
            continue;
        switch (ch) {
        case 'R': c->remote = optarg; break;
        case 'a': c->all_platforms = 1; break;
        case 'L': c->layout = optarg; break;
        case 'r': c->ref = optarg; break;
        case 'p': c->platform = optarg; break;
        case 'J': c->json = 1; break;
        case 'q': c->quiet = 1; break;
        case 'h': printf("%s\n", usage); return 1;
        default: return cli_bad_option(cmd, ch, argv, optind);
        }
    }
    return 0;
}

/* the layouts from --layout, --ref, a leading oci: argument, SOCI_LAYOUT, or the store */
static int open_layouts(struct common *c, int argc, char **argv, struct store_list *sl, char *tag, size_t tag_len,
                        struct error *err)
{
    const char *ref_arg = NULL, *ref_opt = c->ref;

    if (c->ref && strncmp(c->ref, "oci:", 4) == 0) {
        ref_arg = c->ref;
        ref_opt = NULL;
    } else if (optind < argc && strncmp(argv[optind], "oci:", 4) == 0) {
        ref_arg = argv[optind++];
    }
    return layouts_from_args(c->layout, ref_arg, ref_opt, sl, tag, tag_len, err);
}

/* soci index list --remote REGISTRY/REPO:TAG: what a puller would find */
static int index_list_remote(struct common *c)
{
    struct reg_ref r;
    struct reg_client *client = NULL;
    struct resolved_set set;
    struct remote_target target;
    struct platform_sel sel;
    struct error err;
    struct table t;
    struct gojson j;
    size_t i, k;
    int status = 1, have_set = 0;

    memset(&sel, 0, sizeof(sel));
    memset(&target, 0, sizeof(target));
    if (c->all_platforms || !c->platform)
        sel.all = 1;
    else if (platform_sel_add(&sel, c->platform, &err) != 0)
        goto out;
    if (reg_ref_parse(c->remote, &r, &err) != 0 || reg_cli_finish(&c->reg, &err) != 0)
        goto out;
    client = reg_cli_client(&c->reg, r.host, &err);
    if (client == NULL || reg_ping(client, &err) != 0 || remote_resolve(client, &r, &sel, &set, &target, &err) != 0)
        goto out;
    have_set = 1;
    table_init(&t, 6);
    gojson_init(&j, 2);
    gojson_begin_array(&j);
    if (!c->quiet && !c->json) {
        const char *hdr[] = {"DIGEST", "SIZE", "PLATFORM", "IMAGE MANIFEST", "MANIFEST VERSION", "FOUND VIA"};
        table_add(&t, hdr);
    }
    for (i = 0; i < set.nimages; i++) {
        const struct resolved_image *im = &set.images[i];
        struct found_index found[32];
        size_t nf;
        char plat[128] = "";
        if (im->has_platform)
            oci_platform_format(&im->platform, plat, sizeof(plat));
        if (soci_discover(client, r.repo, im->manifest_digest, im->manifest_bytes, im->manifest_len, found, 32, &nf,
                          &err) != 0) {
            gojson_free(&j);
            table_free(&t);
            goto out;
        }
        for (k = 0; k < nf; k++) {
            char size[32], ver[8];
            if (c->quiet) {
                printf("%s\n", found[k].digest);
                continue;
            }
            snprintf(size, sizeof(size), found[k].size >= 0 ? "%lld" : "-", found[k].size);
            snprintf(ver, sizeof(ver), "v%d", found[k].version);
            if (c->json) {
                gojson_begin_object(&j);
                gojson_key(&j, "digest");
                gojson_cstr(&j, found[k].digest);
                gojson_key(&j, "size");
                gojson_int(&j, found[k].size);
                gojson_key(&j, "platform");
                gojson_cstr(&j, plat);
                gojson_key(&j, "imageManifest");
                gojson_cstr(&j, im->manifest_digest);
                gojson_key(&j, "manifestVersion");
                gojson_cstr(&j, ver);
                gojson_key(&j, "foundVia");
                gojson_cstr(&j, found_via_name(found[k].via));
                gojson_end_object(&j);
            } else {
                const char *row[] = {found[k].digest, size, plat, im->manifest_digest, ver,
                                     found_via_name(found[k].via)};
                table_add(&t, row);
            }
        }
    }
    gojson_end_array(&j);
    if (c->json) {
        const char *out;
        size_t len;
        if (gojson_result(&j, &out, &len, &err) == 0)
            printf("%s\n", out);
    } else if (!c->quiet) {
        table_print(&t, stdout);
    }
    gojson_free(&j);
    table_free(&t);
    status = 0;
out:
    if (status != 0)
        fprintf(stderr, "soci: %s\n", err.msg);
    if (have_set)
        resolved_set_release(&set);
    remote_target_release(&target);
    reg_client_free(client);
    return status;
}

/* one catalog's indexes as rows of the list */
static void list_catalog(const struct common *c, const struct store_layout *e, const struct catalog *cat,
                         const char *tag, struct table *t, struct gojson *j)
{
    size_t i;

    for (i = 0; i < cat->n; i++) {
        const struct catalog_index *ci = &cat->v[i];
        char size[32], ver[8], ref[1400];
        if (tag[0] && strcmp(ci->image_ref, tag) != 0)
            continue;
        if (c->platform && strcmp(ci->platform, c->platform) != 0)
            continue;
        if (c->quiet) {
            printf("%s\n", ci->digest);
            continue;
        }
        layout_entry_ref(e, ci->image_ref, ref, sizeof(ref));
        snprintf(size, sizeof(size), "%lld", (long long)ci->size);
        snprintf(ver, sizeof(ver), "v%d", ci->version);
        if (c->json) {
            gojson_begin_object(j);
            gojson_key(j, "digest");
            gojson_cstr(j, ci->digest);
            gojson_key(j, "size");
            gojson_int(j, ci->size);
            gojson_key(j, "imageRef");
            gojson_cstr(j, ref);
            gojson_key(j, "imageManifest");
            gojson_cstr(j, ci->image_manifest);
            gojson_key(j, "platform");
            gojson_cstr(j, ci->platform);
            gojson_key(j, "mediaType");
            gojson_cstr(j, MT_OCI_MANIFEST);
            gojson_key(j, "manifestVersion");
            gojson_cstr(j, ver);
            gojson_key(j, "buildTool");
            gojson_cstr(j, ci->ix.build_tool);
            gojson_key(j, "ztocs");
            gojson_int(j, (int64_t)ci->ix.nztocs);
            gojson_end_object(j);
        } else {
            const char *row[] = {ci->digest, size, ref, ci->platform, MT_OCI_MANIFEST, ver, "n/a"};
            table_add(t, row);
        }
    }
}

static int index_list(int argc, char **argv)
{
    static const char usage[] = "usage: soci index list [--layout DIR] [--ref TAG|REGISTRY/REPO:TAG] [--platform P] [--json] [-q] [oci:DIR[:TAG]]\n"
                                "       soci index list --remote REGISTRY/REPO[:TAG] [--platform P] [--json] [-q] [registry options]\n"
                                "Without a layout (--layout, oci:DIR, SOCI_LAYOUT): every layout of the store (soci --root).";
    struct common c;
    struct store_list sl;
    struct error err;
    struct table t;
    struct gojson j;
    char tag[512];
    size_t i;
    int rc;

    if ((rc = parse_common(argc, argv, &c, usage)) != 0)
        return rc == 1 ? 0 : rc;
    if (c.remote)
        return index_list_remote(&c);
    if (open_layouts(&c, argc, argv, &sl, tag, sizeof(tag), &err) != 0)
        return fail(&err);
    if (optind != argc) {
        store_list_free(&sl);
        return cli_bad_args("soci index list", "unexpected argument");
    }
    table_init(&t, 7);
    gojson_init(&j, 2);
    gojson_begin_array(&j);
    if (!c.quiet && !c.json) {
        const char *hdr[] = {"DIGEST", "SIZE", "IMAGE REF", "PLATFORM", "MEDIA TYPE", "MANIFEST VERSION", "CREATED"};
        table_add(&t, hdr);
    }
    for (i = 0, rc = 0; i < sl.n && rc == 0; i++) {
        struct oci_layout l;
        struct catalog cat;
        if (layout_entry_open(&sl.v[i], &l, &cat, &err) != 0) {
            rc = 1;
            break;
        }
        list_catalog(&c, &sl.v[i], &cat, tag, &t, &j);
        layout_entry_close(&l, &cat);
    }
    gojson_end_array(&j);
    if (rc == 0 && c.json) {
        const char *out;
        size_t len;
        if (gojson_result(&j, &out, &len, &err) == 0)
            printf("%s\n", out);
    } else if (rc == 0 && !c.quiet) {
        table_print(&t, stdout);
    }
    gojson_free(&j);
    table_free(&t);
    store_list_free(&sl);
    return rc == 0 ? 0 : fail(&err);
}

/* where no listed layout holds digest as an index: say what it is instead */
static int not_an_index(const struct store_list *sl, const char *digest, struct error *err)
{
    size_t i;

    for (i = 0; i < sl->n; i++) {
        struct oci_layout l;
        struct catalog cat;
        struct error e2;
        int ztoc;
        if (layout_entry_open(&sl->v[i], &l, &cat, &e2) != 0)
            continue;
        ztoc = catalog_find_ztoc(&cat, digest, NULL) != NULL;
        layout_entry_close(&l, &cat);
        if (ztoc)
            return error_set(err, "the provided digest belongs to a ztoc. Use `soci ztoc info` to get the detailed information about it");
    }
    if (sl->n == 1 && sl->v[0].name == NULL)
        return error_set(err, "no SOCI index %s in %s", digest, sl->v[0].dir);
    return error_set(err, "no SOCI index %s in the store", digest);
}

static int index_info(int argc, char **argv)
{
    static const char usage[] = "usage: soci index info [--layout DIR] [oci:DIR] DIGEST\n"
                                "Without a layout: the index wherever it is in the store (soci --root).";
    struct common c;
    struct store_list sl;
    struct error err;
    char tag[512], *pretty;
    uint8_t *buf = NULL;
    size_t len = 0, plen, i;
    int rc, found = 0;

    if ((rc = parse_common(argc, argv, &c, usage)) != 0)
        return rc == 1 ? 0 : rc;
    if (open_layouts(&c, argc, argv, &sl, tag, sizeof(tag), &err) != 0)
        return fail(&err);
    if (argc - optind != 1) {
        store_list_free(&sl);
        return cli_bad_args("soci index info", "want one index digest");
    }
    for (i = 0; i < sl.n && !found; i++) {
        struct oci_layout l;
        struct catalog cat;
        const struct catalog_index *ci;
        if (layout_entry_open(&sl.v[i], &l, &cat, &err) != 0)
            goto fail;
        ci = catalog_find_index(&cat, argv[optind]);
        if (ci && layout_read_blob(&l, ci->digest, ci->size, LAYOUT_MAX_JSON, &buf, &len, &err) != 0) {
            layout_entry_close(&l, &cat);
            goto fail;
        }
        found = ci != NULL;
        layout_entry_close(&l, &cat);
    }
    if (!found) {
        not_an_index(&sl, argv[optind], &err);
        goto fail;
    }
    rc = gojson_reindent((const char *)buf, len, 2, &pretty, &plen, &err);
    free(buf);
    buf = NULL;
    if (rc != 0)
        goto fail;
    printf("%s\n", pretty);
    free(pretty);
    store_list_free(&sl);
    return 0;
fail:
    free(buf);
    store_list_free(&sl);
    return fail(&err);
}

/* is blob `digest` used by an index other than those being removed? */
static int still_used(const struct catalog *cat, const char *digest, const char **removing, size_t nremoving)
{
    size_t i, k, r;

    for (i = 0; i < cat->n; i++) {
        int removed = 0;
        for (r = 0; r < nremoving; r++)
            if (strcmp(cat->v[i].digest, removing[r]) == 0)
                removed = 1;
        if (removed)
            continue;
        if (strcmp(cat->v[i].digest, digest) == 0)
            return 1;
        for (k = 0; k < cat->v[i].ix.nztocs; k++)
            if (strcmp(cat->v[i].ix.ztocs[k].ztoc_digest, digest) == 0)
                return 1;
    }
    return 0;
}

/* remove from one layout the indexes of `digests` that it holds (every
 * one, unless some_ok) and those of images tagged `tag`; *nfound counts them */
static int rm_from_layout(const struct store_layout *e, char **digests, size_t ndigests, int some_ok,
                          const char *tag, size_t *nfound, struct error *err)
{
    struct oci_layout l;
    struct catalog cat;
    const char **removing = NULL;
    char path[4096];
    size_t nremoving = 0, i, k;
    json_t *index = NULL, *mans, *m;
    int rc = -1;

    if (layout_open(&l, e->dir, 0, err) != 0)
        return -1;
    if (layout_lock(&l, err) != 0 || catalog_load(&l, &cat, err) != 0) {
        layout_close(&l);
        return -1;
    }
    removing = calloc(ndigests + cat.n + 1, sizeof(*removing));
    if (removing == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    for (i = 0; i < ndigests; i++) {
        const struct catalog_index *ci = catalog_find_index(&cat, digests[i]);
        if (ci == NULL && some_ok)
            continue;
        if (ci == NULL) {
            error_set(err, "no SOCI index %s in %s", digests[i], l.dir);
            goto out;
        }
        removing[nremoving++] = ci->digest;
    }
    if (tag[0])
        for (i = 0; i < cat.n; i++)
            if (strcmp(cat.v[i].image_ref, tag) == 0)
                removing[nremoving++] = cat.v[i].digest;
    for (i = 0; i < nremoving; i++) {
        const struct catalog_index *ci = catalog_find_index(&cat, removing[i]);
        if (ci->version == 2) {
            error_set(err, "%s is a SOCI index v2, part of the converted image %s; convert the image again instead",
                      ci->digest, ci->parent_index);
            goto out;
        }
    }
    *nfound += nremoving;
    if (nremoving == 0) {
        rc = 0;
        goto out;
    }
    if (layout_read_index(&l, &index, err) != 0)
        goto out;
    mans = json_object_get(index, "manifests");
    for (k = json_array_size(mans); k-- > 0;) {
        const char *d;
        m = json_array_get(mans, k);
        d = json_string_value(json_object_get(m, "digest"));
        for (i = 0; d && i < nremoving; i++)
            if (strcmp(d, removing[i]) == 0) {
                json_array_remove(mans, k);
                break;
            }
    }
    if (layout_write_index(&l, index, err) != 0)
        goto out;
    /* index.json no longer names them: delete their blobs unless shared */
    for (i = 0; i < nremoving; i++) {
        const struct catalog_index *ci = catalog_find_index(&cat, removing[i]);
        for (k = 0; k < ci->ix.nztocs; k++)
            if (!still_used(&cat, ci->ix.ztocs[k].ztoc_digest, removing, nremoving)) {
                layout_blob_path(&l, ci->ix.ztocs[k].ztoc_digest, path, sizeof(path));
                unlink(path);
            }
        layout_blob_path(&l, ci->digest, path, sizeof(path));
        unlink(path);
        printf("%s\n", ci->digest);
    }
    rc = 0;
out:
    json_decref(index);
    free(removing);
    catalog_release(&cat);
    layout_close(&l);
    return rc;
}

/* does some layout of the store hold index `digest`? */
static int store_has_index(const struct store_list *sl, const char *digest, struct error *err)
{
    size_t i;
    int found = 0;

    for (i = 0; i < sl->n && !found; i++) {
        struct oci_layout l;
        struct catalog cat;
        if (layout_entry_open(&sl->v[i], &l, &cat, err) != 0)
            return -1;
        found = catalog_find_index(&cat, digest) != NULL;
        layout_entry_close(&l, &cat);
    }
    return found;
}

static int index_rm(int argc, char **argv)
{
    static const char usage[] = "usage: soci index rm [--layout DIR] [oci:DIR] (DIGEST... | --ref TAG)\n"
                                "       soci index rm (DIGEST... | --ref REGISTRY/REPO:TAG)   in the store (soci --root):\n"
                                "an index is removed from every layout of the store that holds it.";
    struct common c;
    struct store_list sl;
    struct error err;
    char tag[512];
    size_t i, nfound = 0;
    int rc, store;

    if ((rc = parse_common(argc, argv, &c, usage)) != 0)
        return rc == 1 ? 0 : rc;
    if (open_layouts(&c, argc, argv, &sl, tag, sizeof(tag), &err) != 0)
        return fail(&err);
    store = sl.n == 0 || sl.v[0].name != NULL; /* a named layout is listed without a name */
    if ((optind == argc) == (tag[0] == '\0')) {
        store_list_free(&sl);
        return cli_bad_args("soci index rm", "give either index digests or --ref, not both");
    }
    if (store && c.ref && !reg_ref_looks_remote(c.ref)) {
        store_list_free(&sl);
        return cli_bad_args("soci index rm", "in the store, --ref wants REGISTRY/REPO:TAG");
    }
    /* every digest must be somewhere before anything is removed */
    for (i = (size_t)optind; store && i < (size_t)argc; i++) {
        rc = store_has_index(&sl, argv[i], &err);
        if (rc <= 0) {
            if (rc == 0)
                error_set(&err, "no SOCI index %s in the store", argv[i]);
            goto fail;
        }
    }
    for (i = 0; i < sl.n; i++)
        if (rm_from_layout(&sl.v[i], argv + optind, (size_t)(argc - optind), store, tag, &nfound, &err) != 0)
            goto fail;
    if (store && nfound == 0 && tag[0]) {
        error_set(&err, "no SOCI index of %s in the store", c.ref);
        goto fail;
    }
    store_list_free(&sl);
    return 0;
fail:
    store_list_free(&sl);
    return fail(&err);
}

int cmd_index(int argc, char **argv)
{
    if (argc < 2)
        return cli_bad_args("soci index", "want a command: list, info, rm");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        printf("%s", GROUP_USAGE);
        return 0;
    }
    if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)
        return index_list(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0)
        return index_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "rm") == 0 || strcmp(argv[1], "remove") == 0)
        return index_rm(argc - 1, argv + 1);
    fprintf(stderr, "soci index: unknown command \"%s\"; see 'soci index --help'\n", argv[1]);
    return 2;
}
