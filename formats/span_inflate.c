/* span_inflate.c -- decompress spans from checkpoints (see span_inflate.h) */
#include "span_inflate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

struct span_inflater {
    z_stream strm;
    int ready;       /* inflateInit2 done */
#ifdef HAVE_ISAL
    struct inflate_state isal;
#endif
};

struct span_inflater *span_inflater_new(void)
{
    return calloc(1, sizeof(struct span_inflater));
}

void span_inflater_free(struct span_inflater *si)
{
    if (si == NULL)
        return;
    if (si->ready)
        inflateEnd(&si->strm);
    free(si);
}

static int expected_len(const struct zinfo *zi, int32_t first, int32_t last, size_t in_len,
                        size_t out_len, struct error *err)
{
    int64_t cin, cout;

    /* the range first: the span math reads checkpoint records */
    RETURN_ERROR_IF(first < 0 || last < first || last >= zi->nspans, err,
                    "span range %d..%d outside 0..%d", first, last, zi->nspans - 1);
    cin = zinfo_span_compressed_end(zi, last) - zinfo_span_compressed_start(zi, first);
    cout = zinfo_span_uncompressed_end(zi, last) - zinfo_span_uncompressed_start(zi, first);
    RETURN_ERROR_IF(cin < 0 || (uint64_t)cin != in_len, err,
                    "spans %d..%d: got %zu compressed bytes, expected %lld", first, last, in_len,
                    (long long)cin);
    RETURN_ERROR_IF(cout < 0 || (uint64_t)cout != out_len, err,
                    "spans %d..%d: output buffer of %zu bytes, expected %lld", first, last,
                    out_len, (long long)cout);
    return 0;
}

#ifdef HAVE_ISAL
/* ISA-L's inflate, two to three times zlib's speed on layer data, from the
 * same start: the checkpoint's leftover bits primed into its bit buffer,
 * the window as dictionary, raw deflate until out is full.  It stops at the
 * end of a gzip member; a range that goes on past one, and anything ISA-L
 * refuses, is zlib's to do again from the start (it steps over members and
 * says what is wrong).  1: out holds the range; 0: use zlib. */
static int isal_span(struct span_inflater *si, const struct zinfo *zi, int32_t first, const uint8_t *in,
                     size_t in_len, uint8_t *out, size_t out_len)
{
    struct inflate_state *st = &si->isal;
    uint8_t bits = zinfo_span_bits(zi, first);
    int ret;

    if (in_len < 1 || in_len > UINT32_MAX || out_len > UINT32_MAX)
        return 0;
    isal_inflate_init(st);
    st->crc_flag = ISAL_DEFLATE;
    if (isal_inflate_set_dict(st, (uint8_t *)zinfo_span_window(zi, first), ZINFO_WINDOW_SIZE) != COMP_OK)
        return 0;
    st->next_in = (uint8_t *)in;
    st->avail_in = (uint32_t)in_len;
    if (bits) {
        st->read_in = in[0] >> (8 - bits);
        st->read_in_length = bits;
        st->next_in++;
        st->avail_in--;
    }
    st->next_out = out;
    st->avail_out = (uint32_t)out_len;
    do {
        uint32_t had_in = st->avail_in, had_out = st->avail_out;
        ret = isal_inflate(st);
        if (ret < 0 || (st->avail_in == had_in && st->avail_out == had_out))
            return 0; /* an error, or no progress (the input ended short) */
        if (st->block_state == ISAL_BLOCK_FINISH)
            break;    /* a member ended */
    } while (st->avail_out > 0);
    return st->avail_out == 0;
}
#endif

int span_inflate(struct span_inflater *si, const struct zinfo *zi, int32_t first, int32_t last,
                 const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
                 struct error *err)
{
    z_stream *s = &si->strm;
    uint8_t bits;
    int raw = 1, ret;

    if (expected_len(zi, first, last, in_len, out_len, err) != 0)
        return -1;
    if (zi->algorithm != ZTOC_GZIP) {
        /* a tar span is its own bytes; a ztoc claiming more uncompressed
         * than compressed bytes would have us read past the input */
        RETURN_ERROR_IF(out_len > in_len, err,
                        "tar spans %d..%d: %zu output bytes wanted from %zu input bytes", first, last,
                        out_len, in_len);
        memcpy(out, in, out_len);
        return 0;
    }
#ifdef HAVE_ISAL
    if (isal_span(si, zi, first, in, in_len, out, out_len))
        return 0;
#endif
    if (!si->ready) {
        memset(s, 0, sizeof(*s));
        RETURN_ERROR_IF(inflateInit2(s, -15) != Z_OK, err, "zlib: inflateInit2 failed");
        si->ready = 1;
    } else {
        RETURN_ERROR_IF(inflateReset2(s, -15) != Z_OK, err, "zlib: inflateReset2 failed");
    }
    bits = zinfo_span_bits(zi, first);
    s->next_in = (Bytef *)in;
    s->avail_in = (uInt)in_len;
    if (bits) {
        RETURN_ERROR_IF(in_len < 1, err, "span %d: no compressed bytes", first);
        inflatePrime(s, bits, in[0] >> (8 - bits));
        s->next_in++;
        s->avail_in--;
    }
    RETURN_ERROR_IF(inflateSetDictionary(s, zinfo_span_window(zi, first), ZINFO_WINDOW_SIZE) != Z_OK,
                    err, "zlib: inflateSetDictionary failed");
    s->next_out = out;
    s->avail_out = (uInt)out_len;
    while (s->avail_out > 0) {
        ret = inflate(s, Z_NO_FLUSH);
        if (ret == Z_STREAM_END) {
            /* the range may end exactly where a member does */
            if (s->avail_out == 0)
                break;
            /* a member ended inside the range: step over its trailer (raw
             * mode leaves it unread) and parse the next member's header */
            if (raw) {
                RETURN_ERROR_IF(s->avail_in < 8, err,
                                "span %d: compressed data ends inside a gzip trailer", first);
                s->next_in += 8;
                s->avail_in -= 8;
                raw = 0;
            }
            RETURN_ERROR_IF(s->avail_in == 0, err,
                            "span %d: compressed data ends %u bytes short of the span's end",
                            first, s->avail_out);
            RETURN_ERROR_IF(inflateReset2(s, 47) != Z_OK, err, "zlib: inflateReset2 failed");
            continue;
        }
        if (ret == Z_BUF_ERROR && s->avail_in == 0)
            return error_set(err, "span %d: compressed data ends %u bytes short of the span's end",
                             first, s->avail_out);
        RETURN_ERROR_IF(ret != Z_OK, err, "span %d: corrupt deflate data at span byte %zu: %s",
                        first, in_len - s->avail_in, s->msg ? s->msg : "zlib error");
    }
    return 0;
}
