/* stream.h -- the msgpack record stream between the filters, on buffers
 * (docs/format.md §5; reading and writing file descriptors: lib/stream_io.h)
 *
 * A decoder takes bytes as they arrive and hands out whole records, with a
 * bounded msgpack reader of its own: every array and map count, string and
 * binary length and the nesting depth are checked against the stream's
 * limits as their headers arrive, before anything is allocated for them;
 * then every key's type and size.  The encoder packs one record
 * (msgpack-c) into a buffer.  Records a stage does not consume are passed
 * on unchanged: the decoder hands out the exact bytes it was given.
 * A record is a common part plus one struct per record type in a union
 * tagged by its type, so that reading a field means naming the type.
 * Ownership: the caller owns the decoder (stream_decoder_free) and every
 * struct stream_record, which holds no allocation; the pointers a decoded
 * record holds (chunk and ztoc data, image manifest_data) point into the
 * decoder's buffer and live until the next call on that decoder; the
 * buffer stream_encode returns is the caller's to free.
 * Errors: -1 and err set, one line.  A decoder is used by one thread at a
 * time; the encoder keeps no state.
 */
#ifndef SOCI_STREAM_H
#define SOCI_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define STREAM_VERSION 1
#define STREAM_STR_MAX 4096
#define STREAM_MAX_EXISTING 8   /* existing entries kept per layer; more are checked and dropped */
#define STREAM_MAX_ITEMS 65536   /* map entries + array elements in one record (docs/format.md §5.3) */
#define STREAM_MAX_DEPTH 16      /* nesting of maps and arrays in one record (docs/format.md §5.3) */

enum stream_type {
    REC_UNKNOWN,
    REC_HEADER,
    REC_IMAGE,
    REC_LAYER,
    REC_CHUNK,
    REC_LAYER_END,
    REC_ZTOC,
    REC_SKIP,
    REC_IMAGE_END,
    REC_ERROR,
    REC_END,
};

struct stream_desc {
    char media_type[256];
    char digest[80];
    int64_t size;
};

struct stream_existing {
    char digest[80];
    int64_t size;
    int64_t span_size;
    char build_tool[256];
};

/* One struct per record type (docs/format.md §5.4), named after the type;
 * each field is the record key of the same name unless said otherwise.
 * Strings are NUL-terminated and bounded as docs/format.md §5.3 says. */

struct stream_header_rec {      /* "soci-stream" */
    uint32_t version;           /* "v" (decoded; the encoder writes STREAM_VERSION) */
};

struct stream_image_rec {       /* "image" */
    char layout[STREAM_STR_MAX];
    char ref[STREAM_STR_MAX];
    char platform[128];
    uint32_t nlayers;           /* "layers" */
    struct stream_desc manifest;
    /* "manifest_data": the manifest bytes, for remote images (NULL when
     * absent); decoded, they point into the decoder's buffer */
    const uint8_t *manifest_data;
    size_t manifest_data_len;
};

struct stream_layer_rec {       /* "layer" */
    struct stream_desc desc;
    /* "path", or "" when the bytes come inline or not at all */
    char path[STREAM_STR_MAX];
    int inline_data;            /* "inline": the bytes follow in chunks */
    size_t nexisting;
    struct stream_existing existing[STREAM_MAX_EXISTING];
};

struct stream_chunk_rec {       /* "chunk" */
    const uint8_t *data;        /* decoded: into the decoder's buffer */
    size_t data_len;
};

struct stream_ztoc_rec {        /* "ztoc" */
    struct stream_desc desc;    /* the layer */
    struct stream_desc ztoc;    /* the ztoc blob */
    /* the ztoc bytes; NULL when reused (decoded: into the decoder's buffer) */
    const uint8_t *data;
    size_t data_len;
    int reused;
    int64_t span_size;
    char build_tool[256];
    int xattr_free;
};

struct stream_skip_rec {        /* "skip" */
    struct stream_desc desc;    /* the layer */
    char message[STREAM_STR_MAX];
};

struct stream_error_rec {       /* "error" */
    char message[STREAM_STR_MAX];
};

/* A record: what every record has, then the part of its type.  Only the
 * union member named by `type` holds anything: the decoder fills that one
 * alone (keys that belong to other types are checked and dropped), and the
 * encoder reads that one alone.  "layer_end", "image_end", "end" and
 * unknown types carry nothing past the common part. */
struct stream_record {
    enum stream_type type;      /* REC_UNKNOWN for a type this build does not know */
    char type_name[32];         /* "t" as read (for messages about unknown types) */
    uint32_t image_id;          /* "image": all but soci-stream, error and end */
    uint32_t n;                 /* layer position: layer, chunk, layer_end, ztoc, skip */
    union {
        struct stream_header_rec header;
        struct stream_image_rec image;
        struct stream_layer_rec layer;
        struct stream_chunk_rec chunk;
        struct stream_ztoc_rec ztoc;
        struct stream_skip_rec skip;
        struct stream_error_rec error;
    };
};

struct stream_decoder;

/* initial: bytes already at hand (e.g. sniffed), may be NULL; NULL when out
 * of memory */
struct stream_decoder *stream_decoder_new(const uint8_t *initial, size_t initial_len);
void stream_decoder_free(struct stream_decoder *d);
/* where the next bytes go: *at, room for *avail of them (at least a
 * chunk); ends the life of the record last returned */
int stream_decoder_space(struct stream_decoder *d, uint8_t **at, size_t *avail, struct error *err);
/* n bytes (at most *avail) were put at *at */
void stream_decoder_fill(struct stream_decoder *d, size_t n);
/* no more bytes will come */
void stream_decoder_end(struct stream_decoder *d);
/* 1: a record (valid until the next call on d); 0: more bytes needed, or
 * after stream_decoder_end the clean end of the stream; -1: error.  The
 * first record must be the header (checked here). */
int stream_decoder_next(struct stream_decoder *d, struct stream_record *rec, struct error *err);
/* the current record's bytes as given (valid as the record is) */
int stream_decoder_raw(struct stream_decoder *d, const uint8_t **raw, size_t *len, struct error *err);

/* do these first bytes start a record stream (its header record)? */
int stream_looks_like(const uint8_t *p, size_t n);

/* pack one record: *out (malloc'd, the caller frees it) of *len bytes */
int stream_encode(const struct stream_record *rec, uint8_t **out, size_t *len, struct error *err);

/* an empty record of this type: every field zero (descriptor sizes too) */
void stream_record_init(struct stream_record *rec, enum stream_type type);

#endif
