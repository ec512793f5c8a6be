/* stream_mode.h -- ztoc-gen between soci-layers and soci-pack
 *
 * Reads the record stream on stdin, replaces each layer record (and its
 * chunks) by a ztoc or skip record, passes everything else through, in
 * order, on stdout.  Layers are indexed `jobs` at a time.
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
