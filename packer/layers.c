/* layers.c -- image and layer records from a resolved image (see layers.h) */
#include "layers.h"

#include <string.h>

#include "strutil.h"

void layers_image_record(const struct resolved_image *im, uint32_t id, const char *layout_dir,
                         const char *ref, struct stream_record *rec)
{
    struct stream_image_rec *r = &rec->image;

    stream_record_init(rec, REC_IMAGE);
    rec->image_id = id;
    str_copy(r->layout, sizeof(r->layout), layout_dir);
    str_copy(r->ref, sizeof(r->ref), ref);
    str_copy(r->manifest.media_type, sizeof(r->manifest.media_type), im->manifest_media_type);
    str_copy(r->manifest.digest, sizeof(r->manifest.digest), im->manifest_digest);
    r->manifest.size = im->manifest_size;
    if (im->has_platform)
        oci_platform_format(&im->platform, r->platform, sizeof(r->platform));
    r->nlayers = (uint32_t)im->nlayers;
}

int layers_layer_record(struct oci_layout *l, const struct resolved_image *im, uint32_t id, uint32_t n,
                        const struct existing_set *existing, struct stream_record *rec, struct error *err)
{
    const struct oci_desc *d = &im->layers[n];
    struct stream_layer_rec *r = &rec->layer;

    stream_record_init(rec, REC_LAYER);
    rec->image_id = id;
    rec->n = n;
    RETURN_ERROR_IF(str_copy(r->desc.media_type, sizeof(r->desc.media_type), d->media_type) != 0, err,
                    "layer %s: media type too long", d->digest);
    str_copy(r->desc.digest, sizeof(r->desc.digest), d->digest);
    r->desc.size = d->size;
    if (l)
        layout_blob_path(l, d->digest, r->path, sizeof(r->path));
    existing_lookup(existing, r);
    return 0;
}
