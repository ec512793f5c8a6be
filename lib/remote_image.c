/* remote_image.c -- resolve images in a registry (see remote_image.h) */
#include "remote_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci.h"
#include "platform.h"
#include "soci_index.h"
#include "strutil.h"

void remote_target_release(struct remote_target *t)
{
    free(t->bytes);
    t->bytes = NULL;
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

static int add_remote_image(struct reg_client *c, const char *repo, const struct oci_desc *d, struct resolved_set *out,
                            struct error *err)
{
    struct reg_manifest m;
    struct resolved_image *im;
    json_t *doc, *v;
    int found;
    size_t i;

    if (reg_manifest_get(c, repo, d->digest, &m, &found, err) != 0)
        return -1;
    RETURN_ERROR_IF(!found, err, "manifest %s is missing from %s", d->digest, repo);
    if (oci_load(m.body, m.len, &doc, err) != 0) {
        reg_manifest_free(&m);
        return error_prefix(err, "manifest %s", d->digest);
    }
    im = realloc(out->images, (out->nimages + 1) * sizeof(*im));
    if (im == NULL) {
        json_decref(doc);
        reg_manifest_free(&m);
        return error_set(err, "out of memory");
    }
    out->images = im;
    im = &out->images[out->nimages++];
    memset(im, 0, sizeof(*im));
    str_copy(im->manifest_digest, sizeof(im->manifest_digest), d->digest);
    str_copy(im->manifest_media_type, sizeof(im->manifest_media_type),
             m.media_type[0] ? m.media_type : (d->media_type[0] ? d->media_type : MT_OCI_MANIFEST));
    /* the Content-Type may carry parameters; keep the bare type */
    im->manifest_media_type[strcspn(im->manifest_media_type, "; ")] = '\0';
    im->manifest_size = (int64_t)m.len;
    im->manifest_bytes = m.body;
    im->manifest_len = m.len;
    im->manifest = doc;
    if (d->has_platform) {
        im->platform = d->platform;
        im->has_platform = 1;
    }
    im->layers = calloc(json_array_size(json_object_get(doc, "layers")) + 1, sizeof(*im->layers));
    RETURN_ERROR_IF(im->layers == NULL, err, "out of memory");
    json_array_foreach(json_object_get(doc, "layers"), i, v) {
        FORWARD_IF_ERROR(oci_desc_parse(v, &im->layers[i], err), err, "manifest %s layer %zu", d->digest, i);
        im->nlayers++;
    }
    return 0;
}

/* the image is not there: say whether the repository or the tag/digest is
 * missing (a registry answers MANIFEST_UNKNOWN for both; tags/list tells) */
static int missing_image(struct reg_client *c, const struct reg_ref *ref, struct error *err)
{
    struct error ignored;
    int exists = -1;

    if (reg_repo_exists(c, ref->repo, &exists, &ignored) != 0)
        exists = -1;
    if (exists == 0)
        return error_set(err, "%s/%s%s%s: no such image in the registry: repository %s does not exist", ref->host,
                         ref->repo, ref->digest[0] ? "@" : ":", reg_ref_reference(ref), ref->repo);
    if (exists == 1)
        return error_set(err, "%s/%s%s%s: no such image in the registry: repository %s has no %s %s", ref->host,
                         ref->repo, ref->digest[0] ? "@" : ":", reg_ref_reference(ref), ref->repo,
                         ref->digest[0] ? "manifest" : "tag", reg_ref_reference(ref));
    return error_set(err, "%s/%s%s%s: no such image in the registry", ref->host, ref->repo,
                     ref->digest[0] ? "@" : ":", reg_ref_reference(ref));
}

int remote_resolve(struct reg_client *c, const struct reg_ref *ref, const struct platform_sel *sel_in,
                   struct resolved_set *out, struct remote_target *target, struct error *err)
{
    struct reg_manifest m;
    struct platform_sel sel = *sel_in;
    json_t *doc = NULL, *v;
    int found, explicit = sel.all || sel.n > 0;
    size_t i;

    memset(out, 0, sizeof(*out));
    memset(target, 0, sizeof(*target));
    if (reg_manifest_get(c, ref->repo, reg_ref_reference(ref), &m, &found, err) != 0)
        return -1;
    if (!found)
        return missing_image(c, ref, err);
    target->bytes = m.body;
    target->len = m.len;
    str_copy(target->digest, sizeof(target->digest), m.digest);
    str_copy(target->media_type, sizeof(target->media_type), m.media_type);
    target->media_type[strcspn(target->media_type, "; ")] = '\0';
    str_copy(out->target_digest, sizeof(out->target_digest), m.digest);
    str_copy(out->target_media_type, sizeof(out->target_media_type), target->media_type);
    if (oci_load(m.body, m.len, &doc, err) != 0)
        goto fail;
    if (oci_kind_of(doc) == OCI_KIND_MANIFEST) {
        struct oci_desc d;
        memset(&d, 0, sizeof(d));
        d.digest = m.digest;
        d.media_type = target->media_type;
        d.size = (int64_t)m.len;
        RETURN_ERROR_IF(soci_index_version_of(doc) != 0, err, "%s is a SOCI index, not an image", m.digest);
        if (add_remote_image(c, ref->repo, &d, out, err) != 0)
            goto fail;
    } else if (oci_kind_of(doc) == OCI_KIND_INDEX) {
        int pass;
        if (!explicit) {
            sel.n = 1;
            platform_host(&sel.want[0]);
        }
        /* pass 0: the selection; pass 1 (default selection found nothing):
         * the only image there is */
        for (pass = 0; pass < 2 && out->nimages == 0; pass++) {
            size_t candidates = 0;
            json_array_foreach(json_object_get(doc, "manifests"), i, v) {
                struct oci_desc d;
                if (oci_desc_parse(v, &d, err) != 0)
                    goto fail;
                if (desc_is_soci_artifact(v) || (d.has_platform && strcmp(d.platform.os, "unknown") == 0))
                    continue;
                candidates++;
                if (pass == 0 && d.has_platform && !selected(&sel, &d.platform))
                    continue;
                if (pass == 1 && (explicit || json_array_size(json_object_get(doc, "manifests")) == 0))
                    continue;
                if (add_remote_image(c, ref->repo, &d, out, err) != 0)
                    goto fail;
            }
            if (pass == 1 && out->nimages > 1) {
                error_set(err, "no image for this host's platform; choose with --platform or --all-platforms");
                goto fail;
            }
            (void)candidates;
        }
    } else {
        error_set(err, "%s: unsupported manifest media type \"%s\"", reg_ref_reference(ref), target->media_type);
        goto fail;
    }
    json_decref(doc);
    if (out->nimages == 0)
        return error_set(err, "no image matches the requested platform(s)");
    return 0;
fail:
    json_decref(doc);
    resolved_set_release(out);
    remote_target_release(target);
    return -1;
}

int remote_store_image(struct reg_client *c, const struct reg_ref *ref, const struct resolved_set *set,
                       const struct remote_target *target, struct oci_layout *l, const char *tag,
                       struct error *err)
{
    json_t *index, *mans, *m;
    size_t i;

    if (layout_write_blob(l, target->bytes, target->len, NULL, err) != 0)
        return -1;
    for (i = 0; i < set->nimages; i++) {
        const struct resolved_image *im = &set->images[i];
        struct oci_desc cd;
        if (layout_write_blob(l, im->manifest_bytes, im->manifest_len, NULL, err) != 0)
            return -1;
        /* the config too (small): platform lookups and pushes want it */
        if (oci_desc_parse(json_object_get(im->manifest, "config"), &cd, err) == 0 &&
            !layout_blob_exists(l, cd.digest, NULL) && cd.size < (1 << 20)) {
            uint8_t *buf = malloc((size_t)cd.size + 1);
            if (buf && reg_blob_get_range(c, ref->repo, cd.digest, 0, (size_t)cd.size, buf, err) == 0)
                layout_write_blob(l, buf, (size_t)cd.size, NULL, err);
            free(buf);
        }
    }
    if (layout_read_index(l, &index, err) != 0)
        return -1;
    mans = json_object_get(index, "manifests");
    for (i = json_array_size(mans); i-- > 0;) {
        const char *name;
        m = json_array_get(mans, i);
        name = json_string_value(json_object_get(json_object_get(m, "annotations"), ANN_REF_NAME));
        if (name && strcmp(name, tag) == 0)
            json_array_remove(mans, i);
    }
    json_array_append_new(mans, json_pack("{s:s,s:s,s:I,s:{s:s}}", "mediaType",
                                          target->media_type[0] ? target->media_type : MT_OCI_MANIFEST, "digest",
                                          target->digest, "size", (json_int_t)target->len, "annotations",
                                          ANN_REF_NAME, tag));
    if (layout_write_index(l, index, err) != 0) {
        json_decref(index);
        return -1;
    }
    json_decref(index);
    return 0;
}

