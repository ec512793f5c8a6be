/* remote_push.c -- layouts to registries (see remote_push.h) */
#include "remote_push.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "discover.h"
#include "fileio.h"
#include "gojson.h"
#include "oci.h"
#include "soci_index.h"
#include "strutil.h"

struct blob_source {
    int fd;
};

static int read_blob(void *ctx, int64_t off, uint8_t *buf, size_t n, struct error *err)
{
    struct blob_source *s = ctx;
    return pread_full(s->fd, buf, n, off, err);
}

static int push_blob(struct reg_client *c, struct oci_layout *l, const char *repo, const char *digest,
                     int64_t size, const struct push_out *out, struct error *err)
{
    struct blob_source src;
    int uploaded = 0, rc;

    if (layout_open_blob(l, digest, size, &src.fd, err) != 0)
        return -1;
    if (out->lines && !out->quiet)
        fprintf(out->lines, "pushing artifact with digest: %s\n", digest);
    rc = reg_blob_upload(c, repo, digest, size, read_blob, &src, out->mount_from, &uploaded, err);
    close(src.fd);
    if (rc != 0)
        return -1;
    if (out->lines && !out->quiet && uploaded == REG_UPLOAD_MOUNTED)
        fprintf(out->lines, "mounted artifact with digest: %s from %s\n", digest, out->mount_from);
    else if (out->lines && !out->quiet)
        fprintf(out->lines, "%s artifact with digest: %s\n", uploaded ? "successfully pushed" : "skipped", digest);
    return 0;
}

int push_image_closure(struct reg_client *c, struct oci_layout *l, const char *repo, const char *digest,
                       int64_t size, const char *tag, const struct push_out *out, struct error *err)
{
    uint8_t *buf;
    size_t len, i;
    json_t *doc, *v;
    struct oci_desc d;
    const char *mt;
    int found = 0, rc = -1;
    char media_type[256];

    if (layout_read_blob(l, digest, size, LAYOUT_MAX_JSON, &buf, &len, err) != 0)
        return -1;
    if (oci_load(buf, len, &doc, err) != 0) {
        free(buf);
        return -1;
    }
    mt = json_string_value(json_object_get(doc, "mediaType"));
    if (oci_kind_of(doc) == OCI_KIND_INDEX) {
        str_copy(media_type, sizeof(media_type), mt ? mt : MT_OCI_INDEX);
        json_array_foreach(json_object_get(doc, "manifests"), i, v) {
            if (oci_desc_parse(v, &d, err) != 0)
                goto out;
            if (!layout_blob_exists(l, d.digest, NULL))
                continue; /* a partial multi-platform layout pushes what it has */
            if (push_image_closure(c, l, repo, d.digest, d.size, NULL, out, err) != 0)
                goto out;
        }
    } else if (oci_kind_of(doc) == OCI_KIND_MANIFEST) {
        str_copy(media_type, sizeof(media_type), mt ? mt : MT_OCI_MANIFEST);
        if (reg_manifest_head(c, repo, digest, NULL, 0, NULL, NULL, &found, err) != 0)
            goto out;
        if (!found) {
            if (oci_desc_parse(json_object_get(doc, "config"), &d, err) != 0 ||
                push_blob(c, l, repo, d.digest, d.size, out, err) != 0)
                goto out;
            json_array_foreach(json_object_get(doc, "layers"), i, v) {
                if (oci_desc_parse(v, &d, err) != 0 || push_blob(c, l, repo, d.digest, d.size, out, err) != 0)
                    goto out;
            }
        }
    } else {
        error_set(err, "%s is neither an image manifest nor an index", digest);
        goto out;
    }
    if (!found && reg_manifest_put(c, repo, digest, media_type, buf, len, NULL, err) != 0)
        goto out;
    if (tag && tag[0]) {
        /* re-tag only when the tag names something else (a re-push uploads nothing) */
        char tagged[80] = "";
        int tag_found = 0;
        if (found && reg_manifest_head(c, repo, tag, NULL, 0, tagged, NULL, &tag_found, err) != 0)
            goto out;
        if ((!tag_found || strcmp(tagged, digest) != 0) &&
            reg_manifest_put(c, repo, tag, media_type, buf, len, NULL, err) != 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(doc);
    free(buf);
    return rc;
}

/* oras's referrers tag schema: sha256-<hex> */
static void fallback_tag(const char *digest, char *out, size_t n)
{
    snprintf(out, n, "sha256-%.64s", digest + 7);
}

static int update_fallback_index(struct reg_client *c, const char *repo, const char *subject,
                                 const char *index_digest, int64_t index_size, json_t *index_annotations,
                                 struct error *err)
{
    struct reg_manifest old;
    char tag[80], old_digest[80] = "";
    json_t *idx = NULL, *mans, *m, *desc;
    struct gojson j;
    const char *out;
    size_t len, i;
    int found;
    int rc = -1;

    fallback_tag(subject, tag, sizeof(tag));
    if (reg_manifest_get(c, repo, tag, &old, &found, err) != 0)
        return -1;
    if (found) {
        if (oci_load(old.body, old.len, &idx, err) != 0 || !json_is_array(json_object_get(idx, "manifests"))) {
            reg_manifest_free(&old);
            json_decref(idx);
            return error_set(err, "the referrers tag %s of %s holds no image index", tag, repo);
        }
        str_copy(old_digest, sizeof(old_digest), old.digest);
        reg_manifest_free(&old);
    } else {
        idx = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests");
    }
    mans = json_object_get(idx, "manifests");
    json_array_foreach(mans, i, m) {
        const char *d = json_string_value(json_object_get(m, "digest"));
        if (d && strcmp(d, index_digest) == 0) {
            json_decref(idx);
            return 0; /* listed already */
        }
    }
    desc = json_pack("{s:s,s:s,s:I,s:s}", "mediaType", MT_OCI_MANIFEST, "digest", index_digest, "size",
                     (json_int_t)index_size, "artifactType", SOCI_INDEX_V1);
    if (json_is_object(index_annotations))
        json_object_set(desc, "annotations", index_annotations);
    json_array_append_new(mans, desc);
    gojson_init(&j, 0);
    oci_write_index(&j, idx);
    if (gojson_result(&j, &out, &len, err) == 0 &&
        reg_manifest_put(c, repo, tag, MT_OCI_INDEX, (const uint8_t *)out, len, NULL, err) == 0) {
        rc = 0;
        /* the replaced index is garbage now (oras deletes it too); a
         * registry without deletes keeps it, which is harmless */
        if (old_digest[0]) {
            struct error ignored;
            reg_manifest_delete(c, repo, old_digest, &ignored);
        }
    }
    gojson_free(&j);
    json_decref(idx);
    return rc;
}

int push_soci_index(struct reg_client *c, struct oci_layout *l, const char *repo, const char *index_digest,
                    int64_t index_size, const struct push_out *out, struct error *err)
{
    uint8_t *buf;
    size_t len, i;
    json_t *doc = NULL, *v;
    struct oci_desc d, subj;
    int has_subject_header = 0, rc = -1;

    if (layout_read_blob(l, index_digest, index_size, LAYOUT_MAX_JSON, &buf, &len, err) != 0)
        return -1;
    if (oci_load(buf, len, &doc, err) != 0 || soci_index_version_of(doc) == 0) {
        if (doc)
            error_set(err, "%s is not a SOCI index", index_digest);
        goto out;
    }
    if (oci_desc_parse(json_object_get(doc, "config"), &d, err) != 0 ||
        push_blob(c, l, repo, d.digest, d.size, out, err) != 0)
        goto out;
    json_array_foreach(json_object_get(doc, "layers"), i, v) {
        if (oci_desc_parse(v, &d, err) != 0 || push_blob(c, l, repo, d.digest, d.size, out, err) != 0)
            goto out;
    }
    if (out->lines)
        fprintf(out->lines, out->quiet ? "%s\n" : "pushing soci index with digest: %s\n", index_digest);
    {
        int present = 0;
        if (reg_manifest_head(c, repo, index_digest, NULL, 0, NULL, NULL, &present, err) != 0)
            goto out;
        /* a registry that has it already only needs the referrers check */
        if (!present &&
            reg_manifest_put(c, repo, index_digest, MT_OCI_MANIFEST, buf, len, &has_subject_header, err) != 0)
            goto out;
        /* no PUT, so no OCI-Subject answer to go by: ask the referrers API
         * itself (as oras does), so that a registry with one never gets
         * the fallback tag */
        if (present && json_is_object(json_object_get(doc, "subject"))) {
            uint8_t *refs = NULL;
            size_t rlen;
            int supported = 0;
            if (oci_desc_parse(json_object_get(doc, "subject"), &subj, err) != 0 ||
                reg_referrers(c, repo, subj.digest, SOCI_INDEX_V1, &refs, &rlen, &supported, err) != 0)
                goto out;
            free(refs);
            has_subject_header = supported;
        }
    }
    if (!has_subject_header && json_is_object(json_object_get(doc, "subject"))) {
        if (oci_desc_parse(json_object_get(doc, "subject"), &subj, err) != 0 ||
            update_fallback_index(c, repo, subj.digest, index_digest, (int64_t)len,
                                  json_object_get(doc, "annotations"), err) != 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(doc);
    free(buf);
    return rc;
}

int remote_soci_referrers(struct reg_client *c, const char *repo, const char *manifest_digest,
                          char (*digests)[80], size_t max, size_t *n, int *via_api, struct error *err)
{
    struct found_index found[32];
    size_t k, nf;

    *n = 0;
    *via_api = 0;
    if (soci_discover(c, repo, manifest_digest, NULL, 0, found, 32, &nf, err) != 0)
        return -1;
    for (k = 0; k < nf && *n < max; k++) {
        if (found[k].version != 1)
            continue;
        *via_api = found[k].via == FOUND_REFERRERS_API;
        str_copy(digests[(*n)++], 80, found[k].digest);
    }
    return 0;
}
