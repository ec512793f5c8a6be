/* stream.h -- the msgpack record stream between the filters (formats/STREAM.md)
 *
 * A reader pulls records from a file descriptor with a bounded msgpack
 * reader of its own: every array and map count, string and binary length
 * and the nesting depth are checked against STREAM.md's limits as their
 * headers arrive, before anything is allocated for them; then every key's
 * type and size.  A writer packs records (msgpack-c) and writes each one
 * whole.  Records a stage does not consume are passed on unchanged: the
 * reader hands out the exact bytes it read.  A reader or writer is used by
 * one thread at a time.
 */
#ifndef SOCI_STREAM_H
#define SOCI_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define STREAM_VERSION 1
#define STREAM_STR_MAX 4096
#define STREAM_MAX_EXISTING 8   /* existing entries kept per layer; more are checked and dropped */
#define STREAM_MAX_ITEMS 65536   /* map entries + array elements in one record (STREAM.md) */
#define STREAM_MAX_DEPTH 16      /* nesting of maps and arrays in one record (STREAM.md) */

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

struct stream_reader;

/* initial: bytes already read from fd (e.g. while sniffing), may be NULL */
struct stream_reader *stream_reader_new(int fd, const uint8_t *initial, size_t initial_len);
void stream_reader_free(struct stream_reader *r);
/* 1: a record; 0: clean end of input; -1: error.  The first record must be
 * the header (checked here). */
int stream_read(struct stream_reader *r, struct stream_record *rec, struct error *err);
/* the current record's bytes as read (valid until the next read) */
int stream_reader_raw(struct stream_reader *r, const uint8_t **raw, size_t *len, struct error *err);

/* do these first bytes start a record stream (its header record)? */
int stream_looks_like(const uint8_t *p, size_t n);

/* pack and write one record (not thread-safe: one writer per fd) */
int stream_write(int fd, const struct stream_record *rec, struct error *err);
/* write raw record bytes as read */
int stream_write_raw(int fd, const uint8_t *raw, size_t len, struct error *err);

void stream_record_init(struct stream_record *rec, enum stream_type type);

#endif
