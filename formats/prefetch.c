/* prefetch.c -- SOCI prefetch artifacts (see prefetch.h) */
#include "prefetch.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gojson.h"

int prefetch_encode(const struct prefetch_range *ranges, size_t n, char **out, size_t *len, struct error *err)
{
    struct gojson j;
    const char *res;
    size_t rlen, i;

    RETURN_ERROR_IF(n == 0, err, "a prefetch artifact needs at least one span range");
    gojson_init(&j, 0);
    /* Go's struct order: version, prefetch_spans; start, end, priority */
    gojson_begin_object(&j);
    gojson_key(&j, "version");
    gojson_cstr(&j, PREFETCH_VERSION);
    gojson_key(&j, "prefetch_spans");
    gojson_begin_array(&j);
    for (i = 0; i < n; i++) {
        gojson_begin_object(&j);
        gojson_key(&j, "start_span");
        gojson_int(&j, ranges[i].start_span);
        gojson_key(&j, "end_span");
        gojson_int(&j, ranges[i].end_span);
        if (ranges[i].priority != 0) { /* omitempty */
            gojson_key(&j, "priority");
            gojson_int(&j, ranges[i].priority);
        }
        gojson_end_object(&j);
    }
    gojson_end_array(&j);
    gojson_end_object(&j);
    if (gojson_result(&j, &res, &rlen, err) != 0) {
        gojson_free(&j);
        return -1;
    }
    *out = j.buf;
    *len = rlen;
    return 0;
}

/* a JSON integer in [0, INT32_MAX] (span ids are int32 in the ztoc) */
static int span_field(json_t *obj, const char *key, int required, int32_t *v, size_t i, struct error *err)
{
    json_t *f = json_object_get(obj, key);
    json_int_t x;

    if (f == NULL && !required) {
        *v = 0;
        return 0;
    }
    RETURN_ERROR_IF(!json_is_integer(f), err, "prefetch artifact: range %zu has no integer %s", i, key);
    x = json_integer_value(f);
    RETURN_ERROR_IF(x < 0 || x > INT32_MAX, err, "prefetch artifact: range %zu: %s %lld is out of range", i,
                    key, (long long)x);
    *v = (int32_t)x;
    return 0;
}

int prefetch_decode(const uint8_t *bytes, size_t len, struct prefetch_artifact *a, struct error *err)
{
    json_t *root, *ver, *spans, *s;
    json_error_t jerr;
    size_t i;

    memset(a, 0, sizeof(*a));
    RETURN_ERROR_IF(len > PREFETCH_MAX_BYTES, err, "prefetch artifact of %zu bytes is larger than %zu", len,
                    PREFETCH_MAX_BYTES);
    root = json_loadb((const char *)bytes, len, JSON_REJECT_DUPLICATES, &jerr);
    RETURN_ERROR_IF(root == NULL, err, "prefetch artifact is not JSON: %s (line %d)", jerr.text, jerr.line);
    ver = json_object_get(root, "version");
    if (!json_is_string(ver) || strcmp(json_string_value(ver), PREFETCH_VERSION) != 0) {
        json_decref(root);
        return error_set(err, "prefetch artifact: unsupported version (want \"%s\")", PREFETCH_VERSION);
    }
    spans = json_object_get(root, "prefetch_spans");
    if (!json_is_array(spans) || json_array_size(spans) == 0 || json_array_size(spans) > PREFETCH_MAX_RANGES) {
        json_decref(root);
        return error_set(err, "prefetch artifact: prefetch_spans must hold 1 to %d ranges", PREFETCH_MAX_RANGES);
    }
    a->ranges = calloc(json_array_size(spans), sizeof(*a->ranges));
    if (a->ranges == NULL) {
        json_decref(root);
        return error_set(err, "out of memory");
    }
    json_array_foreach(spans, i, s) {
        struct prefetch_range *r = &a->ranges[i];
        if (!json_is_object(s)) {
            error_set(err, "prefetch artifact: range %zu is not an object", i);
            goto fail;
        }
        if (span_field(s, "start_span", 1, &r->start_span, i, err) != 0 ||
            span_field(s, "end_span", 1, &r->end_span, i, err) != 0 ||
            span_field(s, "priority", 0, &r->priority, i, err) != 0)
            goto fail;
        if (r->end_span < r->start_span) {
            error_set(err, "prefetch artifact: range %zu ends (span %d) before it starts (span %d)", i,
                      r->end_span, r->start_span);
            goto fail;
        }
        a->nranges++;
    }
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    prefetch_release(a);
    return -1;
}

void prefetch_release(struct prefetch_artifact *a)
{
    free(a->ranges);
    a->ranges = NULL;
    a->nranges = 0;
}

int prefetch_check_spans(const struct prefetch_artifact *a, int32_t nspans, struct error *err)
{
    size_t i;

    for (i = 0; i < a->nranges; i++)
        RETURN_ERROR_IF(a->ranges[i].end_span >= nspans, err,
                        "prefetch artifact: range %zu names span %d, the ztoc has %d spans", i,
                        a->ranges[i].end_span, nspans);
    return 0;
}

static int by_start(const void *pa, const void *pb)
{
    const struct prefetch_range *x = pa, *y = pb;

    if (x->start_span != y->start_span)
        return x->start_span < y->start_span ? -1 : 1;
    return x->end_span < y->end_span ? -1 : x->end_span > y->end_span;
}

void prefetch_merge(struct prefetch_range *ranges, size_t *n)
{
    size_t i, out = 0;

    if (*n == 0)
        return;
    qsort(ranges, *n, sizeof(*ranges), by_start);
    ranges[0].priority = 0;
    for (i = 1; i < *n; i++) {
        struct prefetch_range *prev = &ranges[out];
        /* int64: end_span + 1 must not overflow at INT32_MAX */
        if ((int64_t)ranges[i].start_span <= (int64_t)prev->end_span + 1) {
            if (ranges[i].end_span > prev->end_span)
                prev->end_span = ranges[i].end_span;
            continue;
        }
        ranges[++out] = ranges[i];
        ranges[out].priority = 0;
    }
    *n = out + 1;
}

int64_t prefetch_total_spans(const struct prefetch_artifact *a)
{
    int64_t total = 0;
    size_t i;

    for (i = 0; i < a->nranges; i++)
        total += (int64_t)a->ranges[i].end_span - a->ranges[i].start_span + 1;
    return total;
}
