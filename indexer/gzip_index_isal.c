/* gzip_index_isal.c -- ISA-L inflate for a member's deflate data (see gzip_index.h)
 *
 * isal_inflate has no Z_BLOCK and never returns standing at a block
 * boundary when the output room runs out: after an end-of-block code it
 * reads the next header at once.  It does stop there when the input runs
 * out before that header is whole, with block_state ISAL_BLOCK_HDR.  So
 * below a span's threshold ISA-L runs in big steps, its output capped to
 * end exactly at the threshold (boundaries there are not eligible: the rule
 * wants more than span_size bytes); past it, the input is handed over one
 * bit at a time through read_in, and the first return in ISAL_BLOCK_HDR is
 * the first block end past the threshold, zlib's Z_BLOCK stop: bit position
 * (bytes given) * 8 - read_in_length.  A block header of 3 bits (fixed
 * Huffman) cannot hide inside one step that way, as it can when whole
 * bytes are given.  Bit steps cost ~65 ns each and only run from a
 * threshold to the next block end.
 */
#include "gzip_index_priv.h"

#include <isa-l/igzip_lib.h>
#include <stdlib.h>
#include <string.h>

struct gzip_isal {
    struct inflate_state st;
    int bitoff;      /* bits of the input byte at *in given to ISA-L by hand */
    int trailer;     /* the deflate data ended: reading the 8-byte trailer */
    int have;        /* trailer bytes in gi->tail so far */
};

struct gzip_isal *gzip_isal_new(void) { return calloc(1, sizeof(struct gzip_isal)); }

void gzip_isal_free(struct gzip_isal *is) { free(is); }

void gzip_isal_start(struct gzip_isal *is)
{
    isal_inflate_init(&is->st);
    is->st.crc_flag = ISAL_DEFLATE; /* the CRC-32 is the span hasher's */
    is->bitoff = 0;
    is->trailer = 0;
    is->have = 0;
}

/* the bit position of ISA-L's next unread bit in the compressed stream */
static int64_t bit_pos(const struct gzip_index *gi)
{
    return gi->totin * 8 + gi->isal->bitoff - gi->isal->st.read_in_length;
}

static int isal_error(const struct gzip_index *gi, int ret, struct error *err)
{
    const char *why = ret == ISAL_INVALID_BLOCK    ? "invalid block"
                      : ret == ISAL_INVALID_SYMBOL ? "invalid code"
                      : ret == ISAL_INVALID_LOOKBACK ? "invalid distance too far back"
                                                     : "isa-l error";

    return error_set(err, "corrupt deflate data at compressed byte %lld (%s)",
                     (long long)gi->totin, why);
}

/* The deflate data ended at bit P: the trailer starts at byte ceil(P / 8).
 * ISA-L read whole bytes past it into read_in: take them back from there
 * (as trailer bytes, and any past the trailer go back to the input). */
static void enter_trailer(struct gzip_index *gi, const uint8_t **in, size_t *n, size_t used)
{
    struct gzip_isal *is = gi->isal;
    int64_t p = bit_pos(gi), at = (p + 7) / 8;
    unsigned pad = (unsigned)(at * 8 - p);
    uint64_t bits = is->st.read_in >> pad;
    size_t k, extra;

    if (is->bitoff > 0 && at > gi->totin) {
        /* the rest of the byte being handed over bit by bit is padding */
        (*in)++;
        (*n)--;
        gi->totin++;
    }
    is->bitoff = 0;
    k = (size_t)(gi->totin - at); /* whole bytes held in read_in */
    gi->totin = at;
    is->trailer = 1;
    for (size_t j = 0; j < k && j < sizeof(gi->tail); j++) {
        gi->tail[is->have++] = (uint8_t)(bits >> (8 * j));
        gi->totin++;
    }
    extra = k > sizeof(gi->tail) ? k - sizeof(gi->tail) : 0;
    if (extra > 0) {
        /* read past the trailer: the latest bytes came from *in, whose
         * pointer moves back; older ones wait in gi->pending */
        size_t back = extra < used ? extra : used, older = extra - back;
        *in -= back;
        *n += back;
        for (size_t j = 0; j < older; j++)
            gi->pending[j] = (uint8_t)(bits >> (8 * (sizeof(gi->tail) + j)));
        gi->npending = older;
    }
}

int gzip_isal_feed(struct gzip_index *gi, const uint8_t **in, size_t *n, struct error *err)
{
    struct gzip_isal *is = gi->isal;
    struct inflate_state *st = &is->st;
    const uint8_t *start = *in;

    for (;;) {
        size_t room, given, produced;
        int64_t since;
        int ret;

        if (is->trailer) {
            while (is->have < (int)sizeof(gi->tail) && *n > 0) {
                gi->tail[is->have++] = **in;
                (*in)++;
                (*n)--;
                gi->totin++;
            }
            if (is->have < (int)sizeof(gi->tail))
                return 0;
            gi->state = BETWEEN_MEMBERS;
            return gzip_index_member_end(gi, err);
        }
        if (*n == 0)
            return 0;
        if (gzip_index_room(gi, err) != 0)
            return -1;
        room = WIN + OUT_SIZE - gi->opos;
        since = gi->totout - gi->last;
        st->next_out = gi->out + gi->opos;
        st->next_in = (uint8_t *)*in;
        if (since < gi->span_size && is->bitoff == 0) {
            size_t before;
            if ((int64_t)room > gi->span_size - since)
                room = (size_t)(gi->span_size - since);
            st->avail_in = (uint32_t)(*n > (1u << 30) ? (1u << 30) : *n);
            st->avail_out = (uint32_t)room;
            before = st->avail_in;
            ret = isal_inflate(st);
            *in += before - st->avail_in;
            *n -= before - st->avail_in;
            gi->totin += (int64_t)(before - st->avail_in);
        } else {
            /* past the threshold: one bit per call (none while read_in is
             * nearly full from a big step: ISA-L drains it first) */
            int32_t had = st->read_in_length;
            st->avail_in = 0;
            st->avail_out = (uint32_t)room;
            if (had <= 56) {
                st->read_in |= (uint64_t)((**in >> is->bitoff) & 1) << had;
                st->read_in_length = had + 1;
                if (++is->bitoff == 8) {
                    is->bitoff = 0;
                    (*in)++;
                    (*n)--;
                    gi->totin++;
                }
            }
            ret = isal_inflate(st);
            RETURN_ERROR_IF(had > 56 && st->read_in_length == had && st->avail_out == room, err,
                            "isa-l inflate made no progress at compressed byte %lld",
                            (long long)gi->totin);
        }
        given = room;
        produced = given - st->avail_out;
        if (ret < 0)
            return isal_error(gi, ret, err);
        if (gzip_index_emit(gi, produced, err) != 0)
            return -1;
        if (st->bfinal)
            gi->saw_last_block = 1;
        if (st->block_state == ISAL_BLOCK_INPUT_DONE || st->block_state == ISAL_BLOCK_FINISH) {
            enter_trailer(gi, in, n, (size_t)(*in - start));
            continue;
        }
        if ((st->block_state == ISAL_BLOCK_HDR || st->block_state == ISAL_BLOCK_NEW_HDR) &&
            gi->totout - gi->last > gi->span_size) {
            int64_t p = bit_pos(gi), at = (p + 7) / 8;
            if (gzip_index_add_checkpoint(gi, at, (uint8_t)(at * 8 - p), err) != 0)
                return -1;
        }
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int gzip_isal_truncated(struct gzip_index *gi, struct error *err)
{
    struct gzip_isal *is = gi->isal;
    long long at = (long long)gi->totin;

    if (is->trailer && is->have >= 4 &&
        gzip_index_cut_trailer_crc(gi, le32(gi->tail), gi->totin - is->have, err) != 0)
        return -1;
    if (is->trailer || gi->saw_last_block)
        return error_set(err, "truncated gzip: input ends at compressed byte %lld, before the end of the "
                              "last block or the gzip trailer", at);
    return error_set(err, "truncated gzip: input ends at compressed byte %lld, inside deflate data", at);
}
