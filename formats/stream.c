/* stream.c -- msgpack record stream codec (see stream.h, STREAM.md) */
#include "stream.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RECORD (((size_t)1 << 30) + (64 << 10))
#define READ_CHUNK (1 << 20)
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

int stream_looks_like(const uint8_t *p, size_t n)
{
    /* a fixmap whose first key is "t" and first value "soci-stream" */
    static const uint8_t pre[] = {0xa1, 't', 0xab, 's', 'o', 'c', 'i', '-', 's', 't', 'r', 'e', 'a', 'm'};

    return n >= 1 + sizeof(pre) && (p[0] & 0xf0) == 0x80 && memcmp(p + 1, pre, sizeof(pre)) == 0;
}

/* ---- reader ---- */

struct stream_reader {
    int fd;
    msgpack_unpacker unp;
    msgpack_unpacked result;
    int have_result;
    int seen_header;
    int eof;
    msgpack_sbuffer raw;
};

struct stream_reader *stream_reader_new(int fd, const uint8_t *initial, size_t initial_len)
{
    struct stream_reader *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->fd = fd;
    if (!msgpack_unpacker_init(&r->unp, READ_CHUNK)) {
        free(r);
        return NULL;
    }
    msgpack_unpacked_init(&r->result);
    msgpack_sbuffer_init(&r->raw);
    if (initial_len > 0) {
        if (!msgpack_unpacker_reserve_buffer(&r->unp, initial_len)) {
            stream_reader_free(r);
            return NULL;
        }
        memcpy(msgpack_unpacker_buffer(&r->unp), initial, initial_len);
        msgpack_unpacker_buffer_consumed(&r->unp, initial_len);
    }
    return r;
}

void stream_reader_free(struct stream_reader *r)
{
    if (r == NULL)
        return;
    msgpack_unpacked_destroy(&r->result);
    msgpack_unpacker_destroy(&r->unp);
    msgpack_sbuffer_destroy(&r->raw);
    free(r);
}

static int key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

static int get_str(const msgpack_object *v, char *dst, size_t cap, const char *key, struct error *err)
{
    RETURN_ERROR_IF(v->type != MSGPACK_OBJECT_STR, err, "record key \"%s\" is not a string", key);
    RETURN_ERROR_IF(v->via.str.size >= cap, err, "record key \"%s\" is longer than %zu bytes", key, cap - 1);
    RETURN_ERROR_IF(memchr(v->via.str.ptr, 0, v->via.str.size) != NULL, err,
                    "record key \"%s\" holds a NUL byte", key);
    memcpy(dst, v->via.str.ptr, v->via.str.size);
    dst[v->via.str.size] = '\0';
    return 0;
}

static int get_uint(const msgpack_object *v, uint64_t max, uint64_t *out, const char *key, struct error *err)
{
    RETURN_ERROR_IF(v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > max, err,
                    "record key \"%s\" is not an integer in range", key);
    *out = v->via.u64;
    return 0;
}

static int get_bool(const msgpack_object *v, int *out, const char *key, struct error *err)
{
    RETURN_ERROR_IF(v->type != MSGPACK_OBJECT_BOOLEAN, err, "record key \"%s\" is not a boolean", key);
    *out = v->via.boolean;
    return 0;
}

static int get_desc(const msgpack_object *v, struct stream_desc *d, const char *key, struct error *err)
{
    uint32_t i;
    uint64_t u = 0;

    RETURN_ERROR_IF(v->type != MSGPACK_OBJECT_MAP, err, "record key \"%s\" is not a descriptor map", key);
    memset(d, 0, sizeof(*d));
    d->size = -1;
    for (i = 0; i < v->via.map.size; i++) {
        const msgpack_object *k = &v->via.map.ptr[i].key, *val = &v->via.map.ptr[i].val;
        if (key_is(k, "mediaType")) {
            if (get_str(val, d->media_type, sizeof(d->media_type), "mediaType", err))
                return -1;
        } else if (key_is(k, "digest")) {
            if (get_str(val, d->digest, sizeof(d->digest), "digest", err))
                return -1;
        } else if (key_is(k, "size")) {
            if (get_uint(val, INT64_MAX, &u, "size", err))
                return -1;
            d->size = (int64_t)u;
        }
    }
    RETURN_ERROR_IF(d->digest[0] == '\0' || d->size < 0, err, "descriptor \"%s\" lacks digest or size", key);
    return 0;
}

static int get_existing(const msgpack_object *v, struct stream_record *rec, struct error *err)
{
    uint32_t i, j;
    uint64_t u = 0;

    RETURN_ERROR_IF(v->type != MSGPACK_OBJECT_ARRAY, err, "record key \"existing\" is not an array");
    for (i = 0; i < v->via.array.size && rec->nexisting < STREAM_MAX_EXISTING; i++) {
        const msgpack_object *e = &v->via.array.ptr[i];
        struct stream_existing *x = &rec->existing[rec->nexisting];
        RETURN_ERROR_IF(e->type != MSGPACK_OBJECT_MAP, err, "record key \"existing\" holds a non-map");
        memset(x, 0, sizeof(*x));
        for (j = 0; j < e->via.map.size; j++) {
            const msgpack_object *k = &e->via.map.ptr[j].key, *val = &e->via.map.ptr[j].val;
            if (key_is(k, "digest")) {
                if (get_str(val, x->digest, sizeof(x->digest), "digest", err))
                    return -1;
            } else if (key_is(k, "size")) {
                if (get_uint(val, INT64_MAX, &u, "size", err))
                    return -1;
                x->size = (int64_t)u;
            } else if (key_is(k, "span_size")) {
                if (get_uint(val, INT64_MAX, &u, "span_size", err))
                    return -1;
                x->span_size = (int64_t)u;
            } else if (key_is(k, "build_tool")) {
                if (get_str(val, x->build_tool, sizeof(x->build_tool), "build_tool", err))
                    return -1;
            }
        }
        rec->nexisting++;
    }
    return 0;
}

static int decode(const msgpack_object *o, struct stream_record *rec, struct error *err)
{
    uint32_t i;
    uint64_t u = 0;

    RETURN_ERROR_IF(o->type != MSGPACK_OBJECT_MAP, err, "record is not a map");
    stream_record_init(rec, REC_UNKNOWN);
    for (i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        size_t t;
        if (key_is(k, "t")) {
            if (get_str(v, rec->type_name, sizeof(rec->type_name), "t", err))
                return -1;
            for (t = 0; t < sizeof(type_names) / sizeof(type_names[0]); t++)
                if (strcmp(type_names[t].name, rec->type_name) == 0)
                    rec->type = type_names[t].type;
        } else if (key_is(k, "v")) {
            if (get_uint(v, UINT32_MAX, &u, "v", err))
                return -1;
            rec->version = (uint32_t)u;
        } else if (key_is(k, "image")) {
            if (get_uint(v, UINT32_MAX, &u, "image", err))
                return -1;
            rec->image = (uint32_t)u;
        } else if (key_is(k, "n")) {
            if (get_uint(v, UINT32_MAX, &u, "n", err))
                return -1;
            rec->n = (uint32_t)u;
        } else if (key_is(k, "layers")) {
            if (get_uint(v, UINT32_MAX, &u, "layers", err))
                return -1;
            rec->nlayers = (uint32_t)u;
        } else if (key_is(k, "layout")) {
            if (get_str(v, rec->layout, sizeof(rec->layout), "layout", err))
                return -1;
        } else if (key_is(k, "ref")) {
            if (get_str(v, rec->ref, sizeof(rec->ref), "ref", err))
                return -1;
        } else if (key_is(k, "platform")) {
            if (get_str(v, rec->platform, sizeof(rec->platform), "platform", err))
                return -1;
        } else if (key_is(k, "manifest")) {
            if (get_desc(v, &rec->manifest, "manifest", err))
                return -1;
        } else if (key_is(k, "desc")) {
            if (get_desc(v, &rec->desc, "desc", err))
                return -1;
        } else if (key_is(k, "ztoc")) {
            if (get_desc(v, &rec->ztoc, "ztoc", err))
                return -1;
        } else if (key_is(k, "path")) {
            if (get_str(v, rec->path, sizeof(rec->path), "path", err))
                return -1;
        } else if (key_is(k, "inline")) {
            if (get_bool(v, &rec->inline_data, "inline", err))
                return -1;
        } else if (key_is(k, "reused")) {
            if (get_bool(v, &rec->reused, "reused", err))
                return -1;
        } else if (key_is(k, "xattr_free")) {
            if (get_bool(v, &rec->xattr_free, "xattr_free", err))
                return -1;
        } else if (key_is(k, "span_size")) {
            if (get_uint(v, INT64_MAX, &u, "span_size", err))
                return -1;
            rec->span_size = (int64_t)u;
        } else if (key_is(k, "build_tool")) {
            if (get_str(v, rec->build_tool, sizeof(rec->build_tool), "build_tool", err))
                return -1;
        } else if (key_is(k, "message")) {
            if (get_str(v, rec->message, sizeof(rec->message), "message", err))
                return -1;
        } else if (key_is(k, "existing")) {
            if (get_existing(v, rec, err))
                return -1;
        } else if (key_is(k, "manifest_data")) {
            RETURN_ERROR_IF(v->type != MSGPACK_OBJECT_BIN || v->via.bin.size > (4u << 20), err,
                            "record key \"manifest_data\" is not binary of at most 4 MiB");
            rec->manifest_data = (const uint8_t *)v->via.bin.ptr;
            rec->manifest_data_len = v->via.bin.size;
        } else if (key_is(k, "data")) {
            RETURN_ERROR_IF(v->type != MSGPACK_OBJECT_BIN, err, "record key \"data\" is not binary");
            rec->data = (const uint8_t *)v->via.bin.ptr;
            rec->data_len = v->via.bin.size;
        }
    }
    RETURN_ERROR_IF(rec->type_name[0] == '\0', err, "record has no type");
    RETURN_ERROR_IF(rec->type == REC_CHUNK && rec->data_len > MAX_CHUNK_DATA, err,
                    "chunk record of %zu bytes is larger than %u", rec->data_len, MAX_CHUNK_DATA);
    return 0;
}

int stream_read(struct stream_reader *r, struct stream_record *rec, struct error *err)
{
    for (;;) {
        msgpack_unpack_return ret = msgpack_unpacker_next(&r->unp, &r->result);
        ssize_t n;

        if (ret == MSGPACK_UNPACK_SUCCESS) {
            r->have_result = 1;
            if (decode(&r->result.data, rec, err) != 0)
                return error_prefix(err, "record stream");
            if (!r->seen_header && rec->type != REC_ERROR) {
                RETURN_ERROR_IF(rec->type != REC_HEADER, err,
                                "input is not a soci record stream (first record is \"%s\")", rec->type_name);
                RETURN_ERROR_IF(rec->version != STREAM_VERSION, err,
                                "record stream version %u is not supported (this build speaks %d)",
                                rec->version, STREAM_VERSION);
                r->seen_header = 1;
            }
            return 1;
        }
        RETURN_ERROR_IF(ret == MSGPACK_UNPACK_PARSE_ERROR, err, "record stream: malformed msgpack");
        RETURN_ERROR_IF(ret == MSGPACK_UNPACK_NOMEM_ERROR, err, "record stream: out of memory");
        if (r->eof) {
            if (r->unp.used > r->unp.off)
                return error_set(err, "record stream ends inside a record");
            return 0;
        }
        RETURN_ERROR_IF(msgpack_unpacker_message_size(&r->unp) > MAX_RECORD, err,
                        "record stream: a record is larger than 1 GiB");
        if (msgpack_unpacker_buffer_capacity(&r->unp) < READ_CHUNK &&
            !msgpack_unpacker_reserve_buffer(&r->unp, READ_CHUNK))
            return error_set(err, "record stream: out of memory");
        n = read(r->fd, msgpack_unpacker_buffer(&r->unp), msgpack_unpacker_buffer_capacity(&r->unp));
        if (n < 0 && errno == EINTR)
            continue;
        RETURN_ERROR_IF(n < 0, err, "record stream: read: %s", strerror(errno));
        if (n == 0)
            r->eof = 1;
        else
            msgpack_unpacker_buffer_consumed(&r->unp, (size_t)n);
    }
}

int stream_reader_raw(struct stream_reader *r, const uint8_t **raw, size_t *len, struct error *err)
{
    msgpack_packer pk;

    RETURN_ERROR_IF(!r->have_result, err, "no record to pass on");
    msgpack_sbuffer_clear(&r->raw);
    msgpack_packer_init(&pk, &r->raw, msgpack_sbuffer_write);
    RETURN_ERROR_IF(msgpack_pack_object(&pk, r->result.data) != 0, err, "record stream: out of memory");
    *raw = (const uint8_t *)r->raw.data;
    *len = r->raw.size;
    return 0;
}

/* ---- writer ---- */

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
        msgpack_pack_map(pk, 7 + (rec->manifest_data != NULL));
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image);
        pack_kv_str(pk, "layout", rec->layout);
        pack_kv_str(pk, "ref", rec->ref);
        pack_kv_desc(pk, "manifest", &rec->manifest);
        pack_kv_str(pk, "platform", rec->platform);
        pack_kv_uint(pk, "layers", rec->nlayers);
        if (rec->manifest_data)
            pack_kv_bin(pk, "manifest_data", rec->manifest_data, rec->manifest_data_len);
        break;
    case REC_LAYER:
        msgpack_pack_map(pk, 5 + (rec->nexisting > 0));
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image);
        pack_kv_uint(pk, "n", rec->n);
        pack_kv_desc(pk, "desc", &rec->desc);
        if (rec->inline_data)
            pack_kv_bool(pk, "inline", 1);
        else
            pack_kv_str(pk, "path", rec->path);
        if (rec->nexisting > 0) {
            pack_str(pk, "existing");
            msgpack_pack_array(pk, rec->nexisting);
            for (i = 0; i < rec->nexisting; i++) {
                msgpack_pack_map(pk, 4);
                pack_kv_str(pk, "digest", rec->existing[i].digest);
                pack_kv_uint(pk, "size", (uint64_t)rec->existing[i].size);
                pack_kv_uint(pk, "span_size", (uint64_t)rec->existing[i].span_size);
                pack_kv_str(pk, "build_tool", rec->existing[i].build_tool);
            }
        }
        break;
    case REC_CHUNK:
        msgpack_pack_map(pk, 4);
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image);
        pack_kv_uint(pk, "n", rec->n);
        pack_kv_bin(pk, "data", rec->data, rec->data_len);
        break;
    case REC_LAYER_END:
        msgpack_pack_map(pk, 3);
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image);
        pack_kv_uint(pk, "n", rec->n);
        break;
    case REC_ZTOC:
        msgpack_pack_map(pk, 9 + (rec->data != NULL));
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image);
        pack_kv_uint(pk, "n", rec->n);
        pack_kv_desc(pk, "desc", &rec->desc);
        pack_kv_desc(pk, "ztoc", &rec->ztoc);
        if (rec->data)
            pack_kv_bin(pk, "data", rec->data, rec->data_len);
        pack_kv_bool(pk, "reused", rec->reused);
        pack_kv_uint(pk, "span_size", (uint64_t)rec->span_size);
        pack_kv_str(pk, "build_tool", rec->build_tool);
        pack_kv_bool(pk, "xattr_free", rec->xattr_free);
        break;
    case REC_SKIP:
        msgpack_pack_map(pk, 5);
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image);
        pack_kv_uint(pk, "n", rec->n);
        pack_kv_desc(pk, "desc", &rec->desc);
        pack_kv_str(pk, "message", rec->message);
        break;
    case REC_IMAGE_END:
        msgpack_pack_map(pk, 2);
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_uint(pk, "image", rec->image);
        break;
    case REC_ERROR:
        msgpack_pack_map(pk, 2);
        pack_kv_str(pk, "t", type_name(rec->type));
        pack_kv_str(pk, "message", rec->message);
        break;
    case REC_END:
    case REC_UNKNOWN:
        msgpack_pack_map(pk, 1);
        pack_kv_str(pk, "t", "end");
        break;
    }
}

static int write_full(int fd, const void *buf, size_t n, struct error *err)
{
    const uint8_t *p = buf;

    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        RETURN_ERROR_IF(w < 0 && errno == EPIPE, err, "record stream: the next stage exited early");
        RETURN_ERROR_IF(w < 0, err, "record stream: write: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int stream_write(int fd, const struct stream_record *rec, struct error *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_record(&pk, rec);
    rc = sb.data ? write_full(fd, sb.data, sb.size, err) : error_set(err, "record stream: out of memory");
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int stream_write_raw(int fd, const uint8_t *raw, size_t len, struct error *err)
{
    return write_full(fd, raw, len, err);
}
