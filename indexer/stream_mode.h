/* stream_mode.h -- ztoc-gen between soci-layers and soci-pack
 *
 * Reads the record stream on stdin, replaces each layer record (and its
 * chunks) by a ztoc or skip record, passes everything else through, in
 * order, on stdout.  Layers are indexed `jobs` at a time.
 *
 * Ownership: initial stays the caller's.  Errors: the first failure is
 * printed once as one line on stderr and sent on as an error record; the
 * return is the exit status (1 when anything failed, here or upstream).  Thread safety: called once from
 * main; it starts and joins its own reader, writer and job threads.
 */
#ifndef SOCI_STREAM_MODE_H
#define SOCI_STREAM_MODE_H

#include <stddef.h>
#include <stdint.h>

#include "layer_job.h"

struct stream_mode_opts {
    struct index_params params;
    int jobs;
    int progress;
};

/* initial: bytes already read from stdin; returns the exit status */
int ztoc_gen_stream(const uint8_t *initial, size_t initial_len, const struct stream_mode_opts *opts);

#endif
