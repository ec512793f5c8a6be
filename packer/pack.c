/* pack.c -- SOCI index writing (see pack.h) */
#include "pack.h"

#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "oci.h"
#include "prefetch_build.h"
#include "sha256.h"
#include "soci_index.h"
#include "strutil.h"

struct pending_ztoc {
    uint32_t n;
    struct stream_desc layer;
    struct stream_desc ztoc;
    uint8_t *data;          /* NULL when reused */
    size_t len;
    int reused;
    int64_t span_size;
    char build_tool[256];
    int xattr_free;
};

/* an image whose index is built and waits for packer_finish() */
struct prepared {
    struct pending_ztoc *ztocs;
    size_t nztocs;
    uint8_t *manifest_data;     /* remote images: the manifest, to store */
    size_t manifest_len;
    char manifest_media_type[256];
    char *json;
    size_t json_len;
    char subject[80];
    char platform[128];
    struct prefetch_blob *prefetch;     /* --prefetch-files: one per layer with hits */
    size_t nprefetch;
};

/* a layer of the current image, from its manifest */
struct image_layer {
    char digest[80];
    char media_type[256];
    int64_t size;
};

#define MAX_MANIFEST ((size_t)4 << 20)
#define MAX_REUSED_ZTOC ((size_t)1 << 30)

struct packer {
    struct image_layer *layers;   /* the current image's, from its manifest */
    size_t nlayers;
    uint8_t *image_manifest;    /* the current image's manifest bytes, when sent */
    size_t image_manifest_len;
    struct oci_layout *dest;
    struct prepared *ready;
    size_t nready;
    struct pack_opts opts;
    int in_image;
    uint32_t image_id;            /* the open image's id */
    struct stream_image_rec image; /* and its image record (no manifest_data) */
    struct pending_ztoc *ztocs;
    size_t nztocs, cap;
    int written;
    char last_index[80];
};

struct packer *packer_new(struct oci_layout *dest, const struct pack_opts *opts)
{
    struct packer *pk = calloc(1, sizeof(*pk));

    if (pk == NULL)
        return NULL;
    pk->dest = dest;
    pk->opts = *opts;
    return pk;
}

static void clear_image(struct packer *pk)
{
    size_t i;

    for (i = 0; i < pk->nztocs; i++)
        free(pk->ztocs[i].data);
    pk->nztocs = 0;
    pk->in_image = 0;
}

static void free_prepared(struct prepared *p)
{
    size_t i;

    for (i = 0; i < p->nztocs; i++)
        free(p->ztocs[i].data);
    free(p->ztocs);
    free(p->json);
    free(p->manifest_data);
    prefetch_blobs_free(p->prefetch, p->nprefetch);
}

void packer_free(struct packer *pk)
{
    size_t i;

    if (pk == NULL)
        return;
    for (i = 0; i < pk->nready; i++)
        free_prepared(&pk->ready[i]);
    free(pk->ready);
    free(pk->image_manifest);
    free(pk->layers);
    clear_image(pk);
    free(pk->ztocs);
    free(pk);
}

int packer_written(const struct packer *pk) { return pk->written; }

size_t packer_count(const struct packer *pk) { return pk->nready; }

int packer_result(const struct packer *pk, size_t k, struct packed_index *out)
{
    uint8_t raw[32];

    if (k >= pk->nready)
        return -1;
    sha256_buf(pk->ready[k].json, pk->ready[k].json_len, raw);
    digest_format(raw, out->digest);
    out->size = (int64_t)pk->ready[k].json_len;
    str_copy(out->subject, sizeof(out->subject), pk->ready[k].subject);
    str_copy(out->platform, sizeof(out->platform), pk->ready[k].platform);
    return 0;
}
const char *packer_last_index(const struct packer *pk) { return pk->last_index; }

/* the manifest bytes of the image record: sent with it (remote images,
 * already checked against its digest), else in the layout being written,
 * else in the layout the record says the image came from; digest-checked */
static int read_manifest(struct packer *pk, const struct stream_image_rec *rec, uint8_t **out, size_t *len,
                         struct error *err)
{
    struct oci_layout src;
    int rc;

    if (rec->manifest_data) {
        *out = malloc(rec->manifest_data_len + 1);
        RETURN_ERROR_IF(*out == NULL, err, "out of memory");
        memcpy(*out, rec->manifest_data, rec->manifest_data_len);
        *len = rec->manifest_data_len;
        return 0;
    }
    if (layout_blob_exists(pk->dest, rec->manifest.digest, NULL) || !rec->layout[0])
        return layout_read_blob(pk->dest, rec->manifest.digest, rec->manifest.size > 0 ? rec->manifest.size : -1,
                                MAX_MANIFEST, out, len, err);
    if (layout_open(&src, rec->layout, 0, err) != 0)
        return -1;
    rc = layout_read_blob(&src, rec->manifest.digest, rec->manifest.size > 0 ? rec->manifest.size : -1,
                          MAX_MANIFEST, out, len, err);
    layout_close(&src);
    return rc;
}

/* the layers of the image record's manifest: what ztoc records may name */
static int load_layers(struct packer *pk, const struct stream_record *rec, struct error *err)
{
    uint8_t *bytes = NULL;
    size_t len, i, n;
    json_t *root = NULL, *arr;
    int rc = -1;

    free(pk->layers);
    pk->layers = NULL;
    pk->nlayers = 0;
    RETURN_ERROR_IF(!digest_valid(rec->image.manifest.digest), err, "image record %u: \"%.80s\" is not a digest",
                    rec->image_id, rec->image.manifest.digest);
    if (read_manifest(pk, &rec->image, &bytes, &len, err) != 0)
        return error_prefix(err, "image record %u", rec->image_id);
    if (oci_load(bytes, len, &root, err) != 0) {
        error_prefix(err, "image manifest %s", rec->image.manifest.digest);
        goto out;
    }
    arr = json_object_get(root, "layers");
    n = json_array_size(arr);
    if (!json_is_array(arr) || n != rec->image.nlayers) {
        error_set(err, "image record %u says %u layers, its manifest %s has %zu", rec->image_id,
                  rec->image.nlayers, rec->image.manifest.digest, n);
        goto out;
    }
    pk->layers = calloc(n + 1, sizeof(*pk->layers));
    if (pk->layers == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        struct oci_desc d;
        if (oci_desc_parse(json_array_get(arr, i), &d, err) != 0) {
            error_prefix(err, "image manifest %s, layer %zu", rec->image.manifest.digest, i);
            goto out;
        }
        str_copy(pk->layers[i].digest, sizeof(pk->layers[i].digest), d.digest);
        str_copy(pk->layers[i].media_type, sizeof(pk->layers[i].media_type), d.media_type);
        pk->layers[i].size = d.size;
    }
    pk->nlayers = n;
    rc = 0;
out:
    json_decref(root);
    free(bytes);
    return rc;
}

/* the ztoc's digest is the one of its bytes (a reused ztoc: of the blob
 * already in the layout): the index names what is really stored */
static int check_ztoc_digest(struct packer *pk, const struct stream_record *rec, struct error *err)
{
    const struct stream_ztoc_rec *zr = &rec->ztoc;
    uint8_t raw[32];
    char got[80];

    RETURN_ERROR_IF(!digest_valid(zr->ztoc.digest), err, "ztoc record for layer %u: \"%.80s\" is not a digest",
                    rec->n, zr->ztoc.digest);
    if (zr->reused) {
        uint8_t *old;
        size_t len;
        if (layout_read_blob(pk->dest, zr->ztoc.digest, zr->ztoc.size, MAX_REUSED_ZTOC, &old, &len, err) != 0)
            return error_prefix(err, "reused ztoc for layer %u", rec->n);
        free(old);
        return 0;
    }
    sha256_buf(zr->data, zr->data_len, raw);
    digest_format(raw, got);
    RETURN_ERROR_IF(strcmp(got, zr->ztoc.digest) != 0, err,
                    "ztoc record for layer %u: its %zu bytes do not match %s (they are %s)", rec->n, zr->data_len,
                    zr->ztoc.digest, got);
    return 0;
}

static int add_ztoc(struct packer *pk, const struct stream_record *rec, struct error *err)
{
    const struct stream_ztoc_rec *zr = &rec->ztoc;
    struct pending_ztoc *z;
    const struct image_layer *L;

    RETURN_ERROR_IF(!pk->in_image || rec->image_id != pk->image_id, err,
                    "ztoc record for image %u outside that image's records", rec->image_id);
    RETURN_ERROR_IF(pk->nztocs > 0 && rec->n <= pk->ztocs[pk->nztocs - 1].n, err,
                    "ztoc records out of layer order (layer %u)", rec->n);
    RETURN_ERROR_IF(rec->n >= pk->image.nlayers, err, "ztoc record for layer %u of an image with %u layers",
                    rec->n, pk->image.nlayers);
    RETURN_ERROR_IF(!zr->reused && (zr->data == NULL || (int64_t)zr->data_len != zr->ztoc.size), err,
                    "ztoc record for layer %u carries %zu bytes, its descriptor says %lld", rec->n,
                    zr->data_len, (long long)zr->ztoc.size);
    L = &pk->layers[rec->n];
    RETURN_ERROR_IF(strcmp(zr->desc.digest, L->digest) != 0 || zr->desc.size != L->size ||
                        strcmp(zr->desc.media_type, L->media_type) != 0,
                    err, "ztoc record names layer %.80s (%lld bytes), which is not layer %u of image %s (%s)",
                    zr->desc.digest, (long long)zr->desc.size, rec->n, pk->image.manifest.digest, L->digest);
    if (check_ztoc_digest(pk, rec, err) != 0)
        return -1;
    if (pk->nztocs == pk->cap) {
        size_t ncap = pk->cap ? pk->cap * 2 : 16;
        struct pending_ztoc *nz = realloc(pk->ztocs, ncap * sizeof(*nz));
        RETURN_ERROR_IF(nz == NULL, err, "out of memory");
        pk->ztocs = nz;
        pk->cap = ncap;
    }
    z = &pk->ztocs[pk->nztocs];
    memset(z, 0, sizeof(*z));
    z->n = rec->n;
    z->layer = zr->desc;
    z->ztoc = zr->ztoc;
    z->reused = zr->reused;
    z->span_size = zr->span_size;
    z->xattr_free = zr->xattr_free;
    str_copy(z->build_tool, sizeof(z->build_tool), zr->build_tool);
    if (!zr->reused) {
        z->data = malloc(zr->data_len);
        RETURN_ERROR_IF(z->data == NULL, err, "out of memory");
        memcpy(z->data, zr->data, zr->data_len);
        z->len = zr->data_len;
    }
    pk->nztocs++;
    if (pk->opts.lines) {
        fprintf(pk->opts.lines, "layer %s -> ztoc %s%s\n", zr->desc.digest, zr->ztoc.digest,
                zr->reused ? " (already exists)" : "");
        fflush(pk->opts.lines);
    }
    return 0;
}

/* index.json: drop older SOCI v1 indexes of this image, append the new one */
static int record_in_index_json(json_t *index, const char *subject, const char *digest, size_t size,
                                struct error *err)
{
    json_t *mans, *m, *entry;
    size_t i;

    mans = json_object_get(index, "manifests");
    for (i = json_array_size(mans); i-- > 0;) {
        const char *at, *subj;
        m = json_array_get(mans, i);
        at = json_string_value(json_object_get(m, "artifactType"));
        subj = json_string_value(json_object_get(json_object_get(m, "annotations"), ENTRY_SUBJECT_ANNOTATION));
        if (at && strcmp(at, SOCI_INDEX_V1) == 0 && subj && strcmp(subj, subject) == 0)
            json_array_remove(mans, i);
    }
    entry = json_pack("{s:s,s:s,s:I,s:{s:s},s:s}", "mediaType", MT_OCI_MANIFEST, "digest", digest, "size",
                      (json_int_t)size, "annotations", ENTRY_SUBJECT_ANNOTATION, subject,
                      "artifactType", SOCI_INDEX_V1);
    RETURN_ERROR_IF(entry == NULL || json_array_append_new(mans, entry) != 0, err, "out of memory");
    return 0;
}

/* --prefetch-files: an artifact per layer the paths are found in, named in
 * the index after the ztocs (docs/format.md §4.2, §4.6) */
static int build_prefetch(struct packer *pk, struct soci_index *ix, struct prefetch_blob **pf, size_t *npf,
                          struct error *err)
{
    struct prefetch_layer *layers;
    uint8_t **owned;
    size_t i, k;
    int rc = -1;

    layers = calloc(pk->nlayers + 1, sizeof(*layers));
    owned = calloc(pk->nlayers + 1, sizeof(*owned));
    if (layers == NULL || owned == NULL) {
        free(layers);
        free(owned);
        return error_set(err, "out of memory");
    }
    for (k = 0; k < pk->nlayers; k++)
        layers[k].layer_digest = pk->layers[k].digest;
    for (i = 0; i < pk->nztocs; i++) {
        const struct pending_ztoc *z = &pk->ztocs[i];
        struct prefetch_layer *L = &layers[z->n]; /* add_ztoc bounded n */
        if (z->reused) {
            if (layout_read_blob(pk->dest, z->ztoc.digest, z->ztoc.size, MAX_REUSED_ZTOC, &owned[z->n],
                                 &L->ztoc_len, err) != 0)
                goto out;
            L->ztoc = owned[z->n];
        } else {
            L->ztoc = z->data;
            L->ztoc_len = z->len;
        }
    }
    if (prefetch_build(pk->opts.prefetch, layers, pk->nlayers, pk->image.manifest.digest, stderr, pf, npf, err) != 0)
        goto out;
    ix->prefetch = calloc(*npf + 1, sizeof(*ix->prefetch));
    if (ix->prefetch == NULL) {
        prefetch_blobs_free(*pf, *npf);
        *pf = NULL;
        *npf = 0;
        error_set(err, "out of memory");
        goto out;
    }
    for (i = 0; i < *npf; i++) {
        struct soci_prefetch_ref *r = &ix->prefetch[i];
        str_copy(r->digest, sizeof(r->digest), (*pf)[i].digest);
        r->size = (int64_t)(*pf)[i].len;
        str_copy(r->layer_digest, sizeof(r->layer_digest), (*pf)[i].layer_digest);
        if (pk->opts.lines)
            fprintf(pk->opts.lines, "Created prefetch artifact for layer %s: %s\n", r->layer_digest, r->digest);
    }
    if (pk->opts.lines)
        fflush(pk->opts.lines);
    ix->nprefetch = *npf;
    rc = 0;
out:
    for (k = 0; k < pk->nlayers; k++)
        free(owned[k]);
    free(owned);
    free(layers);
    return rc;
}

static int prepare_image(struct packer *pk, struct error *err)
{
    struct soci_index ix;
    struct prepared *p;
    struct prefetch_blob *pf = NULL;
    char *json = NULL;
    size_t len, i, npf = 0;

    memset(&ix, 0, sizeof(ix));
    RETURN_ERROR_IF(pk->nztocs == 0, err,
                    "image %s: no ztocs created, all layers either skipped or produced errors",
                    pk->image.manifest.digest);
    ix.version = pk->opts.version == 2 ? 2 : 1;
    ix.nztocs = pk->nztocs;
    ix.ztocs = calloc(pk->nztocs, sizeof(*ix.ztocs));
    RETURN_ERROR_IF(ix.ztocs == NULL, err, "out of memory");
    for (i = 0; i < pk->nztocs; i++) {
        struct soci_ztoc_ref *r = &ix.ztocs[i];
        const struct pending_ztoc *z = &pk->ztocs[i];
        if (strcmp(z->build_tool, pk->ztocs[0].build_tool) != 0) {
            free(ix.ztocs);
            return error_set(err, "ztocs of one image name different build tools (\"%s\", \"%s\")",
                             pk->ztocs[0].build_tool, z->build_tool);
        }
        str_copy(r->ztoc_digest, sizeof(r->ztoc_digest), z->ztoc.digest);
        r->ztoc_size = z->ztoc.size;
        str_copy(r->layer_digest, sizeof(r->layer_digest), z->layer.digest);
        str_copy(r->layer_media_type, sizeof(r->layer_media_type), z->layer.media_type);
        r->span_size = z->span_size;
        r->disable_xattrs = pk->opts.disable_xattrs_opt && z->xattr_free;
    }
    str_copy(ix.subject_media_type, sizeof(ix.subject_media_type), pk->image.manifest.media_type);
    str_copy(ix.subject_digest, sizeof(ix.subject_digest), pk->image.manifest.digest);
    ix.subject_size = pk->image.manifest.size;
    str_copy(ix.build_tool, sizeof(ix.build_tool), pk->ztocs[0].build_tool);
    if (pk->opts.prefetch && pk->opts.prefetch->n > 0 && build_prefetch(pk, &ix, &pf, &npf, err) != 0) {
        free(ix.ztocs);
        return -1;
    }
    if (soci_index_encode(&ix, &json, &len, err) != 0) {
        free(ix.ztocs);
        free(ix.prefetch);
        prefetch_blobs_free(pf, npf);
        return -1;
    }
    free(ix.ztocs);
    free(ix.prefetch);
    p = realloc(pk->ready, (pk->nready + 1) * sizeof(*p));
    if (p == NULL) {
        free(json);
        prefetch_blobs_free(pf, npf);
        return error_set(err, "out of memory");
    }
    pk->ready = p;
    p = &pk->ready[pk->nready++];
    memset(p, 0, sizeof(*p));
    p->ztocs = pk->ztocs; /* hand the ztocs over */
    p->nztocs = pk->nztocs;
    p->json = json;
    p->json_len = len;
    p->prefetch = pf;
    p->nprefetch = npf;
    str_copy(p->subject, sizeof(p->subject), pk->image.manifest.digest);
    str_copy(p->platform, sizeof(p->platform), pk->image.platform);
    p->manifest_data = pk->image_manifest;
    p->manifest_len = pk->image_manifest_len;
    str_copy(p->manifest_media_type, sizeof(p->manifest_media_type), pk->image.manifest.media_type);
    pk->image_manifest = NULL;
    pk->image_manifest_len = 0;
    pk->ztocs = NULL;
    pk->nztocs = pk->cap = 0;
    return 0;
}

int packer_finish(struct packer *pk, struct error *err)
{
    json_t *index;
    size_t k, i;
    char digest[80];

    RETURN_ERROR_IF(pk->in_image, err, "the record stream ended inside an image");
    /* blobs first, index.json last: a crash in between leaves only
     * unreferenced blobs behind, and the layout valid */
    for (k = 0; k < pk->nready; k++) {
        struct prepared *p = &pk->ready[k];
        for (i = 0; i < p->nztocs; i++) {
            const struct pending_ztoc *z = &p->ztocs[i];
            if (z->reused) {
                int64_t have;
                RETURN_ERROR_IF(!layout_blob_exists(pk->dest, z->ztoc.digest, &have) || have != z->ztoc.size,
                                err, "reused ztoc %s is not in %s", z->ztoc.digest, pk->dest->dir);
                continue;
            }
            if (layout_write_blob(pk->dest, z->data, z->len, digest, err) != 0)
                return -1;
            /* add_ztoc checked it; the index must name what was stored */
            RETURN_ERROR_IF(strcmp(digest, z->ztoc.digest) != 0, err, "ztoc %s was stored as %s", z->ztoc.digest,
                            digest);
        }
        for (i = 0; i < p->nprefetch; i++)
            if (layout_write_blob(pk->dest, p->prefetch[i].json, p->prefetch[i].len, NULL, err) != 0)
                return -1;
        if (layout_write_blob(pk->dest, "{}", 2, NULL, err) != 0 ||
            layout_write_blob(pk->dest, p->json, p->json_len, digest, err) != 0)
            return -1;
        if (p->manifest_data && layout_write_blob(pk->dest, p->manifest_data, p->manifest_len, NULL, err) != 0)
            return -1;
    }
    if (pk->nready == 0)
        return 0;
    if (pk->opts.version == 2) {
        /* v2 indexes are recorded in the converted image index by the caller */
        pk->written = (int)pk->nready;
        return 0;
    }
    if (layout_read_index(pk->dest, &index, err) != 0)
        return -1;
    if (pk->opts.tag && pk->opts.tag[0] && pk->nready == 1 && pk->ready[0].manifest_data) {
        /* a remote image: name it in this layout, so the index has an image */
        json_t *mans = json_object_get(index, "manifests");
        size_t q;
        for (q = json_array_size(mans); q-- > 0;) {
            const char *name = json_string_value(
                json_object_get(json_object_get(json_array_get(mans, q), "annotations"), ANN_REF_NAME));
            if (name && strcmp(name, pk->opts.tag) == 0)
                json_array_remove(mans, q);
        }
        json_array_append_new(mans, json_pack("{s:s,s:s,s:I,s:{s:s}}", "mediaType", pk->ready[0].manifest_media_type,
                                              "digest", pk->ready[0].subject, "size",
                                              (json_int_t)pk->ready[0].manifest_len, "annotations", ANN_REF_NAME,
                                              pk->opts.tag));
    }
    for (k = 0; k < pk->nready; k++) {
        struct prepared *p = &pk->ready[k];
        uint8_t raw[32];
        sha256_buf(p->json, p->json_len, raw);
        digest_format(raw, digest);
        if (record_in_index_json(index, p->subject, digest, p->json_len, err) != 0) {
            json_decref(index);
            return -1;
        }
        str_copy(pk->last_index, sizeof(pk->last_index), digest);
        if (pk->opts.notes)
            fprintf(pk->opts.notes, "soci index %s for image %s%s%s (%zu ztocs)\n", digest, p->subject,
                    p->platform[0] ? " " : "", p->platform, p->nztocs);
    }
    if (layout_write_index(pk->dest, index, err) != 0) {
        json_decref(index);
        return -1;
    }
    json_decref(index);
    pk->written = (int)pk->nready;
    return 0;
}

int packer_record(struct packer *pk, const struct stream_record *rec, struct error *err)
{
    switch (rec->type) {
    case REC_IMAGE:
        RETURN_ERROR_IF(pk->in_image, err, "image record %u before image %u ended", rec->image_id, pk->image_id);
        clear_image(pk);
        pk->image_id = rec->image_id;
        pk->image = rec->image;
        pk->image.manifest_data = NULL;
        pk->in_image = 1;
        free(pk->image_manifest);
        pk->image_manifest = NULL;
        if (rec->image.manifest_data) {
            uint8_t raw[32];
            char got[80];
            sha256_buf(rec->image.manifest_data, rec->image.manifest_data_len, raw);
            digest_format(raw, got);
            RETURN_ERROR_IF(strcmp(got, rec->image.manifest.digest) != 0, err,
                            "image record %u: the manifest bytes do not match %s", rec->image_id,
                            rec->image.manifest.digest);
            pk->image_manifest = malloc(rec->image.manifest_data_len);
            RETURN_ERROR_IF(pk->image_manifest == NULL, err, "out of memory");
            memcpy(pk->image_manifest, rec->image.manifest_data, rec->image.manifest_data_len);
            pk->image_manifest_len = rec->image.manifest_data_len;
        }
        return load_layers(pk, rec, err);
    case REC_ZTOC:
        return add_ztoc(pk, rec, err);
    case REC_SKIP:
        RETURN_ERROR_IF(!pk->in_image || rec->image_id != pk->image_id, err,
                        "skip record for image %u outside that image's records", rec->image_id);
        if (pk->opts.lines) {
            fprintf(pk->opts.lines, "%s\n", rec->skip.message);
            fflush(pk->opts.lines);
        }
        return 0;
    case REC_IMAGE_END: {
        int rc;
        RETURN_ERROR_IF(!pk->in_image || rec->image_id != pk->image_id, err,
                        "image_end record for image %u that did not start", rec->image_id);
        rc = prepare_image(pk, err);
        clear_image(pk);
        return rc;
    }
    case REC_LAYER:
        return error_set(err, "layer record reached the packer: put ztoc-gen between soci-layers and soci-pack");
    default:
        return 0;
    }
}
