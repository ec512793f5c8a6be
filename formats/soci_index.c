/* soci_index.c -- SOCI index manifests (see soci_index.h) */
#include "soci_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "gojson.h"
#include "oci.h"
#include "prefetch.h"
#include "strutil.h"

static void write_desc_head(struct gojson *j, const char *mt, const char *digest, int64_t size)
{
    gojson_key(j, "mediaType");
    gojson_cstr(j, mt);
    gojson_key(j, "digest");
    gojson_cstr(j, digest);
    gojson_key(j, "size");
    gojson_int(j, size);
}

int soci_index_encode(const struct soci_index *ix, char **out, size_t *len, struct error *err)
{
    struct gojson j;
    const char *res;
    size_t rlen, i;

    RETURN_ERROR_IF(ix->version != 1 && ix->version != 2, err, "unknown SOCI index version %d",
                    ix->version);
    RETURN_ERROR_IF(ix->nztocs == 0, err, "no ztocs created, all layers either skipped or produced errors");
    gojson_init(&j, 0);
    gojson_begin_object(&j);
    gojson_key(&j, "schemaVersion");
    gojson_int(&j, 2);
    gojson_key(&j, "mediaType");
    gojson_cstr(&j, MT_OCI_MANIFEST);
    gojson_key(&j, "config");
    gojson_begin_object(&j);
    write_desc_head(&j, ix->version == 1 ? SOCI_INDEX_V1 : SOCI_INDEX_V2, EMPTY_JSON_DIGEST, 2);
    gojson_end_object(&j);
    gojson_key(&j, "layers");
    gojson_begin_array(&j);
    for (i = 0; i < ix->nztocs; i++) {
        const struct soci_ztoc_ref *z = &ix->ztocs[i];
        gojson_begin_object(&j);
        write_desc_head(&j, MT_OCTET_STREAM, z->ztoc_digest, z->ztoc_size);
        gojson_key(&j, "annotations");
        /* keys in sorted order, as Go marshals a map */
        gojson_begin_object(&j);
        if (z->disable_xattrs) {
            gojson_key(&j, ANN_DISABLE_XATTRS);
            gojson_cstr(&j, "true");
        }
        gojson_key(&j, ANN_LAYER_DIGEST);
        gojson_cstr(&j, z->layer_digest);
        gojson_key(&j, ANN_LAYER_MEDIATYPE);
        gojson_cstr(&j, z->layer_media_type);
        if (z->span_size > 0) {
            char span[32];
            snprintf(span, sizeof(span), "%lld", (long long)z->span_size);
            gojson_key(&j, ANN_SPAN_SIZE);
            gojson_cstr(&j, span);
        }
        gojson_end_object(&j);
        gojson_end_object(&j);
    }
    for (i = 0; i < ix->nprefetch; i++) {
        const struct soci_prefetch_ref *p = &ix->prefetch[i];
        gojson_begin_object(&j);
        write_desc_head(&j, PREFETCH_MEDIA_TYPE, p->digest, p->size);
        gojson_key(&j, "annotations");
        gojson_begin_object(&j);
        gojson_key(&j, ANN_LAYER_DIGEST);
        gojson_cstr(&j, p->layer_digest);
        gojson_end_object(&j);
        gojson_end_object(&j);
    }
    gojson_end_array(&j);
    if (ix->version == 1) {
        gojson_key(&j, "subject");
        gojson_begin_object(&j);
        write_desc_head(&j, ix->subject_media_type, ix->subject_digest, ix->subject_size);
        gojson_end_object(&j);
    }
    gojson_key(&j, "annotations");
    gojson_begin_object(&j);
    gojson_key(&j, ANN_BUILD_TOOL);
    gojson_cstr(&j, ix->build_tool);
    gojson_end_object(&j);
    gojson_end_object(&j);
    if (gojson_result(&j, &res, &rlen, err) != 0) {
        gojson_free(&j);
        return -1;
    }
    *out = j.buf;
    *len = rlen;
    return 0;
}

int soci_index_version_of(json_t *manifest)
{
    json_t *config = json_object_get(manifest, "config");
    const char *mt = json_string_value(json_object_get(config, "mediaType"));

    if (mt == NULL)
        return 0;
    if (strcmp(mt, SOCI_INDEX_V1) == 0)
        return 1;
    if (strcmp(mt, SOCI_INDEX_V2) == 0)
        return 2;
    return 0;
}

static void copy(char *dst, size_t n, const char *src)
{
    str_copy(dst, n, src);
}

int soci_index_parse(const uint8_t *bytes, size_t len, struct soci_index *ix, struct error *err)
{
    json_t *root, *layers, *l, *subject, *ann;
    size_t i;

    memset(ix, 0, sizeof(*ix));
    if (oci_load(bytes, len, &root, err) != 0)
        return error_prefix(err, "SOCI index");
    ix->version = soci_index_version_of(root);
    if (ix->version == 0) {
        json_decref(root);
        return error_set(err, "unknown index version");
    }
    layers = json_object_get(root, "layers");
    if (!json_is_array(layers)) {
        json_decref(root);
        return error_set(err, "SOCI index has no layers");
    }
    ix->ztocs = calloc(json_array_size(layers) + 1, sizeof(*ix->ztocs));
    ix->prefetch = calloc(json_array_size(layers) + 1, sizeof(*ix->prefetch));
    if (ix->ztocs == NULL || ix->prefetch == NULL) {
        soci_index_release(ix);
        json_decref(root);
        return error_set(err, "out of memory");
    }
    json_array_foreach(layers, i, l) {
        struct oci_desc d;
        struct soci_ztoc_ref *z;
        const char *span;
        if (oci_desc_parse(l, &d, err) != 0) {
            error_prefix(err, "SOCI index layer %zu", i);
            goto fail;
        }
        if (strcmp(d.media_type, PREFETCH_MEDIA_TYPE) == 0) {
            struct soci_prefetch_ref *p = &ix->prefetch[ix->nprefetch];
            ann = json_object_get(l, "annotations");
            copy(p->layer_digest, sizeof(p->layer_digest),
                 json_string_value(json_object_get(ann, ANN_LAYER_DIGEST)));
            /* one without a layer is of no use to anyone: skipped, as
             * upstream's lookup by layer would never find it */
            if (!digest_valid(p->layer_digest) || !digest_valid(d.digest))
                continue;
            copy(p->digest, sizeof(p->digest), d.digest);
            p->size = d.size;
            ix->nprefetch++;
            continue;
        }
        if (strcmp(d.media_type, MT_OCTET_STREAM) != 0)
            continue; /* other artifacts: not ours to read */
        z = &ix->ztocs[ix->nztocs++];
        copy(z->ztoc_digest, sizeof(z->ztoc_digest), d.digest);
        z->ztoc_size = d.size;
        ann = json_object_get(l, "annotations");
        copy(z->layer_digest, sizeof(z->layer_digest), json_string_value(json_object_get(ann, ANN_LAYER_DIGEST)));
        copy(z->layer_media_type, sizeof(z->layer_media_type),
             json_string_value(json_object_get(ann, ANN_LAYER_MEDIATYPE)));
        span = json_string_value(json_object_get(ann, ANN_SPAN_SIZE));
        z->span_size = span ? strtoll(span, NULL, 10) : 0;
        z->disable_xattrs = json_is_string(json_object_get(ann, ANN_DISABLE_XATTRS)) &&
                            strcmp(json_string_value(json_object_get(ann, ANN_DISABLE_XATTRS)), "true") == 0;
        if (!digest_valid(z->layer_digest)) {
            error_set(err, "SOCI index layer %zu has no valid %s annotation", i, ANN_LAYER_DIGEST);
            goto fail;
        }
    }
    subject = json_object_get(root, "subject");
    if (json_is_object(subject)) {
        struct oci_desc d;
        if (oci_desc_parse(subject, &d, err) != 0) {
            error_prefix(err, "SOCI index subject");
            goto fail;
        }
        copy(ix->subject_media_type, sizeof(ix->subject_media_type), d.media_type);
        copy(ix->subject_digest, sizeof(ix->subject_digest), d.digest);
        ix->subject_size = d.size;
    }
    ann = json_object_get(root, "annotations");
    copy(ix->build_tool, sizeof(ix->build_tool), json_string_value(json_object_get(ann, ANN_BUILD_TOOL)));
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    soci_index_release(ix);
    return -1;
}

void soci_index_release(struct soci_index *ix)
{
    free(ix->ztocs);
    ix->ztocs = NULL;
    ix->nztocs = 0;
    free(ix->prefetch);
    ix->prefetch = NULL;
    ix->nprefetch = 0;
}
