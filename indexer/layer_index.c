/* layer_index.c -- one layer to one ztoc (see layer_index.h) */
#include "layer_index.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "digest.h"
#include "gotime.h"
#include "gzip_index.h"
#include "prefault.h"
#include "sha256.h"
#include "span_hasher.h"
#include "tar_stream.h"
#include "zinfo.h"
#include "ztoc.h"

#define SNIFF_SIZE 4
#define PREFAULT_STEP (256 * 1024) /* entries array faulted in this far ahead */

struct layer_indexer {
    struct layer_index_opts opts;
    struct arena *arena;
    struct ztoc_entry *entries;
    size_t nentries, entries_cap;
    size_t entries_faulted;      /* bytes of entries[] already faulted in */
    int xattr_free;

    struct tar_stream *tar;
    struct span_hasher *hasher;
    struct gzip_index *gzip;     /* NULL for tar layers */
    int format;                  /* 0 until sniffed */
    uint8_t sniff[SNIFF_SIZE];
    size_t sniff_have;
    int64_t bytes_in;
    int64_t next_tar_boundary;   /* tar layers: next span start to announce */
};

int layer_sniff_format(const uint8_t *d, size_t n)
{
    if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b)
        return ZTOC_GZIP;
    if (n >= 4 && d[0] == 0x28 && d[1] == 0xb5 && d[2] == 0x2f && d[3] == 0xfd)
        return -1;
    return ZTOC_UNCOMPRESSED;
}

static const char *type_string(char t)
{
    switch (t) {
    case '0': case '\0': return "reg";
    case '1': return "hardlink";
    case '2': return "symlink";
    case '3': return "char";
    case '4': return "block";
    case '5': return "dir";
    case '6': return "fifo";
    default: return NULL;
    }
}

static int ends_with(struct strv s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && memcmp(s.ptr + s.len - n, suffix, n) == 0;
}

static struct strv keep(struct layer_indexer *li, struct strv s, int *ok)
{
    struct strv r = {"", 0};

    if (s.len == 0)
        return r;
    r.ptr = arena_strndup(li->arena, s.ptr, s.len);
    r.len = s.len;
    if (r.ptr == NULL)
        *ok = 0;
    return r;
}

/* tar_stream callback: record one FileMetadata (docs/format.md §3.2) */
static int on_entry(void *ctx, const struct tar_header *h, struct error *err)
{
    struct layer_indexer *li = ctx;
    struct ztoc_entry *e;
    const char *type = type_string(h->typeflag);
    char mtime[GOTIME_MAX];
    struct strv mt;
    int ok = 1;
    size_t i;

    if (type == NULL) {
        char shown[8];
        if (h->typeflag >= 0x20 && h->typeflag < 0x7f)
            snprintf(shown, sizeof(shown), "'%c'", h->typeflag);
        else
            snprintf(shown, sizeof(shown), "0x%02x", (unsigned char)h->typeflag);
        return error_set(err, "unsupported tar entry type %s for \"%.*s\" at uncompressed offset %lld",
                         shown, (int)(h->name.len > 200 ? 200 : h->name.len), h->name.ptr,
                         (long long)h->header_offset);
    }
    if (li->nentries == li->entries_cap) {
        size_t ncap = li->entries_cap ? li->entries_cap * 2 : 256;
        struct ztoc_entry *ne = realloc(li->entries, ncap * sizeof(*ne));
        RETURN_ERROR_IF(ne == NULL, err, "out of memory for the TOC");
        li->entries = ne;
        li->entries_cap = ncap;
    }
    if ((li->nentries + 1) * sizeof(*e) > li->entries_faulted) {
        size_t cap_bytes = li->entries_cap * sizeof(*e);
        size_t step = cap_bytes - li->entries_faulted < PREFAULT_STEP
                          ? cap_bytes - li->entries_faulted : PREFAULT_STEP;
        prefault_write((uint8_t *)li->entries + li->entries_faulted, step);
        li->entries_faulted += step;
    }
    e = &li->entries[li->nentries];
    memset(e, 0, sizeof(*e));
    e->name = keep(li, h->name, &ok);
    e->type.ptr = type;
    e->type.len = strlen(type);
    e->linkname = keep(li, h->linkname, &ok);
    e->uname = keep(li, h->uname, &ok);
    e->gname = keep(li, h->gname, &ok);
    mt.ptr = mtime;
    mt.len = gotime_format(h->mtime_sec, h->mtime_nsec, mtime);
    e->mod_time = keep(li, mt, &ok);
    e->offset = h->data_offset;
    e->size = h->size;
    e->mode = h->mode;
    e->uid = (uint32_t)h->uid;
    e->gid = (uint32_t)h->gid;
    e->devmajor = h->devmajor;
    e->devminor = h->devminor;
    e->npax = (uint32_t)h->npax;
    if (h->npax) {
        e->pax = arena_alloc(li->arena, h->npax * sizeof(*e->pax));
        if (e->pax == NULL)
            ok = 0;
        for (i = 0; ok && i < h->npax; i++) {
            e->pax[i].key = keep(li, h->pax[i].key, &ok);
            e->pax[i].value = keep(li, h->pax[i].value, &ok);
            if (h->pax[i].key.len > 13 && memcmp(h->pax[i].key.ptr, "SCHILY.xattr.", 13) == 0)
                li->xattr_free = 0;
        }
    }
    RETURN_ERROR_IF(!ok, err, "out of memory for the TOC");
    if (ends_with(h->name, ".wh..wh..opq"))
        li->xattr_free = 0;
    li->nentries++;
    return 0;
}

struct layer_indexer *layer_indexer_new(const struct layer_index_opts *opts, struct error *err)
{
    struct layer_indexer *li;

    if (opts->span_size <= 0) {
        error_set(err, "span size must be positive");
        return NULL;
    }
    li = calloc(1, sizeof(*li));
    if (li == NULL) {
        error_set(err, "out of memory");
        return NULL;
    }
    li->opts = *opts;
    li->xattr_free = 1;
    li->arena = arena_new();
    li->tar = tar_stream_new(on_entry, li);
    li->hasher = span_hasher_new(opts->threaded);
    if (li->arena == NULL || li->tar == NULL || li->hasher == NULL) {
        layer_indexer_free(li);
        error_set(err, "out of memory");
        return NULL;
    }
    return li;
}

void layer_indexer_free(struct layer_indexer *li)
{
    if (li == NULL)
        return;
    gzip_index_free(li->gzip);
    span_hasher_free(li->hasher);
    tar_stream_free(li->tar);
    arena_free(li->arena);
    free(li->entries);
    free(li);
}

int64_t layer_indexer_bytes_in(const struct layer_indexer *li) { return li->bytes_in; }

/* tar layers: spans are fixed slices; announce each start as data reaches it */
static void tar_boundaries(struct layer_indexer *li, int64_t end)
{
    while (li->next_tar_boundary < end) {
        span_hasher_boundary(li->hasher, li->next_tar_boundary, li->next_tar_boundary);
        li->next_tar_boundary += li->opts.span_size;
    }
}

static int process(struct layer_indexer *li, const uint8_t *data, size_t n, struct error *err)
{
    while (n > 0) {
        size_t k = n < SPAN_HASHER_BUFFER_SIZE ? n : SPAN_HASHER_BUFFER_SIZE;
        uint8_t *buf = span_hasher_buffer(li->hasher);

        memcpy(buf, data, k);
        if (li->format == ZTOC_GZIP) {
            if (gzip_index_feed(li->gzip, buf, k, err) != 0) {
                span_hasher_submit(li->hasher, buf, 0);
                return -1;
            }
        } else {
            tar_boundaries(li, li->bytes_in + (int64_t)k);
            if (tar_stream_feed(li->tar, buf, k, err) != 0) {
                span_hasher_submit(li->hasher, buf, 0);
                return -1;
            }
        }
        span_hasher_submit(li->hasher, buf, k);
        li->bytes_in += (int64_t)k;
        data += k;
        n -= k;
    }
    return 0;
}

static int start(struct layer_indexer *li, struct error *err)
{
    li->format = layer_sniff_format(li->sniff, li->sniff_have);
    RETURN_ERROR_IF(li->format < 0, err,
                    "zstd magic at compressed byte 0: zstd layers are not supported");
    if (li->format == ZTOC_GZIP) {
        li->gzip = gzip_index_new(li->opts.span_size, li->tar, li->hasher);
        RETURN_ERROR_IF(li->gzip == NULL, err, "out of memory");
    }
    return process(li, li->sniff, li->sniff_have, err);
}

int layer_indexer_feed(struct layer_indexer *li, const uint8_t *data, size_t n, struct error *err)
{
    if (li->format == 0) {
        size_t k = SNIFF_SIZE - li->sniff_have;
        if (k > n)
            k = n;
        memcpy(li->sniff + li->sniff_have, data, k);
        li->sniff_have += k;
        data += k;
        n -= k;
        if (li->sniff_have < SNIFF_SIZE)
            return 0;
        if (start(li, err) != 0)
            return -1;
    }
    return process(li, data, n, err);
}

int layer_indexer_finish(struct layer_indexer *li, struct layer_index_result *res,
                         struct error *err)
{
    struct ztoc z;
    uint8_t *digests = NULL;
    struct strv *digest_strs = NULL;
    char *digest_text = NULL;
    size_t ndigests = 0, i;
    uint8_t tar_zinfo[128];
    int64_t archive_end;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    if (li->format == 0) {
        RETURN_ERROR_IF(li->sniff_have == 0, err, "empty input: a layer is a tar or gzip stream");
        if (start(li, err) != 0)
            return -1;
    }
    if (li->gzip && gzip_index_finish(li->gzip, err) != 0)
        return -1;
    if (tar_stream_finish(li->tar, &archive_end, err) != 0)
        return -1;
    if (span_hasher_finish(li->hasher, res->blob_digest, &digests, &ndigests, err) != 0)
        return -1;

    memset(&z, 0, sizeof(z));
    z.version.ptr = ZTOC_VERSION;
    z.version.len = strlen(ZTOC_VERSION);
    z.build_tool.ptr = li->opts.build_tool;
    z.build_tool.len = strlen(li->opts.build_tool);
    z.compressed_size = li->bytes_in;
    z.uncompressed_size = archive_end;
    z.entries = li->entries;
    z.nentries = li->nentries;
    z.algorithm = li->format;
    if (li->format == ZTOC_GZIP) {
        int32_t n;
        z.checkpoints.ptr = (const char *)gzip_index_blob(li->gzip, &z.checkpoints.len, &n);
        if ((size_t)n != ndigests) {
            error_set(err, "internal error: %d checkpoints but %zu span digests", n, ndigests);
            goto out;
        }
    } else {
        if (zinfo_tar_encode(li->opts.span_size, li->bytes_in, tar_zinfo, sizeof(tar_zinfo),
                             &z.checkpoints.len, err) != 0)
            goto out;
        z.checkpoints.ptr = (const char *)tar_zinfo;
        if ((size_t)zinfo_tar_span_count(li->bytes_in, li->opts.span_size) != ndigests) {
            error_set(err, "internal error: span count mismatch for a tar layer");
            goto out;
        }
    }
    z.max_span_id = (int32_t)ndigests - 1;
    digest_strs = malloc((ndigests + 1) * sizeof(*digest_strs));
    digest_text = malloc((ndigests + 1) * 72);
    if (digest_strs == NULL || digest_text == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    for (i = 0; i < ndigests; i++) {
        char *t = digest_text + 72 * i;
        digest_format(digests + 32 * i, t);
        digest_strs[i].ptr = t;
        digest_strs[i].len = 71;
    }
    z.span_digests = digest_strs;
    z.nspan_digests = ndigests;
    if (ztoc_encode(&z, &res->ztoc, &res->ztoc_len, err) != 0)
        goto out;
    /* the checkpoints now live in the ztoc: drop the blob before the
     * caller writes the ztoc out */
    gzip_index_free(li->gzip);
    li->gzip = NULL;
    sha256_buf(res->ztoc, res->ztoc_len, res->ztoc_digest);
    res->blob_size = li->bytes_in;
    res->uncompressed_size = archive_end;
    res->algorithm = li->format;
    res->nentries = li->nentries;
    res->nspans = (int32_t)ndigests;
    res->xattr_free = li->xattr_free;
    rc = 0;
out:
    free(digests);
    free(digest_strs);
    free(digest_text);
    return rc;
}

void layer_index_result_free(struct layer_index_result *res)
{
    free(res->ztoc);
    res->ztoc = NULL;
}
