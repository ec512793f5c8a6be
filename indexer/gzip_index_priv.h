/* gzip_index_priv.h -- the checkpointer's state, shared by its zlib part
 * (gzip_index.c) and its ISA-L part (gzip_index_isal.c)
 *
 * zlib always reads the gzip header of every member (its Z_BLOCK stop after
 * the header is the checkpoint there, and its error messages are the ones
 * users see).  With ISA-L chosen, ISA-L then inflates the member's deflate
 * data block by block (state IN_ISAL) and this file's helpers do the
 * bookkeeping both share: output buffers, the tar parser, checkpoints, the
 * trailer check.  Errors: -1 with err set.  Not thread-safe: one gzip_index
 * belongs to one inflate thread.
 */
#ifndef SOCI_GZIP_INDEX_PRIV_H
#define SOCI_GZIP_INDEX_PRIV_H

#include <zlib.h>

#include "gzip_index.h"
#include "zinfo.h"

#define WIN ZINFO_WINDOW_SIZE
#define OUT_SIZE (SPAN_HASHER_OUT_SIZE - WIN)

enum member_state { IN_MEMBER, IN_ISAL, BETWEEN_MEMBERS };

struct gzip_isal;

struct gzip_index {
    z_stream strm;
    int ready;
    int64_t span_size;
    struct tar_stream *tar;
    struct span_hasher *hasher;

    int64_t totin, totout, last;
    enum member_state state;
    int in_header;            /* a member's gzip header is not complete yet */
    int saw_last_block;       /* the current member's final block began */
    int magic_have;           /* bytes of the next member's magic checked */

    /* inflate writes into buffers from the hasher's output pool: WIN bytes
     * of history, then OUT_SIZE of room; a full one goes to the CRC-32 */
    uint8_t *out;
    size_t opos;
    size_t crc_from;          /* out[crc_from, opos) is not handed over yet */
    int64_t member_out;       /* totout where the current member began */
    uint8_t tail[8];          /* the last compressed bytes inflate consumed */

    uint8_t *blob;            /* zInfo blob under construction */
    size_t blob_cap;
    int32_t ncheckpoints;

    struct gzip_isal *isal;   /* NULL: zlib inflates the deflate data too */
    int member_gzip;          /* the member has a gzip (not zlib) header */
};

/* a checkpoint at compressed byte in with bits unused bits in byte in-1 */
int gzip_index_add_checkpoint(struct gzip_index *gi, int64_t in, uint8_t bits, struct error *err);
/* a full output buffer goes to the CRC-32 and a fresh one takes its place */
int gzip_index_room(struct gzip_index *gi, struct error *err);
/* n more inflated bytes at out + opos: to the tar parser, then counted */
int gzip_index_emit(struct gzip_index *gi, size_t n, struct error *err);
/* the member's trailer (gi->tail) ended at gi->totin */
int gzip_index_member_end(struct gzip_index *gi, struct error *err);
/* the "corrupt deflate data" error, at compressed byte at, for reason why */
int gzip_index_corrupt(int64_t at, const char *why, struct error *err);
/* input ended inside a trailer whose CRC-32 field (crc, at byte at) is whole */
int gzip_index_cut_trailer_crc(struct gzip_index *gi, uint32_t crc, int64_t at, struct error *err);

#ifdef HAVE_ISAL
struct gzip_isal *gzip_isal_new(void);
void gzip_isal_free(struct gzip_isal *is);
/* the member's deflate data starts at the next input byte */
void gzip_isal_start(struct gzip_isal *is);
/* inflate from *in; returns with the input used up or the member ended
 * (gi->state is BETWEEN_MEMBERS then) */
int gzip_isal_feed(struct gzip_index *gi, const uint8_t **in, size_t *n, struct error *err);
/* the input ended inside the member's deflate data or trailer: fails on a
 * complete but wrong CRC-32 field, else 0 (the caller words the truncation) */
int gzip_isal_truncated(struct gzip_index *gi, struct error *err);
#endif

#endif
