/* remote_labels.h -- what a layer-unpack Prepare asks for, from its labels
 *
 * containerd forwards a layer descriptor's annotations prefixed
 * containerd.io/snapshot/ as labels of the Prepare that unpacks it, beside
 * containerd.io/snapshot.ref (the chain ID to commit).  Three dialects name
 * the image and the layer (docs/snapshotter.md, "Labels"):
 *
 *   CRI        containerd.io/snapshot/cri.{image-ref,manifest-digest,layer-digest,image-layers}
 *   upstream   containerd.io/snapshot/remote/soci.{index.digest,size} (beside CRI's)
 *   ctr-remote containerd.io/snapshot/remote/stargz.{reference,digest,layers} -- no
 *              manifest digest: the reference is resolved for this host's platform
 *
 * This module only reads and checks them (digests well formed, sizes in
 * range); it does no I/O.  Errors: -1 and one line in err.  Thread safety:
 * none needed (no shared state).
 *
 * Ownership: everything is copied into the caller's struct layer_req; the
 * labels stay the caller's.
 */
#ifndef SOCI_SNAP_REMOTE_LABELS_H
#define SOCI_SNAP_REMOTE_LABELS_H

#include <stdint.h>

#include "error.h"
#include "snapstore.h"

#define LABEL_SNAPSHOT_REF "containerd.io/snapshot.ref"
#define LABEL_REMOTE "containerd.io/snapshot/remote"
#define LABEL_HAS_INDEX "containerd.io/snapshot/remote/has.soci.index.digest"
#define LABEL_NAMESPACE "containerd.io/snapshot/remote/namespace"

/* this project's record of how to re-mount a remote snapshot */
#define LABEL_MOUNT_KIND "containerd.io/snapshot/remote/soci.mount.kind"     /* "fuse" | "unpacked" */
#define LABEL_MOUNT_SOURCE "containerd.io/snapshot/remote/soci.mount.source" /* HOST/REPO@MANIFEST */
#define LABEL_MOUNT_LAYER "containerd.io/snapshot/remote/soci.mount.layer"
#define LABEL_MOUNT_INDEX "containerd.io/snapshot/remote/soci.mount.index"
#define LABEL_MOUNT_MEM "containerd.io/snapshot/remote/soci.mount.cache-mem"  /* bytes granted */
#define LABEL_MOUNT_DISK "containerd.io/snapshot/remote/soci.mount.cache-disk"

enum layer_req_dialect {
    LAYER_REQ_NONE = 0,        /* not a layer unpack we can serve */
    LAYER_REQ_CRI,
    LAYER_REQ_STARGZ,
};

struct layer_req {
    enum layer_req_dialect dialect;
    char target[300];          /* containerd.io/snapshot.ref */
    char image_ref[1100];      /* REGISTRY/REPO[:TAG][@DIGEST] as given */
    char manifest_digest[80];  /* "" when the labels do not say (ctr-remote) */
    char layer_digest[80];
    char index_digest[80];     /* explicit SOCI index, or "" */
    int64_t layer_size;        /* -1 when the labels do not say */
};

/* dialect LAYER_REQ_NONE (and 0) when the labels do not describe a layer of
 * a registry image; -1 when they do but a value is malformed */
int layer_req_parse(const struct snap_labels *labels, struct layer_req *out, struct error *err);

#endif
