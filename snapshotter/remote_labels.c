/* remote_labels.c -- a layer-unpack Prepare's labels (see remote_labels.h) */
#include "remote_labels.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "strutil.h"

#define CRI_IMAGE_REF "containerd.io/snapshot/cri.image-ref"
#define CRI_MANIFEST "containerd.io/snapshot/cri.manifest-digest"
#define CRI_LAYER "containerd.io/snapshot/cri.layer-digest"
#define SOCI_INDEX "containerd.io/snapshot/remote/soci.index.digest"
#define SOCI_SIZE "containerd.io/snapshot/remote/soci.size"
#define STARGZ_REF "containerd.io/snapshot/remote/stargz.reference"
#define STARGZ_LAYER "containerd.io/snapshot/remote/stargz.digest"

static int copy_value(char *dst, size_t n, const char *key, const char *v, struct error *err)
{
    RETURN_ERROR_IF(str_copy(dst, n, v) != 0, err, "label %s: value too long", key);
    return 0;
}

static int copy_digest(char *dst, size_t n, const char *key, const char *v, struct error *err)
{
    RETURN_ERROR_IF(!digest_valid(v), err, "label %s: \"%.100s\" is not sha256:<64 hex>", key, v);
    return copy_value(dst, n, key, v, err);
}

int layer_req_parse(const struct snap_labels *labels, struct layer_req *out, struct error *err)
{
    const char *target = snap_labels_get(labels, LABEL_SNAPSHOT_REF);
    const char *ref, *layer, *manifest = NULL, *index, *size;

    memset(out, 0, sizeof(*out));
    out->layer_size = -1;
    if (target == NULL || !target[0])
        return 0;
    if ((ref = snap_labels_get(labels, CRI_IMAGE_REF)) != NULL) {
        layer = snap_labels_get(labels, CRI_LAYER);
        manifest = snap_labels_get(labels, CRI_MANIFEST);
        if (layer == NULL || manifest == NULL)
            return 0; /* CRI always sends all three: not a layer we can place */
        out->dialect = LAYER_REQ_CRI;
    } else if ((ref = snap_labels_get(labels, STARGZ_REF)) != NULL) {
        layer = snap_labels_get(labels, STARGZ_LAYER);
        if (layer == NULL)
            return 0;
        out->dialect = LAYER_REQ_STARGZ;
    } else {
        return 0;
    }
    if (copy_value(out->target, sizeof(out->target), LABEL_SNAPSHOT_REF, target, err) != 0 ||
        copy_value(out->image_ref, sizeof(out->image_ref), "image reference", ref, err) != 0 ||
        copy_digest(out->layer_digest, sizeof(out->layer_digest), "layer digest", layer, err) != 0 ||
        (manifest && copy_digest(out->manifest_digest, sizeof(out->manifest_digest), CRI_MANIFEST, manifest,
                                 err) != 0))
        goto bad;
    index = snap_labels_get(labels, SOCI_INDEX);
    if (index && index[0] && copy_digest(out->index_digest, sizeof(out->index_digest), SOCI_INDEX, index, err) != 0)
        goto bad;
    size = snap_labels_get(labels, SOCI_SIZE);
    if (size && size[0]) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(size, &end, 10);
        if (errno || end == size || *end || v < 0) {
            error_set(err, "label %s: \"%.40s\" is not a size in bytes", SOCI_SIZE, size);
            goto bad;
        }
        out->layer_size = v;
    }
    return 0;
bad:
    out->dialect = LAYER_REQ_NONE;
    return -1;
}
