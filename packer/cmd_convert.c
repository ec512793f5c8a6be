/* cmd_convert.c -- soci convert: a SOCI-enabled image (index v2, docs/format.md §4.5)
 *
 *   soci convert [create's options] oci:SRC[:TAG] oci:DST:TAG
 *
 * Builds a v2 SOCI index per platform, rewrites each image manifest with
 * the com.amazon.soci.index-digest annotation, and writes a new OCI image
 * index (original manifests plus the SOCI indexes) tagged DST:TAG.  SRC and
 * DST may be the same layout.  Converting a converted image again gives the
 * same digest.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "digest.h"
#include "fileio.h"
#include "gojson.h"
#include "image_resolve.h"
#include "index_opts.h"
#include "index_run.h"
#include "oci.h"
#include "oci_layout.h"
#include "pack.h"
#include "progress.h"
#include "sha256.h"
#include "strutil.h"
#include "version.h"

/* copy (hard link when possible) one blob from src to dst */
static int copy_blob(struct oci_layout *src, struct oci_layout *dst, const char *digest, struct error *err)
{
    char from[4096], to[4096];
    uint8_t *buf;
    size_t len;
    int fd;

    if (strcmp(src->dir, dst->dir) == 0 || layout_blob_exists(dst, digest, NULL))
        return 0;
    layout_blob_path(src, digest, from, sizeof(from));
    layout_blob_path(dst, digest, to, sizeof(to));
    if (link(from, to) == 0)
        return 0;
    /* a different file system: stream through a verified read */
    if (layout_open_blob(src, digest, -1, &fd, err) != 0)
        return -1;
    close(fd);
    if (layout_read_blob(src, digest, -1, (size_t)1 << 40, &buf, &len, err) != 0)
        return -1;
    if (layout_write_blob(dst, buf, len, NULL, err) != 0) {
        free(buf);
        return -1;
    }
    free(buf);
    return 0;
}

/* everything an image (manifest or index) needs, into dst */
static int copy_closure(struct oci_layout *src, struct oci_layout *dst, const char *digest, int64_t size,
                        int depth, struct error *err)
{
    uint8_t *buf;
    size_t len, i;
    json_t *doc, *v;
    struct oci_desc d;

    if (strcmp(src->dir, dst->dir) == 0)
        return 0;
    RETURN_ERROR_IF(depth > 4, err, "image indexes nested too deep");
    if (layout_read_blob(src, digest, size, LAYOUT_MAX_JSON, &buf, &len, err) != 0)
        return -1;
    if (oci_load(buf, len, &doc, err) != 0) {
        free(buf);
        return -1;
    }
    free(buf);
    if (copy_blob(src, dst, digest, err) != 0)
        goto fail;
    if (oci_kind_of(doc) == OCI_KIND_INDEX) {
        json_array_foreach(json_object_get(doc, "manifests"), i, v) {
            if (oci_desc_parse(v, &d, err) != 0)
                goto fail;
            if (!layout_blob_exists(src, d.digest, NULL))
                continue; /* partial multi-platform layouts */
            if (copy_closure(src, dst, d.digest, d.size, depth + 1, err) != 0)
                goto fail;
        }
    } else {
        if (oci_desc_parse(json_object_get(doc, "config"), &d, err) != 0 || copy_blob(src, dst, d.digest, err) != 0)
            goto fail;
        json_array_foreach(json_object_get(doc, "layers"), i, v) {
            if (oci_desc_parse(v, &d, err) != 0 || copy_blob(src, dst, d.digest, err) != 0)
                goto fail;
        }
    }
    json_decref(doc);
    return 0;
fail:
    json_decref(doc);
    return -1;
}

static int write_json_blob(struct oci_layout *l, struct gojson *j, char *digest, int64_t *size, struct error *err)
{
    const char *out;
    size_t len;

    if (gojson_result(j, &out, &len, err) != 0)
        return -1;
    *size = (int64_t)len;
    return layout_write_blob(l, out, len, digest, err);
}

static json_t *platform_json(const char *platform)
{
    struct oci_platform p;
    struct error err;
    json_t *o;

    if (platform[0] == '\0' || oci_platform_parse(platform, &p, &err) != 0)
        return NULL;
    o = json_pack("{s:s,s:s}", "architecture", p.arch, "os", p.os);
    if (o && p.variant[0])
        json_object_set_new(o, "variant", json_string(p.variant));
    return o;
}

/* rewrite one image manifest (§4.5 step 3); *desc is updated in place */
static int rewrite_manifest(struct oci_layout *src, struct oci_layout *dst, json_t *desc, const char *soci_digest,
                            char *new_digest, struct error *err)
{
    struct oci_desc d;
    uint8_t *buf;
    size_t len;
    json_t *m, *ann;
    struct gojson j;
    int64_t size;
    int rc = -1;

    if (oci_desc_parse(desc, &d, err) != 0)
        return -1;
    if (layout_read_blob(src, d.digest, d.size, LAYOUT_MAX_JSON, &buf, &len, err) != 0)
        return -1;
    if (oci_load(buf, len, &m, err) != 0) {
        free(buf);
        return -1;
    }
    free(buf);
    json_object_set_new(m, "mediaType", json_string(MT_OCI_MANIFEST));
    if (json_is_object(json_object_get(m, "config")))
        json_object_set_new(json_object_get(m, "config"), "mediaType", json_string(MT_OCI_CONFIG));
    if (soci_digest) {
        ann = json_object_get(m, "annotations");
        if (!json_is_object(ann)) {
            ann = json_object();
            json_object_set_new(m, "annotations", ann);
        }
        json_object_set_new(ann, ANN_INDEX_DIGEST, json_string(soci_digest));
    }
    gojson_init(&j, 0);
    oci_write_manifest(&j, m);
    if (write_json_blob(dst, &j, new_digest, &size, err) != 0)
        goto out;
    json_object_set_new(desc, "mediaType", json_string(MT_OCI_MANIFEST));
    json_object_set_new(desc, "digest", json_string(new_digest));
    json_object_set_new(desc, "size", json_integer(size));
    ann = json_object_get(m, "annotations");
    if (json_is_object(ann) && json_object_size(ann) > 0)
        json_object_set(desc, "annotations", ann);
    else
        json_object_del(desc, "annotations");
    rc = 0;
out:
    gojson_free(&j);
    json_decref(m);
    return rc;
}

static int tag_in_index_json(struct oci_layout *dst, const char *tag, const char *digest, int64_t size,
                             struct error *err)
{
    json_t *index, *mans, *m;
    size_t i;

    if (layout_read_index(dst, &index, err) != 0)
        return -1;
    mans = json_object_get(index, "manifests");
    for (i = json_array_size(mans); i-- > 0;) {
        const char *name;
        m = json_array_get(mans, i);
        name = json_string_value(json_object_get(json_object_get(m, "annotations"), ANN_REF_NAME));
        if (name && strcmp(name, tag) == 0)
            json_array_remove(mans, i);
    }
    json_array_append_new(mans, json_pack("{s:s,s:s,s:I,s:{s:s}}", "mediaType", MT_OCI_INDEX, "digest", digest,
                                          "size", (json_int_t)size, "annotations", ANN_REF_NAME, tag));
    if (layout_write_index(dst, index, err) != 0) {
        json_decref(index);
        return -1;
    }
    json_decref(index);
    return 0;
}

static int build_image_index(struct oci_layout *src, struct oci_layout *dst, const struct resolved_set *set,
                             struct packer *pk, const char *tag, char *out_digest, struct error *err)
{
    json_t *index = NULL, *mans, *m;
    struct gojson j;
    uint8_t *buf;
    size_t len, i, k;
    int64_t size;
    int rc = -1;

    if (strcmp(set->target_media_type, MT_OCI_INDEX) == 0 || strcmp(set->target_media_type, MT_DOCKER_LIST) == 0 ||
        set->nimages != 1 || strcmp(set->images[0].manifest_digest, set->target_digest) != 0) {
        if (layout_read_blob(src, set->target_digest, -1, LAYOUT_MAX_JSON, &buf, &len, err) != 0)
            return -1;
        if (oci_load(buf, len, &index, err) != 0) {
            free(buf);
            return -1;
        }
        free(buf);
        json_object_set_new(index, "mediaType", json_string(MT_OCI_INDEX));
    } else {
        const struct resolved_image *im = &set->images[0];
        char plat[128] = "";
        json_t *d, *pj;
        if (im->has_platform)
            oci_platform_format(&im->platform, plat, sizeof(plat));
        d = json_pack("{s:s,s:s,s:I}", "mediaType", im->manifest_media_type, "digest", im->manifest_digest,
                      "size", (json_int_t)im->manifest_size);
        pj = platform_json(plat);
        if (pj)
            json_object_set_new(d, "platform", pj);
        index = json_pack("{s:i,s:s,s:[o]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests", d);
    }
    mans = json_object_get(index, "manifests");
    RETURN_ERROR_IF(!json_is_array(mans), err, "image index has no manifests");
    /* rewrite every image manifest we have, then add the SOCI indexes */
    {
        size_t nmans = json_array_size(mans);
        json_t *added = json_array();
        for (i = 0; i < nmans; i++) {
            struct oci_desc d;
            char old_digest[80], new_digest[80], soci[80] = "";
            struct packed_index pi;
            m = json_array_get(mans, i);
            if (desc_is_soci_artifact(m) || oci_desc_parse(m, &d, err) != 0)
                continue;
            str_copy(old_digest, sizeof(old_digest), d.digest); /* m is about to change */
            if (!layout_blob_exists(src, old_digest, NULL))
                continue;
            for (k = 0; k < packer_count(pk); k++)
                if (packer_result(pk, k, &pi) == 0 && strcmp(pi.subject, old_digest) == 0)
                    str_copy(soci, sizeof(soci), pi.digest);
            if (rewrite_manifest(src, dst, m, soci[0] ? soci : NULL, new_digest, err) != 0) {
                json_decref(added);
                goto out;
            }
            for (k = 0; k < packer_count(pk); k++) {
                json_t *sd, *pj;
                if (packer_result(pk, k, &pi) != 0 || strcmp(pi.subject, old_digest) != 0)
                    continue;
                sd = json_pack("{s:s,s:s,s:I,s:{s:s},s:s}", "mediaType", MT_OCI_MANIFEST, "digest", pi.digest,
                               "size", (json_int_t)pi.size, "annotations", ANN_IMAGE_MANIFEST_DIGEST, new_digest,
                               "artifactType", SOCI_INDEX_V2);
                pj = platform_json(pi.platform);
                if (pj)
                    json_object_set_new(sd, "platform", pj);
                json_array_append_new(added, sd);
            }
        }
        /* each replaces a v2 index of the same platform, else is appended */
        json_array_foreach(added, k, m) {
            char mp[128] = "";
            struct oci_desc md;
            size_t q;
            int replaced = 0;
            if (oci_desc_parse(m, &md, err) == 0 && md.has_platform)
                oci_platform_format(&md.platform, mp, sizeof(mp));
            for (q = 0; q < json_array_size(mans); q++) {
                json_t *e = json_array_get(mans, q);
                const char *at = json_string_value(json_object_get(e, "artifactType"));
                struct oci_desc ed;
                char ep[128] = "";
                if (!at || strcmp(at, SOCI_INDEX_V2) != 0 || oci_desc_parse(e, &ed, err) != 0)
                    continue;
                if (ed.has_platform)
                    oci_platform_format(&ed.platform, ep, sizeof(ep));
                if (strcmp(ep, mp) != 0)
                    continue;
                json_array_set(mans, q, m);
                replaced = 1;
                break;
            }
            if (!replaced)
                json_array_append(mans, m);
        }
        json_decref(added);
    }
    gojson_init(&j, 0);
    oci_write_index(&j, index);
    rc = write_json_blob(dst, &j, out_digest, &size, err);
    gojson_free(&j);
    if (rc == 0)
        rc = tag_in_index_json(dst, tag, out_digest, size, err);
out:
    json_decref(index);
    return rc;
}

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        {"platform", required_argument, NULL, 'p'},
        {"all-platforms", no_argument, NULL, 'a'},
        {"optimizations", required_argument, NULL, 'O'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        INDEX_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct index_params params;
    struct pack_opts po = {0, 2, stdout, NULL, NULL, NULL};
    struct platform_sel sel;
    struct oci_layout src, dst;
    struct resolved_set set;
    struct packer *pk = NULL;
    struct progress *prog = NULL;
    struct error err;
    char sdir[4096], sref[512], ddir[4096], dref[512], digest[80];
    int c, jobs, quiet = 0, same, rc = 1;

    index_opts_init(&params, &jobs);
    memset(&sel, 0, sizeof(sel));
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":j:qhp:", opts, NULL)) != -1) {
        int known = index_opts_option(c, optarg, &params, &jobs, &err);
        if (known < 0) {
            fprintf(stderr, "soci convert: %s\n", err.msg);
            return 2;
        }
        if (known)
            continue;
        switch (c) {
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
        case 'q':
            quiet = 1;
            break;
        case 'h':
            printf("usage: soci convert [create's options] oci:SRC[:TAG] oci:DST:TAG\n");
            return 0;
        default:
            return cli_bad_option("soci convert", c, argv, optind);
        }
    }
    if (argc - optind != 2 || layout_ref_parse(argv[optind], sdir, sizeof(sdir), sref, sizeof(sref)) != 0 ||
        layout_ref_parse(argv[optind + 1], ddir, sizeof(ddir), dref, sizeof(dref)) != 0) {
        return cli_bad_args("soci convert", "want two layouts: oci:SRC[:TAG] oci:DST:TAG");
    }
    if (dref[0] == '\0' || strncmp(dref, "sha256:", 7) == 0) {
        fprintf(stderr, "soci: the destination must be tagged: oci:DIR:TAG\n");
        return 2;
    }
    if (quiet)
        po.lines = NULL;
    if (layout_open(&src, sdir, 0, &err) != 0)
        goto fail0;
    same = strcmp(sdir, ddir) == 0;
    if (layout_open(&dst, ddir, 1, &err) != 0) {
        layout_close(&src);
        goto fail0;
    }
    if (layout_lock(&dst, &err) != 0 || (!same && layout_lock(&src, &err) != 0) ||
        image_resolve(&src, sref, &sel, &set, &err) != 0)
        goto fail1;
    pk = packer_new(&dst, &po);
    prog = progress_start("soci", !quiet);
    if (pk == NULL) {
        error_set(&err, "out of memory");
    } else if (index_run(&src, &set, argv[optind], NULL, &params, jobs, prog, pk, &err) == 0 &&
               copy_closure(&src, &dst, set.target_digest, -1, 0, &err) == 0 && packer_finish(pk, &err) == 0 &&
               build_image_index(&src, &dst, &set, pk, dref, digest, &err) == 0) {
        rc = 0;
    }
    progress_stop(prog);
    if (rc == 0 && !quiet)
        printf("converted image %s -> %s:%s %s\n", argv[optind], ddir, dref, digest);
    packer_free(pk);
    resolved_set_release(&set);
    layout_close(&dst);
    layout_close(&src);
    if (rc == 0)
        return 0;
    goto fail0;
fail1:
    layout_close(&dst);
    layout_close(&src);
fail0:
    fprintf(stderr, "soci: %s\n", err.msg);
    return 1;
}
