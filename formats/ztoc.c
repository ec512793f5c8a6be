/* ztoc.c -- zTOC encode (upstream byte order) and verified decode */
#include "ztoc.h"

#include <stdlib.h>
#include <string.h>

#include "fb_builder.h"

/* field ids, from formats/ztoc.fbs */
enum { XATTR_KEY, XATTR_VALUE, XATTR_NFIELDS };
enum {
    FM_NAME, FM_TYPE, FM_UNCOMPRESSED_OFFSET, FM_UNCOMPRESSED_SIZE, FM_LINKNAME, FM_MODE,
    FM_UID, FM_GID, FM_UNAME, FM_GNAME, FM_MOD_TIME, FM_DEVMAJOR, FM_DEVMINOR, FM_XATTRS,
    FM_NFIELDS
};
enum { CI_ALGORITHM, CI_MAX_SPAN_ID, CI_SPAN_DIGESTS, CI_CHECKPOINTS, CI_NFIELDS };
enum { TOC_METADATA, TOC_NFIELDS };
enum { Z_VERSION, Z_BUILD_TOOL, Z_COMPRESSED_SIZE, Z_UNCOMPRESSED_SIZE, Z_TOC, Z_COMPRESSION_INFO,
       Z_NFIELDS };

/* ---- encode ---------------------------------------------------------- */

/* an upper bound of the encoded size, so the builder never regrows */
static size_t encoded_size_bound(const struct ztoc *z)
{
    size_t total = 512 + z->version.len + z->build_tool.len + z->checkpoints.len + 16;
    size_t i, j;

    total += 16 + 4 * z->nentries;
    for (i = 0; i < z->nentries; i++) {
        const struct ztoc_entry *e = &z->entries[i];
        total += 192 + 16 + 4 * e->npax;
        total += e->name.len + e->type.len + e->linkname.len + e->uname.len +
                 e->gname.len + e->mod_time.len + 6 * 8;
        for (j = 0; j < e->npax; j++)
            total += 40 + e->pax[j].key.len + e->pax[j].value.len + 16;
    }
    for (i = 0; i < z->nspan_digests; i++)
        total += 4 + z->span_digests[i].len + 8;
    return total + 16;
}

static uint32_t string_of(struct fb_builder *b, struct strv s)
{
    return fb_create_string(b, s.ptr, s.len);
}

/* upstream's prepareMetadataOffset(): strings, xattrs, then the table */
static uint32_t encode_entry(struct fb_builder *b, const struct ztoc_entry *e,
                             uint32_t *scratch)
{
    uint32_t name = string_of(b, e->name);
    uint32_t type = string_of(b, e->type);
    uint32_t linkname = string_of(b, e->linkname);
    uint32_t uname = string_of(b, e->uname);
    uint32_t gname = string_of(b, e->gname);
    uint32_t mod_time = string_of(b, e->mod_time);
    uint32_t xattrs, j;

    for (j = 0; j < e->npax; j++) {
        uint32_t k = string_of(b, e->pax[j].key);
        uint32_t v = string_of(b, e->pax[j].value);
        fb_start_table(b, XATTR_NFIELDS);
        fb_add_offset(b, XATTR_KEY, k);
        fb_add_offset(b, XATTR_VALUE, v);
        scratch[j] = fb_end_table(b);
    }
    fb_start_vector(b, 4, e->npax, 4);
    for (j = e->npax; j-- > 0;)
        fb_prepend_uoffset(b, scratch[j]);
    xattrs = fb_end_vector(b, e->npax);

    fb_start_table(b, FM_NFIELDS);
    fb_add_offset(b, FM_NAME, name);
    fb_add_offset(b, FM_TYPE, type);
    fb_add_i64(b, FM_UNCOMPRESSED_OFFSET, e->offset, 0);
    fb_add_i64(b, FM_UNCOMPRESSED_SIZE, e->size, 0);
    fb_add_offset(b, FM_LINKNAME, linkname);
    fb_add_i64(b, FM_MODE, e->mode, 0);
    fb_add_u32(b, FM_UID, e->uid, 0);
    fb_add_u32(b, FM_GID, e->gid, 0);
    fb_add_offset(b, FM_UNAME, uname);
    fb_add_offset(b, FM_GNAME, gname);
    fb_add_offset(b, FM_MOD_TIME, mod_time);
    fb_add_i64(b, FM_DEVMAJOR, e->devmajor, 0);
    fb_add_i64(b, FM_DEVMINOR, e->devminor, 0);
    fb_add_offset(b, FM_XATTRS, xattrs);
    return fb_end_table(b);
}

static int pax_sorted(const struct ztoc_entry *e)
{
    uint32_t j;

    for (j = 1; j < e->npax; j++) {
        const struct strv *a = &e->pax[j - 1].key, *c = &e->pax[j].key;
        size_t n = a->len < c->len ? a->len : c->len;
        int d = memcmp(a->ptr, c->ptr, n);
        if (d > 0 || (d == 0 && a->len >= c->len))
            return 0;
    }
    return 1;
}

int ztoc_encode(const struct ztoc *z, uint8_t **out, size_t *out_len, struct error *err)
{
    struct fb_builder *b;
    uint32_t *offsets = NULL, *scratch = NULL;
    uint32_t version, build_tool, toc, metadata, checkpoints, digests, info, root;
    size_t i, max_pax = 0, nmax;
    const uint8_t *bytes;
    size_t len;
    int rc = -1;

    for (i = 0; i < z->nentries; i++) {
        RETURN_ERROR_IF(!pax_sorted(&z->entries[i]), err,
                        "ztoc: PAX records of entry %zu are not sorted and unique", i);
        if (z->entries[i].npax > max_pax)
            max_pax = z->entries[i].npax;
    }
    RETURN_ERROR_IF(z->algorithm != ZTOC_GZIP && z->algorithm != ZTOC_UNCOMPRESSED, err,
                    "ztoc: unknown compression algorithm %d", z->algorithm);
    b = fb_builder_new(encoded_size_bound(z));
    nmax = z->nentries > z->nspan_digests ? z->nentries : z->nspan_digests;
    offsets = malloc((nmax + 1) * sizeof(*offsets));
    scratch = malloc((max_pax + 1) * sizeof(*scratch));
    if (b == NULL || offsets == NULL || scratch == NULL) {
        error_set(err, "ztoc: out of memory");
        goto out;
    }

    version = string_of(b, z->version);
    build_tool = string_of(b, z->build_tool);

    /* TOC: entries built from the last to the first (tocToFlatbuffer) */
    for (i = z->nentries; i-- > 0;)
        offsets[i] = encode_entry(b, &z->entries[i], scratch);
    fb_start_vector(b, 4, z->nentries, 4);
    for (i = z->nentries; i-- > 0;)
        fb_prepend_uoffset(b, offsets[i]);
    metadata = fb_end_vector(b, z->nentries);
    fb_start_table(b, TOC_NFIELDS);
    fb_add_offset(b, TOC_METADATA, metadata);
    toc = fb_end_table(b);

    /* compression info: checkpoints, then digests in span order */
    checkpoints = fb_create_byte_vector(b, z->checkpoints.ptr, z->checkpoints.len);
    for (i = 0; i < z->nspan_digests; i++)
        offsets[i] = string_of(b, z->span_digests[i]);
    fb_start_vector(b, 4, z->nspan_digests, 4);
    for (i = z->nspan_digests; i-- > 0;)
        fb_prepend_uoffset(b, offsets[i]);
    digests = fb_end_vector(b, z->nspan_digests);
    fb_start_table(b, CI_NFIELDS);
    fb_add_i32(b, CI_MAX_SPAN_ID, z->max_span_id, 0);
    fb_add_offset(b, CI_SPAN_DIGESTS, digests);
    fb_add_offset(b, CI_CHECKPOINTS, checkpoints);
    fb_add_i8(b, CI_ALGORITHM, (int8_t)z->algorithm, ZTOC_GZIP);
    info = fb_end_table(b);

    /* root: upstream's Add order, which is not field order */
    fb_start_table(b, Z_NFIELDS);
    fb_add_offset(b, Z_VERSION, version);
    fb_add_offset(b, Z_BUILD_TOOL, build_tool);
    fb_add_offset(b, Z_TOC, toc);
    fb_add_i64(b, Z_COMPRESSED_SIZE, z->compressed_size, 0);
    fb_add_i64(b, Z_UNCOMPRESSED_SIZE, z->uncompressed_size, 0);
    fb_add_offset(b, Z_COMPRESSION_INFO, info);
    root = fb_end_table(b);

    if (fb_finish(b, root, &bytes, &len, err) != 0)
        goto out;
    /* the builder's buffer becomes the result: no second copy of the ztoc */
    *out = fb_take(b, out_len);
    rc = 0;
out:
    fb_builder_free(b);
    free(offsets);
    free(scratch);
    return rc;
}

/* ---- decode ---------------------------------------------------------- */

static int decode_entry(const struct fb_table *t, struct ztoc_entry *e,
                        struct ztoc_pax *pax, size_t pax_avail, struct error *err)
{
    struct fb_vector xv;
    uint32_t j;

    if (fb_read_string(t, FM_NAME, &e->name, err) || fb_read_string(t, FM_TYPE, &e->type, err) ||
        fb_read_i64(t, FM_UNCOMPRESSED_OFFSET, 0, &e->offset, err) ||
        fb_read_i64(t, FM_UNCOMPRESSED_SIZE, 0, &e->size, err) ||
        fb_read_string(t, FM_LINKNAME, &e->linkname, err) ||
        fb_read_i64(t, FM_MODE, 0, &e->mode, err) || fb_read_u32(t, FM_UID, 0, &e->uid, err) ||
        fb_read_u32(t, FM_GID, 0, &e->gid, err) || fb_read_string(t, FM_UNAME, &e->uname, err) ||
        fb_read_string(t, FM_GNAME, &e->gname, err) ||
        fb_read_string(t, FM_MOD_TIME, &e->mod_time, err) ||
        fb_read_i64(t, FM_DEVMAJOR, 0, &e->devmajor, err) ||
        fb_read_i64(t, FM_DEVMINOR, 0, &e->devminor, err) ||
        fb_read_vector(t, FM_XATTRS, 4, &xv, err))
        return -1;
    RETURN_ERROR_IF(xv.count > pax_avail, err, "ztoc: too many PAX records");
    e->npax = xv.count;
    e->pax = pax;
    for (j = 0; j < xv.count; j++) {
        struct fb_table xt;
        if (fb_vector_table(&xv, j, &xt, err) ||
            fb_read_string(&xt, XATTR_KEY, &pax[j].key, err) ||
            fb_read_string(&xt, XATTR_VALUE, &pax[j].value, err))
            return -1;
    }
    return 0;
}

static int strv_cmp(const struct strv *a, const struct strv *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int d = memcmp(a->ptr, b->ptr, n);

    if (d != 0)
        return d;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int pax_cmp(const void *a, const void *b)
{
    return strv_cmp(&((const struct ztoc_pax *)a)->key, &((const struct ztoc_pax *)b)->key);
}

static int entry_offset_cmp(const void *a, const void *b)
{
    const struct ztoc_entry *x = a, *y = b;

    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    /* keep the input order for equal offsets: compare addresses of the
     * original slots, which qsort does not preserve, so fall back to names */
    return strv_cmp(&x->name, &y->name);
}

int ztoc_decode(const uint8_t *buf, size_t len, struct ztoc *z, struct error *err)
{
    return ztoc_decode_alloc(buf, len, z, NULL, err);
}

int ztoc_decode_alloc(const uint8_t *buf, size_t len, struct ztoc *z, void *(*alloc)(size_t),
                      struct error *err)
{
    struct fb_table root, toc, info, et;
    struct fb_vector mv, dv, cv;
    int has_toc, has_info;
    int8_t algorithm;
    size_t i, total_pax = 0, max_objects;
    char *mem;

    memset(z, 0, sizeof(*z));
    if (fb_read_root(buf, len, &root, err) ||
        fb_read_string(&root, Z_VERSION, &z->version, err) ||
        fb_read_string(&root, Z_BUILD_TOOL, &z->build_tool, err) ||
        fb_read_i64(&root, Z_COMPRESSED_SIZE, 0, &z->compressed_size, err) ||
        fb_read_i64(&root, Z_UNCOMPRESSED_SIZE, 0, &z->uncompressed_size, err) ||
        fb_read_table(&root, Z_TOC, &toc, &has_toc, err) ||
        fb_read_table(&root, Z_COMPRESSION_INFO, &info, &has_info, err))
        return error_prefix(err, "invalid ztoc");
    RETURN_ERROR_IF(!has_info, err, "invalid ztoc: no compression info");
    RETURN_ERROR_IF(z->compressed_size < 0 || z->uncompressed_size < 0, err,
                    "invalid ztoc: negative archive size");
    if (fb_read_i8(&info, CI_ALGORITHM, ZTOC_GZIP, &algorithm, err) ||
        fb_read_i32(&info, CI_MAX_SPAN_ID, 0, &z->max_span_id, err) ||
        fb_read_vector(&info, CI_SPAN_DIGESTS, 4, &dv, err) ||
        fb_read_vector(&info, CI_CHECKPOINTS, 1, &cv, err))
        return error_prefix(err, "invalid ztoc");
    RETURN_ERROR_IF(algorithm != ZTOC_GZIP && algorithm != ZTOC_UNCOMPRESSED, err,
                    "invalid ztoc: unexpected compression algorithm %d", algorithm);
    z->algorithm = algorithm;
    z->checkpoints.ptr = (const char *)buf + cv.pos;
    z->checkpoints.len = cv.count;

    mv.count = 0;
    if (has_toc && fb_read_vector(&toc, TOC_METADATA, 4, &mv, err))
        return error_prefix(err, "invalid ztoc");

    /* count PAX records first so one allocation holds everything; each
     * table costs at least 12 bytes, which bounds what a hostile buffer
     * can make us allocate */
    max_objects = len / 12;
    RETURN_ERROR_IF(mv.count > max_objects, err, "invalid ztoc: absurd entry count %u", mv.count);
    for (i = 0; i < mv.count; i++) {
        struct fb_vector xv;
        if (fb_vector_table(&mv, (uint32_t)i, &et, err) ||
            fb_read_vector(&et, FM_XATTRS, 4, &xv, err))
            return error_prefix(err, "invalid ztoc: entry %zu", i);
        total_pax += xv.count;
        RETURN_ERROR_IF(total_pax > max_objects, err, "invalid ztoc: absurd PAX record count");
    }
    {
        size_t bytes = mv.count * sizeof(struct ztoc_entry) + total_pax * sizeof(struct ztoc_pax) +
                       dv.count * sizeof(struct strv) + 1;
        mem = alloc ? alloc(bytes) : malloc(bytes);
    }
    RETURN_ERROR_IF(mem == NULL, err, "ztoc: out of memory");
    z->owned_ = mem;
    z->entries = (struct ztoc_entry *)mem;
    z->nentries = mv.count;
    {
        struct ztoc_pax *pax = (struct ztoc_pax *)(mem + mv.count * sizeof(struct ztoc_entry));
        size_t pax_left = total_pax;
        z->span_digests = (struct strv *)(mem + mv.count * sizeof(struct ztoc_entry) +
                                          total_pax * sizeof(struct ztoc_pax));
        for (i = 0; i < mv.count; i++) {
            struct ztoc_entry *e = &z->entries[i];
            memset(e, 0, sizeof(*e));
            if (fb_vector_table(&mv, (uint32_t)i, &et, err) ||
                decode_entry(&et, e, pax, pax_left, err)) {
                error_prefix(err, "invalid ztoc: entry %zu", i);
                goto fail;
            }
            pax += e->npax;
            pax_left -= e->npax;
            /* upstream keeps PAX records in a map: present them sorted */
            if (e->npax > 1)
                qsort(e->pax, e->npax, sizeof(*e->pax), pax_cmp);
        }
    }
    z->nspan_digests = dv.count;
    for (i = 0; i < dv.count; i++)
        if (fb_vector_string(&dv, (uint32_t)i, &z->span_digests[i], err)) {
            error_prefix(err, "invalid ztoc: span digest %zu", i);
            goto fail;
        }

    /* upstream's load rule (docs/format.md §1.5): sort by offset, recompute header
     * offsets, and refuse entries that overlap the previous one */
    for (i = 1; i < z->nentries; i++)
        if (z->entries[i].offset < z->entries[i - 1].offset)
            break;
    if (i < z->nentries)
        qsort(z->entries, z->nentries, sizeof(*z->entries), entry_offset_cmp);
    {
        int64_t next = 0;
        for (i = 0; i < z->nentries; i++) {
            struct ztoc_entry *e = &z->entries[i];
            if (e->offset < 0 || e->size < 0 || e->offset > INT64_MAX - e->size - 511 ||
                next > e->offset) {
                error_set(err, "invalid ztoc: invalid toc entry %zu (\"%.*s\")", i,
                          (int)(e->name.len > 200 ? 200 : e->name.len), e->name.ptr);
                goto fail;
            }
            e->tar_header_offset = next;
            /* upstream adds the size even for a header-only entry, so a
             * fifo or link whose header carries a size (Go records it)
             * puts the next header up to a block late, or past its data
             * and then the ztoc is refused.  Such a ztoc still
             * describes the layer exactly: the next header is where the
             * tar reader found it, right after this one. */
            next = ztoc_align512(e->offset + ztoc_entry_data_size(e));
        }
    }
    return 0;
fail:
    ztoc_release(z);
    return -1;
}

void ztoc_release(struct ztoc *z)
{
    free(z->owned_);
    z->owned_ = NULL;
    z->entries = NULL;
    z->span_digests = NULL;
    z->nentries = 0;
    z->nspan_digests = 0;
}

/* ---- checking the TOC against decoded bytes ---- */

#define TAR_BLOCK 512

/* a tar numeric field as the TOC's tar reader took it (Go's): base-256,
 * or octal with spaces and NULs trimmed from both ends and the digits
 * ending at the first NUL (bytes after it are ignored: "011113\0\x18" is
 * a valid checksum) */
static int tar_number(const uint8_t *f, size_t n, int64_t *out)
{
    uint64_t v = 0;
    size_t i = 0, end = n;

    if (f[0] & 0x80) {
        if (f[0] & 0x40)
            return -1; /* negative: no size or checksum is */
        for (i = 0; i < n; i++) {
            if (v >> 55)
                return -1;
            v = v << 8 | (i == 0 ? (f[0] & 0x7f) : f[i]);
        }
        *out = (int64_t)v;
        return 0;
    }
    while (i < end && (f[i] == ' ' || f[i] == 0))
        i++;
    while (end > i && (f[end - 1] == ' ' || f[end - 1] == 0))
        end--;
    for (; i < end && f[i] != 0; i++) {
        if (f[i] < '0' || f[i] > '7' || v >> 60)
            return -1;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    *out = (int64_t)v;
    return 0;
}

/* the stored checksum equals the sum of the block's bytes (as unsigned or
 * as signed chars, as readers accept), the field itself counted as spaces */
static int tar_checksum_ok(const uint8_t *h)
{
    int64_t stored;
    int64_t usum = 8 * ' ', ssum = 8 * ' ';
    int i;

    if (tar_number(h + 148, 8, &stored) != 0)
        return 0;
    for (i = 0; i < TAR_BLOCK; i++) {
        if (i >= 148 && i < 156)
            continue;
        usum += h[i];
        ssum += (signed char)h[i];
    }
    return stored == usum || stored == ssum;
}

static int check_header(const struct ztoc_entry *e, const uint8_t *h, struct error *err)
{
    size_t nlen = 0;
    int64_t size;

    RETURN_ERROR_IF(!tar_checksum_ok(h), err,
                    "the layer has no tar header where its ztoc puts \"%.*s\" (uncompressed offset %lld)",
                    (int)(e->name.len > 200 ? 200 : e->name.len), e->name.ptr, (long long)(e->offset - TAR_BLOCK));
    if (e->offset - TAR_BLOCK != e->tar_header_offset)
        return 0; /* PAX or GNU blocks before it carry the name and size */
    while (nlen < 100 && h[nlen] != 0)
        nlen++;
    /* the name field is the whole name, or its end after a ustar prefix */
    RETURN_ERROR_IF(nlen > e->name.len || memcmp(e->name.ptr + e->name.len - nlen, h, nlen) != 0 ||
                        (nlen < e->name.len && e->name.ptr[e->name.len - nlen - 1] != '/'),
                    err, "the tar header at uncompressed offset %lld is not the one of \"%.*s\" its ztoc says",
                    (long long)(e->offset - TAR_BLOCK), (int)(e->name.len > 200 ? 200 : e->name.len),
                    e->name.ptr);
    /* old GNU sparse headers: the entry's size is the real size, not this */
    if (h[156] == 'S')
        return 0;
    RETURN_ERROR_IF(tar_number(h + 124, 12, &size) != 0 || size != e->size, err,
                    "the tar header of \"%.*s\" does not give the size its ztoc says (%lld)",
                    (int)(e->name.len > 200 ? 200 : e->name.len), e->name.ptr, (long long)e->size);
    return 0;
}

int ztoc_check_headers(const struct ztoc *z, int64_t start, const uint8_t *data, size_t len,
                       struct error *err)
{
    size_t lo = 0, hi = z->nentries;
    int64_t end = start + (int64_t)len;

    /* entries are sorted by offset (ztoc_decode): the first whose header
     * block starts at or after start */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->entries[mid].offset - TAR_BLOCK < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < z->nentries && z->entries[lo].offset <= end; lo++) {
        const struct ztoc_entry *e = &z->entries[lo];
        if (e->offset < TAR_BLOCK)
            return error_set(err, "entry \"%.*s\" of the ztoc has no room for its tar header",
                             (int)(e->name.len > 200 ? 200 : e->name.len), e->name.ptr);
        if (check_header(e, data + (e->offset - TAR_BLOCK - start), err) != 0)
            return -1;
    }
    return 0;
}

int64_t ztoc_entry_data_size(const struct ztoc_entry *e)
{
    static const char *const header_only[] = {"hardlink", "symlink", "char", "block", "dir", "fifo"};
    size_t i;

    for (i = 0; i < sizeof(header_only) / sizeof(header_only[0]); i++)
        if (e->type.len == strlen(header_only[i]) && memcmp(e->type.ptr, header_only[i], e->type.len) == 0)
            return 0;
    return e->size;
}

const struct ztoc_pax *ztoc_entry_pax(const struct ztoc_entry *e, const char *key)
{
    size_t klen = strlen(key);
    uint32_t j;

    for (j = 0; j < e->npax; j++)
        if (e->pax[j].key.len == klen && memcmp(e->pax[j].key.ptr, key, klen) == 0)
            return &e->pax[j];
    return NULL;
}
