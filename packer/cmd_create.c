/* cmd_create.c -- soci create: the whole pipeline in one process
 *
 *   soci create [--span-size N] [--min-layer-size N] [--platform P]... [--all-platforms]
 *               [--build-tool-identifier S] [-j N] [--optimizations xattr] [--force]
 *               [--quiet] oci:DIR[:TAG]
 *
 * The same library code as soci-layers | ztoc-gen | soci-pack: the same
 * records, jobs and packer, so both give byte-identical layouts.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "existing.h"
#include "image_resolve.h"
#include "index_opts.h"
#include "index_run.h"
#include "layer_index.h"
#include "layer_job.h"
#include "layers.h"
#include "layout_arg.h"
#include "oci_layout.h"
#include "pack.h"
#include "prefetch_build.h"
#include "progress.h"
#include "reg_cli.h"
#include "registry.h"
#include "remote_push.h"
#include "remote_source.h"
#include "store.h"
#include "strutil.h"
#include "version.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: soci create [options] oci:DIR[:TAG|@sha256:...]\n"
            "Build ztocs and a SOCI index (v1) for the image and store them in its layout.\n\n"
            "  --span-size N               checkpoint spacing (default 4194304)\n"
            "  --min-layer-size N          skip smaller layers (default 10485760)\n"
            "  --platform os/arch[/var]    a platform to index (repeatable; default: this host's)\n"
            "  --all-platforms             every platform of the image\n"
            "  --build-tool-identifier S   default \"" SOCI_C_BUILD_TOOL "\"\n"
            "  -j, --jobs N                layers indexed at once (default: number of CPUs)\n"
            "  --optimizations xattr       mark layers without xattrs (disable-xattrs annotation)\n"
            "  -f, --force                 rebuild ztocs that already exist\n"
            "  -q, --quiet                 no progress line, no per-layer lines\n"
            "  --prefetch-files FILE       paths (one per line) to fetch before a mount answers: a\n"
            "                              prefetch artifact per layer that holds some of them\n"
            "  --prefetch-file PATH        one such path (repeatable)\n\n"
            "For an image in a registry (soci create REGISTRY/REPO:TAG), layers stream from the\n"
            "registry through the indexer without touching the disk:\n"
            "  --layout DIR                where to keep the artifacts (default: $SOCI_LAYOUT, else the\n"
            "                              store's layout of the repository: see soci --help)\n"
            "  --push                      push the SOCI index next to the image\n"
            "  --plain-http, --insecure, --user U[:P], --password-stdin, --verbose\n");
}

static int create_remote(const char *arg, const char *layout_dir, int push, struct reg_cli *rc_opts,
                         const struct platform_sel *sel, const struct index_params *params, int jobs, int force,
                         int quiet, struct pack_opts *po)
{
    struct reg_ref r;
    struct reg_client *client = NULL;
    struct resolved_set set;
    struct remote_target target;
    struct oci_layout l;
    struct existing_set *existing = NULL;
    struct packer *pk = NULL;
    struct progress *prog = NULL;
    struct error err;
    char dir[4096], tag[300];
    int status = 1, have_set = 0, have_layout = 0;
    size_t k;

    memset(&target, 0, sizeof(target));
    if (layout_dir == NULL && layout_named(NULL, NULL))
        layout_dir = getenv("SOCI_LAYOUT");
    if (reg_ref_parse(arg, &r, &err) != 0 || reg_cli_finish(rc_opts, &err) != 0)
        goto out;
    /* a store that cannot take the artifacts fails before any download */
    if (layout_dir)
        str_copy(dir, sizeof(dir), layout_dir);
    else if (store_check_root(1, &err) != 0)
        goto out;
    str_copy(tag, sizeof(tag), r.tag[0] ? r.tag : r.digest);
    remote_source_bounds(&rc_opts->opts);
    client = reg_cli_client(rc_opts, r.host, &err);
    if (client == NULL || reg_ping(client, &err) != 0)
        goto out;
    if (remote_resolve(client, &r, sel, &set, &target, &err) != 0)
        goto out;
    have_set = 1;
    if (layout_dir ? layout_open(&l, dir, 1, &err) : store_open_layout(&r, 1, &l, dir, sizeof(dir), &err))
        goto out;
    have_layout = 1;
    if (layout_lock(&l, &err) != 0)
        goto out;
    if (!force)
        existing = existing_scan(&l);
    if (quiet)
        po->lines = NULL;
    else if (isatty(STDERR_FILENO))
        po->notes = stderr;
    pk = packer_new(&l, po);
    prog = progress_start("soci", !quiet);
    if (pk == NULL) {
        error_set(&err, "out of memory");
        goto out;
    }
    if (remote_index_run(client, &r, &set, arg, existing, params, jobs, prog, pk, &err) != 0)
        goto out;
    progress_stop(prog);
    prog = NULL;
    /* the image's manifests go into the layout first, so the new index
     * entry names an image the layout describes */
    if (remote_store_image(client, &r, &set, &target, &l, tag, &err) != 0 || packer_finish(pk, &err) != 0)
        goto out;
    if (push) {
        struct push_out out = {stdout, quiet, NULL};
        for (k = 0; k < packer_count(pk); k++) {
            struct packed_index pi;
            if (packer_result(pk, k, &pi) != 0 ||
                push_soci_index(client, &l, r.repo, pi.digest, pi.size, &out, &err) != 0)
                goto out;
        }
    }
    /* without --layout the index went to the store, a directory the user
     * did not name: say where (stderr, so stdout keeps upstream's lines) */
    if (!quiet && layout_dir == NULL)
        fprintf(stderr, "soci: SOCI index stored in oci:%s:%s\n", dir, tag);
    status = 0;
out:
    progress_stop(prog);
    if (status != 0)
        fprintf(stderr, "soci: %s\n", err.msg);
    packer_free(pk);
    existing_free(existing);
    if (have_layout)
        layout_close(&l);
    if (have_set)
        resolved_set_release(&set);
    remote_target_release(&target);
    reg_client_free(client);
    return status;
}

int cmd_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"platform", required_argument, NULL, 'p'},
        {"all-platforms", no_argument, NULL, 'a'},
        {"optimizations", required_argument, NULL, 'O'},
        {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"layout", required_argument, NULL, 'L'},
        {"push", no_argument, NULL, 'P'},
        {"prefetch-files", required_argument, NULL, 'X'},
        {"prefetch-file", required_argument, NULL, 'Y'},
        INDEX_LONG_OPTIONS,
        REG_CLI_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct index_params params;
    struct reg_cli rc_opts;
    const char *layout_dir = NULL;
    int push = 0;
    struct pack_opts po = {0, 1, stdout, NULL, NULL, NULL};
    static struct prefetch_paths prefetch_list;
    struct platform_sel sel;
    struct oci_layout l;
    struct resolved_set set;
    struct existing_set *existing = NULL;
    struct packer *pk = NULL;
    struct progress *prog = NULL;
    struct error err;
    char dir[4096], ref[512];
    int c, jobs, force = 0, quiet = 0, rc = 1;

    index_opts_init(&params, &jobs);
    memset(&sel, 0, sizeof(sel));
    reg_cli_init(&rc_opts);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":j:fqhp:", opts, NULL)) != -1) {
        int known = index_opts_option(c, optarg, &params, &jobs, &err);
        if (known < 0) {
            fprintf(stderr, "soci create: %s\n", err.msg);
            return 2;
        }
        if (known || reg_cli_option(&rc_opts, c, optarg))
            continue;
        switch (c) {
        case 'L':
            layout_dir = optarg;
            break;
        case 'P':
            push = 1;
            break;
        case 'X':
        case 'Y':
            /* static: lives as long as the process, whatever path it ends by */
            if ((c == 'X' ? prefetch_paths_load(&prefetch_list, optarg, &err)
                          : prefetch_paths_add(&prefetch_list, optarg, &err)) != 0) {
                fprintf(stderr, "soci: %s\n", err.msg);
                return 2;
            }
            po.prefetch = &prefetch_list;
            break;
        case 'p':
            if (platform_sel_add(&sel, optarg, &err) != 0) {
                fprintf(stderr, "soci: %s\n", err.msg);
                return 2;
            }
            break;
        case 'a':
            sel.all = 1;
            break;
        case 'O':
            if (strcmp(optarg, "xattr") != 0) {
                fprintf(stderr, "soci: unknown optimization \"%s\" (known: xattr)\n", optarg);
                return 2;
            }
            po.disable_xattrs_opt = 1;
            break;
        case 'f':
            force = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return cli_bad_option("soci create", c, argv, optind);
        }
    }
    if (argc - optind != 1)
        return cli_bad_args("soci create", "want one image: oci:DIR[:TAG] or REGISTRY/REPO[:TAG]");
    if (reg_ref_looks_remote(argv[optind]))
        return create_remote(argv[optind], layout_dir, push, &rc_opts, &sel, &params, jobs, force, quiet, &po);
    if (push) {
        fprintf(stderr, "soci: --push applies to images in a registry; for a layout use soci push\n");
        return 2;
    }
    if (layout_ref_parse(argv[optind], dir, sizeof(dir), ref, sizeof(ref)) != 0) {
        fprintf(stderr, "soci: \"%s\" is not an image reference of the form oci:DIR[:TAG]\n", argv[optind]);
        return 2;
    }
    if (quiet)
        po.lines = NULL;
    else if (isatty(STDERR_FILENO))
        po.notes = stderr;
    if (layout_open(&l, dir, 0, &err) != 0)
        goto fail;
    if (layout_lock(&l, &err) != 0 || image_resolve(&l, ref, &sel, &set, &err) != 0) {
        layout_close(&l);
        goto fail;
    }
    if (!force)
        existing = existing_scan(&l);
    pk = packer_new(&l, &po);
    prog = progress_start("soci", !quiet);
    if (pk == NULL)
        error_set(&err, "out of memory");
    else if (index_run(&l, &set, argv[optind], existing, &params, jobs, prog, pk, &err) == 0 &&
             packer_finish(pk, &err) == 0)
        rc = 0;
    progress_stop(prog);
    packer_free(pk);
    existing_free(existing);
    resolved_set_release(&set);
    layout_close(&l);
    if (rc == 0)
        return 0;
fail:
    fprintf(stderr, "soci: %s\n", err.msg);
    return 1;
}
