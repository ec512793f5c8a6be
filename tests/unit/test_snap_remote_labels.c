/* test_snap_remote_labels.c -- the three label dialects of a layer-unpack
 * Prepare, and the malformed values that must not reach a registry */
#include <string.h>

#include "check.h"
#include "remote_labels.h"

#define LAYER "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define MANIFEST "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define INDEX "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static struct snap_labels make(const char *const *kv)
{
    struct snap_labels l;

    memset(&l, 0, sizeof(l));
    for (; kv[0]; kv += 2)
        snap_labels_set(&l, kv[0], kv[1]);
    return l;
}

static int parse(const char *const *kv, struct layer_req *r, struct error *err)
{
    struct snap_labels l = make(kv);
    int rc = layer_req_parse(&l, r, err);

    snap_labels_free(&l);
    return rc;
}

int main(void)
{
    struct layer_req r;
    struct error err;

    {   /* CRI plus upstream's soci.* */
        const char *kv[] = {LABEL_SNAPSHOT_REF, "sha256:chain",
                            "containerd.io/snapshot/cri.image-ref", "127.0.0.1:5000/busybox:1",
                            "containerd.io/snapshot/cri.manifest-digest", MANIFEST,
                            "containerd.io/snapshot/cri.layer-digest", LAYER,
                            "containerd.io/snapshot/remote/soci.index.digest", INDEX,
                            "containerd.io/snapshot/remote/soci.size", "12345", NULL};
        CHECK(parse(kv, &r, &err) == 0);
        CHECK(r.dialect == LAYER_REQ_CRI);
        CHECK(strcmp(r.target, "sha256:chain") == 0);
        CHECK(strcmp(r.image_ref, "127.0.0.1:5000/busybox:1") == 0);
        CHECK(strcmp(r.manifest_digest, MANIFEST) == 0);
        CHECK(strcmp(r.layer_digest, LAYER) == 0);
        CHECK(strcmp(r.index_digest, INDEX) == 0);
        CHECK(r.layer_size == 12345);
    }
    {   /* ctr-remote: no manifest digest */
        const char *kv[] = {LABEL_SNAPSHOT_REF, "sha256:chain",
                            "containerd.io/snapshot/remote/stargz.reference", "127.0.0.1:5000/x:latest",
                            "containerd.io/snapshot/remote/stargz.digest", LAYER,
                            "containerd.io/snapshot/remote/stargz.layers", LAYER, NULL};
        CHECK(parse(kv, &r, &err) == 0);
        CHECK(r.dialect == LAYER_REQ_STARGZ);
        CHECK(r.manifest_digest[0] == '\0');
        CHECK(r.index_digest[0] == '\0');
        CHECK(r.layer_size == -1);
    }
    {   /* no snapshot.ref: an ordinary Prepare, whatever else is there */
        const char *kv[] = {"containerd.io/snapshot/cri.image-ref", "127.0.0.1:5000/x:1",
                            "containerd.io/snapshot/cri.manifest-digest", MANIFEST,
                            "containerd.io/snapshot/cri.layer-digest", LAYER, NULL};
        CHECK(parse(kv, &r, &err) == 0);
        CHECK(r.dialect == LAYER_REQ_NONE);
    }
    {   /* plain `ctr i pull`: snapshot.ref alone */
        const char *kv[] = {LABEL_SNAPSHOT_REF, "sha256:chain", NULL};
        CHECK(parse(kv, &r, &err) == 0);
        CHECK(r.dialect == LAYER_REQ_NONE);
    }
    {   /* CRI without the manifest digest is not something we can place */
        const char *kv[] = {LABEL_SNAPSHOT_REF, "sha256:chain", "containerd.io/snapshot/cri.image-ref", "h/r:1",
                            "containerd.io/snapshot/cri.layer-digest", LAYER, NULL};
        CHECK(parse(kv, &r, &err) == 0);
        CHECK(r.dialect == LAYER_REQ_NONE);
    }
    {   /* malformed digests and sizes fail with the label named */
        const char *bad_layer[] = {LABEL_SNAPSHOT_REF, "t", "containerd.io/snapshot/remote/stargz.reference", "h/r:1",
                                   "containerd.io/snapshot/remote/stargz.digest", "sha256:../../etc", NULL};
        const char *bad_index[] = {LABEL_SNAPSHOT_REF, "t", "containerd.io/snapshot/remote/stargz.reference", "h/r:1",
                                   "containerd.io/snapshot/remote/stargz.digest", LAYER,
                                   "containerd.io/snapshot/remote/soci.index.digest", "--help", NULL};
        const char *bad_size[] = {LABEL_SNAPSHOT_REF, "t", "containerd.io/snapshot/remote/stargz.reference", "h/r:1",
                                  "containerd.io/snapshot/remote/stargz.digest", LAYER,
                                  "containerd.io/snapshot/remote/soci.size", "-5", NULL};
        CHECK(parse(bad_layer, &r, &err) == -1 && r.dialect == LAYER_REQ_NONE);
        CHECK(strstr(err.msg, "layer digest") != NULL);
        CHECK(parse(bad_index, &r, &err) == -1 && r.dialect == LAYER_REQ_NONE);
        CHECK(strstr(err.msg, "soci.index.digest") != NULL);
        CHECK(parse(bad_size, &r, &err) == -1);
        CHECK(strstr(err.msg, "soci.size") != NULL);
    }
    return check_exit();
}
