/* fuzz_oci_json.c -- arbitrary bytes as an image manifest, image index or
 * SOCI index, through every parser the layout and registry readers use
 *
 * oci_load, oci_kind_of, then each descriptor of "layers", "manifests" and
 * "config" through oci_desc_parse (whose digest must then be valid), the
 * SOCI index parser, and the Go-canonical writers on whatever parsed.  A
 * failure must come back as one line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "gojson.h"
#include "oci.h"
#include "soci_index.h"

static void one_line(const struct error *err)
{
    if (err->msg[0] == '\0' || strchr(err->msg, '\n') != NULL)
        abort();
}

static void descs(json_t *arr)
{
    size_t i;
    json_t *v;
    struct oci_desc d;
    struct error err;

    json_array_foreach(arr, i, v) {
        if (oci_desc_parse(v, &d, &err) == 0) {
            if (!digest_valid(d.digest) || d.size < 0)
                abort();
            (void)oci_layer_compression(d.media_type);
        } else {
            one_line(&err);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root;
    struct error err;
    struct soci_index ix;
    struct gojson j;
    const char *out;
    size_t len;

    if (oci_load(data, size, &root, &err) == 0) {
        enum oci_kind kind = oci_kind_of(root);
        struct oci_desc cfg;
        descs(json_object_get(root, "layers"));
        descs(json_object_get(root, "manifests"));
        if (json_object_get(root, "config") && oci_desc_parse(json_object_get(root, "config"), &cfg, &err) != 0)
            one_line(&err);
        (void)soci_index_version_of(root);
        gojson_init(&j, 0);
        if (kind == OCI_KIND_INDEX)
            oci_write_index(&j, root);
        else
            oci_write_manifest(&j, root);
        if (gojson_result(&j, &out, &len, &err) != 0)
            one_line(&err);
        gojson_free(&j);
        json_decref(root);
    } else {
        one_line(&err);
    }
    memset(&ix, 0, sizeof(ix));
    if (soci_index_parse(data, size, &ix, &err) == 0)
        soci_index_release(&ix);
    else
        one_line(&err);
    return 0;
}
