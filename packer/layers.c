/* layers.c -- image and layer records from a resolved image (see layers.h) */
#include "layers.h"

#include <string.h>

#include "strutil.h"

void layers_image_record(const struct resolved_image *im, uint32_t id, const char *layout_dir,
                         const char *ref, struct stream_record *rec)
{
    stream_record_init(rec, REC_IMAGE);
    rec->image = id;
    str_copy(rec->layout, sizeof(rec->layout), layout_dir);
    str_copy(rec->ref, sizeof(rec->ref), ref);
    str_copy(rec->manifest.media_type, sizeof(rec->manifest.media_type), im->manifest_media_type);
    str_copy(rec->manifest.digest, sizeof(rec->manifest.digest), im->manifest_digest);
    rec->manifest.size = im->manifest_size;
    if (im->has_platform)
        oci_platform_format(&im->platform, rec->platform, sizeof(rec->platform));
    rec->nlayers = (uint32_t)im->nlayers;
}

int layers_layer_record(struct oci_layout *l, const struct resolved_image *im, uint32_t id, uint32_t n,
                        const struct existing_set *existing, struct stream_record *rec, struct error *err)
{
    const struct oci_desc *d = &im->layers[n];

    stream_record_init(rec, REC_LAYER);
    rec->image = id;
    rec->n = n;
    RETURN_ERROR_IF(str_copy(rec->desc.media_type, sizeof(rec->desc.media_type), d->media_type) != 0, err,
                    "layer %s: media type too long", d->digest);
    str_copy(rec->desc.digest, sizeof(rec->desc.digest), d->digest);
    rec->desc.size = d->size;
    if (l)
        layout_blob_path(l, d->digest, rec->path, sizeof(rec->path));
    existing_lookup(existing, rec);
    return 0;
}
