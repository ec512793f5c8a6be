/* existing.c -- reusable ztocs of a layout (see existing.h) */
#include "existing.h"

#include <stdlib.h>
#include <string.h>

#include "oci.h"
#include "soci_index.h"
#include "strutil.h"

struct existing_entry {
    char layer[80];
    struct stream_existing x;
};

struct existing_set {
    struct existing_entry *e;
    size_t n, cap;
};

static void add(struct existing_set *s, const struct soci_index *ix, const struct soci_ztoc_ref *z,
                struct oci_layout *l)
{
    int64_t have;
    size_t i;

    if (z->span_size <= 0 || !layout_blob_exists(l, z->ztoc_digest, &have) || have != z->ztoc_size)
        return;
    for (i = 0; i < s->n; i++)
        if (strcmp(s->e[i].x.digest, z->ztoc_digest) == 0)
            return;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 32;
        struct existing_entry *ne = realloc(s->e, ncap * sizeof(*ne));
        if (ne == NULL)
            return;
        s->e = ne;
        s->cap = ncap;
    }
    memset(&s->e[s->n], 0, sizeof(s->e[s->n]));
    str_copy(s->e[s->n].layer, sizeof(s->e[s->n].layer), z->layer_digest);
    str_copy(s->e[s->n].x.digest, sizeof(s->e[s->n].x.digest), z->ztoc_digest);
    s->e[s->n].x.size = z->ztoc_size;
    s->e[s->n].x.span_size = z->span_size;
    str_copy(s->e[s->n].x.build_tool, sizeof(s->e[s->n].x.build_tool), ix->build_tool);
    s->n++;
}

struct existing_set *existing_scan(struct oci_layout *l)
{
    struct existing_set *s = calloc(1, sizeof(*s));
    json_t *index, *m;
    struct error err;
    size_t i, k;

    if (s == NULL || layout_read_index(l, &index, &err) != 0)
        return s;
    json_array_foreach(json_object_get(index, "manifests"), i, m) {
        const char *at = json_string_value(json_object_get(m, "artifactType"));
        struct oci_desc d;
        struct soci_index ix;
        uint8_t *buf;
        size_t len;

        if (!at || (strcmp(at, SOCI_INDEX_V1) != 0 && strcmp(at, SOCI_INDEX_V2) != 0))
            continue;
        if (oci_desc_parse(m, &d, &err) != 0 ||
            layout_read_blob(l, d.digest, d.size, LAYOUT_MAX_JSON, &buf, &len, &err) != 0)
            continue;
        if (soci_index_parse(buf, len, &ix, &err) == 0) {
            for (k = 0; k < ix.nztocs; k++)
                add(s, &ix, &ix.ztocs[k], l);
            soci_index_release(&ix);
        }
        free(buf);
    }
    json_decref(index);
    return s;
}

void existing_free(struct existing_set *s)
{
    if (s == NULL)
        return;
    free(s->e);
    free(s);
}

void existing_lookup(const struct existing_set *s, struct stream_layer_rec *layer)
{
    size_t i;

    layer->nexisting = 0;
    if (s == NULL)
        return;
    for (i = 0; i < s->n && layer->nexisting < STREAM_MAX_EXISTING; i++)
        if (strcmp(s->e[i].layer, layer->desc.digest) == 0)
            layer->existing[layer->nexisting++] = s->e[i].x;
}
