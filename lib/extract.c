/* extract.c -- uncompressed ranges through a ztoc (see extract.h) */
#include "extract.h"

#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "sha256.h"
#include "span_inflate.h"

static int check_span(const struct ztoc *z, int32_t span, const uint8_t *data, size_t n,
                      struct error *err)
{
    uint8_t want[32], got[32];
    const struct strv *d = &z->span_digests[span];

    RETURN_ERROR_IF(digest_parse(d->ptr, d->len, want) != 0, err,
                    "span %d has an invalid digest in the ztoc", span);
    sha256_buf(data, n, got);
    RETURN_ERROR_IF(memcmp(want, got, 32) != 0, err,
                    "span %d does not match its digest in the ztoc (is this the ztoc's layer?)", span);
    return 0;
}

int extract_range(const struct extract_source *src, int64_t off, int64_t len,
                  extract_write_fn write, void *write_ctx, struct error *err)
{
    const struct zinfo *zi = src->zinfo;
    struct span_inflater *si;
    uint8_t *cbuf = NULL, *ubuf = NULL;
    int32_t first, last, s;
    int64_t done = off;     /* the output so far ends here */
    int rc = -1;

    if (len <= 0)
        return 0;
    RETURN_ERROR_IF(off < 0 || off > zi->uncompressed_size || len > zi->uncompressed_size - off, err,
                    "range %lld+%lld lies outside the layer's %lld uncompressed bytes",
                    (long long)off, (long long)len, (long long)zi->uncompressed_size);
    si = span_inflater_new();
    RETURN_ERROR_IF(si == NULL, err, "out of memory");
    first = zinfo_span_of(zi, off);
    last = zinfo_span_of(zi, off + len - 1);
    for (s = first; s <= last; s++) {
        int64_t cs = zinfo_span_compressed_start(zi, s), ce = zinfo_span_compressed_end(zi, s);
        int64_t us = zinfo_span_uncompressed_start(zi, s), ue = zinfo_span_uncompressed_end(zi, s);
        int64_t from, to;
        uint8_t *nb;

        if (ce - cs > EXTRACT_MAX_SPAN || ue - us > EXTRACT_MAX_SPAN || ce < cs || ue < us) {
            error_set(err, "span %d is larger than %lld bytes", s, (long long)EXTRACT_MAX_SPAN);
            goto out;
        }
        nb = realloc(cbuf, (size_t)(ce - cs) + 1);
        if (nb == NULL)
            goto oom;
        cbuf = nb;
        nb = realloc(ubuf, (size_t)(ue - us) + 1);
        if (nb == NULL)
            goto oom;
        ubuf = nb;
        if (src->read(src->read_ctx, cs, (size_t)(ce - cs), cbuf, err) != 0)
            goto out;
        if (src->verify && check_span(src->ztoc, s, cbuf, (size_t)(ce - cs), err) != 0)
            goto out;
        if (span_inflate(si, zi, s, s, cbuf, (size_t)(ce - cs), ubuf, (size_t)(ue - us), err) != 0 ||
            ztoc_check_headers(src->ztoc, us, ubuf, (size_t)(ue - us), err) != 0)
            goto out;
        from = off > us ? off : us;
        to = off + len < ue ? off + len : ue;
        /* the spans must hand out the range whole and in order */
        if (to > from && from != done) {
            error_set(err, "span %d does not continue at uncompressed offset %lld", s, (long long)done);
            goto out;
        }
        if (to > from && write(write_ctx, ubuf + (from - us), (size_t)(to - from), err) != 0)
            goto out;
        if (to > from)
            done = to;
    }
    if (done != off + len) {
        error_set(err, "the ztoc's spans do not cover uncompressed bytes %lld..%lld", (long long)done,
                  (long long)(off + len));
        goto out;
    }
    rc = 0;
    goto out;
oom:
    error_set(err, "out of memory");
out:
    span_inflater_free(si);
    free(cbuf);
    free(ubuf);
    return rc;
}

const struct ztoc_entry *extract_find_file(const struct ztoc *z, const char *name,
                                           struct error *err)
{
    const char *want = name;
    size_t want_len = strlen(name), i;
    int hops;

    for (hops = 0; hops < 40; hops++) {
        for (i = 0; i < z->nentries; i++) {
            const struct ztoc_entry *e = &z->entries[i];
            if (e->name.len == want_len && memcmp(e->name.ptr, want, want_len) == 0)
                break;
        }
        if (i == z->nentries) {
            error_set(err, "file %.*s does not exist in the ztoc", (int)(want_len > 300 ? 300 : want_len),
                      want);
            return NULL;
        }
        if (z->entries[i].linkname.len == 0)
            return &z->entries[i];
        want = z->entries[i].linkname.ptr;
        want_len = z->entries[i].linkname.len;
    }
    error_set(err, "%s: too many levels of links", name);
    return NULL;
}
