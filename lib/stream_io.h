/* stream_io.h -- the record stream (formats/stream.h) over file descriptors
 *
 * A reader pulls bytes from an fd into a stream decoder and hands out whole
 * records; the writers encode a record (or pass raw record bytes on) and
 * write it whole.  Errors: -1 and err set, one line (a reader that stopped
 * early is "the next stage exited early").  A reader is used by one thread
 * at a time; writes to one fd must not interleave (one writer per fd).
 */
#ifndef SOCI_STREAM_IO_H
#define SOCI_STREAM_IO_H

#include "stream.h"

struct stream_reader;

/* initial: bytes already read from fd (e.g. while sniffing), may be NULL;
 * the reader does not own fd.  NULL when out of memory. */
struct stream_reader *stream_reader_new(int fd, const uint8_t *initial, size_t initial_len);
void stream_reader_free(struct stream_reader *r);
/* 1: a record (valid until the next read); 0: clean end of input; -1:
 * error.  The first record must be the header (checked here). */
int stream_read(struct stream_reader *r, struct stream_record *rec, struct error *err);
/* the current record's bytes as read (valid until the next read) */
int stream_reader_raw(struct stream_reader *r, const uint8_t **raw, size_t *len, struct error *err);

/* pack and write one record */
int stream_write(int fd, const struct stream_record *rec, struct error *err);
/* write raw record bytes as read */
int stream_write_raw(int fd, const uint8_t *raw, size_t len, struct error *err);

#endif
