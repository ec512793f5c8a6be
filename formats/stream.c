/* stream.c -- msgpack record stream codec on buffers (see stream.h; the
 * fd side is lib/stream_io) */
#include "stream.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORD (((size_t)1 << 30) + (64 << 10))
/* the fuzz build reads in small chunks (-DSTREAM_READ_CHUNK=...) so that
 * inputs of a few KiB reach the buffer's move-and-grow paths, and a run
 * does not spend its time on 1 MiB allocations */
#ifdef STREAM_READ_CHUNK
#define READ_CHUNK STREAM_READ_CHUNK
#else
#define READ_CHUNK (1 << 20)
#endif
#define MAX_CHUNK_DATA (16u << 20)

static const struct {
    enum stream_type type;
    const char *name;
} type_names[] = {
    {REC_HEADER, "soci-stream"}, {REC_IMAGE, "image"},         {REC_LAYER, "layer"},
    {REC_CHUNK, "chunk"},        {REC_LAYER_END, "layer_end"}, {REC_ZTOC, "ztoc"},
    {REC_SKIP, "skip"},          {REC_IMAGE_END, "image_end"}, {REC_ERROR, "error"},
    {REC_END, "end"},
};

static const char *type_name(enum stream_type t)
{
    size_t i;

    for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (type_names[i].type == t)
            return type_names[i].name;
    return "unknown";
}

void stream_record_init(struct stream_record *rec, enum stream_type type)
{
    memset(rec, 0, sizeof(*rec));
    rec->type = type;
}


/* ---- decoder ----
 *
 * A bounded msgpack reader of our own rather than msgpack-c's unpacker,
 * which allocates an object array as soon as it sees an array or map
 * header, whatever count the header declares.  Here a frame scanner walks
 * the bytes as they arrive, checking every header against the limits of
 * docs/format.md §5.3 before anything is allocated, until one record is complete;
 * the record is then decoded from its bytes in place, and those same bytes
 * are what a stage passes on. */

struct scan_level {
    uint64_t left;      /* items still to come in this container */
};

struct stream_decoder {
    uint8_t *buf;
    size_t len, cap;
    size_t off;          /* start of the record being scanned */
    size_t rec_len;      /* length of the record last returned */
    int have_result;
    int seen_header;
    int ended;           /* stream_decoder_end: no more bytes will come */
    uint64_t nrecords;   /* records returned so far */
    /* frame scanner, resumable across reads */
    size_t scan;         /* next byte to look at, relative to off */
    int depth;
    uint64_t items;      /* map entries and array elements in this record */
    struct scan_level stack[STREAM_MAX_DEPTH];
};

struct stream_decoder *stream_decoder_new(const uint8_t *initial, size_t initial_len)
{
    struct stream_decoder *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->cap = initial_len > READ_CHUNK ? initial_len : READ_CHUNK;
    r->buf = malloc(r->cap);
    if (r->buf == NULL) {
        free(r);
        return NULL;
    }
    if (initial_len > 0)
        memcpy(r->buf, initial, initial_len);
    r->len = initial_len;
    return r;
}

void stream_decoder_free(struct stream_decoder *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r);
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* what a msgpack header says: its size, the payload that follows it, and
 * how many items (array elements, or 2 per map entry) it opens */
struct mp_head {
    size_t head;        /* header bytes */
    uint64_t payload;   /* bytes after the header (str, bin, ext, numbers) */
    uint64_t count;     /* array elements or map entries */
    int is_map, is_array;
};

/* 1: decoded; 0: more bytes needed; -1: not msgpack */
static int mp_head(const uint8_t *p, size_t n, struct mp_head *h)
{
    uint8_t b;
    static const uint8_t fixext[5] = {1, 2, 4, 8, 16};

    if (n < 1)
        return 0;
    memset(h, 0, sizeof(*h));
    b = p[0];
    h->head = 1;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 1;
    if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90) {
        h->count = b & 0x0f;
        h->is_map = (b & 0xf0) == 0x80;
        h->is_array = !h->is_map;
        return 1;
    }
    if ((b & 0xe0) == 0xa0) {
        h->payload = b & 0x1f;
        return 1;
    }
    switch (b) {
    case 0xcc: case 0xd0: h->payload = 1; return 1;
    case 0xcd: case 0xd1: h->payload = 2; return 1;
    case 0xca: case 0xce: case 0xd2: h->payload = 4; return 1;
    case 0xcb: case 0xcf: case 0xd3: h->payload = 8; return 1;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        h->payload = 1 + (uint64_t)fixext[b - 0xd4];
        return 1;
    case 0xc4: case 0xd9: h->head = 2; break;              /* bin8, str8 */
    case 0xc5: case 0xda: case 0xdc: case 0xde: h->head = 3; break;
    case 0xc6: case 0xdb: case 0xdd: case 0xdf: h->head = 5; break;
    case 0xc7: h->head = 3; break;                          /* ext8: len + type */
    case 0xc8: h->head = 4; break;
    case 0xc9: h->head = 6; break;
    default:
        return -1;                                          /* 0xc1: never used */
    }
    if (n < h->head)
        return 0;
    if (b >= 0xc7 && b <= 0xc9) {
        h->payload = be(p + 1, (int)h->head - 2) + 1;       /* the type byte */
        h->head -= 1;
        return 1;
    }
    if (b == 0xdc || b == 0xdd || b == 0xde || b == 0xdf) {
        h->count = be(p + 1, (int)h->head - 1);
        h->is_map = b >= 0xde;
        h->is_array = !h->is_map;
        return 1;
    }
    h->payload = be(p + 1, (int)h->head - 1);
    return 1;
}

/* advance the frame scanner over the buffered bytes: 1 when the record at
 * r->off is complete (its length in r->rec_len), 0 when more bytes are
 * needed, -1 on a record that breaks the limits */
static int scan_frame(struct stream_decoder *r, struct error *err)
{
    const uint8_t *base = r->buf + r->off;
    size_t avail = r->len - r->off;

    for (;;) {
        struct mp_head h;
        int rc;

        if (r->scan > 0 && r->depth == 0) {
            if (r->scan > avail)
                return 0; /* the last payload is still coming */
            r->rec_len = r->scan;
            return 1;
        }
        if (r->scan >= avail)
            return 0; /* a header or a payload still to come */
        rc = mp_head(base + r->scan, avail - r->scan, &h);
        RETURN_ERROR_IF(rc < 0, err, "record %llu is not msgpack (byte 0x%02x)",
                        (unsigned long long)r->nrecords + 1, base[r->scan]);
        if (rc == 0)
            return 0;
        if (r->scan == 0)
            RETURN_ERROR_IF(!h.is_map, err, "record %llu is not a map", (unsigned long long)r->nrecords + 1);
        RETURN_ERROR_IF(h.payload > MAX_RECORD || r->scan + h.head + h.payload > MAX_RECORD, err,
                        "record %llu is larger than 1 GiB", (unsigned long long)r->nrecords + 1);
        r->scan += h.head + (size_t)h.payload;
        if (h.is_map || h.is_array) {
            uint64_t items = h.is_map ? h.count * 2 : h.count;
            RETURN_ERROR_IF(h.count > STREAM_MAX_ITEMS || r->items + h.count > STREAM_MAX_ITEMS, err,
                            "record %llu declares %s of %llu entries; a record holds at most %d",
                            (unsigned long long)r->nrecords + 1, h.is_map ? "a map" : "an array",
                            (unsigned long long)h.count, STREAM_MAX_ITEMS);
            r->items += h.count;
            if (items > 0) {
                RETURN_ERROR_IF(r->depth == STREAM_MAX_DEPTH, err, "record %llu nests deeper than %d levels",
                                (unsigned long long)r->nrecords + 1, STREAM_MAX_DEPTH);
                r->stack[r->depth++].left = items;
                continue;
            }
        }
        /* one value complete: close every container it completes */
        while (r->depth > 0 && --r->stack[r->depth - 1].left == 0)
            r->depth--;
    }
}

/* ---- decoding one complete record, bounds-checked again ---- */

struct cursor {
    const uint8_t *p, *end;
};

static int cur_head(struct cursor *c, struct mp_head *h)
{
    if (mp_head(c->p, (size_t)(c->end - c->p), h) != 1 || h->payload > (uint64_t)(c->end - c->p - h->head))
        return -1;
    return 0;
}

/* skip one value and everything inside it */
static int cur_skip(struct cursor *c, int depth)
{
    struct mp_head h;
    uint64_t i, items;

    if (depth > STREAM_MAX_DEPTH || cur_head(c, &h) != 0)
        return -1;
    c->p += h.head + h.payload;
    items = h.is_map ? h.count * 2 : h.count;
    for (i = 0; i < items; i++)
        if (cur_skip(c, depth + 1) != 0)
            return -1;
    return 0;
}

enum mp_kind { MP_OTHER, MP_STR, MP_BIN, MP_UINT, MP_BOOL, MP_MAP, MP_ARRAY };

/* one value: its kind, and its bytes (str, bin), number or entry count */
struct mp_val {
    enum mp_kind kind;
    const uint8_t *ptr;
    uint64_t n;          /* str/bin length, uint value, bool, map/array count */
};

static int cur_val(struct cursor *c, struct mp_val *v)
{
    struct mp_head h;
    uint8_t b;

    if (cur_head(c, &h) != 0)
        return -1;
    b = c->p[0];
    memset(v, 0, sizeof(*v));
    if (h.is_map || h.is_array) {
        v->kind = h.is_map ? MP_MAP : MP_ARRAY;
        v->n = h.count;
        c->p += h.head;
        return 0;
    }
    if (b <= 0x7f) {
        v->kind = MP_UINT;
        v->n = b;
    } else if (b >= 0xcc && b <= 0xcf) {
        v->kind = MP_UINT;
        v->n = be(c->p + 1, (int)h.payload);
    } else if (b == 0xc2 || b == 0xc3) {
        v->kind = MP_BOOL;
        v->n = b == 0xc3;
    } else if ((b & 0xe0) == 0xa0 || (b >= 0xd9 && b <= 0xdb)) {
        v->kind = MP_STR;
    } else if (b >= 0xc4 && b <= 0xc6) {
        v->kind = MP_BIN;
    }
    if (v->kind == MP_STR || v->kind == MP_BIN) {
        v->ptr = c->p + h.head;
        v->n = h.payload;
    }
    c->p += h.head + h.payload;
    return 0;
}

static int key_is(const struct mp_val *k, const char *name)
{
    size_t n = strlen(name);
    return k->kind == MP_STR && k->n == n && memcmp(k->ptr, name, n) == 0;
}

/* dst NULL: the key belongs to another record type, checked and dropped */
static int get_str(const struct mp_val *v, char *dst, size_t cap, const char *key, struct error *err)
{
    RETURN_ERROR_IF(v->kind != MP_STR, err, "record key \"%s\" is not a string", key);
    RETURN_ERROR_IF(v->n >= cap, err, "record key \"%s\" is longer than %zu bytes", key, cap - 1);
    RETURN_ERROR_IF(memchr(v->ptr, 0, (size_t)v->n) != NULL, err, "record key \"%s\" holds a NUL byte", key);
    if (dst == NULL)
        return 0;
    memcpy(dst, v->ptr, (size_t)v->n);
    dst[v->n] = '\0';
    return 0;
}

static int get_uint(const struct mp_val *v, uint64_t max, uint64_t *out, const char *key, struct error *err)
{
    RETURN_ERROR_IF(v->kind != MP_UINT || v->n > max, err, "record key \"%s\" is not an integer in range", key);
    *out = v->n;
    return 0;
}

static int get_bool(const struct mp_val *v, int *out, const char *key, struct error *err)
{
    RETURN_ERROR_IF(v->kind != MP_BOOL, err, "record key \"%s\" is not a boolean", key);
    *out = (int)v->n;
    return 0;
}

#define MALFORMED(err) error_set(err, "malformed msgpack")

/* one map entry: its key, its value, and where the value starts */
struct entry {
    struct mp_val k, v;
    const uint8_t *at;
};

static int read_entry(struct cursor *c, struct entry *e)
{
    if (cur_val(c, &e->k) != 0)
        return -1;
    e->at = c->p;
    return cur_val(c, &e->v);
}

/* an entry nobody reads: a map or array value is skipped whole */
static int skip_entry(struct cursor *c, const struct entry *e, int depth)
{
    if (e->v.kind != MP_MAP && e->v.kind != MP_ARRAY)
        return 0;
    c->p = e->at;
    return cur_skip(c, depth);
}

/* the entries of a map value, as key/value pairs; a non-scalar value of an
 * unknown key is skipped whole */
static int get_desc(struct cursor *c, const struct mp_val *v, struct stream_desc *d, const char *key,
                    struct error *err)
{
    uint64_t i, u = 0;

    RETURN_ERROR_IF(v->kind != MP_MAP, err, "record key \"%s\" is not a descriptor map", key);
    memset(d, 0, sizeof(*d));
    d->size = -1;
    for (i = 0; i < v->n; i++) {
        struct entry e;
        if (read_entry(c, &e) != 0)
            return MALFORMED(err);
        if (key_is(&e.k, "mediaType")) {
            if (get_str(&e.v, d->media_type, sizeof(d->media_type), "mediaType", err))
                return -1;
        } else if (key_is(&e.k, "digest")) {
            if (get_str(&e.v, d->digest, sizeof(d->digest), "digest", err))
                return -1;
        } else if (key_is(&e.k, "size")) {
            if (get_uint(&e.v, INT64_MAX, &u, "size", err))
                return -1;
            d->size = (int64_t)u;
        } else if (skip_entry(c, &e, 2) != 0) {
            return MALFORMED(err);
        }
    }
    RETURN_ERROR_IF(d->digest[0] == '\0' || d->size < 0, err, "descriptor \"%s\" lacks digest or size", key);
    return 0;
}

/* rec NULL: not a layer record, every entry checked and dropped */
static int get_existing(struct cursor *c, const struct mp_val *v, struct stream_layer_rec *rec,
                        struct error *err)
{
    uint64_t i, j, u = 0;

    RETURN_ERROR_IF(v->kind != MP_ARRAY, err, "record key \"existing\" is not an array");
    for (i = 0; i < v->n; i++) {
        struct mp_val e;
        struct stream_existing scratch, *x;
        if (cur_val(c, &e) != 0)
            return MALFORMED(err);
        RETURN_ERROR_IF(e.kind != MP_MAP, err, "record key \"existing\" holds a non-map");
        /* past the first few, entries are checked and dropped */
        x = rec != NULL && rec->nexisting < STREAM_MAX_EXISTING ? &rec->existing[rec->nexisting++] : &scratch;
        memset(x, 0, sizeof(*x));
        for (j = 0; j < e.n; j++) {
            struct entry f;
            if (read_entry(c, &f) != 0)
                return MALFORMED(err);
            if (key_is(&f.k, "digest")) {
                if (get_str(&f.v, x->digest, sizeof(x->digest), "digest", err))
                    return -1;
            } else if (key_is(&f.k, "size")) {
                if (get_uint(&f.v, INT64_MAX, &u, "size", err))
                    return -1;
                x->size = (int64_t)u;
            } else if (key_is(&f.k, "span_size")) {
                if (get_uint(&f.v, INT64_MAX, &u, "span_size", err))
                    return -1;
                x->span_size = (int64_t)u;
            } else if (key_is(&f.k, "build_tool")) {
                if (get_str(&f.v, x->build_tool, sizeof(x->build_tool), "build_tool", err))
                    return -1;
            } else if (skip_entry(c, &f, 3) != 0) {
                return MALFORMED(err);
            }
        }
    }
    return 0;
}

/* the record's type, from its "t" keys (the last one names it), before its
 * other keys are decoded into the part of that type.  A map that cannot be
 * walked here fails again, with its message, in decode() */
static int find_type(const uint8_t *p, size_t n, struct stream_record *rec)
{
    struct cursor c = {p, p + n};
    struct mp_val top;
    struct error ignored;
    uint64_t i;
    size_t t;

    if (cur_val(&c, &top) != 0 || top.kind != MP_MAP)
        return -1;
    for (i = 0; i < top.n; i++) {
        struct entry e;
        if (read_entry(&c, &e) != 0)
            return -1;
        if (key_is(&e.k, "t")) {
            if (get_str(&e.v, rec->type_name, sizeof(rec->type_name), "t", &ignored))
                return -1;
            for (t = 0; t < sizeof(type_names) / sizeof(type_names[0]); t++)
                if (strcmp(type_names[t].name, rec->type_name) == 0)
                    rec->type = type_names[t].type;
        } else if (skip_entry(&c, &e, 1) != 0) {
            return -1;
        }
    }
    return 0;
}

/* where a key shared by several record types goes in this record; NULL when
 * its type has no such key */
static struct stream_desc *desc_of(struct stream_record *rec)
{
    switch (rec->type) {
    case REC_LAYER: return &rec->layer.desc;
    case REC_ZTOC: return &rec->ztoc.desc;
    case REC_SKIP: return &rec->skip.desc;
    default: return NULL;
    }
}

static char *message_of(struct stream_record *rec)
{
    switch (rec->type) {
    case REC_SKIP: return rec->skip.message;
    case REC_ERROR: return rec->error.message;
    default: return NULL;
    }
}

/* every key is checked whatever the record's type, as docs/format.md §5.3
 * bounds it; a key of another type than the record's is then dropped (a
 * stage passes the record's bytes on, not this struct) */
static int decode(const uint8_t *p, size_t n, struct stream_record *rec, struct error *err)
{
    struct cursor c = {p, p + n};
    struct mp_val top;
    uint64_t i, u = 0;
    int typed, is_image, is_layer, is_ztoc, flag;
    struct stream_desc scratch, *d;

    stream_record_init(rec, REC_UNKNOWN);
    typed = find_type(p, n, rec) == 0;
    if (!typed)
        rec->type = REC_UNKNOWN; /* the loop below fails on the same bytes */
    is_image = rec->type == REC_IMAGE;
    is_layer = rec->type == REC_LAYER;
    is_ztoc = rec->type == REC_ZTOC;
    if (cur_val(&c, &top) != 0)
        return MALFORMED(err);
    RETURN_ERROR_IF(top.kind != MP_MAP, err, "record is not a map");
    for (i = 0; i < top.n; i++) {
        struct entry e;
        const struct mp_val *v = &e.v;
        if (read_entry(&c, &e) != 0)
            return MALFORMED(err);
        if (key_is(&e.k, "t")) {
            if (get_str(v, NULL, sizeof(rec->type_name), "t", err))
                return -1;
        } else if (key_is(&e.k, "v")) {
            if (get_uint(v, UINT32_MAX, &u, "v", err))
                return -1;
            if (rec->type == REC_HEADER)
                rec->header.version = (uint32_t)u;
        } else if (key_is(&e.k, "image")) {
            if (get_uint(v, UINT32_MAX, &u, "image", err))
                return -1;
            rec->image_id = (uint32_t)u;
        } else if (key_is(&e.k, "n")) {
            if (get_uint(v, UINT32_MAX, &u, "n", err))
                return -1;
            rec->n = (uint32_t)u;
        } else if (key_is(&e.k, "layers")) {
            if (get_uint(v, UINT32_MAX, &u, "layers", err))
                return -1;
            if (is_image)
                rec->image.nlayers = (uint32_t)u;
        } else if (key_is(&e.k, "layout")) {
            if (get_str(v, is_image ? rec->image.layout : NULL, sizeof(rec->image.layout), "layout", err))
                return -1;
        } else if (key_is(&e.k, "ref")) {
            if (get_str(v, is_image ? rec->image.ref : NULL, sizeof(rec->image.ref), "ref", err))
                return -1;
        } else if (key_is(&e.k, "platform")) {
            if (get_str(v, is_image ? rec->image.platform : NULL, sizeof(rec->image.platform), "platform", err))
                return -1;
        } else if (key_is(&e.k, "manifest")) {
            if (get_desc(&c, v, is_image ? &rec->image.manifest : &scratch, "manifest", err))
                return -1;
        } else if (key_is(&e.k, "desc")) {
            d = desc_of(rec);
            if (get_desc(&c, v, d != NULL ? d : &scratch, "desc", err))
                return -1;
        } else if (key_is(&e.k, "ztoc")) {
            if (get_desc(&c, v, is_ztoc ? &rec->ztoc.ztoc : &scratch, "ztoc", err))
                return -1;
        } else if (key_is(&e.k, "path")) {
            if (get_str(v, is_layer ? rec->layer.path : NULL, sizeof(rec->layer.path), "path", err))
                return -1;
        } else if (key_is(&e.k, "inline")) {
            if (get_bool(v, is_layer ? &rec->layer.inline_data : &flag, "inline", err))
                return -1;
        } else if (key_is(&e.k, "reused")) {
            if (get_bool(v, is_ztoc ? &rec->ztoc.reused : &flag, "reused", err))
                return -1;
        } else if (key_is(&e.k, "xattr_free")) {
            if (get_bool(v, is_ztoc ? &rec->ztoc.xattr_free : &flag, "xattr_free", err))
                return -1;
        } else if (key_is(&e.k, "span_size")) {
            if (get_uint(v, INT64_MAX, &u, "span_size", err))
                return -1;
            if (is_ztoc)
                rec->ztoc.span_size = (int64_t)u;
        } else if (key_is(&e.k, "build_tool")) {
            if (get_str(v, is_ztoc ? rec->ztoc.build_tool : NULL, sizeof(rec->ztoc.build_tool), "build_tool", err))
                return -1;
        } else if (key_is(&e.k, "message")) {
            if (get_str(v, message_of(rec), sizeof(rec->error.message), "message", err))
                return -1;
        } else if (key_is(&e.k, "existing")) {
            if (get_existing(&c, v, is_layer ? &rec->layer : NULL, err))
                return -1;
        } else if (key_is(&e.k, "manifest_data")) {
            RETURN_ERROR_IF(v->kind != MP_BIN || v->n > (4u << 20), err,
                            "record key \"manifest_data\" is not binary of at most 4 MiB");
            if (is_image) {
                rec->image.manifest_data = v->ptr;
                rec->image.manifest_data_len = (size_t)v->n;
            }
        } else if (key_is(&e.k, "data")) {
            RETURN_ERROR_IF(v->kind != MP_BIN, err, "record key \"data\" is not binary");
            if (rec->type == REC_CHUNK) {
                rec->chunk.data = v->ptr;
                rec->chunk.data_len = (size_t)v->n;
            } else if (is_ztoc) {
                rec->ztoc.data = v->ptr;
                rec->ztoc.data_len = (size_t)v->n;
            }
        } else if (skip_entry(&c, &e, 1) != 0) {
            return MALFORMED(err);
        }
    }
    RETURN_ERROR_IF(c.p != c.end, err, "malformed msgpack (bytes after the record)");
    if (!typed)
        return MALFORMED(err);
    RETURN_ERROR_IF(rec->type_name[0] == '\0', err, "record has no type");
    RETURN_ERROR_IF(rec->type == REC_CHUNK && rec->chunk.data_len > MAX_CHUNK_DATA, err,
                    "chunk record of %zu bytes is larger than %u", rec->chunk.data_len, MAX_CHUNK_DATA);
    return 0;
}

int stream_looks_like(const uint8_t *p, size_t n)
{
    /* a map (fix, 16 or 32) whose first key is "t" and first value
     * "soci-stream", in any string encoding */
    struct cursor c = {p, p + n};
    struct mp_val v;

    if (cur_val(&c, &v) != 0 || v.kind != MP_MAP || v.n == 0)
        return 0;
    if (cur_val(&c, &v) != 0 || !key_is(&v, "t"))
        return 0;
    return cur_val(&c, &v) == 0 && key_is(&v, "soci-stream");
}

/* drop the record last returned; keep the buffer's unread bytes.  Nothing
 * to drop: the scanner keeps its place in the record still arriving */
static void consume(struct stream_decoder *r)
{
    if (!r->have_result)
        return;
    r->off += r->rec_len;
    r->have_result = 0;
    r->nrecords++;
    r->scan = 0;
    r->depth = 0;
    r->items = 0;
    if (r->off == r->len) {
        r->off = r->len = 0;
    } else if (r->off > r->cap / 2) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
}

/* room to read at least READ_CHUNK more.  The buffer grows by doubling
 * with the bytes that actually arrive, never to the size a header merely
 * declares: a 6-byte bin32 header claiming 1 GiB must not cost 1 GiB. */
static int make_room(struct stream_decoder *r, struct error *err)
{
    size_t want = r->len + READ_CHUNK, ncap;
    uint8_t *nb;

    if (want <= r->cap)
        return 0;
    if (r->off > 0) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        want -= r->off;
        r->off = 0;
        if (want <= r->cap)
            return 0;
    }
    ncap = r->cap * 2 > want ? r->cap * 2 : want;
    if (ncap > MAX_RECORD + READ_CHUNK)
        ncap = MAX_RECORD + READ_CHUNK;
    nb = realloc(r->buf, ncap);
    RETURN_ERROR_IF(nb == NULL, err, "record stream: out of memory");
    r->buf = nb;
    r->cap = ncap;
    return 0;
}

int stream_decoder_next(struct stream_decoder *r, struct stream_record *rec, struct error *err)
{
    int rc;

    consume(r);
    rc = scan_frame(r, err);
    if (rc < 0)
        return error_prefix(err, "record stream");
    if (rc == 0) {
        RETURN_ERROR_IF(r->ended && r->len > r->off, err, "record stream ends inside a record");
        return 0;
    }
    r->have_result = 1;
    if (decode(r->buf + r->off, r->rec_len, rec, err) != 0)
        return error_prefix(err, "record stream");
    if (!r->seen_header && rec->type != REC_ERROR) {
        RETURN_ERROR_IF(rec->type != REC_HEADER, err,
                        "input is not a soci record stream (first record is \"%s\")", rec->type_name);
        RETURN_ERROR_IF(rec->header.version != STREAM_VERSION, err,
                        "record stream version %u is not supported (this build speaks %d)", rec->header.version,
                        STREAM_VERSION);
        r->seen_header = 1;
    }
    return 1;
}

int stream_decoder_space(struct stream_decoder *r, uint8_t **at, size_t *avail, struct error *err)
{
    consume(r);  /* the record last returned is the caller's no more */
    if (make_room(r, err) != 0)
        return -1;
    *at = r->buf + r->len;
    *avail = r->cap - r->len;
    return 0;
}

void stream_decoder_fill(struct stream_decoder *r, size_t n)
{
    if (n > r->cap - r->len) /* a caller's bug: never past the space handed out */
        n = r->cap - r->len;
    r->len += n;
}

void stream_decoder_end(struct stream_decoder *r) { r->ended = 1; }

int stream_decoder_raw(struct stream_decoder *r, const uint8_t **raw, size_t *len, struct error *err)
{
    RETURN_ERROR_IF(!r->have_result, err, "no record to pass on");
    *raw = r->buf + r->off;
    *len = r->rec_len;
    return 0;
}

/* ---- encoder ---- */

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    pack_str(pk, k);
    pack_str(pk, v);
}

static void pack_kv_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
    pack_str(pk, k);
    msgpack_pack_uint64(pk, v);
}

static void pack_kv_bool(msgpack_packer *pk, const char *k, int v)
{
    pack_str(pk, k);
    if (v)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static void pack_kv_desc(msgpack_packer *pk, const char *k, const struct stream_desc *d)
{
    pack_str(pk, k);
    msgpack_pack_map(pk, 3);
    pack_kv_str(pk, "mediaType", d->media_type);
    pack_kv_str(pk, "digest", d->digest);
    pack_kv_uint(pk, "size", (uint64_t)d->size);
}

static void pack_kv_bin(msgpack_packer *pk, const char *k, const uint8_t *data, size_t n)
{
    pack_str(pk, k);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, data, n);
}

static void pack_record(msgpack_packer *pk, const struct stream_record *rec)
{
    size_t i;

    switch (rec->type) {
    case REC_HEADER:
        msgpack_pack_map(pk, 2);
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "v", STREAM_VERSION);
        break;
    case REC_IMAGE:
        msgpack_pack_map(pk, 7 + (rec->image.manifest_data != NULL));
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image_id);
        pack_kv_str(pk, "layout", rec->image.layout);
        pack_kv_str(pk, "ref", rec->image.ref);
        pack_kv_desc(pk, "manifest", &rec->image.manifest);
        pack_kv_str(pk, "platform", rec->image.platform);
        pack_kv_uint(pk, "layers", rec->image.nlayers);
        if (rec->image.manifest_data)
            pack_kv_bin(pk, "manifest_data", rec->image.manifest_data, rec->image.manifest_data_len);
        break;
    case REC_LAYER:
        msgpack_pack_map(pk, 5 + (rec->layer.nexisting > 0));
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image_id);
        pack_kv_uint(pk, "n", rec->n);
        pack_kv_desc(pk, "desc", &rec->layer.desc);
        if (rec->layer.inline_data)
            pack_kv_bool(pk, "inline", 1);
        else
            pack_kv_str(pk, "path", rec->layer.path);
        if (rec->layer.nexisting > 0) {
            pack_str(pk, "existing");
            msgpack_pack_array(pk, rec->layer.nexisting);
            for (i = 0; i < rec->layer.nexisting; i++) {
                msgpack_pack_map(pk, 4);
                pack_kv_str(pk, "digest", rec->layer.existing[i].digest);
                pack_kv_uint(pk, "size", (uint64_t)rec->layer.existing[i].size);
                pack_kv_uint(pk, "span_size", (uint64_t)rec->layer.existing[i].span_size);
                pack_kv_str(pk, "build_tool", rec->layer.existing[i].build_tool);
            }
        }
        break;
    case REC_CHUNK:
        msgpack_pack_map(pk, 4);
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image_id);
        pack_kv_uint(pk, "n", rec->n);
        pack_kv_bin(pk, "data", rec->chunk.data, rec->chunk.data_len);
        break;
    case REC_LAYER_END:
        msgpack_pack_map(pk, 3);
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image_id);
        pack_kv_uint(pk, "n", rec->n);
        break;
    case REC_ZTOC:
        msgpack_pack_map(pk, 9 + (rec->ztoc.data != NULL));
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image_id);
        pack_kv_uint(pk, "n", rec->n);
        pack_kv_desc(pk, "desc", &rec->ztoc.desc);
        pack_kv_desc(pk, "ztoc", &rec->ztoc.ztoc);
        if (rec->ztoc.data)
            pack_kv_bin(pk, "data", rec->ztoc.data, rec->ztoc.data_len);
        pack_kv_bool(pk, "reused", rec->ztoc.reused);
        pack_kv_uint(pk, "span_size", (uint64_t)rec->ztoc.span_size);
        pack_kv_str(pk, "build_tool", rec->ztoc.build_tool);
        pack_kv_bool(pk, "xattr_free", rec->ztoc.xattr_free);
        break;
    case REC_SKIP:
        msgpack_pack_map(pk, 5);
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image_id);
        pack_kv_uint(pk, "n", rec->n);
        pack_kv_desc(pk, "desc", &rec->skip.desc);
        pack_kv_str(pk, "message", rec->skip.message);
        break;
    case REC_IMAGE_END:
        msgpack_pack_map(pk, 2);
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image_id);
        break;
    case REC_ERROR:
        msgpack_pack_map(pk, 2);
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_str(pk, "message", rec->error.message);
        break;
    case REC_END:
    case REC_UNKNOWN:
        msgpack_pack_map(pk, 1);
        pack_kv_str(pk, "t", "end");
        break;
    }
}

int stream_encode(const struct stream_record *rec, uint8_t **out, size_t *len, struct error *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_record(&pk, rec);
    if (sb.data == NULL) { /* msgpack_sbuffer_write failed to allocate */
        msgpack_sbuffer_destroy(&sb);
        return error_set(err, "record stream: out of memory");
    }
    *len = sb.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&sb);
    return 0;
}
