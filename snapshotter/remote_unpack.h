/* remote_unpack.h -- a layer downloaded and unpacked whole (no ztoc)
 *
 * For a layer of an indexed image that has no ztoc (or is smaller than
 * min_layer_size): the blob is downloaded from the registry into an
 * anonymous file (O_TMPFILE) in tmp_dir, then layer_unpack checks its
 * digest and the config's diff_id and unpacks it with overlay whiteouts
 * into dest_dir, which must be empty.  Nothing is left behind on failure.
 *
 * Errors: -1 and one line in err.  Thread safety: no shared state (the
 * registry client is shared and thread-safe).
 *
 * Ownership: every argument stays the caller's; the anonymous file is
 * closed before return.
 */
#ifndef SOCI_SNAP_REMOTE_UNPACK_H
#define SOCI_SNAP_REMOTE_UNPACK_H

#include <stdint.h>

#include "error.h"
#include "registry.h"

int remote_unpack(struct reg_client *c, const char *repo, const char *digest, int64_t size, const char *diff_id,
                  const char *tmp_dir, const char *dest_dir, struct error *err);

#endif
