/* discover.c -- SOCI index discovery in a registry (see discover.h) */
#include "discover.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "strutil.h"

#define SOCI_V1 "application/vnd.amazon.soci.index.v1+json"
#define ANN_INDEX_DIGEST_KEY "com.amazon.soci.index-digest"

const char *found_via_name(enum found_via v)
{
    switch (v) {
    case FOUND_ANNOTATION: return "annotation";
    case FOUND_REFERRERS_API: return "referrers-api";
    default: return "fallback-tag";
    }
}

static void add(struct found_index *out, size_t max, size_t *n, const char *digest, long long size, int version,
                enum found_via via)
{
    size_t i;

    for (i = 0; i < *n; i++)
        if (strcmp(out[i].digest, digest) == 0)
            return;
    if (*n >= max)
        return;
    str_copy(out[*n].digest, sizeof(out[*n].digest), digest);
    out[*n].size = size;
    out[*n].version = version;
    out[*n].via = via;
    (*n)++;
}

int soci_discover(struct reg_client *c, const char *repo, const char *manifest_digest, const uint8_t *manifest,
                  size_t manifest_len, struct found_index *out, size_t max, size_t *n, struct error *err)
{
    uint8_t *body = NULL;
    size_t len, i;
    int supported = 0;
    json_t *idx, *m;
    enum found_via via = FOUND_REFERRERS_API;

    *n = 0;
    if (manifest) {
        json_t *doc = json_loadb((const char *)manifest, manifest_len, 0, NULL);
        const char *d = json_string_value(json_object_get(json_object_get(doc, "annotations"), ANN_INDEX_DIGEST_KEY));
        if (d && digest_valid(d))
            add(out, max, n, d, -1, 2, FOUND_ANNOTATION);
        json_decref(doc);
    }
    if (reg_referrers(c, repo, manifest_digest, SOCI_V1, &body, &len, &supported, err) != 0)
        return -1;
    if (!supported) {
        struct reg_manifest fm;
        char tag[80];
        int found;
        via = FOUND_FALLBACK_TAG;
        snprintf(tag, sizeof(tag), "sha256-%.64s", manifest_digest + 7);
        if (reg_manifest_get(c, repo, tag, &fm, &found, err) != 0)
            return -1;
        if (!found)
            return 0;
        body = fm.body;
        len = fm.len;
    }
    idx = json_loadb((const char *)body, len, 0, NULL);
    free(body);
    RETURN_ERROR_IF(!json_is_object(idx), err, "the referrers of %s are not a JSON image index", manifest_digest);
    /* the registry may not have applied the artifactType filter: apply it */
    json_array_foreach(json_object_get(idx, "manifests"), i, m) {
        const char *d = json_string_value(json_object_get(m, "digest"));
        const char *at = json_string_value(json_object_get(m, "artifactType"));
        json_t *size = json_object_get(m, "size");
        if (!d || !digest_valid(d) || !at || strcmp(at, SOCI_V1) != 0)
            continue;
        add(out, max, n, d, json_is_integer(size) ? (long long)json_integer_value(size) : -1, 1, via);
    }
    json_decref(idx);
    return 0;
}
