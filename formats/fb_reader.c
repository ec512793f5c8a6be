/* fb_reader.c -- verifying FlatBuffers reader (see fb_reader.h) */
#include "fb_reader.h"

static uint16_t u16_at(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t u64_at(const uint8_t *p) { return (uint64_t)u32_at(p) | (uint64_t)u32_at(p + 4) << 32; }

static int table_at(const uint8_t *buf, size_t len, size_t pos, struct fb_table *t,
                    struct error *err)
{
    int64_t vt;
    int32_t soff;

    RETURN_ERROR_IF(pos % 4 != 0 || pos > len || len - pos < 4, err,
                    "flatbuffers: table offset %zu out of bounds or misaligned", pos);
    soff = (int32_t)u32_at(buf + pos);
    vt = (int64_t)pos - soff;
    RETURN_ERROR_IF(vt < 0 || vt % 2 != 0 || (uint64_t)vt > len || len - (size_t)vt < 4, err,
                    "flatbuffers: vtable of table at %zu out of bounds", pos);
    t->buf = buf;
    t->buf_len = len;
    t->pos = pos;
    t->vtable = (size_t)vt;
    t->vtable_size = u16_at(buf + vt);
    t->object_size = u16_at(buf + vt + 2);
    RETURN_ERROR_IF(t->vtable_size < 4 || t->vtable_size % 2 != 0 ||
                    len - (size_t)vt < t->vtable_size, err,
                    "flatbuffers: bad vtable size %u at %zu", t->vtable_size, (size_t)vt);
    RETURN_ERROR_IF(t->object_size < 4 || len - pos < t->object_size, err,
                    "flatbuffers: table at %zu overruns the buffer", pos);
    return 0;
}

int fb_read_root(const uint8_t *buf, size_t len, struct fb_table *root, struct error *err)
{
    RETURN_ERROR_IF(len < 8, err, "flatbuffers: buffer of %zu bytes is too short", len);
    return table_at(buf, len, u32_at(buf), root, err);
}

/* position of a field's inline value, or 0 when absent */
static int field_pos(const struct fb_table *t, int field, size_t size, size_t *pos,
                     struct error *err)
{
    size_t voff = 4 + 2 * (size_t)field;
    uint16_t fo;

    *pos = 0;
    if (voff + 2 > t->vtable_size)
        return 0;
    fo = u16_at(t->buf + t->vtable + voff);
    if (fo == 0)
        return 0;
    RETURN_ERROR_IF(fo < 4 || (size_t)fo + size > t->object_size, err,
                    "flatbuffers: field %d of table at %zu lies outside the table", field, t->pos);
    RETURN_ERROR_IF((t->pos + fo) % size != 0, err,
                    "flatbuffers: field %d of table at %zu is misaligned", field, t->pos);
    *pos = t->pos + fo;
    return 0;
}

int fb_read_i8(const struct fb_table *t, int field, int8_t def, int8_t *out, struct error *err)
{
    size_t p;

    if (field_pos(t, field, 1, &p, err) != 0)
        return -1;
    *out = p ? (int8_t)t->buf[p] : def;
    return 0;
}

int fb_read_i32(const struct fb_table *t, int field, int32_t def, int32_t *out, struct error *err)
{
    size_t p;

    if (field_pos(t, field, 4, &p, err) != 0)
        return -1;
    *out = p ? (int32_t)u32_at(t->buf + p) : def;
    return 0;
}

int fb_read_u32(const struct fb_table *t, int field, uint32_t def, uint32_t *out, struct error *err)
{
    size_t p;

    if (field_pos(t, field, 4, &p, err) != 0)
        return -1;
    *out = p ? u32_at(t->buf + p) : def;
    return 0;
}

int fb_read_i64(const struct fb_table *t, int field, int64_t def, int64_t *out, struct error *err)
{
    size_t p;

    if (field_pos(t, field, 8, &p, err) != 0)
        return -1;
    *out = p ? (int64_t)u64_at(t->buf + p) : def;
    return 0;
}

/* follow the uoffset stored at p; the target must leave room for `need` bytes */
static int deref(const uint8_t *buf, size_t len, size_t p, size_t need, size_t *target,
                 struct error *err)
{
    uint32_t rel = u32_at(buf + p);

    RETURN_ERROR_IF(rel == 0 || (uint64_t)p + rel > len || len - (p + rel) < need, err,
                    "flatbuffers: reference at %zu points outside the buffer", p);
    *target = p + rel;
    return 0;
}

static int string_at(const uint8_t *buf, size_t len, size_t s, struct strv *out, struct error *err)
{
    uint32_t n;

    RETURN_ERROR_IF(s % 4 != 0, err, "flatbuffers: string at %zu is misaligned", s);
    n = u32_at(buf + s);
    RETURN_ERROR_IF((uint64_t)n + 1 > len - s - 4, err,
                    "flatbuffers: string at %zu of length %u overruns the buffer", s, n);
    RETURN_ERROR_IF(buf[s + 4 + n] != 0, err, "flatbuffers: string at %zu is not terminated", s);
    out->ptr = (const char *)buf + s + 4;
    out->len = n;
    return 0;
}

int fb_read_string(const struct fb_table *t, int field, struct strv *out, struct error *err)
{
    size_t p, s;

    out->ptr = "";
    out->len = 0;
    if (field_pos(t, field, 4, &p, err) != 0)
        return -1;
    if (p == 0)
        return 0;
    if (deref(t->buf, t->buf_len, p, 4, &s, err) != 0)
        return -1;
    return string_at(t->buf, t->buf_len, s, out, err);
}

int fb_read_vector(const struct fb_table *t, int field, size_t elem_size,
                   struct fb_vector *out, struct error *err)
{
    size_t p, v;
    uint32_t n;

    out->buf = t->buf;
    out->buf_len = t->buf_len;
    out->pos = 0;
    out->count = 0;
    if (field_pos(t, field, 4, &p, err) != 0)
        return -1;
    if (p == 0)
        return 0;
    if (deref(t->buf, t->buf_len, p, 4, &v, err) != 0)
        return -1;
    RETURN_ERROR_IF(v % 4 != 0, err, "flatbuffers: vector at %zu is misaligned", v);
    n = u32_at(t->buf + v);
    RETURN_ERROR_IF((uint64_t)n * elem_size > t->buf_len - v - 4, err,
                    "flatbuffers: vector at %zu claims %u elements, more than the buffer holds", v, n);
    out->pos = v + 4;
    out->count = n;
    return 0;
}

int fb_read_table(const struct fb_table *t, int field, struct fb_table *out, int *present,
                  struct error *err)
{
    size_t p, s;

    *present = 0;
    if (field_pos(t, field, 4, &p, err) != 0)
        return -1;
    if (p == 0)
        return 0;
    if (deref(t->buf, t->buf_len, p, 4, &s, err) != 0)
        return -1;
    *present = 1;
    return table_at(t->buf, t->buf_len, s, out, err);
}

int fb_vector_table(const struct fb_vector *v, uint32_t i, struct fb_table *out, struct error *err)
{
    size_t s;

    RETURN_ERROR_IF(i >= v->count, err, "flatbuffers: vector index %u out of range", i);
    if (deref(v->buf, v->buf_len, v->pos + 4 * (size_t)i, 4, &s, err) != 0)
        return -1;
    return table_at(v->buf, v->buf_len, s, out, err);
}

int fb_vector_string(const struct fb_vector *v, uint32_t i, struct strv *out, struct error *err)
{
    size_t s;

    RETURN_ERROR_IF(i >= v->count, err, "flatbuffers: vector index %u out of range", i);
    if (deref(v->buf, v->buf_len, v->pos + 4 * (size_t)i, 4, &s, err) != 0)
        return -1;
    return string_at(v->buf, v->buf_len, s, out, err);
}
