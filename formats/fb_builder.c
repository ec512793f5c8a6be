/* fb_builder.c -- Go-compatible FlatBuffers builder (see fb_builder.h) */
#include "fb_builder.h"

#include <stdlib.h>
#include <string.h>

#define FB_MAX_FIELDS 64
#define FB_MAX_SIZE ((size_t)0x7fffffff)

struct fb_builder {
    uint8_t *buf;        /* data lives in buf[head, cap) */
    size_t cap;
    size_t head;
    size_t minalign;
    int failed;          /* sticky: allocation failure or misuse */

    int in_table;
    int nfields;
    uint32_t slots[FB_MAX_FIELDS];
    uint32_t object_end;

    uint32_t *vtables;   /* offsets of vtables written so far */
    size_t nvtables, vtables_cap;
};

static size_t used(const struct fb_builder *b) { return b->cap - b->head; }
static uint32_t offset_now(const struct fb_builder *b) { return (uint32_t)used(b); }

struct fb_builder *fb_builder_new(size_t capacity_hint)
{
    struct fb_builder *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    b->cap = capacity_hint < 1024 ? 1024 : capacity_hint;
    b->buf = malloc(b->cap);
    if (b->buf == NULL) {
        free(b);
        return NULL;
    }
    b->head = b->cap;
    b->minalign = 1;
    return b;
}

void fb_builder_free(struct fb_builder *b)
{
    if (b == NULL)
        return;
    free(b->buf);
    free(b->vtables);
    free(b);
}

/* make room for n more bytes in front of head, growing towards the front */
static int reserve(struct fb_builder *b, size_t n)
{
    size_t need, ncap;
    uint8_t *nbuf;

    if (b->failed)
        return -1;
    if (b->head >= n)
        return 0;
    need = used(b) + n;
    if (need > FB_MAX_SIZE) {
        b->failed = 1;
        return -1;
    }
    ncap = b->cap;
    while (ncap < need)
        ncap = ncap * 2;
    if (ncap > FB_MAX_SIZE)
        ncap = FB_MAX_SIZE;
    nbuf = malloc(ncap);
    if (nbuf == NULL) {
        b->failed = 1;
        return -1;
    }
    memcpy(nbuf + ncap - used(b), b->buf + b->head, used(b));
    b->head = ncap - used(b);
    free(b->buf);
    b->buf = nbuf;
    b->cap = ncap;
    return 0;
}

static void pad(struct fb_builder *b, size_t n)
{
    if (n == 0 || reserve(b, n) != 0)
        return;
    b->head -= n;
    memset(b->buf + b->head, 0, n);
}

/* Go's Prep(): align so that after `additional` bytes a `size`-byte item
 * lands aligned; the padding is written now */
static void prep(struct fb_builder *b, size_t size, size_t additional)
{
    size_t align;

    if (size > b->minalign)
        b->minalign = size;
    align = (~(used(b) + additional) + 1) & (size - 1);
    pad(b, align);
}

static void place(struct fb_builder *b, const void *p, size_t n)
{
    if (reserve(b, n) != 0)
        return;
    b->head -= n;
    memcpy(b->buf + b->head, p, n);
}

static void place_le(struct fb_builder *b, uint64_t v, size_t n)
{
    uint8_t tmp[8];
    size_t i;

    for (i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    place(b, tmp, n);
}

static void prepend_scalar(struct fb_builder *b, uint64_t v, size_t n)
{
    prep(b, n, 0);
    place_le(b, v, n);
}

static void misuse(struct fb_builder *b) { b->failed = 1; }

uint32_t fb_create_string(struct fb_builder *b, const void *s, size_t len)
{
    uint8_t zero = 0;

    if (b->in_table || len > FB_MAX_SIZE) {
        misuse(b);
        return 0;
    }
    prep(b, 4, len + 1);
    place(b, &zero, 1);
    if (len)
        place(b, s, len);
    place_le(b, (uint32_t)len, 4);
    return offset_now(b);
}

uint32_t fb_create_byte_vector(struct fb_builder *b, const void *data, size_t len)
{
    if (b->in_table || len > FB_MAX_SIZE) {
        misuse(b);
        return 0;
    }
    prep(b, 4, len);
    if (len)
        place(b, data, len);
    place_le(b, (uint32_t)len, 4);
    return offset_now(b);
}

void fb_start_vector(struct fb_builder *b, size_t elem_size, size_t count, size_t alignment)
{
    if (b->in_table || count > FB_MAX_SIZE / (elem_size ? elem_size : 1)) {
        misuse(b);
        return;
    }
    prep(b, 4, elem_size * count);
    prep(b, alignment, elem_size * count);
}

void fb_prepend_uoffset(struct fb_builder *b, uint32_t off)
{
    prep(b, 4, 0);
    if (off > used(b)) {
        misuse(b);
        return;
    }
    place_le(b, (uint32_t)(used(b) - off + 4), 4);
}

uint32_t fb_end_vector(struct fb_builder *b, size_t count)
{
    /* StartVector already aligned for the length word */
    place_le(b, (uint32_t)count, 4);
    return offset_now(b);
}

void fb_start_table(struct fb_builder *b, int nfields)
{
    if (b->in_table || nfields < 0 || nfields > FB_MAX_FIELDS) {
        misuse(b);
        return;
    }
    b->in_table = 1;
    b->nfields = nfields;
    memset(b->slots, 0, sizeof(b->slots));
    b->object_end = offset_now(b);
}

static void set_slot(struct fb_builder *b, int field)
{
    if (!b->in_table || field < 0 || field >= b->nfields) {
        misuse(b);
        return;
    }
    b->slots[field] = offset_now(b);
}

void fb_add_i8(struct fb_builder *b, int field, int8_t v, int8_t def)
{
    if (v == def)
        return;
    prepend_scalar(b, (uint8_t)v, 1);
    set_slot(b, field);
}

void fb_add_i32(struct fb_builder *b, int field, int32_t v, int32_t def)
{
    if (v == def)
        return;
    prepend_scalar(b, (uint32_t)v, 4);
    set_slot(b, field);
}

void fb_add_u32(struct fb_builder *b, int field, uint32_t v, uint32_t def)
{
    if (v == def)
        return;
    prepend_scalar(b, v, 4);
    set_slot(b, field);
}

void fb_add_i64(struct fb_builder *b, int field, int64_t v, int64_t def)
{
    if (v == def)
        return;
    prepend_scalar(b, (uint64_t)v, 8);
    set_slot(b, field);
}

void fb_add_offset(struct fb_builder *b, int field, uint32_t off)
{
    if (off == 0)
        return;
    fb_prepend_uoffset(b, off);
    set_slot(b, field);
}

static uint16_t read_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void write_i32_at(struct fb_builder *b, uint32_t off, int32_t v)
{
    uint8_t *p = b->buf + b->cap - off;
    uint32_t u = (uint32_t)v;

    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}

/* the vtable entries this object would have, trailing zeros dropped */
static int vtable_entries(const struct fb_builder *b, uint32_t object_off, uint16_t *entries)
{
    int n = b->nfields, i;

    while (n > 0 && b->slots[n - 1] == 0)
        n--;
    for (i = 0; i < n; i++)
        entries[i] = b->slots[i] ? (uint16_t)(object_off - b->slots[i]) : 0;
    return n;
}

static uint32_t find_vtable(const struct fb_builder *b, const uint16_t *entries, int n)
{
    size_t k;
    int i;

    for (k = b->nvtables; k-- > 0;) {
        const uint8_t *vt = b->buf + b->cap - b->vtables[k];
        if (read_u16(vt) != (n + 2) * 2)
            continue;
        for (i = 0; i < n; i++)
            if (read_u16(vt + 4 + 2 * i) != entries[i])
                break;
        if (i == n)
            return b->vtables[k];
    }
    return 0;
}

uint32_t fb_end_table(struct fb_builder *b)
{
    uint16_t entries[FB_MAX_FIELDS];
    uint32_t object_off, existing;
    int n, i;

    if (!b->in_table) {
        misuse(b);
        return 0;
    }
    prepend_scalar(b, 0, 4); /* soffset placeholder */
    object_off = offset_now(b);
    n = vtable_entries(b, object_off, entries);
    if (b->failed)
        goto done;
    existing = find_vtable(b, entries, n);
    if (existing) {
        write_i32_at(b, object_off, (int32_t)existing - (int32_t)object_off);
    } else {
        for (i = n - 1; i >= 0; i--)
            prepend_scalar(b, entries[i], 2);
        prepend_scalar(b, (uint16_t)(object_off - b->object_end), 2);
        prepend_scalar(b, (uint16_t)((n + 2) * 2), 2);
        if (b->failed)
            goto done;
        write_i32_at(b, object_off, (int32_t)(offset_now(b) - object_off));
        if (b->nvtables == b->vtables_cap) {
            size_t ncap = b->vtables_cap ? b->vtables_cap * 2 : 16;
            uint32_t *nv = realloc(b->vtables, ncap * sizeof(*nv));
            if (nv == NULL) {
                b->failed = 1;
                goto done;
            }
            b->vtables = nv;
            b->vtables_cap = ncap;
        }
        b->vtables[b->nvtables++] = offset_now(b);
    }
done:
    b->in_table = 0;
    return object_off;
}

int fb_finish(struct fb_builder *b, uint32_t root, const uint8_t **out,
              size_t *out_len, struct error *err)
{
    if (b->in_table)
        b->failed = 1;
    prep(b, b->minalign, 4);
    fb_prepend_uoffset(b, root);
    if (b->failed)
        return error_set(err, "flatbuffers builder: out of memory or buffer larger than 2 GiB");
    *out = b->buf + b->head;
    *out_len = used(b);
    return 0;
}

uint8_t *fb_take(struct fb_builder *b, size_t *out_len)
{
    uint8_t *p = b->buf;
    size_t n = used(b);

    memmove(p, p + b->head, n);
    b->buf = NULL;
    b->cap = b->head = 0;
    *out_len = n;
    /* give the unused tail back when it is large */
    if (n > 0) {
        uint8_t *q = realloc(p, n);
        if (q != NULL)
            p = q;
    }
    return p;
}
