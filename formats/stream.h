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

struct stream_record {
    enum stream_type type;
    char type_name[32];
    uint32_t version;            /* header */
    uint32_t image;              /* image id */
    uint32_t n;                  /* layer position */
    char layout[STREAM_STR_MAX]; /* image */
    char ref[STREAM_STR_MAX];    /* image */
    char platform[128];          /* image */
    uint32_t nlayers;            /* image */
    struct stream_desc manifest; /* image */
    const uint8_t *manifest_data;/* image: the manifest bytes, for remote images (optional) */
    size_t manifest_data_len;
    struct stream_desc desc;     /* layer, ztoc, skip: the layer */
    char path[STREAM_STR_MAX];   /* layer */
    int inline_data;             /* layer */
    size_t nexisting;            /* layer */
    struct stream_existing existing[STREAM_MAX_EXISTING];
    const uint8_t *data;         /* chunk, ztoc (valid until the next read) */
    size_t data_len;
    struct stream_desc ztoc;     /* ztoc */
    int reused;                  /* ztoc */
    int64_t span_size;           /* ztoc */
    char build_tool[256];        /* ztoc */
    int xattr_free;              /* ztoc */
    char message[STREAM_STR_MAX];/* skip, error */
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

void stream_record_init(struct stream_record *rec, enum stream_type type);

#endif
