/* test_fb_reader.c -- the verifying FlatBuffers reader against hand-laid buffers:
 * every out-of-bounds or misaligned offset, bad vtable, unterminated string and
 * absurd vector count is refused; a valid buffer laid out unlike our builder's
 * (vtables before and after their tables, shared vtables and strings, fields in
 * another order) is read, down to a whole ztoc */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fb_reader.h"
#include "zinfo.h"
#include "ztoc.h"

/* ---- a forward assembler: objects placed front to back at chosen alignments ---- */

struct asmb {
    uint8_t b[8192];
    size_t len;
};

static size_t reserve(struct asmb *a, size_t n, size_t align)
{
    size_t at;

    while (a->len % align)
        a->b[a->len++] = 0;
    at = a->len;
    memset(a->b + at, 0, n);
    a->len += n;
    return at;
}

static void set16(struct asmb *a, size_t at, uint16_t v)
{
    a->b[at] = (uint8_t)v;
    a->b[at + 1] = (uint8_t)(v >> 8);
}

static void set32(struct asmb *a, size_t at, uint32_t v)
{
    int i;
    for (i = 0; i < 4; i++)
        a->b[at + i] = (uint8_t)(v >> (8 * i));
}

static void set64(struct asmb *a, size_t at, uint64_t v)
{
    set32(a, at, (uint32_t)v);
    set32(a, at + 4, (uint32_t)(v >> 32));
}

/* a uoffset at `at` referring forward to `target` */
static void setref(struct asmb *a, size_t at, size_t target) { set32(a, at, (uint32_t)(target - at)); }

static size_t string(struct asmb *a, const char *s)
{
    size_t n = strlen(s), at = reserve(a, 4 + n + 1, 4);
    set32(a, at, (uint32_t)n);
    memcpy(a->b + at + 4, s, n);
    return at;
}

static size_t vtable(struct asmb *a, uint16_t object_size, int n, const uint16_t *offs)
{
    size_t at = reserve(a, 4 + 2 * (size_t)n, 2);
    int i;

    set16(a, at, (uint16_t)(4 + 2 * n));
    set16(a, at + 2, object_size);
    for (i = 0; i < n; i++)
        set16(a, at + 4 + 2 * (size_t)i, offs[i]);
    return at;
}

/* a table of object_size bytes whose soffset points at vt (set later if 0) */
static size_t table(struct asmb *a, size_t object_size, size_t vt)
{
    size_t at = reserve(a, object_size, 8);
    set32(a, at, (uint32_t)(int32_t)((int64_t)at - (int64_t)vt));
    return at;
}

static size_t vector(struct asmb *a, uint32_t count, size_t elem_size)
{
    size_t at = reserve(a, 4 + count * elem_size, 4);
    set32(a, at, count);
    return at;
}

/* ---- a generic table: i32, string, i64, [string], table, i8, u32 ---- */

enum { F_I32, F_STR, F_I64, F_VEC, F_SUB, F_I8, F_U32, F_ABSENT, NF };

struct layout {
    size_t root_vt, root, str, str2, vec, sub, sub_vt;
};

/* vtable before the root table (positive soffset), fields out of id order,
 * one string shared by a field and both vector elements, a sub-table whose
 * vtable follows it (negative soffset) */
static void build(struct asmb *a, struct layout *l)
{
    static const uint16_t root_offs[NF - 1] = {4, 16, 8, 20, 24, 28, 32};
    static const uint16_t sub_offs[1] = {4};

    memset(a, 0, sizeof(*a));
    reserve(a, 4, 4);
    l->root_vt = vtable(a, 36, NF - 1, root_offs);
    l->root = table(a, 36, l->root_vt);
    setref(a, 0, l->root);
    set32(a, l->root + 4, (uint32_t)-7);
    set64(a, l->root + 8, 0x123456789abcdefULL);
    a->b[l->root + 28] = 0xfe;
    set32(a, l->root + 32, 4000000000u);
    l->vec = vector(a, 2, 4);
    l->sub = table(a, 8, 0);
    set32(a, l->sub + 4, 42);
    l->sub_vt = vtable(a, 8, 1, sub_offs);
    set32(a, l->sub, (uint32_t)(int32_t)((int64_t)l->sub - (int64_t)l->sub_vt));
    l->str = string(a, "hello");
    l->str2 = string(a, "");
    setref(a, l->root + 16, l->str);
    setref(a, l->root + 20, l->vec);
    setref(a, l->root + 24, l->sub);
    setref(a, l->vec + 4, l->str);
    setref(a, l->vec + 8, l->str2);
}

static int strv_is(struct strv s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* read every field; 0 when all reads succeed with the built values */
static int read_all(const struct asmb *a, struct error *err)
{
    struct fb_table root, sub;
    struct fb_vector v;
    struct strv s;
    int32_t i32;
    int64_t i64;
    int8_t i8;
    uint32_t u32;
    int present;

    if (fb_read_root(a->b, a->len, &root, err) || fb_read_i32(&root, F_I32, 1, &i32, err) ||
        fb_read_string(&root, F_STR, &s, err) || fb_read_i64(&root, F_I64, 0, &i64, err) ||
        fb_read_i8(&root, F_I8, 0, &i8, err) || fb_read_u32(&root, F_U32, 0, &u32, err))
        return -1;
    CHECK(i32 == -7 && strv_is(s, "hello") && i64 == 0x123456789abcdefLL && i8 == -2 &&
          u32 == 4000000000u);
    if (fb_read_vector(&root, F_VEC, 4, &v, err))
        return -1;
    CHECK(v.count == 2);
    if (fb_vector_string(&v, 0, &s, err))
        return -1;
    CHECK(strv_is(s, "hello"));
    if (fb_vector_string(&v, 1, &s, err))
        return -1;
    CHECK(strv_is(s, ""));
    if (fb_read_table(&root, F_SUB, &sub, &present, err) || fb_read_i32(&sub, 0, 0, &i32, err))
        return -1;
    CHECK(present && i32 == 42);
    /* absent fields read as their defaults */
    if (fb_read_i32(&root, F_ABSENT, 99, &i32, err) || fb_read_i64(&sub, 3, -1, &i64, err) ||
        fb_read_string(&sub, 1, &s, err) || fb_read_table(&sub, 2, &root, &present, err))
        return -1;
    CHECK(i32 == 99 && i64 == -1 && s.len == 0 && !present);
    return 0;
}

/* one corruption of the valid buffer must be refused, with a message */
#define REFUSED(what, mutate)                                                          \
    do {                                                                               \
        struct asmb c = base;                                                          \
        struct error e = {""};                                                         \
        mutate;                                                                        \
        CHECK_MSG(read_all(&c, &e) != 0, "%s was accepted", what);                     \
        CHECK_MSG(strncmp(e.msg, "flatbuffers:", 12) == 0, "%s: message \"%s\"", what, \
                  e.msg);                                                              \
    } while (0)

static void generic(void)
{
    struct asmb base;
    struct layout l;
    struct error err;

    build(&base, &l);
    CHECK_MSG(read_all(&base, &err) == 0, "valid buffer refused: %s", err.msg);

    /* the root */
    REFUSED("a 7-byte buffer", c.len = 7);
    REFUSED("root offset past the end", set32(&c, 0, 5000));
    REFUSED("root offset at the very end", set32(&c, 0, (uint32_t)c.len));
    REFUSED("misaligned root offset", set32(&c, 0, (uint32_t)l.root + 2));
    REFUSED("root offset to the last 2 bytes", set32(&c, 0, (uint32_t)((c.len - 2) & ~3u)); c.len = ((c.len - 2) & ~3u) + 2);

    /* vtables */
    REFUSED("vtable before the buffer", set32(&c, l.root, (uint32_t)l.root + 4));
    REFUSED("vtable past the end", set32(&c, l.root, (uint32_t)-(int32_t)(c.len + 8)));
    REFUSED("vtable in the last 2 bytes", set32(&c, l.root, (uint32_t)(l.root - (c.len - 2))));
    REFUSED("misaligned vtable", set32(&c, l.root, (uint32_t)(l.root - l.root_vt - 1)));
    REFUSED("vtable size 2", set16(&c, l.root_vt, 2));
    REFUSED("odd vtable size", set16(&c, l.root_vt, 17));
    REFUSED("vtable running past the end", set16(&c, l.sub_vt, 0xfffe));
    REFUSED("object size 2", set16(&c, l.root_vt + 2, 2));
    REFUSED("object running past the end", set16(&c, l.sub_vt + 2, 0x8000));
    REFUSED("sub-table vtable past the end", set32(&c, l.sub, (uint32_t)-100000));

    /* fields */
    REFUSED("field offset over the soffset", set16(&c, l.root_vt + 4 + 2 * F_I32, 2));
    REFUSED("field past the object size", set16(&c, l.root_vt + 4 + 2 * F_U32, 34));
    REFUSED("misaligned i64", set16(&c, l.root_vt + 4 + 2 * F_I64, 12));
    REFUSED("misaligned i32", set16(&c, l.root_vt + 4 + 2 * F_I32, 5));
    REFUSED("misaligned reference", set16(&c, l.root_vt + 4 + 2 * F_STR, 18));

    /* references and strings */
    REFUSED("zero reference", set32(&c, l.root + 16, 0));
    REFUSED("reference past the end", set32(&c, l.root + 16, 1u << 20));
    REFUSED("huge reference", set32(&c, l.root + 16, 0xfffffffcu));
    REFUSED("misaligned string", setref(&c, l.root + 16, l.str + 1));
    REFUSED("string length past the end", set32(&c, l.str, 1000));
    REFUSED("string length 2^32-1", set32(&c, l.str, 0xffffffffu));
    REFUSED("unterminated string", c.b[l.str + 4 + 5] = 'x');
    REFUSED("unterminated last string", c.b[c.len - 1] = 'x'; c.len = l.str2 + 4 + 1);
    REFUSED("string header cut off", c.len = l.str2 + 2);

    /* vectors */
    REFUSED("absurd vector count", set32(&c, l.vec, 0xffffffffu));
    REFUSED("vector count one too many", set32(&c, l.vec, (uint32_t)(c.len - l.vec - 4) / 4 + 1));
    REFUSED("misaligned vector", setref(&c, l.root + 20, l.vec + 2));
    REFUSED("vector element past the end", set32(&c, l.vec + 4, 1u << 16));
    REFUSED("vector element zero", set32(&c, l.vec + 8, 0));
    REFUSED("vector element misaligned", setref(&c, l.vec + 8, l.str2 + 1));

    /* an index out of range, and a table read from a string vector */
    {
        struct fb_table root, t;
        struct fb_vector v;
        struct strv s;

        CHECK(fb_read_root(base.b, base.len, &root, &err) == 0);
        CHECK(fb_read_vector(&root, F_VEC, 4, &v, &err) == 0);
        CHECK(fb_vector_string(&v, 2, &s, &err) != 0);
        CHECK(fb_vector_table(&v, 0xffffffffu, &t, &err) != 0);
        /* "hello" read as a table: soffset 5 puts the vtable at an odd offset */
        CHECK(fb_vector_table(&v, 0, &t, &err) != 0);
        /* a vector whose elements are 8 bytes holds fewer of them */
        {
            struct asmb c = base;
            set32(&c, l.vec, (uint32_t)(c.len - l.vec - 4) / 4);
            CHECK(fb_read_root(c.b, c.len, &root, &err) == 0);
            CHECK(fb_read_vector(&root, F_VEC, 4, &v, &err) == 0);
            CHECK(fb_read_vector(&root, F_VEC, 8, &v, &err) != 0);
        }
    }
}

/* ---- a whole ztoc laid out the way another builder might ---- */

static const char *digest0 = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

static void hand_built_ztoc(void)
{
    /* Ztoc: sizes first, references last (Go writes them the other way round) */
    static const uint16_t z_offs[6] = {40, 44, 8, 16, 24, 28};
    static const uint16_t toc_offs[1] = {4};
    static const uint16_t ci_offs[4] = {8, 4, 12, 16};
    /* FileMetadata: scalars first, then references, xattrs last */
    static const uint16_t fm_offs[14] = {48, 52, 8, 16, 56, 24, 4, 60, 64, 68, 72, 32, 40, 76};
    static const uint16_t xa_offs[2] = {8, 4};
    struct asmb a;
    size_t z_vt, z, toc_vt, toc, ci_vt, ci, meta, e[2], xv[2], xa[2], xa_vt = 0, fm_vt, dv, cp;
    size_t s_version, s_tool, s_names[2], s_reg, s_root, s_empty, s_mtime, s_keys[2], s_vals[2], s_digest;
    uint8_t tz[128];
    size_t tzl, i;
    struct ztoc d, d2;
    struct zinfo zi;
    struct error err;
    uint8_t *enc = NULL;
    size_t enc_len = 0;

    memset(&a, 0, sizeof(a));
    reserve(&a, 4, 4);
    z_vt = vtable(&a, 48, 6, z_offs);
    z = table(&a, 48, z_vt);
    setref(&a, 0, z);
    set64(&a, z + 8, 3072);
    set64(&a, z + 16, 3072);
    toc_vt = vtable(&a, 8, 1, toc_offs);
    toc = table(&a, 8, toc_vt);
    setref(&a, z + 24, toc);
    ci_vt = vtable(&a, 20, 4, ci_offs);
    ci = table(&a, 20, ci_vt);
    setref(&a, z + 28, ci);
    set32(&a, ci + 4, 0);                  /* max_span_id, written although default */
    a.b[ci + 8] = ZTOC_UNCOMPRESSED;
    meta = vector(&a, 2, 4);
    setref(&a, toc + 4, meta);
    /* both entries share one vtable that lies after them (set below) */
    for (i = 0; i < 2; i++) {
        e[i] = table(&a, 80, 0);
        setref(&a, meta + 4 + 4 * i, e[i]);
    }
    /* the vector lists the later entry first: decode sorts by offset */
    set64(&a, e[0] + 8, 1536);
    set64(&a, e[1] + 8, 512);
    set64(&a, e[1] + 16, 100);
    set64(&a, e[1] + 24, 0100644);
    set32(&a, e[1] + 4, 1000);
    set32(&a, e[1] + 60, 1001);
    set64(&a, e[0] + 24, 040755);
    set64(&a, e[0] + 32, 8);
    set64(&a, e[0] + 40, 1);
    xv[0] = vector(&a, 0, 4);
    xv[1] = vector(&a, 2, 4);
    setref(&a, e[0] + 76, xv[0]);
    setref(&a, e[1] + 76, xv[1]);
    for (i = 0; i < 2; i++) {
        xa[i] = table(&a, 12, i ? xa_vt : 0);
        if (i == 0)
            xa_vt = vtable(&a, 12, 2, xa_offs);
        set32(&a, xa[i], (uint32_t)(int32_t)((int64_t)xa[i] - (int64_t)xa_vt));
        setref(&a, xv[1] + 4 + 4 * i, xa[i]);
    }
    dv = vector(&a, 1, 4);
    setref(&a, ci + 12, dv);
    CHECK(zinfo_tar_encode(65536, 3072, tz, sizeof(tz), &tzl, &err) == 0);
    cp = vector(&a, (uint32_t)tzl, 1);
    memcpy(a.b + cp + 4, tz, tzl);
    setref(&a, ci + 16, cp);

    /* strings, some shared */
    s_version = string(&a, "0.9");
    s_tool = string(&a, "hand-laid builder");
    s_names[0] = string(&a, "dir/");
    s_names[1] = string(&a, "dir/file.txt");
    s_reg = string(&a, "reg");
    s_root = string(&a, "root");
    s_empty = string(&a, "");
    s_mtime = string(&a, "2023-11-14T22:13:20Z");
    s_keys[0] = string(&a, "user.z");   /* stored unsorted */
    s_vals[0] = string(&a, "last");
    s_keys[1] = string(&a, "SCHILY.xattr.user.a");
    s_vals[1] = string(&a, "");
    s_digest = string(&a, digest0);
    setref(&a, z + 40, s_version);
    setref(&a, z + 44, s_tool);
    setref(&a, dv + 4, s_digest);
    for (i = 0; i < 2; i++) {
        setref(&a, e[i] + 48, s_names[i]);
        setref(&a, e[i] + 52, s_reg);
        setref(&a, e[i] + 56, s_empty);
        setref(&a, e[i] + 64, s_root);
        setref(&a, e[i] + 68, s_root);
        setref(&a, e[i] + 72, s_mtime);
        setref(&a, xa[i] + 8, s_keys[i]);
        setref(&a, xa[i] + 4, s_vals[i]);
    }
    fm_vt = vtable(&a, 80, 14, fm_offs);
    for (i = 0; i < 2; i++)
        set32(&a, e[i], (uint32_t)(int32_t)((int64_t)e[i] - (int64_t)fm_vt));

    CHECK_MSG(ztoc_decode(a.b, a.len, &d, &err) == 0, "hand-laid ztoc refused: %s", err.msg);
    if (check_failures)
        return;
    CHECK(strv_is(d.version, "0.9") && strv_is(d.build_tool, "hand-laid builder"));
    CHECK(d.compressed_size == 3072 && d.uncompressed_size == 3072);
    CHECK(d.algorithm == ZTOC_UNCOMPRESSED && d.max_span_id == 0 && d.nspan_digests == 1);
    CHECK(strv_is(d.span_digests[0], digest0));
    CHECK(d.checkpoints.len == tzl && memcmp(d.checkpoints.ptr, tz, tzl) == 0);
    CHECK(d.nentries == 2);
    CHECK(strv_is(d.entries[0].name, "dir/file.txt") && d.entries[0].offset == 512 &&
          d.entries[0].size == 100 && d.entries[0].mode == 0100644 && d.entries[0].uid == 1000 &&
          d.entries[0].gid == 1001 && d.entries[0].tar_header_offset == 0);
    CHECK(strv_is(d.entries[1].name, "dir/") && d.entries[1].offset == 1536 &&
          d.entries[1].devmajor == 8 && d.entries[1].devminor == 1 &&
          d.entries[1].tar_header_offset == 1024 && d.entries[1].npax == 0);
    CHECK(strv_is(d.entries[0].type, "reg") && strv_is(d.entries[1].uname, "root") &&
          strv_is(d.entries[1].gname, "root") && d.entries[0].linkname.len == 0 &&
          strv_is(d.entries[1].mod_time, "2023-11-14T22:13:20Z"));
    /* PAX records come back sorted by key */
    CHECK(d.entries[0].npax == 2 && strv_is(d.entries[0].pax[0].key, "SCHILY.xattr.user.a") &&
          strv_is(d.entries[0].pax[1].key, "user.z") && strv_is(d.entries[0].pax[1].value, "last"));
    CHECK(ztoc_entry_pax(&d.entries[0], "user.z") != NULL && ztoc_entry_pax(&d.entries[0], "user") == NULL);
    CHECK(zinfo_parse(&zi, &d, &err) == 0 && zinfo_check(&zi, &d, &err) == 0 && zi.nspans == 1);

    /* re-encoded in Go's layout, it reads back the same */
    CHECK(ztoc_encode(&d, &enc, &enc_len, &err) == 0);
    CHECK(enc_len != a.len || memcmp(enc, a.b, a.len) != 0);
    CHECK(ztoc_decode(enc, enc_len, &d2, &err) == 0);
    CHECK(d2.nentries == 2 && strv_is(d2.entries[0].name, "dir/file.txt") &&
          d2.entries[0].npax == 2 && strv_is(d2.entries[1].name, "dir/") &&
          d2.algorithm == ZTOC_UNCOMPRESSED && strv_is(d2.build_tool, "hand-laid builder") &&
          d2.checkpoints.len == tzl);
    ztoc_release(&d2);
    free(enc);

    /* overlapping entries are refused on load (docs/format.md §1.5) */
    {
        struct asmb c = a;
        set64(&c, e[1] + 16, 1100); /* 512 + 1100 runs past 1536 */
        CHECK(ztoc_decode(c.b, c.len, &d2, &err) != 0 && strstr(err.msg, "invalid toc entry") != NULL);
    }
    /* an unknown algorithm, and no compression info */
    {
        struct asmb c = a;
        c.b[ci + 8] = 3;
        CHECK(ztoc_decode(c.b, c.len, &d2, &err) != 0 &&
              strstr(err.msg, "unexpected compression algorithm") != NULL);
        c = a;
        set16(&c, z_vt + 4 + 2 * 5, 0);
        CHECK(ztoc_decode(c.b, c.len, &d2, &err) != 0);
    }
    /* a corrupt string deep inside: the error names the entry */
    {
        struct asmb c = a;
        c.b[s_mtime + 4 + 20] = 'x';
        CHECK(ztoc_decode(c.b, c.len, &d2, &err) != 0 && strstr(err.msg, "entry") != NULL);
    }
    ztoc_release(&d);
}

int main(void)
{
    generic();
    hand_built_ztoc();
    return check_exit();
}
