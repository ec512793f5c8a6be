/* image_resolve.c -- resolve images in an OCI layout (see image_resolve.h) */
#include "image_resolve.h"

#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "soci_index.h"
#include "strutil.h"

#define MAX_DEPTH 4

int desc_is_soci_artifact(json_t *desc)
{
    const char *at = json_string_value(json_object_get(desc, "artifactType"));
    json_t *ann = json_object_get(desc, "annotations");

    if (at && (strcmp(at, SOCI_INDEX_V1) == 0 || strcmp(at, SOCI_INDEX_V2) == 0))
        return 1;
    /* buildkit attestation manifests */
    if (json_is_string(json_object_get(ann, "vnd.docker.reference.type")))
        return 1;
    return 0;
}

int image_check_layer_count(const char *manifest, size_t nlayers, struct error *err)
{
    RETURN_ERROR_IF(nlayers > IMAGE_MAX_LAYERS, err, "image %s has %zu layers; at most %d are supported",
                    manifest, nlayers, IMAGE_MAX_LAYERS);
    return 0;
}

static int add_image(struct oci_layout *l, const struct oci_desc *d, json_t *doc, uint8_t *bytes,
                     size_t len, struct resolved_set *out, struct error *err)
{
    struct resolved_image *im;
    json_t *layers, *v;
    size_t i;

    /* doc and bytes become the image's once it is counted: until then a
     * failure frees them here */
    layers = json_object_get(doc, "layers");
    if (image_check_layer_count(d->digest, json_array_size(layers), err) != 0)
        goto fail;
    im = realloc(out->images, (out->nimages + 1) * sizeof(*im));
    if (im == NULL) {
        error_set(err, "out of memory");
        goto fail;
    }
    out->images = im;
    im = &out->images[out->nimages];
    memset(im, 0, sizeof(*im));
    str_copy(im->manifest_digest, sizeof(im->manifest_digest), d->digest);
    str_copy(im->manifest_media_type, sizeof(im->manifest_media_type),
             d->media_type[0] ? d->media_type
                              : (json_string_value(json_object_get(doc, "mediaType"))
                                     ? json_string_value(json_object_get(doc, "mediaType"))
                                     : MT_OCI_MANIFEST));
    im->manifest_size = d->size;
    im->manifest_bytes = bytes;
    im->manifest_len = len;
    im->manifest = doc;
    if (d->has_platform) {
        im->platform = d->platform;
        im->has_platform = 1;
    }
    im->layers = calloc(json_array_size(layers) + 1, sizeof(*im->layers));
    if (im->layers == NULL) {
        error_set(err, "out of memory");
        goto fail;
    }
    out->nimages++;
    json_array_foreach(layers, i, v) {
        FORWARD_IF_ERROR(oci_desc_parse(v, &im->layers[i], err), err, "image %s layer %zu", d->digest, i);
        im->nlayers++;
    }
    /* a single manifest knows its platform only from its config */
    if (!im->has_platform) {
        struct oci_desc cd;
        uint8_t *cbuf;
        size_t clen;
        json_t *cfg;
        if (oci_desc_parse(json_object_get(doc, "config"), &cd, err) != 0)
            return error_prefix(err, "image %s config", d->digest);
        if (layout_read_blob(l, cd.digest, cd.size, LAYOUT_MAX_JSON, &cbuf, &clen, err) != 0)
            return error_prefix(err, "image %s config", d->digest);
        if (oci_load(cbuf, clen, &cfg, err) == 0) {
            str_copy(im->platform.os, sizeof(im->platform.os), json_string_value(json_object_get(cfg, "os")));
            str_copy(im->platform.arch, sizeof(im->platform.arch),
                     json_string_value(json_object_get(cfg, "architecture")));
            str_copy(im->platform.variant, sizeof(im->platform.variant),
                     json_string_value(json_object_get(cfg, "variant")));
            im->has_platform = im->platform.os[0] != 0;
            json_decref(cfg);
        }
        free(cbuf);
    }
    (void)l;
    return 0;
fail:
    json_decref(doc);
    free(bytes);
    return -1;
}

static int selected(const struct platform_sel *sel, const struct oci_platform *p)
{
    size_t i;

    if (sel->all)
        return 1;
    for (i = 0; i < sel->n; i++)
        if (oci_platform_match(&sel->want[i], p))
            return 1;
    return 0;
}

static int walk(struct oci_layout *l, const struct oci_desc *d, const struct platform_sel *sel,
                int depth, int top, struct resolved_set *out, struct error *err)
{
    uint8_t *bytes;
    size_t len, i;
    json_t *doc, *mans, *m;
    enum oci_kind kind;

    RETURN_ERROR_IF(depth > MAX_DEPTH, err, "image indexes nested more than %d deep", MAX_DEPTH);
    if (layout_read_blob(l, d->digest, d->size, LAYOUT_MAX_JSON, &bytes, &len, err) != 0)
        return -1;
    if (oci_load(bytes, len, &doc, err) != 0) {
        free(bytes);
        return error_prefix(err, "manifest %s", d->digest);
    }
    kind = oci_kind_of(doc);
    if (kind == OCI_KIND_MANIFEST) {
        if (soci_index_version_of(doc)) {
            json_decref(doc);
            free(bytes);
            return error_set(err, "%s is a SOCI index, not an image", d->digest);
        }
        if (!top && sel->n > 0 && d->has_platform && !selected(sel, &d->platform)) {
            json_decref(doc);
            free(bytes);
            return 0;
        }
        if (add_image(l, d, doc, bytes, len, out, err) != 0)
            return -1;
        return 0;
    }
    if (kind != OCI_KIND_INDEX) {
        const char *mt = json_string_value(json_object_get(doc, "mediaType"));
        if (mt)
            error_set(err, "%s has unsupported media type \"%s\"", d->digest, mt);
        else
            /* no mediaType and not shaped like either: its descriptor's
             * type may well be a supported one, so do not call it that */
            error_set(err, "%s is neither an image manifest nor an image index (no mediaType, no layers, no manifests)",
                      d->digest);
        json_decref(doc);
        free(bytes);
        return -1;
    }
    mans = json_object_get(doc, "manifests");
    RETURN_ERROR_IF(!json_is_array(mans), err, "image index %s has no manifests", d->digest);
    json_array_foreach(mans, i, m) {
        struct oci_desc md;
        if (oci_desc_parse(m, &md, err) != 0) {
            error_prefix(err, "image index %s entry %zu", d->digest, i);
            goto fail;
        }
        if (desc_is_soci_artifact(m))
            continue;
        if (md.has_platform && strcmp(md.platform.os, "unknown") == 0)
            continue;
        if (md.has_platform && !selected(sel, &md.platform))
            continue;
        if (walk(l, &md, sel, depth + 1, 0, out, err) != 0)
            goto fail;
    }
    json_decref(doc);
    free(bytes);
    return 0;
fail:
    json_decref(doc);
    free(bytes);
    return -1;
}

int image_resolve(struct oci_layout *l, const char *ref, const struct platform_sel *sel_in,
                  struct resolved_set *out, struct error *err)
{
    json_t *index, *m, *target = NULL;
    struct platform_sel sel = *sel_in;
    struct oci_desc td;
    size_t i, candidates = 0;
    int explicit = sel.all || sel.n > 0;

    memset(out, 0, sizeof(*out));
    if (layout_read_index(l, &index, err) != 0)
        return -1;
    json_array_foreach(json_object_get(index, "manifests"), i, m) {
        const char *name = json_string_value(json_object_get(json_object_get(m, "annotations"), ANN_REF_NAME));
        const char *dg = json_string_value(json_object_get(m, "digest"));
        if (desc_is_soci_artifact(m))
            continue;
        if (ref[0] == '\0') {
            candidates++;
            target = m;
        } else if (strncmp(ref, "sha256:", 7) == 0 ? (dg && strcmp(dg, ref) == 0)
                                                   : (name && strcmp(name, ref) == 0)) {
            target = m;
            break;
        }
    }
    if (ref[0] == '\0' && candidates > 1) {
        json_decref(index);
        return error_set(err, "%s holds %zu images: name one with oci:%s:TAG", l->dir, candidates, l->dir);
    }
    if (target == NULL && strncmp(ref, "sha256:", 7) == 0 && layout_blob_exists(l, ref, NULL)) {
        /* a digest not listed in index.json but present as a blob */
        json_t *d = json_pack("{s:s,s:s,s:I}", "mediaType", "", "digest", ref, "size",
                              (json_int_t)-1);
        int64_t sz;
        layout_blob_exists(l, ref, &sz);
        json_object_set_new(d, "size", json_integer(sz));
        json_array_append_new(json_object_get(index, "manifests"), d);
        target = d;
    }
    if (target == NULL) {
        json_decref(index);
        if (ref[0] == '\0')
            return error_set(err, "%s holds no image", l->dir);
        return error_set(err, "%s: no image tagged \"%s\"", l->dir, ref);
    }
    if (oci_desc_parse(target, &td, err) != 0) {
        json_decref(index);
        return error_prefix(err, "%s index.json", l->dir);
    }
    str_copy(out->target_digest, sizeof(out->target_digest), td.digest);
    str_copy(out->target_media_type, sizeof(out->target_media_type), td.media_type);
    if (!explicit) {
        sel.n = 1;
        platform_host(&sel.want[0]);
    }
    td.has_platform = 0; /* the tag's own platform never filters */
    if (walk(l, &td, &sel, 0, 1, out, err) != 0) {
        json_decref(index);
        resolved_set_release(out);
        return -1;
    }
    if (out->nimages == 0 && !explicit) {
        /* no image for the host: take the only one there is, as a user would expect */
        struct platform_sel all = {1, 0, {{"", "", ""}}};
        resolved_set_release(out);
        str_copy(out->target_digest, sizeof(out->target_digest), td.digest);
        if (walk(l, &td, &all, 0, 1, out, err) != 0) {
            json_decref(index);
            resolved_set_release(out);
            return -1;
        }
        if (out->nimages > 1) {
            char host[200];
            oci_platform_format(&sel.want[0], host, sizeof(host));
            json_decref(index);
            resolved_set_release(out);
            return error_set(err, "no image for this host's platform %s; choose with --platform or --all-platforms",
                             host);
        }
    }
    json_decref(index);
    if (out->nimages == 0)
        return error_set(err, "no image matches the requested platform(s)");
    /* a single image is taken whatever --platform asked for above (its
     * platform is known only from its config): check it now */
    if (sel_in->n > 0 && !sel_in->all) {
        for (i = 0; i < out->nimages; i++) {
            char have[200], want[200];
            if (!out->images[i].has_platform || selected(&sel, &out->images[i].platform))
                continue;
            oci_platform_format(&out->images[i].platform, have, sizeof(have));
            oci_platform_format(&sel.want[0], want, sizeof(want));
            resolved_set_release(out);
            return error_set(err, "the image is for %s, not the requested platform %s%s", have, want,
                             sel.n > 1 ? " (or the others asked for)" : "");
        }
    }
    return 0;
}

void resolved_set_release(struct resolved_set *s)
{
    size_t i;

    for (i = 0; i < s->nimages; i++) {
        free(s->images[i].layers);
        free(s->images[i].manifest_bytes);
        json_decref(s->images[i].manifest);
    }
    free(s->images);
    memset(s, 0, sizeof(*s));
}

int platform_sel_add(struct platform_sel *sel, const char *s, struct error *err)
{
    RETURN_ERROR_IF(sel->n >= MAX_PLATFORMS, err, "too many --platform options (at most %d)", MAX_PLATFORMS);
    if (oci_platform_parse(s, &sel->want[sel->n], err) != 0)
        return -1;
    sel->n++;
    return 0;
}
