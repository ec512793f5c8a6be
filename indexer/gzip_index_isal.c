/* gzip_index_isal.c -- ISA-L inflate for a member's deflate data, one block
 * at a time, stopping at every block end exactly where zlib's Z_BLOCK does
 * (see gzip_index.h)
 *
 * isal_inflate has no Z_BLOCK: after an end-of-block code it reads the next
 * header at once.  But it stops for good after a block whose BFINAL bit is
 * set.  So each block is handed to ISA-L with its BFINAL bit set by hand:
 * ISA-L's bit buffer (read_in) is primed with the block's first bits, bit 0
 * (BFINAL) forced to 1, the real bit kept aside.  ISA-L then decodes that
 * one block and ends in ISAL_BLOCK_FINISH with the bits it read past the
 * end-of-block code still in read_in: the block ends at bit
 * (bytes given) * 8 - read_in_length, the bit zlib's Z_BLOCK stop gives.
 * There the checkpoint rule runs as in the zlib path; then ISA-L is reset,
 * given the member's last 32 KiB as its dictionary and the left-over bits
 * as the next block's start.  A block whose real BFINAL is 1 ends the
 * deflate data, and the left-over bits after the padding are the trailer.
 *
 * Headers: ISA-L accepts incomplete Huffman codes that zlib refuses, and
 * the two must agree on what is corrupt.  So the bytes of each block's
 * header also go through a raw zlib stream that stops after the header
 * (Z_TREES): when zlib refuses it, zlib's own message and byte are the
 * error, as in the zlib path.  Corrupt data inside a block fails here too,
 * but the message (reason, byte) may differ from zlib's.
 */
#include "gzip_index_priv.h"

#include <isa-l/igzip_lib.h>
#include <stdlib.h>
#include <string.h>

enum isal_phase {
    PRIME,   /* at a block boundary: the next block starts with the carried bits */
    BLOCK,   /* ISA-L is decoding one block */
    TRAILER  /* the deflate data ended: reading the 8-byte gzip trailer */
};

struct gzip_isal {
    struct inflate_state st;
    z_stream hz;            /* raw zlib stream that checks each block header */
    enum isal_phase phase;
    uint64_t carry;         /* bits read past the last block end, not yet handed over */
    int carry_len;
    int blk_final;          /* the real BFINAL bit of the block under way */
    int64_t blk_start;      /* its first bit in the compressed stream */
    int64_t hdr_byte;       /* the first whole byte after its first bits */
    int hdr_ok;             /* zlib read the block's header and accepts it */
    int have;               /* trailer bytes in gi->tail so far */
};

struct gzip_isal *gzip_isal_new(void)
{
    struct gzip_isal *is = calloc(1, sizeof(*is));

    if (is == NULL)
        return NULL;
    if (inflateInit2(&is->hz, -15) != Z_OK) {
        free(is);
        return NULL;
    }
    isal_inflate_init(&is->st);
    return is;
}

void gzip_isal_free(struct gzip_isal *is)
{
    if (is != NULL)
        inflateEnd(&is->hz); /* set up whenever is exists */
    free(is);
}

void gzip_isal_start(struct gzip_isal *is)
{
    is->phase = PRIME;
    is->carry = 0;
    is->carry_len = 0;
    is->have = 0;
}

/* Feed the header checker bytes the block's decoder consumed.  zlib pulls
 * header bytes one at a time, so the byte it stops at on a bad header is
 * the one the zlib path reports. */
static int check_header(struct gzip_index *gi, const uint8_t *p, size_t n, struct error *err)
{
    struct gzip_isal *is = gi->isal;
    uint8_t none;
    int ret;

    if (is->hdr_ok || n == 0)
        return 0;
    is->hz.next_in = (Bytef *)p;
    is->hz.avail_in = (uInt)n;
    is->hz.next_out = &none;
    is->hz.avail_out = 0;
    ret = inflate(&is->hz, Z_TREES);
    if (is->hz.data_type & 256) { /* stopped after the header: zlib takes it */
        is->hdr_ok = 1;
        return 0;
    }
    if (ret == Z_MEM_ERROR)
        return error_set(err, "out of memory in zlib");
    if (ret == Z_DATA_ERROR)
        return gzip_index_corrupt(is->hdr_byte + (int64_t)is->hz.total_in,
                                  is->hz.msg ? is->hz.msg : "", err);
    return 0;
}

/* Start the next block: ISA-L gets the member's history as its dictionary
 * and the carried bits, BFINAL forced on; zlib's checker gets the same bits. */
static int start_block(struct gzip_index *gi, struct error *err)
{
    struct gzip_isal *is = gi->isal;
    struct inflate_state *st = &is->st;
    int64_t member = gi->totout - gi->member_out;
    uint32_t dlen = (uint32_t)(member < WIN ? member : WIN);
    int partial = is->carry_len % 8, whole = is->carry_len / 8;
    uint8_t bytes[8];

    if (is->carry_len < 64)
        is->carry &= ((uint64_t)1 << is->carry_len) - 1;
    is->blk_start = gi->totin * 8 - is->carry_len;
    is->hdr_byte = (is->blk_start + 7) / 8;
    is->blk_final = (int)(is->carry & 1);

    isal_inflate_reset(st);
    st->crc_flag = ISAL_DEFLATE; /* the CRC-32 is the span hasher's */
    st->hist_bits = 0;
    /* only this member's own output: a distance reaching before it must
     * fail as it does in zlib */
    if (dlen > 0 && isal_inflate_set_dict(st, gi->out + gi->opos - dlen, dlen) != COMP_OK)
        return error_set(err, "isa-l: cannot set the inflate dictionary");
    st->read_in = is->carry | 1;
    st->read_in_length = is->carry_len;

    RETURN_ERROR_IF(inflateReset(&is->hz) != Z_OK, err, "zlib: inflateReset failed");
    if (partial > 0 &&
        inflatePrime(&is->hz, partial, (int)(is->carry & ((1u << partial) - 1))) != Z_OK)
        return error_set(err, "zlib: inflatePrime failed");
    for (int j = 0; j < whole; j++)
        bytes[j] = (uint8_t)(is->carry >> (partial + 8 * j));
    is->hdr_ok = 0;
    is->carry = 0;
    is->carry_len = 0;
    is->phase = BLOCK;
    return check_header(gi, bytes, (size_t)whole, err);
}

/* zlib's Z_BLOCK sets its "last block" flag once the final block's three
 * header bits are read; the truncation message depends on it */
static void note_last(struct gzip_index *gi)
{
    struct gzip_isal *is = gi->isal;

    if (is->blk_final && gi->totin * 8 - is->blk_start >= 3)
        gi->saw_last_block = 1;
}

/* ISA-L stands at the end of the block: a boundary, or the deflate data's end */
static int end_block(struct gzip_index *gi, struct error *err)
{
    struct gzip_isal *is = gi->isal;
    struct inflate_state *st = &is->st;
    int64_t p = gi->totin * 8 - st->read_in_length;

    RETURN_ERROR_IF(!is->hdr_ok || p <= is->blk_start || st->read_in_length < 0 ||
                        st->read_in_length > 64,
                    err, "isa-l and zlib disagree on the deflate block at compressed byte %lld",
                    (long long)(is->blk_start / 8));
    is->carry = st->read_in;
    is->carry_len = st->read_in_length;
    if (is->blk_final) {
        /* the trailer starts at the next byte boundary; read_in holds at
         * most 8 whole bytes after the padding, all of them trailer */
        int pad = is->carry_len % 8;
        uint64_t bits = is->carry >> pad;
        is->have = 0;
        for (int j = 0; j < is->carry_len / 8; j++)
            gi->tail[is->have++] = (uint8_t)(bits >> (8 * j));
        is->carry_len = 0;
        gi->saw_last_block = 1;
        is->phase = TRAILER;
        return 0;
    }
    is->phase = PRIME;
    /* The zlib path inflates without Z_BLOCK until a span's worth came out
     * since the last checkpoint, then stops at block ends and checkpoints
     * at the very start or past the span: so an empty block at offset 0
     * makes no checkpoint unless the span is 0. */
    if (gi->totout - gi->last >= gi->span_size &&
        (gi->totout == 0 || gi->totout - gi->last > gi->span_size)) {
        int64_t at = (p + 7) / 8;
        return gzip_index_add_checkpoint(gi, at, (uint8_t)(at * 8 - p), err);
    }
    return 0;
}

static int isal_error(const struct gzip_index *gi, int ret, struct error *err)
{
    const char *why = ret == ISAL_INVALID_BLOCK      ? "invalid block"
                      : ret == ISAL_INVALID_SYMBOL   ? "invalid code"
                      : ret == ISAL_INVALID_LOOKBACK ? "invalid distance too far back"
                                                     : "isa-l error";

    return gzip_index_corrupt(gi->totin, why, err);
}

/* one isal_inflate call on the block under way */
static int step(struct gzip_index *gi, const uint8_t **in, size_t *n, struct error *err)
{
    struct gzip_isal *is = gi->isal;
    struct inflate_state *st = &is->st;
    size_t room, used, produced;
    uint32_t give;
    int ret;

    if (gzip_index_room(gi, err) != 0)
        return -1;
    room = WIN + OUT_SIZE - gi->opos;
    give = (uint32_t)(*n > (1u << 30) ? (1u << 30) : *n);
    st->next_in = (uint8_t *)*in;
    st->avail_in = give;
    st->next_out = gi->out + gi->opos;
    st->avail_out = (uint32_t)room;
    ret = isal_inflate(st);
    used = give - st->avail_in;
    produced = room - st->avail_out;
    /* the header check first: on a header zlib refuses, zlib's error is
     * the one to report, before any of the block's output is used */
    if (check_header(gi, *in, used, err) != 0)
        return -1;
    *in += used;
    *n -= used;
    gi->totin += (int64_t)used;
    note_last(gi);
    if (ret < 0)
        return isal_error(gi, ret, err);
    if (gzip_index_emit(gi, produced, err) != 0)
        return -1;
    if (st->block_state == ISAL_BLOCK_FINISH)
        return end_block(gi, err);
    if (used == 0 && produced == 0) {
        /* ISA-L wants more input: it takes all it is given */
        RETURN_ERROR_IF(*n > 0, err, "isa-l inflate made no progress at compressed byte %lld",
                        (long long)gi->totin);
        return 1;
    }
    return 0;
}

int gzip_isal_feed(struct gzip_index *gi, const uint8_t **in, size_t *n, struct error *err)
{
    struct gzip_isal *is = gi->isal;

    for (;;) {
        int r;

        if (is->phase == TRAILER) {
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
        if (is->phase == PRIME) {
            if (is->carry_len == 0) {
                /* the next block starts at a byte boundary */
                if (*n == 0)
                    return 0;
                is->carry = **in;
                is->carry_len = 8;
                (*in)++;
                (*n)--;
                gi->totin++;
            }
            if (start_block(gi, err) != 0)
                return -1;
            note_last(gi);
        }
        r = step(gi, in, n, err);
        if (r < 0)
            return -1;
        if (r > 0)
            return 0;
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The input ended in the member's deflate data or trailer: as the zlib
 * path's check_cut_trailer, a complete CRC-32 field in a cut trailer is
 * checked (gzip_index_finish words the truncation itself). */
int gzip_isal_truncated(struct gzip_index *gi, struct error *err)
{
    struct gzip_isal *is = gi->isal;

    if (is->phase == TRAILER && is->have >= 4)
        return gzip_index_cut_trailer_crc(gi, le32(gi->tail), gi->totin - is->have, err);
    return 0;
}
