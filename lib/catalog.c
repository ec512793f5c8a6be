/* catalog.c -- SOCI indexes of a layout (see catalog.h) */
#include "catalog.h"

#include <stdlib.h>
#include <string.h>

#include "image_resolve.h"
#include "oci.h"
#include "strutil.h"

/* where each image manifest of the layout is referenced from */
struct image_loc {
    char manifest[80];
    char ref[512];
    char platform[128];
};

struct locs {
    struct image_loc *v;
    size_t n, cap;
};

static void add_loc(struct locs *ls, const char *manifest, const char *ref, const struct oci_desc *d)
{
    struct image_loc *x;

    if (ls->n == ls->cap) {
        size_t ncap = ls->cap ? ls->cap * 2 : 16;
        struct image_loc *nv = realloc(ls->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return;
        ls->v = nv;
        ls->cap = ncap;
    }
    x = &ls->v[ls->n++];
    memset(x, 0, sizeof(*x));
    str_copy(x->manifest, sizeof(x->manifest), manifest);
    str_copy(x->ref, sizeof(x->ref), ref);
    if (d && d->has_platform)
        oci_platform_format(&d->platform, x->platform, sizeof(x->platform));
}

static int add_index(struct oci_layout *l, struct catalog *c, const struct oci_desc *d, const char *parent,
                     const char *subject_hint, const char *platform_hint)
{
    struct catalog_index *ci;
    struct error err;
    uint8_t *buf;
    size_t len, i;

    for (i = 0; i < c->n; i++)
        if (strcmp(c->v[i].digest, d->digest) == 0)
            return 0;
    if (layout_read_blob(l, d->digest, d->size, LAYOUT_MAX_JSON, &buf, &len, &err) != 0)
        return 0; /* listed but absent: nothing to show */
    ci = realloc(c->v, (c->n + 1) * sizeof(*ci));
    if (ci == NULL) {
        free(buf);
        return -1;
    }
    c->v = ci;
    ci = &c->v[c->n];
    memset(ci, 0, sizeof(*ci));
    if (soci_index_parse(buf, len, &ci->ix, &err) != 0) {
        free(buf);
        return 0;
    }
    free(buf);
    str_copy(ci->digest, sizeof(ci->digest), d->digest);
    ci->size = d->size;
    ci->version = ci->ix.version;
    str_copy(ci->parent_index, sizeof(ci->parent_index), parent);
    str_copy(ci->image_manifest, sizeof(ci->image_manifest),
             ci->ix.subject_digest[0] ? ci->ix.subject_digest : subject_hint);
    str_copy(ci->platform, sizeof(ci->platform), platform_hint);
    c->n++;
    return 0;
}

/* a manifest descriptor that is a SOCI index: by artifactType, else by content */
static int is_soci(struct oci_layout *l, json_t *m)
{
    const char *at = json_string_value(json_object_get(m, "artifactType"));
    struct oci_desc d;
    struct error err;
    uint8_t *buf;
    size_t len;
    json_t *doc;
    int v = 0;

    if (at)
        return strcmp(at, SOCI_INDEX_V1) == 0 || strcmp(at, SOCI_INDEX_V2) == 0;
    if (oci_desc_parse(m, &d, &err) != 0 || strcmp(d.media_type, MT_OCI_MANIFEST) != 0 ||
        layout_read_blob(l, d.digest, d.size, LAYOUT_MAX_JSON, &buf, &len, &err) != 0)
        return 0;
    if (oci_load(buf, len, &doc, &err) == 0) {
        v = soci_index_version_of(doc) != 0;
        json_decref(doc);
    }
    free(buf);
    return v;
}

/* a single manifest's platform, from its config (as image_resolve does) */
static void platform_from_config(struct oci_layout *l, json_t *manifest, struct oci_desc *d)
{
    struct oci_desc cd;
    struct error err;
    uint8_t *buf;
    size_t len;
    json_t *cfg;

    if (oci_desc_parse(json_object_get(manifest, "config"), &cd, &err) != 0 ||
        layout_read_blob(l, cd.digest, cd.size, LAYOUT_MAX_JSON, &buf, &len, &err) != 0)
        return;
    if (oci_load(buf, len, &cfg, &err) == 0) {
        const char *os = json_string_value(json_object_get(cfg, "os"));
        const char *arch = json_string_value(json_object_get(cfg, "architecture"));
        const char *variant = json_string_value(json_object_get(cfg, "variant"));
        if (os && os[0] && arch && arch[0]) {
            memset(&d->platform, 0, sizeof(d->platform));
            str_copy(d->platform.os, sizeof(d->platform.os), os);
            str_copy(d->platform.arch, sizeof(d->platform.arch), arch);
            str_copy(d->platform.variant, sizeof(d->platform.variant), variant ? variant : "");
            d->has_platform = 1;
        }
        json_decref(cfg);
    }
    free(buf);
}

/* record the image manifests under a tagged entry, and v2 indexes inside */
static void walk_tagged(struct oci_layout *l, struct catalog *c, struct locs *ls, const struct oci_desc *d,
                        const char *ref, int depth)
{
    struct error err;
    uint8_t *buf;
    size_t len, i;
    json_t *doc, *m;

    if (depth > 4 || layout_read_blob(l, d->digest, d->size, LAYOUT_MAX_JSON, &buf, &len, &err) != 0)
        return;
    if (oci_load(buf, len, &doc, &err) != 0) {
        free(buf);
        return;
    }
    free(buf);
    if (oci_kind_of(doc) == OCI_KIND_MANIFEST) {
        struct oci_desc pd = *d;
        if (!pd.has_platform)
            platform_from_config(l, doc, &pd);
        add_loc(ls, d->digest, ref, &pd);
    } else if (oci_kind_of(doc) == OCI_KIND_INDEX) {
        json_array_foreach(json_object_get(doc, "manifests"), i, m) {
            struct oci_desc md;
            const char *at = json_string_value(json_object_get(m, "artifactType"));
            if (oci_desc_parse(m, &md, &err) != 0)
                continue;
            if (at && strcmp(at, SOCI_INDEX_V2) == 0) {
                const char *img = json_string_value(
                    json_object_get(json_object_get(m, "annotations"), ANN_IMAGE_MANIFEST_DIGEST));
                char plat[128] = "";
                if (md.has_platform)
                    oci_platform_format(&md.platform, plat, sizeof(plat));
                add_index(l, c, &md, d->digest, img ? img : "", plat);
                continue;
            }
            walk_tagged(l, c, ls, &md, ref, depth + 1);
        }
    }
    json_decref(doc);
}

int catalog_load(struct oci_layout *l, struct catalog *c, struct error *err)
{
    json_t *index, *m;
    struct locs ls = {NULL, 0, 0};
    size_t i, k;

    memset(c, 0, sizeof(*c));
    if (layout_read_index(l, &index, err) != 0)
        return -1;
    json_array_foreach(json_object_get(index, "manifests"), i, m) {
        struct oci_desc d;
        const char *ref = json_string_value(json_object_get(json_object_get(m, "annotations"), ANN_REF_NAME));
        if (oci_desc_parse(m, &d, err) != 0)
            continue;
        if (!ref && is_soci(l, m)) {
            const char *subj = json_string_value(
                json_object_get(json_object_get(m, "annotations"), ANN_IMAGE_MANIFEST_DIGEST));
            add_index(l, c, &d, "", subj ? subj : "", "");
        } else {
            walk_tagged(l, c, &ls, &d, ref ? ref : "", 0);
        }
    }
    json_decref(index);
    for (k = 0; k < c->n; k++) {
        struct catalog_index *ci = &c->v[k];
        for (i = 0; i < ls.n; i++) {
            if (strcmp(ls.v[i].manifest, ci->image_manifest) != 0)
                continue;
            if (!ci->image_ref[0])
                str_copy(ci->image_ref, sizeof(ci->image_ref), ls.v[i].ref);
            if (!ci->platform[0])
                str_copy(ci->platform, sizeof(ci->platform), ls.v[i].platform);
        }
    }
    free(ls.v);
    return 0;
}

void catalog_release(struct catalog *c)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        soci_index_release(&c->v[i].ix);
    free(c->v);
    memset(c, 0, sizeof(*c));
}

const struct catalog_index *catalog_find_index(const struct catalog *c, const char *digest)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        if (strcmp(c->v[i].digest, digest) == 0)
            return &c->v[i];
    return NULL;
}

const struct soci_ztoc_ref *catalog_find_ztoc(const struct catalog *c, const char *digest,
                                              const struct catalog_index **owner)
{
    size_t i, k;

    for (i = 0; i < c->n; i++)
        for (k = 0; k < c->v[i].ix.nztocs; k++)
            if (strcmp(c->v[i].ix.ztocs[k].ztoc_digest, digest) == 0) {
                if (owner)
                    *owner = &c->v[i];
                return &c->v[i].ix.ztocs[k];
            }
    return NULL;
}
