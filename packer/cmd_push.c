/* cmd_push.c -- soci push: an indexed image from a layout to a registry
 *
 *   soci push [--plain-http] [--insecure] [--user U[:P]] [--password-stdin]
 *             [--existing-index warn|skip|allow] [--platform P]... [--all-platforms]
 *             [--mount-from REPO] [-q] oci:DIR[:TAG] REGISTRY/REPO[:TAG]
 *   soci push [same options] [--layout DIR] REGISTRY/REPO[:TAG]
 *
 * Pushes the image first if the registry lacks it, then each platform's
 * SOCI index v1 (its blobs, then the manifest by digest, then the referrers
 * fallback tag when the registry has no referrers API).  A SOCI-enabled
 * (v2) image from `soci convert` goes up as a whole, indexes and all.
 * --mount-from names a repository of the same registry that holds the
 * image's blobs: each missing blob is mounted from it (one request, no
 * bytes) where the registry allows, else uploaded as usual.
 * With the image reference alone (upstream's form) the indexes come from
 * the layout that `soci create REGISTRY/REPO:TAG` wrote (--layout,
 * SOCI_LAYOUT, else the store's layout of the repository), and the image
 * itself must already be in the registry: only its indexes go up.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "commands.h"
#include "image_resolve.h"
#include "layout_arg.h"
#include "oci.h"
#include "oci_layout.h"
#include "reg_cli.h"
#include "registry.h"
#include "remote_push.h"
#include "store.h"
#include "strutil.h"

enum existing_mode { EXISTING_WARN, EXISTING_SKIP, EXISTING_ALLOW };

static void usage(FILE *f)
{
    fprintf(f, "usage: soci push [--plain-http] [--insecure] [--user U[:P]] [--password-stdin]\n"
               "                 [--existing-index warn|skip|allow] [--platform P]... [--all-platforms]\n"
               "                 [--mount-from REPO] [-q] oci:DIR[:TAG] REGISTRY/REPO[:TAG]\n"
               "       soci push [same options] [--layout DIR] REGISTRY/REPO[:TAG]\n"
               "The second form pushes the SOCI indexes `soci create REGISTRY/REPO[:TAG]` made, from\n"
               "--layout DIR, $SOCI_LAYOUT, or the store (soci --root); the image must be in the\n"
               "registry already.\n");
}

/* a repository name as the distribution spec allows its characters (it
 * goes into the upload URL's query) */
static int repo_name_valid(const char *s)
{
    const char *p;

    if (s[0] == '\0' || strlen(s) > 255)
        return 0;
    for (p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '/' || *p == '.' || *p == '_' ||
              *p == '-'))
            return 0;
    return 1;
}

/* is the layout's target a converted (v2) image: an index holding SOCI v2 entries? */
static int target_is_v2(struct oci_layout *l, const struct resolved_set *set)
{
    uint8_t *buf;
    size_t len, i;
    json_t *doc, *m;
    struct error err;
    int v2 = 0;

    if (layout_read_blob(l, set->target_digest, -1, LAYOUT_MAX_JSON, &buf, &len, &err) != 0)
        return 0;
    if (oci_load(buf, len, &doc, &err) == 0) {
        json_array_foreach(json_object_get(doc, "manifests"), i, m) {
            const char *at = json_string_value(json_object_get(m, "artifactType"));
            if (at && strcmp(at, SOCI_INDEX_V2) == 0)
                v2 = 1;
        }
        json_decref(doc);
    }
    free(buf);
    return v2;
}

int cmd_push(int argc, char **argv)
{
    static const struct option opts[] = {
        REG_CLI_LONG_OPTIONS,
        {"existing-index", required_argument, NULL, 'e'},
        {"platform", required_argument, NULL, 'p'},
        {"all-platforms", no_argument, NULL, 'a'},
        {"mount-from", required_argument, NULL, 'm'},
        {"layout", required_argument, NULL, 'L'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct reg_cli rc;
    struct platform_sel sel;
    struct oci_layout l;
    struct resolved_set set;
    struct catalog cat;
    struct reg_ref ref;
    struct reg_client *c = NULL;
    struct push_out out = {stdout, 0, NULL};
    struct error err;
    enum existing_mode mode = EXISTING_WARN;
    const char *layout_dir = NULL;
    char dir[4096], tag[512];
    int ch, status = 1, have_set = 0, have_cat = 0, pushed = 0, by_ref, rc_open, v2;
    size_t i, k;

    reg_cli_init(&rc);
    memset(&sel, 0, sizeof(sel));
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":qhp:u:", opts, NULL)) != -1) {
        if (reg_cli_option(&rc, ch, optarg))
            continue;
        switch (ch) {
        case 'u':
            reg_cli_option(&rc, REGOPT_USER, optarg);
            break;
        case 'e':
            if (strcmp(optarg, "warn") == 0)
                mode = EXISTING_WARN;
            else if (strcmp(optarg, "skip") == 0)
                mode = EXISTING_SKIP;
            else if (strcmp(optarg, "allow") == 0)
                mode = EXISTING_ALLOW;
            else {
                fprintf(stderr, "soci: --existing-index must be warn, skip or allow\n");
                return 2;
            }
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
        case 'm':
            if (!repo_name_valid(optarg)) {
                fprintf(stderr, "soci: --mount-from wants a repository name (lowercase letters, digits and . _ - /)\n");
                return 2;
            }
            out.mount_from = optarg;
            break;
        case 'L':
            layout_dir = optarg;
            break;
        case 'q':
            out.quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return cli_bad_option("soci push", ch, argv, optind);
        }
    }
    /* one argument: the image's reference, its indexes from create's layout */
    by_ref = argc - optind == 1 && reg_ref_looks_remote(argv[optind]);
    if (!by_ref && (argc - optind != 2 || layout_dir ||
                    layout_ref_parse(argv[optind], dir, sizeof(dir), tag, sizeof(tag)) != 0))
        return cli_bad_args("soci push", "want REGISTRY/REPO[:TAG], or oci:DIR[:TAG] REGISTRY/REPO[:TAG]");
    if (reg_ref_parse(argv[argc - 1], &ref, &err) != 0 || reg_cli_finish(&rc, &err) != 0) {
        fprintf(stderr, "soci: %s\n", err.msg);
        return 2;
    }
    if (by_ref) {
        if (layout_dir == NULL && layout_named(NULL, NULL))
            layout_dir = getenv("SOCI_LAYOUT");
        str_copy(tag, sizeof(tag), ref.tag[0] ? ref.tag : ref.digest);
        rc_open = layout_dir ? layout_open(&l, layout_dir, 0, &err)
                             : store_open_layout(&ref, 0, &l, dir, sizeof(dir), &err);
    } else {
        rc_open = layout_open(&l, dir, 0, &err);
    }
    if (rc_open != 0) {
        fprintf(stderr, "soci: %s\n", err.msg);
        return 1;
    }
    if (image_resolve(&l, tag, &sel, &set, &err) != 0)
        goto done;
    have_set = 1;
    c = reg_cli_client(&rc, ref.host, &err);
    if (c == NULL || reg_ping(c, &err) != 0)
        goto done;
    v2 = target_is_v2(&l, &set);
    if (by_ref && !v2) {
        /* as upstream: the image is the registry's already; its layers need not be here */
        int found;
        if (reg_manifest_head(c, ref.repo, set.target_digest, NULL, 0, NULL, NULL, &found, &err) != 0)
            goto done;
        if (!found) {
            error_set(&err, "%s/%s has no image %s: push the image first (soci push pushes only its SOCI indexes)",
                      ref.host, ref.repo, set.target_digest);
            goto done;
        }
    } else if (push_image_closure(c, &l, ref.repo, set.target_digest, -1, ref.digest[0] ? NULL : ref.tag, &out,
                                  &err) != 0) {
        /* the image first, tagged as asked, when the registry lacks it */
        goto done;
    }
    if (v2) {
        if (!out.quiet)
            printf("pushed the SOCI-enabled (v2) image with its indexes: %s\n", set.target_digest);
        status = 0;
        goto done;
    }
    if (catalog_load(&l, &cat, &err) != 0)
        goto done;
    have_cat = 1;
    for (i = 0; i < set.nimages; i++) {
        const struct resolved_image *im = &set.images[i];
        const struct catalog_index *found = NULL;
        char plat[128] = "";
        if (im->has_platform)
            oci_platform_format(&im->platform, plat, sizeof(plat));
        for (k = 0; k < cat.n; k++)
            if (cat.v[k].version == 1 && strcmp(cat.v[k].image_manifest, im->manifest_digest) == 0)
                found = &cat.v[k];
        if (found == NULL) {
            error_set(&err, "could not find any soci index manifest v1 to push for platform %s (run soci create)",
                      plat[0] ? plat : im->manifest_digest);
            goto done;
        }
        if (mode != EXISTING_ALLOW) {
            char have[16][80];
            size_t n;
            int via_api, listed = 0;
            if (remote_soci_referrers(c, ref.repo, im->manifest_digest, have, 16, &n, &via_api, &err) != 0)
                goto done;
            for (k = 0; k < n; k++)
                if (strcmp(have[k], found->digest) == 0)
                    listed = 1;
            if (n > 0 && mode == EXISTING_SKIP) {
                if (!out.quiet)
                    printf("soci index for %s already exists in %s; skipping (--existing-index skip)\n",
                           plat[0] ? plat : im->manifest_digest, ref.repo);
                continue;
            }
            if (n > 0 && !listed)
                fprintf(stderr, "[WARN] a SOCI index already exists for %s in %s; pushing another one "
                                "(--existing-index skip to avoid this)\n",
                        plat[0] ? plat : im->manifest_digest, ref.repo);
        }
        if (push_soci_index(c, &l, ref.repo, found->digest, found->size, &out, &err) != 0)
            goto done;
        pushed++;
    }
    status = 0;
done:
    if (status != 0)
        fprintf(stderr, "soci: %s\n", err.msg);
    if (have_cat)
        catalog_release(&cat);
    if (have_set)
        resolved_set_release(&set);
    reg_client_free(c);
    layout_close(&l);
    memset(&rc, 0, sizeof(rc));
    return status;
}
