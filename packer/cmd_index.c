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

#define GROUP_USAGE                                                                  \
    "usage: soci index COMMAND [options]\n\n"                                        \
    "commands:\n"                                                                     \
    "  list [--layout DIR] [oci:DIR[:TAG]]   the SOCI indexes of a layout\n"          \
    "  list --remote REGISTRY/REPO[:TAG]     the SOCI indexes a puller would find\n"  \
    "  info [--layout DIR] DIGEST            a SOCI index manifest, as JSON\n"        \
    "  rm [--layout DIR] DIGEST...|--ref TAG remove SOCI indexes from a layout\n"     \
    "'soci index COMMAND --help' for a command's options; --layout defaults to $SOCI_LAYOUT\n"

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

/* open the layout from --layout, --ref oci:..., or a leading oci: argument */
static int open_layout(struct common *c, int argc, char **argv, struct oci_layout *l, char *tag,
                       size_t tag_len, struct error *err)
{
    const char *ref_arg = NULL;

    if (c->ref && strncmp(c->ref, "oci:", 4) == 0)
        ref_arg = c->ref;
    else if (optind < argc && strncmp(argv[optind], "oci:", 4) == 0)
        ref_arg = argv[optind++];
    if (layout_from_args(c->layout, ref_arg, l, tag, tag_len, err) != 0)
        return -1;
    if (c->ref && strncmp(c->ref, "oci:", 4) != 0)
        snprintf(tag, tag_len, "%s", c->ref);
    return 0;
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

static int index_list(int argc, char **argv)
{
    static const char usage[] = "usage: soci index list [--layout DIR] [--ref TAG] [--platform P] [--json] [-q] [oci:DIR[:TAG]]\n"
                                "       soci index list --remote REGISTRY/REPO[:TAG] [--platform P] [--json] [-q] [registry options]";
    struct common c;
    struct oci_layout l;
    struct catalog cat;
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
    if (open_layout(&c, argc, argv, &l, tag, sizeof(tag), &err) != 0)
        return fail(&err);
    if (catalog_load(&l, &cat, &err) != 0) {
        layout_close(&l);
        return fail(&err);
    }
    table_init(&t, 7);
    gojson_init(&j, 2);
    gojson_begin_array(&j);
    if (!c.quiet && !c.json) {
        const char *hdr[] = {"DIGEST", "SIZE", "IMAGE REF", "PLATFORM", "MEDIA TYPE", "MANIFEST VERSION", "CREATED"};
        table_add(&t, hdr);
    }
    for (i = 0; i < cat.n; i++) {
        const struct catalog_index *ci = &cat.v[i];
        char size[32], ver[8];
        if (tag[0] && strcmp(ci->image_ref, tag) != 0)
            continue;
        if (c.platform && strcmp(ci->platform, c.platform) != 0)
            continue;
        if (c.quiet) {
            printf("%s\n", ci->digest);
            continue;
        }
        snprintf(size, sizeof(size), "%lld", (long long)ci->size);
        snprintf(ver, sizeof(ver), "v%d", ci->version);
        if (c.json) {
            gojson_begin_object(&j);
            gojson_key(&j, "digest");
            gojson_cstr(&j, ci->digest);
            gojson_key(&j, "size");
            gojson_int(&j, ci->size);
            gojson_key(&j, "imageRef");
            gojson_cstr(&j, ci->image_ref);
            gojson_key(&j, "imageManifest");
            gojson_cstr(&j, ci->image_manifest);
            gojson_key(&j, "platform");
            gojson_cstr(&j, ci->platform);
            gojson_key(&j, "mediaType");
            gojson_cstr(&j, MT_OCI_MANIFEST);
            gojson_key(&j, "manifestVersion");
            gojson_cstr(&j, ver);
            gojson_key(&j, "buildTool");
            gojson_cstr(&j, ci->ix.build_tool);
            gojson_key(&j, "ztocs");
            gojson_int(&j, (int64_t)ci->ix.nztocs);
            gojson_end_object(&j);
        } else {
            const char *row[] = {ci->digest, size, ci->image_ref, ci->platform, MT_OCI_MANIFEST, ver, "n/a"};
            table_add(&t, row);
        }
    }
    gojson_end_array(&j);
    if (c.json) {
        const char *out;
        size_t len;
        if (gojson_result(&j, &out, &len, &err) == 0)
            printf("%s\n", out);
    } else if (!c.quiet) {
        table_print(&t, stdout);
    }
    gojson_free(&j);
    table_free(&t);
    catalog_release(&cat);
    layout_close(&l);
    return 0;
}

static int index_info(int argc, char **argv)
{
    static const char usage[] = "usage: soci index info [--layout DIR] [oci:DIR] DIGEST";
    struct common c;
    struct oci_layout l;
    struct catalog cat;
    const struct catalog_index *ci;
    struct error err;
    char tag[512], *pretty;
    uint8_t *buf;
    size_t len, plen;
    int rc;

    if ((rc = parse_common(argc, argv, &c, usage)) != 0)
        return rc == 1 ? 0 : rc;
    if (open_layout(&c, argc, argv, &l, tag, sizeof(tag), &err) != 0)
        return fail(&err);
    if (argc - optind != 1) {
        layout_close(&l);
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    if (catalog_load(&l, &cat, &err) != 0) {
        layout_close(&l);
        return fail(&err);
    }
    ci = catalog_find_index(&cat, argv[optind]);
    if (ci == NULL) {
        if (catalog_find_ztoc(&cat, argv[optind], NULL))
            error_set(&err, "the provided digest belongs to a ztoc. Use `soci ztoc info` to get the detailed information about it");
        else
            error_set(&err, "no SOCI index %s in %s", argv[optind], l.dir);
        goto fail;
    }
    if (layout_read_blob(&l, ci->digest, ci->size, LAYOUT_MAX_JSON, &buf, &len, &err) != 0)
        goto fail;
    if (gojson_reindent((const char *)buf, len, 2, &pretty, &plen, &err) != 0) {
        free(buf);
        goto fail;
    }
    printf("%s\n", pretty);
    free(pretty);
    free(buf);
    catalog_release(&cat);
    layout_close(&l);
    return 0;
fail:
    catalog_release(&cat);
    layout_close(&l);
    return fail(&err);
}

/* is blob `digest` used by an index other than those being removed? */
static int still_used(const struct catalog *cat, const char *digest, char **removing, size_t nremoving)
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

static int index_rm(int argc, char **argv)
{
    static const char usage[] = "usage: soci index rm [--layout DIR] [oci:DIR] (DIGEST... | --ref TAG)";
    struct common c;
    struct oci_layout l;
    struct catalog cat;
    struct error err;
    char tag[512], **removing = NULL, path[4096];
    size_t nremoving = 0, i, k;
    json_t *index = NULL, *mans, *m;
    int rc;

    if ((rc = parse_common(argc, argv, &c, usage)) != 0)
        return rc == 1 ? 0 : rc;
    if (open_layout(&c, argc, argv, &l, tag, sizeof(tag), &err) != 0)
        return fail(&err);
    if ((optind == argc) == (tag[0] == '\0')) {
        layout_close(&l);
        fprintf(stderr, "soci: give either index digests or --ref, not both\n%s\n", usage);
        return 2;
    }
    if (layout_lock(&l, &err) != 0 || catalog_load(&l, &cat, &err) != 0) {
        layout_close(&l);
        return fail(&err);
    }
    removing = calloc((size_t)argc + cat.n + 1, sizeof(*removing));
    if (removing == NULL) {
        error_set(&err, "out of memory");
        goto fail;
    }
    for (i = (size_t)optind; i < (size_t)argc; i++) {
        const struct catalog_index *ci = catalog_find_index(&cat, argv[i]);
        if (ci == NULL) {
            error_set(&err, "no SOCI index %s in %s", argv[i], l.dir);
            goto fail;
        }
        removing[nremoving++] = argv[i];
    }
    if (tag[0])
        for (i = 0; i < cat.n; i++)
            if (strcmp(cat.v[i].image_ref, tag) == 0)
                removing[nremoving++] = cat.v[i].digest;
    for (i = 0; i < nremoving; i++) {
        const struct catalog_index *ci = catalog_find_index(&cat, removing[i]);
        if (ci->version == 2) {
            error_set(&err, "%s is a SOCI index v2, part of the converted image %s; convert the image again instead",
                      ci->digest, ci->parent_index);
            goto fail;
        }
    }
    if (layout_read_index(&l, &index, &err) != 0)
        goto fail;
    mans = json_object_get(index, "manifests");
    for (k = json_array_size(mans); k-- > 0;) {
        const char *d;
        m = json_array_get(mans, k);
        d = json_string_value(json_object_get(m, "digest"));
        for (i = 0; d && i < nremoving; i++)
            if (strcmp(d, removing[i]) == 0)
                json_array_remove(mans, k);
    }
    if (layout_write_index(&l, index, &err) != 0)
        goto fail;
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
    json_decref(index);
    free(removing);
    catalog_release(&cat);
    layout_close(&l);
    return 0;
fail:
    json_decref(index);
    free(removing);
    catalog_release(&cat);
    layout_close(&l);
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
