/* stream_io.c -- the record stream over file descriptors (see stream_io.h) */
#include "stream_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct stream_reader {
    int fd;
    int eof;
    struct stream_decoder *dec;
};

struct stream_reader *stream_reader_new(int fd, const uint8_t *initial, size_t initial_len)
{
    struct stream_reader *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->fd = fd;
    r->dec = stream_decoder_new(initial, initial_len);
    if (r->dec == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void stream_reader_free(struct stream_reader *r)
{
    if (r == NULL)
        return;
    stream_decoder_free(r->dec);
    free(r);
}

int stream_read(struct stream_reader *r, struct stream_record *rec, struct error *err)
{
    for (;;) {
        uint8_t *at;
        size_t avail;
        ssize_t n;
        int rc = stream_decoder_next(r->dec, rec, err);

        if (rc != 0 || r->eof)
            return rc; /* a record, an error, or the clean end */
        if (stream_decoder_space(r->dec, &at, &avail, err) != 0)
            return -1;
        do
            n = read(r->fd, at, avail);
        while (n < 0 && errno == EINTR);
        RETURN_ERROR_IF(n < 0, err, "record stream: read: %s", strerror(errno));
        if (n == 0) {
            r->eof = 1;
            stream_decoder_end(r->dec);
        } else {
            stream_decoder_fill(r->dec, (size_t)n);
        }
    }
}

int stream_reader_raw(struct stream_reader *r, const uint8_t **raw, size_t *len, struct error *err)
{
    return stream_decoder_raw(r->dec, raw, len, err);
}

int stream_write_raw(int fd, const uint8_t *raw, size_t len, struct error *err)
{
    while (len > 0) {
        ssize_t w = write(fd, raw, len);
        if (w < 0 && errno == EINTR)
            continue;
        RETURN_ERROR_IF(w < 0 && errno == EPIPE, err, "record stream: the next stage exited early");
        RETURN_ERROR_IF(w < 0, err, "record stream: write: %s", strerror(errno));
        raw += w;
        len -= (size_t)w;
    }
    return 0;
}

int stream_write(int fd, const struct stream_record *rec, struct error *err)
{
    uint8_t *buf;
    size_t len;
    int rc;

    if (stream_encode(rec, &buf, &len, err) != 0)
        return -1;
    rc = stream_write_raw(fd, buf, len, err);
    free(buf);
    return rc;
}
