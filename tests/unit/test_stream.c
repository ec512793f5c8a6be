/* test_stream.c -- the record-stream decoder and encoder (formats/stream.h)
 * against msgpack-c, an encoder and decoder of their own:
 *   - records msgpack-c packs (header, image, layer, chunk, end) decode to
 *     their fields whatever the slicing of the bytes (all at once, 1 and 7
 *     bytes at a time), and stream_decoder_raw hands back exactly the bytes
 *     of each record;
 *   - the widest forms (map32 with str32 keys and values, written by hand:
 *     msgpack-c always picks the smallest) are the same records;
 *   - what stream_encode writes, msgpack-c unpacks to the same fields;
 *   - a record's keys of other record types are checked, then dropped:
 *     they do not land in its own part, whatever their order;
 *   - headers declaring 2^32-1 array or map entries, a 4 GiB string or
 *     nesting past the limit are refused from their header bytes alone,
 *     before the declared bytes exist; a stream that stops inside a record
 *     is an error, and so is a first record that is not the header.
 */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stream.h"

#define DIG "sha256:abababababababababababababababababababababababababababababababab"

static void kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
    msgpack_pack_str_with_body(pk, v, strlen(v));
}

static void kv_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
    msgpack_pack_uint64(pk, v);
}

/* k: a descriptor of digest DIG (media_type NULL: none) */
static void kv_desc(msgpack_packer *pk, const char *k, const char *media_type, uint64_t size)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
    msgpack_pack_map(pk, media_type ? 3 : 2);
    if (media_type)
        kv_str(pk, "mediaType", media_type);
    kv_str(pk, "digest", DIG);
    kv_uint(pk, "size", size);
}

/* header, image, layer (inline), chunk of 5 bytes, end; the offset where
 * each record starts in starts[0..5] */
static void pack_stream(msgpack_sbuffer *sb, size_t starts[6])
{
    msgpack_packer pk;

    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    starts[0] = sb->size;
    msgpack_pack_map(&pk, 2);
    kv_str(&pk, "t", "soci-stream");
    kv_uint(&pk, "v", STREAM_VERSION);
    starts[1] = sb->size;
    msgpack_pack_map(&pk, 5);
    kv_str(&pk, "t", "image");
    kv_uint(&pk, "image", 3);
    kv_str(&pk, "layout", "/l");
    kv_str(&pk, "ref", "oci:/l:t");
    kv_desc(&pk, "manifest", NULL, 1234);
    starts[2] = sb->size;
    msgpack_pack_map(&pk, 4);
    kv_str(&pk, "t", "layer");
    kv_uint(&pk, "n", 7);
    msgpack_pack_str_with_body(&pk, "inline", 6);
    msgpack_pack_true(&pk);
    kv_desc(&pk, "desc", "application/vnd.oci.image.layer.v1.tar+gzip", 99);
    starts[3] = sb->size;
    msgpack_pack_map(&pk, 2);
    kv_str(&pk, "t", "chunk");
    msgpack_pack_str_with_body(&pk, "data", 4);
    msgpack_pack_bin_with_body(&pk, "\1\2\3\4\5", 5);
    starts[4] = sb->size;
    msgpack_pack_map(&pk, 1);
    kv_str(&pk, "t", "end");
    starts[5] = sb->size;
}

/* decode buf[0..n) fed `step` bytes at a time; check each record */
static void decode_stream(const uint8_t *buf, size_t n, const size_t *starts, size_t step)
{
    struct stream_decoder *d = stream_decoder_new(NULL, 0);
    struct stream_record rec;
    struct error err = {""};
    size_t fed = 0, got = 0;
    int rc;

    CHECK(d != NULL);
    for (;;) {
        while ((rc = stream_decoder_next(d, &rec, &err)) == 1) {
            const uint8_t *raw;
            size_t len;
            CHECK_MSG(got < 5, "step %zu: more records than were packed", step);
            CHECK(stream_decoder_raw(d, &raw, &len, &err) == 0 && len == starts[got + 1] - starts[got] &&
                  memcmp(raw, buf + starts[got], len) == 0);
            if (got == 1)
                CHECK(rec.type == REC_IMAGE && rec.image_id == 3 && strcmp(rec.image.layout, "/l") == 0 &&
                      strcmp(rec.image.ref, "oci:/l:t") == 0 && strcmp(rec.image.manifest.digest, DIG) == 0 &&
                      rec.image.manifest.size == 1234);
            if (got == 2)
                CHECK(rec.type == REC_LAYER && rec.n == 7 && rec.layer.inline_data == 1 && rec.layer.desc.size == 99 &&
                      strcmp(rec.layer.desc.media_type, "application/vnd.oci.image.layer.v1.tar+gzip") == 0);
            if (got == 3)
                CHECK(rec.type == REC_CHUNK && rec.chunk.data_len == 5 && memcmp(rec.chunk.data, "\1\2\3\4\5", 5) == 0);
            if (got == 4)
                CHECK(rec.type == REC_END);
            got++;
        }
        CHECK_MSG(rc == 0, "step %zu: %s", step, err.msg);
        if (rc != 0 || fed == n)
            break;
        uint8_t *at;
        size_t avail, k;
        CHECK(stream_decoder_space(d, &at, &avail, &err) == 0);
        k = n - fed < step ? n - fed : step;
        k = k < avail ? k : avail;
        memcpy(at, buf + fed, k);
        stream_decoder_fill(d, k);
        fed += k;
        if (fed == n)
            stream_decoder_end(d);
    }
    CHECK_MSG(got == 5, "step %zu: %zu records, want 5", step, got);
    stream_decoder_free(d);
}

/* the first record of `bytes` must be refused (-1) with only these bytes */
static void refused(const uint8_t *bytes, size_t n, const char *what)
{
    struct stream_decoder *d = stream_decoder_new(bytes, n);
    struct stream_record rec;
    struct error err = {""};

    CHECK(d != NULL);
    CHECK_MSG(stream_decoder_next(d, &rec, &err) == -1 && err.msg[0], "%s is not refused", what);
    stream_decoder_free(d);
}

static void hostile(void)
{
    /* header first, then the hostile record */
    static const uint8_t hdr[] = {0x82, 0xa1, 't', 0xab, 's', 'o', 'c', 'i', '-', 's', 't', 'r', 'e', 'a', 'm',
                                  0xa1, 'v', 0x01};
    static const uint8_t tails[][16] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff},                          /* array32 of 2^32-1 */
        {0xdf, 0xff, 0xff, 0xff, 0xff},                          /* map32 of 2^32-1 */
        {0x81, 0xa1, 't', 0xdb, 0xff, 0xff, 0xff, 0xff},         /* str32 of 4 GiB */
        {0x81, 0xa1, 'x', 0xc6, 0xff, 0xff, 0xff, 0xff},         /* bin32 of 4 GiB */
    };
    static const size_t tail_len[] = {5, 5, 8, 8};
    static const char *names[] = {"array32 2^32-1", "map32 2^32-1", "str32 4 GiB", "bin32 4 GiB"};
    uint8_t buf[64], deep[20000];
    size_t i;

    for (i = 0; i < 4; i++) {
        struct stream_decoder *d;
        struct stream_record rec;
        struct error err = {""};
        memcpy(buf, hdr, sizeof(hdr));
        memcpy(buf + sizeof(hdr), tails[i], tail_len[i]);
        d = stream_decoder_new(buf, sizeof(hdr) + tail_len[i]);
        CHECK(d != NULL && stream_decoder_next(d, &rec, &err) == 1 && rec.type == REC_HEADER);
        /* no stream_decoder_end: refused on the header bytes, not for
         * want of the rest */
        CHECK_MSG(stream_decoder_next(d, &rec, &err) == -1 && err.msg[0], "%s is not refused", names[i]);
        stream_decoder_free(d);
    }
    /* nesting far past STREAM_MAX_DEPTH: {"t": [[[[...]]]]} */
    deep[0] = 0x81, deep[1] = 0xa1, deep[2] = 't';
    memset(deep + 3, 0x91, sizeof(deep) - 4);
    deep[sizeof(deep) - 1] = 0xc0;
    refused(deep, sizeof(deep), "nesting 20000 deep");
    /* a first record that is not the header */
    refused((const uint8_t *)"\x81\xa1t\xa3" "end", 7, "a stream without its header");
    /* the stream stops inside the header */
    {
        struct stream_decoder *d = stream_decoder_new(hdr, sizeof(hdr) - 3);
        struct stream_record rec;
        struct error err = {""};
        stream_decoder_end(d);
        CHECK(stream_decoder_next(d, &rec, &err) == -1 && err.msg[0]);
        stream_decoder_free(d);
    }
}

/* map32 with str32 keys and values: the header and an end record */
static void widest(void)
{
    uint8_t b[128], *p = b;
    struct stream_decoder *d;
    struct stream_record rec;
    struct error err = {""};
    const char *strs[] = {"t", "soci-stream", "v"};
    size_t i;

    *p++ = 0xdf, *p++ = 0, *p++ = 0, *p++ = 0, *p++ = 2;
    for (i = 0; i < 3; i++) {
        size_t n = strlen(strs[i]);
        *p++ = 0xdb, *p++ = 0, *p++ = 0, *p++ = 0, *p++ = (uint8_t)n;
        memcpy(p, strs[i], n), p += n;
    }
    *p++ = 0xce, *p++ = 0, *p++ = 0, *p++ = 0, *p++ = STREAM_VERSION;   /* uint32 */
    *p++ = 0xdf, *p++ = 0, *p++ = 0, *p++ = 0, *p++ = 1;
    *p++ = 0xdb, *p++ = 0, *p++ = 0, *p++ = 0, *p++ = 1, *p++ = 't';
    *p++ = 0xdb, *p++ = 0, *p++ = 0, *p++ = 0, *p++ = 3, *p++ = 'e', *p++ = 'n', *p++ = 'd';
    CHECK(stream_looks_like(b, (size_t)(p - b)));
    d = stream_decoder_new(b, (size_t)(p - b));
    stream_decoder_end(d);
    CHECK(stream_decoder_next(d, &rec, &err) == 1 && rec.type == REC_HEADER && rec.header.version == STREAM_VERSION);
    CHECK(stream_decoder_next(d, &rec, &err) == 1 && rec.type == REC_END);
    CHECK(stream_decoder_next(d, &rec, &err) == 0);
    stream_decoder_free(d);
}

/* a skip record whose "t" comes last, carrying keys of other types: a
 * layer's "path" (in the union, layer.path lies where skip.message does),
 * a chunk's "data"; its own part holds its own keys only.  With a
 * foreign key of the wrong kind ("inline": 3) it is refused: every key is
 * checked, whoever it belongs to. */
static void foreign_keys(void)
{
    int bad;

    for (bad = 0; bad < 2; bad++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        struct stream_decoder *d;
        struct stream_record rec;
        struct error err = {""};

        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        kv_str(&pk, "t", "soci-stream");
        kv_uint(&pk, "v", STREAM_VERSION);
        msgpack_pack_map(&pk, 7 + bad);
        kv_str(&pk, "message", "ztoc skipped - why");
        kv_str(&pk, "path", "/blobs/x");
        msgpack_pack_str_with_body(&pk, "data", 4);
        msgpack_pack_bin_with_body(&pk, "\1\2\3", 3);
        kv_uint(&pk, "n", 4);
        kv_desc(&pk, "desc", "application/vnd.oci.image.layer.v1.tar+gzip", 99);
        kv_uint(&pk, "image", 1);
        if (bad)
            kv_uint(&pk, "inline", 3);
        kv_str(&pk, "t", "skip");
        d = stream_decoder_new((const uint8_t *)sb.data, sb.size);
        CHECK(d != NULL);
        stream_decoder_end(d);
        CHECK(stream_decoder_next(d, &rec, &err) == 1 && rec.type == REC_HEADER);
        if (bad) {
            CHECK_MSG(stream_decoder_next(d, &rec, &err) == -1 && strstr(err.msg, "\"inline\"") != NULL,
                      "a skip record with \"inline\": 3 gives \"%s\"", err.msg);
        } else {
            CHECK(stream_decoder_next(d, &rec, &err) == 1);
            CHECK(rec.type == REC_SKIP && strcmp(rec.type_name, "skip") == 0 && rec.image_id == 1 && rec.n == 4);
            CHECK_MSG(strcmp(rec.skip.message, "ztoc skipped - why") == 0, "skip.message is \"%s\"",
                      rec.skip.message);
            CHECK(rec.skip.desc.size == 99 && strcmp(rec.skip.desc.digest, DIG) == 0);
        }
        stream_decoder_free(d);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* what stream_encode writes, as msgpack-c reads it */
static void encoded(void)
{
    struct stream_record rec;
    struct error err = {""};
    msgpack_unpacked u;
    uint8_t *out;
    size_t len, off = 0, i;
    int seen = 0;

    stream_record_init(&rec, REC_LAYER);
    rec.image_id = 2;
    rec.n = 5;
    strcpy(rec.layer.path, "/blobs/x");
    strcpy(rec.layer.desc.digest, DIG);
    strcpy(rec.layer.desc.media_type, "application/vnd.oci.image.layer.v1.tar");
    rec.layer.desc.size = 4096;
    CHECK(stream_encode(&rec, &out, &len, &err) == 0);
    msgpack_unpacked_init(&u);
    CHECK(msgpack_unpack_next(&u, (const char *)out, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len);
    CHECK(u.data.type == MSGPACK_OBJECT_MAP);
    for (i = 0; u.data.type == MSGPACK_OBJECT_MAP && i < u.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
        const msgpack_object_str *k = &kv->key.via.str;
        if (k->size == 1 && k->ptr[0] == 't')
            seen += kv->val.via.str.size == 5 && memcmp(kv->val.via.str.ptr, "layer", 5) == 0;
        else if (k->size == 1 && k->ptr[0] == 'n')
            seen += kv->val.via.u64 == 5;
        else if (k->size == 4 && memcmp(k->ptr, "path", 4) == 0)
            seen += kv->val.via.str.size == 8 && memcmp(kv->val.via.str.ptr, "/blobs/x", 8) == 0;
        else if (k->size == 4 && memcmp(k->ptr, "desc", 4) == 0)
            seen += kv->val.type == MSGPACK_OBJECT_MAP;
    }
    CHECK_MSG(seen == 4, "msgpack-c found %d of the 4 fields checked", seen);
    msgpack_unpacked_destroy(&u);
    free(out);
}

int main(void)
{
    msgpack_sbuffer sb;
    size_t starts[6];

    msgpack_sbuffer_init(&sb);
    pack_stream(&sb, starts);
    CHECK(stream_looks_like((const uint8_t *)sb.data, sb.size));
    decode_stream((const uint8_t *)sb.data, sb.size, starts, sb.size);
    decode_stream((const uint8_t *)sb.data, sb.size, starts, 1);
    decode_stream((const uint8_t *)sb.data, sb.size, starts, 7);
    msgpack_sbuffer_destroy(&sb);
    widest();
    hostile();
    foreign_keys();
    encoded();
    return check_exit();
}
