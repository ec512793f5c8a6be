/* gzip_index.c -- Z_BLOCK checkpointer (see gzip_index.h) */
#include "gzip_index.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gzip_index_priv.h"
#include "prefault.h"
#include "zinfo.h"

/* set once by the program before any layer is indexed */
static enum gzip_inflater inflater = GZIP_INFLATER_DEFAULT;

int gzip_index_set_inflater(const char *name)
{
    if (strcmp(name, "zlib") == 0)
        inflater = GZIP_INFLATER_ZLIB;
#ifdef HAVE_ISAL
    else if (strcmp(name, "isal") == 0)
        inflater = GZIP_INFLATER_ISAL;
#endif
    else
        return -1;
    return 0;
}

struct gzip_index *gzip_index_new(int64_t span_size, struct tar_stream *tar,
                                  struct span_hasher *hasher)
{
    struct gzip_index *gi = calloc(1, sizeof(*gi));

    if (gi == NULL)
        return NULL;
    gi->out = span_hasher_out_buffer(hasher);
    gi->blob_cap = zinfo_gzip_blob_size(8);
    gi->blob = malloc(gi->blob_cap);
    if (gi->out == NULL || gi->blob == NULL ||
        inflateInit2(&gi->strm, 47) != Z_OK) { /* 32+15: gzip or zlib header, 32 KiB window */
        gzip_index_free(gi);
        return NULL;
    }
#ifdef HAVE_ISAL
    if (inflater == GZIP_INFLATER_ISAL && (gi->isal = gzip_isal_new()) == NULL) {
        gzip_index_free(gi);
        return NULL;
    }
#endif
    memset(gi->out, 0, WIN); /* checkpoint windows left-pad with zeros */
    gi->ready = 1;
    gi->span_size = span_size;
    gi->tar = tar;
    gi->hasher = hasher;
    gi->opos = gi->crc_from = WIN;
    gi->state = IN_MEMBER;
    gi->in_header = 1;
    return gi;
}

void gzip_index_free(struct gzip_index *gi)
{
    if (gi == NULL)
        return;
    if (gi->ready)
        inflateEnd(&gi->strm);
#ifdef HAVE_ISAL
    gzip_isal_free(gi->isal);
#endif
    free(gi->blob); /* out belongs to the hasher's pool */
    free(gi);
}

int gzip_index_add_checkpoint(struct gzip_index *gi, int64_t in, uint8_t bits, struct error *err)
{
    size_t need = zinfo_gzip_blob_size(gi->ncheckpoints + 1);
    uint8_t *rec;

    if (need > gi->blob_cap) {
        size_t ncap = gi->blob_cap * 2;
        uint8_t *nb;
        while (ncap < need)
            ncap *= 2;
        nb = realloc(gi->blob, ncap);
        RETURN_ERROR_IF(nb == NULL, err, "out of memory for checkpoints");
        gi->blob = nb;
        gi->blob_cap = ncap;
    }
    rec = gi->blob + zinfo_gzip_blob_size(gi->ncheckpoints);
    prefault_write(rec, ZINFO_RECORD_SIZE);
    zinfo_gzip_put_record(rec, in, gi->totout, bits, gi->out + gi->opos - WIN);
    gi->ncheckpoints++;
    gi->last = gi->totout;
    if (gi->ncheckpoints == 1)
        span_hasher_boundary(gi->hasher, in, in);
    else
        span_hasher_boundary(gi->hasher, in, in - (bits ? 1 : 0));
    return 0;
}

int gzip_index_corrupt(int64_t at, const char *why, struct error *err)
{
    return error_set(err, "corrupt deflate data at compressed byte %lld (%s)", (long long)at, why);
}

static int inflate_error(struct gzip_index *gi, int ret, struct error *err)
{
    const char *msg = gi->strm.msg ? gi->strm.msg : "";
    long long at = (long long)gi->totin;

    if (ret == Z_MEM_ERROR)
        return error_set(err, "out of memory in zlib");
    if (ret == Z_NEED_DICT)
        return error_set(err, "zlib stream needs a preset dictionary at compressed byte %lld", at);
    if (gi->in_header)
        return error_set(err, "bad gzip header at compressed byte %lld (%s)", at, msg);
    return gzip_index_corrupt(gi->totin, msg, err);
}

/* a member ended: only another gzip member may follow */
static int check_next_magic(struct gzip_index *gi, const uint8_t **in, size_t *n,
                            struct error *err)
{
    static const uint8_t magic[2] = {0x1f, 0x8b};

    while (*n > 0 && gi->magic_have < 2) {
        RETURN_ERROR_IF((*in)[0] != magic[gi->magic_have], err,
                        "trailing garbage after the last gzip member at compressed byte %lld",
                        (long long)(gi->totin + gi->magic_have));
        gi->magic_have++;
        (*in)++;
        (*n)--;
    }
    return 0;
}

/* remember the last 8 bytes inflate consumed, which end at end: at a
 * member's end they are its trailer */
static void keep_tail(struct gzip_index *gi, const uint8_t *end, size_t n)
{
    size_t t = sizeof(gi->tail);

    if (n >= t) {
        memcpy(gi->tail, end - t, t);
    } else if (n > 0) {
        memmove(gi->tail, gi->tail + n, t - n);
        memcpy(gi->tail + t - n, end - n, n);
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int crc_mismatch_error(int64_t at, struct error *err)
{
    return error_set(err, "gzip CRC mismatch: the trailer's CRC-32 at compressed byte %lld does not "
                          "match the member's data", (long long)at);
}

/* The member's data CRC-32 is compared on the hasher thread (zlib's own
 * check is off after each header, see feed()); the length is checked here.
 * zlib compared the CRC first, and so does fail(). */
int gzip_index_member_end(struct gzip_index *gi, struct error *err)
{
    span_hasher_crc(gi->hasher, gi->out + gi->crc_from, gi->opos - gi->crc_from, NULL);
    gi->crc_from = gi->opos;
    span_hasher_member_end(gi->hasher, le32(gi->tail), gi->totin - 8);
    RETURN_ERROR_IF(le32(gi->tail + 4) != (uint32_t)(gi->totout - gi->member_out), err,
                    "gzip length mismatch: the trailer's size at compressed byte %lld does not "
                    "match the member's length", (long long)(gi->totin - 4));
    gi->member_out = gi->totout;
    return 0;
}

/* Any failure: a CRC mismatch the hasher found in an earlier member came
 * first in the stream, so it is the error to report. */
static int fail(struct gzip_index *gi, struct error *err)
{
    int64_t at = span_hasher_crc_mismatch(gi->hasher, 1);

    return at >= 0 ? crc_mismatch_error(at, err) : -1;
}

int gzip_index_room(struct gzip_index *gi, struct error *err)
{
    if (gi->opos == WIN + OUT_SIZE) {
        /* the next buffer starts with this one's last WIN bytes; this
         * one goes to the CRC-32 and back to the pool */
        uint8_t *next = span_hasher_out_buffer(gi->hasher);
        RETURN_ERROR_IF(next == NULL, err, "out of memory");
        memcpy(next, gi->out + gi->opos - WIN, WIN);
        span_hasher_crc(gi->hasher, gi->out + gi->crc_from, gi->opos - gi->crc_from, gi->out);
        gi->out = next;
        gi->opos = gi->crc_from = WIN;
    }
    return 0;
}

int gzip_index_emit(struct gzip_index *gi, size_t n, struct error *err)
{
    if (n == 0)
        return 0;
    if (!tar_stream_done(gi->tar) && tar_stream_feed(gi->tar, gi->out + gi->opos, n, err) != 0)
        return -1;
    gi->opos += n;
    gi->totout += (int64_t)n;
    return 0;
}

static int feed(struct gzip_index *gi, const uint8_t *in, size_t n, struct error *err)
{
    z_stream *s = &gi->strm;

    if (gi->totin == 0 && n > 0)
        gi->member_gzip = in[0] == 0x1f;
    while (n > 0) {
        int ret, flush;
        size_t in_before, out_before, produced;

        if (gi->state == BETWEEN_MEMBERS) {
            /* hold back the magic bytes until both are seen, then replay them */
            static const uint8_t magic[2] = {0x1f, 0x8b};
            if (check_next_magic(gi, &in, &n, err) != 0)
                return -1;
            if (gi->magic_have < 2)
                return 0;
            if (inflateReset2(s, 47) != Z_OK)
                return error_set(err, "zlib: inflateReset2 failed");
            gi->state = IN_MEMBER;
            gi->member_gzip = 1;
            gi->in_header = 1;
            gi->saw_last_block = 0;
            gi->magic_have = 0;
            /* replay the two magic bytes the check consumed */
            s->next_in = (Bytef *)magic;
            s->avail_in = 2;
            while (s->avail_in > 0) {
                s->next_out = gi->out + gi->opos;
                s->avail_out = (uInt)(WIN + OUT_SIZE - gi->opos);
                ret = inflate(s, Z_BLOCK);
                if (ret != Z_OK && ret != Z_BUF_ERROR)
                    return inflate_error(gi, ret, err);
            }
            gi->totin += 2;
            continue;
        }

        if (gi->state == IN_ISAL) {
#ifdef HAVE_ISAL
            if (gzip_isal_feed(gi, &in, &n, err) != 0)
                return -1;
#endif
            continue;
        }
        if (gzip_index_room(gi, err) != 0)
            return -1;
        s->next_in = (Bytef *)in;
        s->avail_in = (uInt)(n > (1u << 30) ? (1u << 30) : n);
        s->next_out = gi->out + gi->opos;
        s->avail_out = (uInt)(WIN + OUT_SIZE - gi->opos);
        /* Block boundaries only matter in a member's header (the first
         * checkpoint) and once more than span_size bytes came out since the
         * last checkpoint.  Up to that point inflate runs without Z_BLOCK,
         * its output capped to end exactly there: zlib then returns once per
         * buffer instead of once per deflate block, which also spares the
         * 32 KiB window copy it makes on every return. */
        flush = Z_BLOCK;
        if (!gi->in_header && gi->totout - gi->last < gi->span_size) {
            int64_t before_eligible = gi->span_size - (gi->totout - gi->last);
            if ((int64_t)s->avail_out > before_eligible)
                s->avail_out = (uInt)before_eligible;
            flush = Z_NO_FLUSH;
        }
        in_before = s->avail_in;
        out_before = s->avail_out;
        ret = inflate(s, flush);
        gi->totin += (int64_t)(in_before - s->avail_in);
        in += in_before - s->avail_in;
        n -= in_before - s->avail_in;
        keep_tail(gi, in, in_before - s->avail_in);
        produced = out_before - s->avail_out;
        if (gzip_index_emit(gi, produced, err) != 0)
            return -1;
        if (ret == Z_STREAM_END) {
            if (gzip_index_member_end(gi, err) != 0)
                return -1;
            gi->state = BETWEEN_MEMBERS;
            gi->in_header = 0;
            continue;
        }
        if (ret != Z_OK && ret != Z_BUF_ERROR)
            return inflate_error(gi, ret, err);
        if (s->data_type & 64)
            gi->saw_last_block = 1;
        /* at a block boundary (or just past the header), not after the last
         * block, and either the very start or more than a span since the
         * last checkpoint: the zran rule upstream uses */
        if ((s->data_type & 128) && !(s->data_type & 64) &&
            (gi->totout == 0 || gi->totout - gi->last > gi->span_size)) {
            if (gzip_index_add_checkpoint(gi, gi->totin, (uint8_t)(s->data_type & 7), err) != 0)
                return -1;
        }
        if (s->data_type & 128) {
            /* past the header (its own CRC, if any, was checked): the data's
             * CRC-32 is computed on the hasher thread instead of here */
            if (gi->in_header)
                inflateValidate(s, 0);
#ifdef HAVE_ISAL
            /* a gzip (not zlib) member's deflate data goes to ISA-L, from
             * the byte boundary where its header ended */
            if (gi->in_header && gi->isal != NULL && gi->member_gzip &&
                (s->data_type & 7) == 0) {
                gzip_isal_start(gi->isal);
                gi->state = IN_ISAL;
            }
#endif
            gi->in_header = 0;
        }
    }
    return 0;
}

int gzip_index_feed(struct gzip_index *gi, const uint8_t *in, size_t n, struct error *err)
{
    if (span_hasher_crc_mismatch(gi->hasher, 0) >= 0)
        return fail(gi, err);
    if (feed(gi, in, n, err) != 0)
        return fail(gi, err);
    return 0;
}

/* The input ended in a member's last block or trailer.  When zlib checked
 * the CRC itself it failed on a complete but wrong CRC field even with the
 * length field after it cut off, so find out whether the CRC field is
 * complete, and check it: a copy of the stream given 8 more bytes and no
 * room for output ends the member only if its deflate data had ended, and
 * then leaves unused the trailer bytes the real input already had. */
static int check_cut_trailer(struct gzip_index *gi, struct error *err)
{
    static const uint8_t more[8];
    uint8_t none;
    z_stream probe;
    size_t have = 0;

    if (inflateCopy(&probe, &gi->strm) != Z_OK)
        return 0;
    probe.next_in = (Bytef *)more;
    probe.avail_in = sizeof(more);
    probe.next_out = &none;
    probe.avail_out = 0;
    if (inflate(&probe, Z_NO_FLUSH) == Z_STREAM_END)
        have = probe.avail_in;
    inflateEnd(&probe);
    if (have < 4)
        return 0;
    return gzip_index_cut_trailer_crc(gi, le32(gi->tail + sizeof(gi->tail) - have),
                                      gi->totin - (int64_t)have, err);
}

int gzip_index_cut_trailer_crc(struct gzip_index *gi, uint32_t crc, int64_t at, struct error *err)
{
    span_hasher_crc(gi->hasher, gi->out + gi->crc_from, gi->opos - gi->crc_from, NULL);
    gi->crc_from = gi->opos;
    span_hasher_member_end(gi->hasher, crc, at);
    at = span_hasher_crc_mismatch(gi->hasher, 1);
    return at >= 0 ? crc_mismatch_error(at, err) : 0;
}

int gzip_index_finish(struct gzip_index *gi, struct error *err)
{
    long long at = (long long)gi->totin;
    int64_t bad;

    bad = span_hasher_crc_mismatch(gi->hasher, 1);
    if (bad >= 0)
        return crc_mismatch_error(bad, err);
    if (gi->state == BETWEEN_MEMBERS) {
        RETURN_ERROR_IF(gi->magic_have > 0, err,
                        "trailing garbage after the last gzip member at compressed byte %lld", at);
        zinfo_gzip_put_header(gi->blob, gi->ncheckpoints, gi->span_size);
        /* only the blob is needed from here on: give back the inflate state
         * and the output buffer before the caller builds the ztoc */
        inflateEnd(&gi->strm);
        gi->ready = 0;
        gi->out = NULL; /* the hasher's pool frees it */
        return 0;
    }
    if (gi->in_header)
        return error_set(err, "truncated gzip: input ends at compressed byte %lld, inside the gzip header", at);
#ifdef HAVE_ISAL
    if (gi->state == IN_ISAL) {
        if (gzip_isal_truncated(gi, err) != 0)
            return -1;
    } else
#endif
    if (gi->saw_last_block && check_cut_trailer(gi, err) != 0)
        return -1;
    if (gi->saw_last_block)
        return error_set(err, "truncated gzip: input ends at compressed byte %lld, before the end of the "
                              "last block or the gzip trailer", at);
    return error_set(err, "truncated gzip: input ends at compressed byte %lld, inside deflate data", at);
}

const uint8_t *gzip_index_blob(struct gzip_index *gi, size_t *len, int32_t *ncheckpoints)
{
    *len = zinfo_gzip_blob_size(gi->ncheckpoints);
    *ncheckpoints = gi->ncheckpoints;
    return gi->blob;
}

int64_t gzip_index_total_out(const struct gzip_index *gi) { return gi->totout; }
