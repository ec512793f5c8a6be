/* ztoc_locate.c -- images, layers and ztocs for the mounter (see ztoc_locate.h) */
#include "ztoc_locate.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "digest.h"
#include "discover.h"
#include "log.h"
#include "oci.h"
#include "prefetch.h"
#include "remote_image.h"
#include "sha256.h"
#include "soci_index.h"
#include "strutil.h"

#define MAX_ZTOC ((size_t)1 << 30)
#define MAX_CONFIG ((size_t)8 << 20)

static int fill_layers(struct located_image *out, const struct resolved_image *im, struct error *err)
{
    size_t i;

    out->layers = calloc(im->nlayers + 1, sizeof(*out->layers));
    RETURN_ERROR_IF(out->layers == NULL, err, "out of memory");
    out->nlayers = im->nlayers;
    str_copy(out->manifest_digest, sizeof(out->manifest_digest), im->manifest_digest);
    for (i = 0; i < im->nlayers; i++) {
        str_copy(out->layers[i].digest, sizeof(out->layers[i].digest), im->layers[i].digest);
        str_copy(out->layers[i].media_type, sizeof(out->layers[i].media_type), im->layers[i].media_type);
        out->layers[i].size = im->layers[i].size;
    }
    return 0;
}

/* the image config's rootfs.diff_ids, one per layer in order: what an
 * unpacked layer's tar must hash to */
static int attach_diff_ids(struct located_image *out, const uint8_t *config, size_t len, struct error *err)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)config, len, 0, &je);
    json_t *ids = json_object_get(json_object_get(root, "rootfs"), "diff_ids");
    size_t i;
    int rc = 0;

    RETURN_ERROR_IF(root == NULL, err, "image config: %s", je.text);
    if (!json_is_array(ids) || json_array_size(ids) != out->nlayers) {
        rc = error_set(err, "image config: rootfs.diff_ids has %zu entries for %zu layers",
                       json_is_array(ids) ? json_array_size(ids) : 0, out->nlayers);
    }
    for (i = 0; rc == 0 && i < out->nlayers; i++) {
        const char *d = json_string_value(json_array_get(ids, i));
        if (d == NULL || !digest_valid(d))
            rc = error_set(err, "image config: rootfs.diff_ids[%zu] is not a sha256 digest", i);
        else
            str_copy(out->layers[i].diff_id, sizeof(out->layers[i].diff_id), d);
    }
    json_decref(root);
    return rc;
}

struct grow_buf {
    uint8_t *p;
    size_t len, cap, max;
};

static int to_buf(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    struct grow_buf *b = ctx;

    RETURN_ERROR_IF(b->len + n > b->max, err, "the ztoc is larger than its descriptor says");
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 65536;
        uint8_t *np;
        while (ncap < b->len + n)
            ncap *= 2;
        np = realloc(b->p, ncap);
        RETURN_ERROR_IF(np == NULL, err, "out of memory");
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

/* a blob from the registry, of this size when size >= 0, at most max bytes,
 * digest-checked */
static int fetch_blob_max(struct reg_client *c, const char *repo, const char *digest, int64_t size, size_t max,
                          uint8_t **out, size_t *len, struct error *err)
{
    struct grow_buf b = {NULL, 0, 0, size >= 0 ? (size_t)size : max};
    uint8_t raw[32];
    char got[80];

    RETURN_ERROR_IF(size > (int64_t)max, err, "blob %s: %lld bytes is too large", digest, (long long)size);
    if (reg_blob_get(c, repo, digest, to_buf, &b, err) != 0) {
        free(b.p);
        return -1;
    }
    sha256_buf(b.p ? b.p : (const uint8_t *)"", b.len, raw);
    digest_format(raw, got);
    if (strcmp(got, digest) != 0) {
        free(b.p);
        return error_set(err, "blob %s from the registry does not match its digest", digest);
    }
    RETURN_ERROR_IF(size >= 0 && b.len != (size_t)size, err, "blob %s from the registry is %zu bytes, not %lld", digest,
                    b.len, (long long)size);
    *out = b.p ? b.p : calloc(1, 1);
    *len = b.len;
    return 0;
}

static int fetch_blob(struct reg_client *c, const char *repo, const char *digest, int64_t size, uint8_t **out,
                      size_t *len, struct error *err)
{
    return fetch_blob_max(c, repo, digest, size, MAX_ZTOC, out, len, err);
}

int locate_read_blob(const struct located_image *li, const char *digest, int64_t size, size_t max, uint8_t **out,
                     size_t *len, struct error *err)
{
    RETURN_ERROR_IF(!digest_valid(digest), err, "\"%.80s\" is not a digest", digest);
    if (li->remote)
        return fetch_blob_max(li->client, li->ref.repo, digest, size, max, out, len, err);
    return layout_read_blob(&li->layout, digest, size, max, out, len, err);
}

/* the layer's prefetch artifact, if its index names one: a failure is a
 * warning, since the mount works without it (only slower at first) */
static void read_prefetch(const struct located_image *li, struct located_layer *L)
{
    struct error err;

    if (!L->prefetch_digest[0] || L->ztoc == NULL)
        return;
    if (locate_read_blob(li, L->prefetch_digest, L->prefetch_size, PREFETCH_MAX_BYTES, &L->prefetch, &L->prefetch_len,
                         &err) != 0) {
        log_msg("warn", "prefetch artifact %s of layer %s: %s; mounting without it", L->prefetch_digest, L->digest,
                err.msg);
        L->prefetch = NULL;
        L->prefetch_len = 0;
    }
}

/* the image config (digest-checked, from the layout or the registry) and
 * its diff_ids */
static int read_diff_ids(struct located_image *out, const struct resolved_image *im, struct error *err)
{
    struct oci_desc cd;
    uint8_t *cfg = NULL;
    size_t cfg_len = 0;
    int rc;

    FORWARD_IF_ERROR(oci_desc_parse(json_object_get(im->manifest, "config"), &cd, err), err, "manifest %s: config",
                     im->manifest_digest);
    RETURN_ERROR_IF(cd.size < 0 || (uint64_t)cd.size > MAX_CONFIG, err, "image config %s: %lld bytes is too large",
                    cd.digest, (long long)cd.size);
    if (out->remote)
        rc = fetch_blob(out->client, out->ref.repo, cd.digest, cd.size, &cfg, &cfg_len, err);
    else
        rc = layout_read_blob(&out->layout, cd.digest, cd.size, MAX_CONFIG, &cfg, &cfg_len, err);
    if (rc == 0)
        rc = attach_diff_ids(out, cfg, cfg_len, err);
    free(cfg);
    return rc;
}

static void attach_ztocs_from_index(struct located_image *out, const struct soci_index *ix)
{
    size_t i, k;

    for (i = 0; i < out->nlayers; i++)
        for (k = 0; k < ix->nztocs; k++)
            if (strcmp(ix->ztocs[k].layer_digest, out->layers[i].digest) == 0) {
                str_copy(out->layers[i].ztoc_digest, sizeof(out->layers[i].ztoc_digest), ix->ztocs[k].ztoc_digest);
                out->layers[i].ztoc_len = (size_t)ix->ztocs[k].ztoc_size;
                out->layers[i].disable_xattrs = ix->ztocs[k].disable_xattrs;
            }
    /* the first prefetch descriptor of a layer wins, as for its ztoc lookup */
    for (i = 0; i < out->nlayers; i++)
        for (k = ix->nprefetch; k-- > 0;)
            if (strcmp(ix->prefetch[k].layer_digest, out->layers[i].digest) == 0) {
                str_copy(out->layers[i].prefetch_digest, sizeof(out->layers[i].prefetch_digest),
                         ix->prefetch[k].digest);
                out->layers[i].prefetch_size = ix->prefetch[k].size;
            }
}

static int locate_layout(const struct locate_opts *o, struct located_image *out, struct error *err)
{
    char dir[4096], tag[512];
    struct resolved_set set;
    struct catalog cat;
    const struct catalog_index *ci = NULL;
    size_t i;
    int rc = -1;

    if (layout_ref_parse(o->source, dir, sizeof(dir), tag, sizeof(tag)) != 0)
        return error_set(err, "\"%s\" is not oci:DIR[:TAG]", o->source);
    if (layout_open(&out->layout, dir, 0, err) != 0)
        return -1;
    if (image_resolve(&out->layout, tag, o->sel, &set, err) != 0)
        return -1;
    if (set.nimages != 1) {
        resolved_set_release(&set);
        return error_set(err, "%s holds %zu platform images; choose one with --platform", o->source, set.nimages);
    }
    if (fill_layers(out, &set.images[0], err) != 0 || catalog_load(&out->layout, &cat, err) != 0) {
        resolved_set_release(&set);
        return -1;
    }
    if (o->want_diff_ids && read_diff_ids(out, &set.images[0], err) != 0)
        goto out;
    if (o->index_digest) {
        ci = catalog_find_index(&cat, o->index_digest);
        if (ci == NULL) {
            error_set(err, "no SOCI index %s in %s", o->index_digest, dir);
            goto out;
        }
    } else {
        for (i = 0; i < cat.n; i++)
            if (strcmp(cat.v[i].image_manifest, set.images[0].manifest_digest) == 0)
                ci = &cat.v[i];
    }
    if (ci) {
        str_copy(out->index_digest, sizeof(out->index_digest), ci->digest);
        attach_ztocs_from_index(out, &ci->ix);
    }
    for (i = 0; i < out->nlayers; i++) {
        struct located_layer *L = &out->layers[i];
        layout_blob_path(&out->layout, L->digest, L->blob_path, sizeof(L->blob_path));
        /* --layer: the other layers' ztocs would be read and hashed for nothing */
        if (o->only_layer && strcmp(o->only_layer, L->digest) != 0)
            continue;
        if (L->ztoc_digest[0] && layout_read_blob(&out->layout, L->ztoc_digest, (int64_t)L->ztoc_len, MAX_ZTOC,
                                                  &L->ztoc, &L->ztoc_len, err) != 0) {
            error_prefix(err, "ztoc of layer %s", L->digest);
            goto out;
        }
        if (!o->no_prefetch)
            read_prefetch(out, L);
    }
    rc = 0;
out:
    catalog_release(&cat);
    resolved_set_release(&set);
    return rc;
}

static int locate_remote(const struct locate_opts *o, struct located_image *out, struct error *err)
{
    struct resolved_set set;
    struct remote_target target;
    struct found_index found[16];
    size_t nf = 0, i;
    struct soci_index ix;
    uint8_t *ixb = NULL;
    size_t ixlen = 0;
    int have_ix = 0, rc = -1;

    out->remote = 1;
    out->client = o->client;
    if (reg_ref_parse(o->source, &out->ref, err) != 0)
        return -1;
    if (remote_resolve(o->client, &out->ref, o->sel, &set, &target, err) != 0)
        return -1;
    remote_target_release(&target);
    if (set.nimages != 1) {
        resolved_set_release(&set);
        return error_set(err, "%s holds %zu platform images; choose one with --platform", o->source, set.nimages);
    }
    if (fill_layers(out, &set.images[0], err) != 0)
        goto out;
    if (o->want_diff_ids && read_diff_ids(out, &set.images[0], err) != 0)
        goto out;
    if (o->index_digest) {
        str_copy(found[0].digest, sizeof(found[0].digest), o->index_digest);
        found[0].size = -1;
        nf = 1;
    } else if (soci_discover(o->client, out->ref.repo, set.images[0].manifest_digest, set.images[0].manifest_bytes,
                             set.images[0].manifest_len, found, 16, &nf, err) != 0) {
        goto out;
    }
    if (nf > 0) {
        struct reg_manifest m;
        int ok;
        /* the first one found, as upstream's SelectFirstPolicy */
        if (reg_manifest_get(o->client, out->ref.repo, found[0].digest, &m, &ok, err) != 0)
            goto out;
        if (!ok) {
            error_set(err, "SOCI index %s is not in the registry", found[0].digest);
            goto out;
        }
        ixb = m.body;
        ixlen = m.len;
        if (soci_index_parse(ixb, ixlen, &ix, err) != 0) {
            error_prefix(err, "SOCI index %s", found[0].digest);
            goto out;
        }
        have_ix = 1;
        str_copy(out->index_digest, sizeof(out->index_digest), found[0].digest);
        attach_ztocs_from_index(out, &ix);
    }
    for (i = 0; i < out->nlayers; i++) {
        struct located_layer *L = &out->layers[i];
        /* one process per layer (the snapshotter) must not fetch every
         * other layer's ztoc too */
        if (o->only_layer && strcmp(o->only_layer, L->digest) != 0)
            continue;
        if (L->ztoc_digest[0] &&
            fetch_blob(o->client, out->ref.repo, L->ztoc_digest, (int64_t)L->ztoc_len, &L->ztoc, &L->ztoc_len, err) != 0) {
            error_prefix(err, "ztoc of layer %s", L->digest);
            goto out;
        }
        if (!o->no_prefetch)
            read_prefetch(out, L);
    }
    rc = 0;
out:
    if (have_ix)
        soci_index_release(&ix);
    free(ixb);
    resolved_set_release(&set);
    return rc;
}

int ztoc_locate(const struct locate_opts *o, struct located_image *out, struct error *err)
{
    memset(out, 0, sizeof(*out));
    out->layout.dir_fd = -1;
    if (strncmp(o->source, "oci:", 4) == 0)
        return locate_layout(o, out, err);
    RETURN_ERROR_IF(!reg_ref_looks_remote(o->source), err, "\"%s\" is neither oci:DIR[:TAG] nor REGISTRY/REPO[:TAG]",
                    o->source);
    return locate_remote(o, out, err);
}

void located_image_release(struct located_image *li)
{
    size_t i;

    for (i = 0; i < li->nlayers; i++) {
        free(li->layers[i].ztoc);
        free(li->layers[i].prefetch);
    }
    free(li->layers);
    if (!li->remote && li->layout.dir_fd >= 0)
        layout_close(&li->layout);
    memset(li, 0, sizeof(*li));
}
