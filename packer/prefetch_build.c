/* prefetch_build.c -- prefetch artifacts from path lists (see prefetch_build.h) */
#include "prefetch_build.h"

#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "fileio.h"
#include "prefetch.h"
#include "sha256.h"
#include "strutil.h"
#include "zinfo.h"
#include "ztoc.h"

void prefetch_paths_init(struct prefetch_paths *p)
{
    memset(p, 0, sizeof(*p));
}

void prefetch_paths_free(struct prefetch_paths *p)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    prefetch_paths_init(p);
}

/* Go's path.Clean, then the leading "/" dropped: TOC names are relative */
static void clean_path(const char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    int rooted = len > 0 && in[0] == '/';

    while (i < len) {
        size_t s = i, n;
        while (i < len && in[i] != '/')
            i++;
        n = i - s;
        if (i < len)
            i++;
        if (n == 0 || (n == 1 && in[s] == '.'))
            continue;
        if (n == 2 && in[s] == '.' && in[s + 1] == '.') {
            if (o > 0) { /* drop the last element */
                while (o > 0 && out[o - 1] != '/')
                    o--;
                if (o > 0)
                    o--;
                continue;
            }
            if (rooted)
                continue; /* "/.." is "/" */
        }
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, in + s, n);
        o += n;
    }
    out[o] = '\0';
}

int prefetch_paths_add(struct prefetch_paths *p, const char *path, struct error *err)
{
    size_t len = strlen(path);
    char *c;

    RETURN_ERROR_IF(len == 0, err, "an empty prefetch path");
    RETURN_ERROR_IF(len >= PREFETCH_MAX_PATH_LEN, err, "prefetch path of %zu bytes (at most %d)", len,
                    PREFETCH_MAX_PATH_LEN - 1);
    RETURN_ERROR_IF(p->n >= PREFETCH_MAX_PATHS, err, "more than %d prefetch paths", PREFETCH_MAX_PATHS);
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 16;
        char **nv = realloc(p->v, ncap * sizeof(*nv));
        RETURN_ERROR_IF(nv == NULL, err, "out of memory");
        p->v = nv;
        p->cap = ncap;
    }
    c = malloc(len + 1);
    RETURN_ERROR_IF(c == NULL, err, "out of memory");
    clean_path(path, len, c);
    p->v[p->n++] = c;
    return 0;
}

int prefetch_paths_load(struct prefetch_paths *p, const char *file, struct error *err)
{
    uint8_t *buf;
    size_t len, i = 0;
    char line[PREFETCH_MAX_PATH_LEN];

    if (read_file(file, (size_t)PREFETCH_MAX_PATHS * 256, &buf, &len, err) != 0)
        return error_prefix(err, "--prefetch-files");
    while (i < len) {
        size_t s = i, n;
        while (i < len && buf[i] != '\n')
            i++;
        n = i - s;
        i++;
        if (n > 0 && buf[s + n - 1] == '\r')
            n--;
        if (n == 0)
            continue;
        if (n >= sizeof(line) || memchr(buf + s, '\0', n) != NULL) {
            free(buf);
            return error_set(err, "--prefetch-files %s: line of %zu bytes is not a path", file, n);
        }
        memcpy(line, buf + s, n);
        line[n] = '\0';
        if (prefetch_paths_add(p, line, err) != 0) {
            free(buf);
            return error_prefix(err, "--prefetch-files %s", file);
        }
    }
    free(buf);
    return 0;
}

void prefetch_blobs_free(struct prefetch_blob *b, size_t n)
{
    size_t i;

    for (i = 0; b && i < n; i++)
        free(b[i].json);
    free(b);
}

/* a decoded layer: its TOC sorted by name for lookups, and the ranges found */
struct layer_view {
    struct ztoc z;
    struct zinfo zi;
    int decoded;
    const struct ztoc_entry **by_name;
    struct prefetch_range *ranges;
    size_t nranges, cap;
};

static int cmp_name(const void *a, const void *b)
{
    const struct ztoc_entry *x = *(const struct ztoc_entry *const *)a, *y = *(const struct ztoc_entry *const *)b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c = memcmp(x->name.ptr, y->name.ptr, n);

    return c ? c : (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

static const struct ztoc_entry *find_entry(const struct layer_view *v, const char *name)
{
    size_t lo = 0, hi = v->z.nentries, len = strlen(name);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, n;
        const struct ztoc_entry *e = v->by_name[mid];
        int c;
        n = e->name.len < len ? e->name.len : len;
        c = memcmp(e->name.ptr, name, n);
        if (c == 0)
            c = (e->name.len > len) - (e->name.len < len);
        if (c == 0)
            return e;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int view_open(struct layer_view *v, const struct prefetch_layer *L, struct error *err)
{
    size_t i;

    memset(v, 0, sizeof(*v));
    if (L->ztoc == NULL)
        return 0; /* a layer without a ztoc holds nothing we can name */
    if (ztoc_decode(L->ztoc, L->ztoc_len, &v->z, err) != 0)
        return error_prefix(err, "ztoc of layer %s", L->layer_digest);
    v->decoded = 1;
    if (zinfo_parse(&v->zi, &v->z, err) != 0 || zinfo_check(&v->zi, &v->z, err) != 0)
        return error_prefix(err, "ztoc of layer %s", L->layer_digest);
    v->by_name = malloc((v->z.nentries + 1) * sizeof(*v->by_name));
    RETURN_ERROR_IF(v->by_name == NULL, err, "out of memory");
    for (i = 0; i < v->z.nentries; i++)
        v->by_name[i] = &v->z.entries[i];
    qsort(v->by_name, v->z.nentries, sizeof(*v->by_name), cmp_name);
    return 0;
}

static void view_close(struct layer_view *v)
{
    if (v->decoded)
        ztoc_release(&v->z);
    free(v->by_name);
    free(v->ranges);
}

static int add_range(struct layer_view *v, const struct ztoc_entry *e, struct error *err)
{
    if (v->nranges == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 16;
        struct prefetch_range *nr = realloc(v->ranges, ncap * sizeof(*nr));
        RETURN_ERROR_IF(nr == NULL, err, "out of memory");
        v->ranges = nr;
        v->cap = ncap;
    }
    /* upstream passes the exclusive end offset (docs/format.md §2.3): a file ending on a
     * span boundary names the next span too */
    v->ranges[v->nranges].start_span = zinfo_span_of(&v->zi, e->offset);
    v->ranges[v->nranges].end_span = zinfo_span_of(&v->zi, e->offset + e->size);
    v->ranges[v->nranges].priority = 0;
    v->nranges++;
    return 0;
}

int prefetch_build(const struct prefetch_paths *p, const struct prefetch_layer *layers, size_t nlayers,
                   const char *image, FILE *warn, struct prefetch_blob **out, size_t *nout, struct error *err)
{
    struct layer_view *views;
    size_t i, k;
    int rc = -1;

    *out = NULL;
    *nout = 0;
    views = calloc(nlayers + 1, sizeof(*views));
    RETURN_ERROR_IF(views == NULL, err, "out of memory");
    for (k = 0; k < nlayers; k++)
        if (view_open(&views[k], &layers[k], err) != 0)
            goto done;
    for (i = 0; i < p->n; i++) {
        const struct ztoc_entry *e = NULL;
        for (k = nlayers; k-- > 0 && e == NULL;) {
            if (!views[k].decoded || (e = find_entry(&views[k], p->v[i])) == NULL)
                continue;
            if (add_range(&views[k], e, err) != 0)
                goto done;
        }
        if (e == NULL && warn)
            fprintf(warn, "soci: warning: prefetch path \"%s\" is in no indexed layer of image %s\n", p->v[i],
                    image);
    }
    *out = calloc(nlayers + 1, sizeof(**out));
    if (*out == NULL) {
        error_set(err, "out of memory");
        goto done;
    }
    for (k = 0; k < nlayers; k++) {
        struct layer_view *v = &views[k];
        struct prefetch_blob *b = &(*out)[*nout];
        uint8_t raw[32];
        if (v->nranges == 0)
            continue;
        prefetch_merge(v->ranges, &v->nranges);
        if (prefetch_encode(v->ranges, v->nranges, &b->json, &b->len, err) != 0)
            goto done;
        sha256_buf(b->json, b->len, raw);
        digest_format(raw, b->digest);
        str_copy(b->layer_digest, sizeof(b->layer_digest), layers[k].layer_digest);
        (*nout)++;
    }
    rc = 0;
done:
    for (k = 0; k < nlayers; k++)
        view_close(&views[k]);
    free(views);
    if (rc != 0) {
        prefetch_blobs_free(*out, *nout);
        *out = NULL;
        *nout = 0;
    }
    return rc;
}
