/* oci.h -- OCI / Docker image JSON: media types, parsing, Go-canonical output
 *
 * Parsing is over jansson values, every field type-checked and every digest
 * validated before use (manifests come from disk and registries: hostile).
 * Output goes through gojson so that what we write is what Go's
 * encoding/json would write for image-spec v1.1 structs (field order and
 * omitempty rules of docs/format.md §4.3).
 *
 * Ownership: an oci_desc borrows its strings and `json` from the jansson
 * object it was parsed from (valid while that object lives); oci_load's
 * *root is the caller's to json_decref.  Errors: fallible functions return 0,
 * or -1 with one line in err naming the field; the writers report through
 * the gojson they write to.  Thread safety: no state; calls on distinct
 * jansson trees may run at once (jansson trees are not shared between
 * threads here).
 */
#ifndef SOCI_OCI_H
#define SOCI_OCI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gojson.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_OCI_LAYER_ND_TAR "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define MT_OCI_LAYER_ND_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define MT_OCI_LAYER_ND_ZSTD "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DOCKER_LAYER_TAR "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_FOREIGN_GZIP "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define MT_OCTET_STREAM "application/octet-stream"

#define SOCI_INDEX_V1 "application/vnd.amazon.soci.index.v1+json"
#define SOCI_INDEX_V2 "application/vnd.amazon.soci.index.v2+json"
#define SOCI_PREFETCH "application/vnd.amazon.soci.prefetch.v1+json"
#define ANN_LAYER_MEDIATYPE "com.amazon.soci.image-layer-mediaType"
#define ANN_LAYER_DIGEST "com.amazon.soci.image-layer-digest"
#define ANN_SPAN_SIZE "com.amazon.soci.span-size"
#define ANN_BUILD_TOOL "com.amazon.soci.build-tool-identifier"
#define ANN_DISABLE_XATTRS "com.amazon.soci.disable-xattrs"
#define ANN_IMAGE_MANIFEST_DIGEST "com.amazon.soci.image-manifest-digest"
#define ANN_INDEX_DIGEST "com.amazon.soci.index-digest"
#define ANN_REF_NAME "org.opencontainers.image.ref.name"
#define EMPTY_JSON_DIGEST "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

enum oci_kind { OCI_KIND_UNKNOWN, OCI_KIND_MANIFEST, OCI_KIND_INDEX };

/* what a layer media type means for indexing (docs/format.md §4.7) */
enum layer_compression {
    LAYER_NOT_A_LAYER,
    LAYER_GZIP,
    LAYER_TAR,          /* OCI ...tar and Docker "unknown" ...diff.tar */
    LAYER_ZSTD,
};

struct oci_platform {
    char os[64];
    char arch[64];
    char variant[64];
};

/* a descriptor's essentials; the full JSON stays in `json` (borrowed) */
struct oci_desc {
    const char *media_type;   /* "" when absent */
    const char *digest;
    int64_t size;
    const char *artifact_type; /* "" when absent */
    int has_platform;
    struct oci_platform platform;
    json_t *json;
};

/* parse and check one descriptor object (digest must be sha256) */
int oci_desc_parse(json_t *obj, struct oci_desc *d, struct error *err);

/* load a manifest or index document; *root is owned by the caller */
int oci_load(const uint8_t *bytes, size_t len, json_t **root, struct error *err);
/* manifest or index, from mediaType or (umoci writes none) from shape */
enum oci_kind oci_kind_of(json_t *root);

enum layer_compression oci_layer_compression(const char *media_type);
/* upstream's name of the compression for messages: "gzip", "zstd", "" */
const char *oci_compression_name(const char *media_type);

/* "linux/amd64[/v8]" */
void oci_platform_format(const struct oci_platform *p, char *out, size_t n);
int oci_platform_parse(const char *s, struct oci_platform *p, struct error *err);
/* the platform of a Linux host whose uname machine is `machine` ("x86_64"
 * -> linux/amd64, "aarch64" -> linux/arm64/v8, ...; NULL -> linux/amd64);
 * the host's own: lib/platform.h */
void oci_platform_of_machine(const char *machine, struct oci_platform *p);
/* does `have` satisfy `want` (variant compared after normalisation) */
int oci_platform_match(const struct oci_platform *want, const struct oci_platform *have);
/* normalise like containerd: aarch64 -> arm64, x86_64 -> amd64, arm64 variant v8 */
void oci_platform_normalize(struct oci_platform *p);

/* ---- Go-canonical writers ---- */

/* a descriptor object with image-spec's field order and omitempty rules;
 * works for any jansson descriptor object, dropping unknown fields */
void oci_write_descriptor(struct gojson *j, json_t *desc);
/* image-spec Manifest / Index structs re-marshalled (unknown fields dropped) */
void oci_write_manifest(struct gojson *j, json_t *manifest);
void oci_write_index(struct gojson *j, json_t *index);
/* a map[string]string, keys sorted */
void oci_write_string_map(struct gojson *j, json_t *obj);

#endif
