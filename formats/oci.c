/* oci.c -- OCI / Docker image JSON (see oci.h) */
#include "oci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "strutil.h"

static const char *str_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    str_copy(dst, n, src);
}

int oci_desc_parse(json_t *obj, struct oci_desc *d, struct error *err)
{
    json_t *size, *plat;
    const char *s;

    memset(d, 0, sizeof(*d));
    RETURN_ERROR_IF(!json_is_object(obj), err, "descriptor is not a JSON object");
    d->json = obj;
    s = str_field(obj, "mediaType");
    if (json_object_get(obj, "mediaType") && !s)
        return error_set(err, "descriptor mediaType is not a string");
    d->media_type = s ? s : "";
    d->digest = str_field(obj, "digest");
    RETURN_ERROR_IF(d->digest == NULL, err, "descriptor has no digest");
    RETURN_ERROR_IF(!digest_valid(d->digest), err, "descriptor digest \"%.80s\" is not sha256:<64 hex>",
                    d->digest);
    size = json_object_get(obj, "size");
    RETURN_ERROR_IF(!json_is_integer(size) || json_integer_value(size) < 0, err,
                    "descriptor %s has no valid size", d->digest);
    d->size = json_integer_value(size);
    s = str_field(obj, "artifactType");
    d->artifact_type = s ? s : "";
    plat = json_object_get(obj, "platform");
    if (json_is_object(plat)) {
        d->has_platform = 1;
        copy_str(d->platform.os, sizeof(d->platform.os), str_field(plat, "os"));
        copy_str(d->platform.arch, sizeof(d->platform.arch), str_field(plat, "architecture"));
        copy_str(d->platform.variant, sizeof(d->platform.variant), str_field(plat, "variant"));
    }
    return 0;
}

int oci_load(const uint8_t *bytes, size_t len, json_t **root, struct error *err)
{
    json_error_t je;

    *root = json_loadb((const char *)bytes, len, JSON_REJECT_DUPLICATES, &je);
    RETURN_ERROR_IF(*root == NULL, err, "malformed JSON at line %d column %d: %s", je.line,
                    je.column, je.text);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return error_set(err, "JSON document is not an object");
    }
    return 0;
}

enum oci_kind oci_kind_of(json_t *root)
{
    const char *mt = str_field(root, "mediaType");

    if (mt) {
        if (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0)
            return OCI_KIND_MANIFEST;
        if (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0)
            return OCI_KIND_INDEX;
        return OCI_KIND_UNKNOWN;
    }
    if (json_is_array(json_object_get(root, "manifests")))
        return OCI_KIND_INDEX;
    if (json_is_object(json_object_get(root, "config")) && json_is_array(json_object_get(root, "layers")))
        return OCI_KIND_MANIFEST;
    return OCI_KIND_UNKNOWN;
}

enum layer_compression oci_layer_compression(const char *mt)
{
    if (strcmp(mt, MT_OCI_LAYER_GZIP) == 0 || strcmp(mt, MT_DOCKER_LAYER_GZIP) == 0 ||
        strcmp(mt, MT_OCI_LAYER_ND_GZIP) == 0 || strcmp(mt, MT_DOCKER_FOREIGN_GZIP) == 0)
        return LAYER_GZIP;
    if (strcmp(mt, MT_OCI_LAYER_TAR) == 0 || strcmp(mt, MT_DOCKER_LAYER_TAR) == 0 ||
        strcmp(mt, MT_OCI_LAYER_ND_TAR) == 0)
        return LAYER_TAR;
    if (strcmp(mt, MT_OCI_LAYER_ZSTD) == 0 || strcmp(mt, MT_OCI_LAYER_ND_ZSTD) == 0)
        return LAYER_ZSTD;
    return LAYER_NOT_A_LAYER;
}

const char *oci_compression_name(const char *mt)
{
    switch (oci_layer_compression(mt)) {
    case LAYER_GZIP: return "gzip";
    case LAYER_ZSTD: return "zstd";
    case LAYER_TAR: return strcmp(mt, MT_DOCKER_LAYER_TAR) == 0 ? "unknown" : "";
    default: return "";
    }
}

/* ---- platforms ---- */

void oci_platform_format(const struct oci_platform *p, char *out, size_t n)
{
    if (p->variant[0])
        snprintf(out, n, "%s/%s/%s", p->os, p->arch, p->variant);
    else
        snprintf(out, n, "%s/%s", p->os, p->arch);
}

void oci_platform_normalize(struct oci_platform *p)
{
    if (strcmp(p->arch, "x86_64") == 0 || strcmp(p->arch, "x86-64") == 0)
        copy_str(p->arch, sizeof(p->arch), "amd64");
    else if (strcmp(p->arch, "aarch64") == 0)
        copy_str(p->arch, sizeof(p->arch), "arm64");
    else if (strcmp(p->arch, "i386") == 0 || strcmp(p->arch, "i686") == 0)
        copy_str(p->arch, sizeof(p->arch), "386");
    if (strcmp(p->arch, "arm64") == 0 && strcmp(p->variant, "8") == 0)
        copy_str(p->variant, sizeof(p->variant), "v8");
    if (strcmp(p->arch, "amd64") == 0 && strcmp(p->variant, "v1") == 0)
        p->variant[0] = '\0';
}

int oci_platform_parse(const char *s, struct oci_platform *p, struct error *err)
{
    char buf[200];
    char *a, *b, *c;

    memset(p, 0, sizeof(*p));
    RETURN_ERROR_IF(strlen(s) >= sizeof(buf), err, "platform \"%.40s...\" is too long", s);
    copy_str(buf, sizeof(buf), s);
    a = buf;
    b = strchr(a, '/');
    RETURN_ERROR_IF(b == NULL, err, "platform \"%s\" is not os/arch[/variant]", s);
    *b++ = '\0';
    c = strchr(b, '/');
    if (c)
        *c++ = '\0';
    RETURN_ERROR_IF(!*a || !*b || (c && (!*c || strchr(c, '/'))), err,
                    "platform \"%s\" is not os/arch[/variant]", s);
    copy_str(p->os, sizeof(p->os), a);
    copy_str(p->arch, sizeof(p->arch), b);
    copy_str(p->variant, sizeof(p->variant), c);
    oci_platform_normalize(p);
    return 0;
}

void oci_platform_of_machine(const char *machine, struct oci_platform *p)
{
    memset(p, 0, sizeof(*p));
    copy_str(p->os, sizeof(p->os), "linux");
    copy_str(p->arch, sizeof(p->arch), machine ? machine : "amd64");
    oci_platform_normalize(p);
    if (strcmp(p->arch, "arm64") == 0)
        copy_str(p->variant, sizeof(p->variant), "v8");
}

int oci_platform_match(const struct oci_platform *want, const struct oci_platform *have)
{
    struct oci_platform w = *want, h = *have;

    oci_platform_normalize(&w);
    oci_platform_normalize(&h);
    if (strcmp(w.os, h.os) != 0 || strcmp(w.arch, h.arch) != 0)
        return 0;
    /* arm64 without a variant means v8 */
    if (strcmp(w.arch, "arm64") == 0) {
        if (!w.variant[0])
            copy_str(w.variant, sizeof(w.variant), "v8");
        if (!h.variant[0])
            copy_str(h.variant, sizeof(h.variant), "v8");
    }
    return !w.variant[0] || strcmp(w.variant, h.variant) == 0;
}

/* ---- Go-canonical writers ---- */

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void oci_write_string_map(struct gojson *j, json_t *obj)
{
    size_t n = json_object_size(obj), i = 0;
    const char **keys = malloc((n + 1) * sizeof(*keys));
    const char *k;
    json_t *v;

    if (keys == NULL) {
        j->failed = 1;
        return;
    }
    json_object_foreach(obj, k, v)
        keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_keys);
    gojson_begin_object(j);
    for (i = 0; i < n; i++) {
        json_t *val = json_object_get(obj, keys[i]);
        gojson_key(j, keys[i]);
        if (json_is_string(val))
            gojson_string(j, json_string_value(val), json_string_length(val));
        else
            gojson_cstr(j, ""); /* map[string]string: non-strings fail to parse in Go */
    }
    gojson_end_object(j);
    free(keys);
}

static int nonempty_object(json_t *v) { return json_is_object(v) && json_object_size(v) > 0; }
static int nonempty_array(json_t *v) { return json_is_array(v) && json_array_size(v) > 0; }
static int nonempty_string(json_t *v) { return json_is_string(v) && json_string_length(v) > 0; }

static void write_str_field(struct gojson *j, json_t *obj, const char *key, int omitempty)
{
    json_t *v = json_object_get(obj, key);

    if (omitempty && !nonempty_string(v))
        return;
    gojson_key(j, key);
    if (json_is_string(v))
        gojson_string(j, json_string_value(v), json_string_length(v));
    else
        gojson_cstr(j, "");
}

static void write_string_array(struct gojson *j, json_t *arr)
{
    size_t i;
    json_t *v;

    gojson_begin_array(j);
    json_array_foreach(arr, i, v)
        gojson_cstr(j, json_is_string(v) ? json_string_value(v) : "");
    gojson_end_array(j);
}

static void write_platform(struct gojson *j, json_t *p)
{
    gojson_begin_object(j);
    write_str_field(j, p, "architecture", 0);
    write_str_field(j, p, "os", 0);
    write_str_field(j, p, "os.version", 1);
    if (nonempty_array(json_object_get(p, "os.features"))) {
        gojson_key(j, "os.features");
        write_string_array(j, json_object_get(p, "os.features"));
    }
    write_str_field(j, p, "variant", 1);
    gojson_end_object(j);
}

void oci_write_descriptor(struct gojson *j, json_t *d)
{
    json_t *v;

    gojson_begin_object(j);
    write_str_field(j, d, "mediaType", 0);
    write_str_field(j, d, "digest", 0);
    gojson_key(j, "size");
    v = json_object_get(d, "size");
    gojson_int(j, json_is_integer(v) ? json_integer_value(v) : 0);
    if (nonempty_array(json_object_get(d, "urls"))) {
        gojson_key(j, "urls");
        write_string_array(j, json_object_get(d, "urls"));
    }
    if (nonempty_object(json_object_get(d, "annotations"))) {
        gojson_key(j, "annotations");
        oci_write_string_map(j, json_object_get(d, "annotations"));
    }
    write_str_field(j, d, "data", 1);
    if (json_is_object(json_object_get(d, "platform"))) {
        gojson_key(j, "platform");
        write_platform(j, json_object_get(d, "platform"));
    }
    write_str_field(j, d, "artifactType", 1);
    gojson_end_object(j);
}

static void write_descriptor_array(struct gojson *j, json_t *arr)
{
    size_t i;
    json_t *v;

    if (!json_is_array(arr)) {
        gojson_null(j);
        return;
    }
    gojson_begin_array(j);
    json_array_foreach(arr, i, v)
        oci_write_descriptor(j, v);
    gojson_end_array(j);
}

static void write_schema_version(struct gojson *j, json_t *doc)
{
    json_t *v = json_object_get(doc, "schemaVersion");
    gojson_key(j, "schemaVersion");
    gojson_int(j, json_is_integer(v) ? json_integer_value(v) : 0);
}

void oci_write_manifest(struct gojson *j, json_t *m)
{
    gojson_begin_object(j);
    write_schema_version(j, m);
    write_str_field(j, m, "mediaType", 1);
    write_str_field(j, m, "artifactType", 1);
    gojson_key(j, "config");
    if (json_is_object(json_object_get(m, "config"))) {
        oci_write_descriptor(j, json_object_get(m, "config"));
    } else {
        json_t *empty = json_object();
        oci_write_descriptor(j, empty);
        json_decref(empty);
    }
    gojson_key(j, "layers");
    write_descriptor_array(j, json_object_get(m, "layers"));
    if (json_is_object(json_object_get(m, "subject"))) {
        gojson_key(j, "subject");
        oci_write_descriptor(j, json_object_get(m, "subject"));
    }
    if (nonempty_object(json_object_get(m, "annotations"))) {
        gojson_key(j, "annotations");
        oci_write_string_map(j, json_object_get(m, "annotations"));
    }
    gojson_end_object(j);
}

void oci_write_index(struct gojson *j, json_t *ix)
{
    gojson_begin_object(j);
    write_schema_version(j, ix);
    write_str_field(j, ix, "mediaType", 1);
    write_str_field(j, ix, "artifactType", 1);
    gojson_key(j, "manifests");
    write_descriptor_array(j, json_object_get(ix, "manifests"));
    if (json_is_object(json_object_get(ix, "subject"))) {
        gojson_key(j, "subject");
        oci_write_descriptor(j, json_object_get(ix, "subject"));
    }
    if (nonempty_object(json_object_get(ix, "annotations"))) {
        gojson_key(j, "annotations");
        oci_write_string_map(j, json_object_get(ix, "annotations"));
    }
    gojson_end_object(j);
}
