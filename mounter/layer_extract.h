/* layer_extract.h -- a whole layer unpacked into a directory, overlay-style
 *
 * For --image mounts, layers that have no ztoc are read whole from their
 * blob source (sequentially, a megabyte at a time) and unpacked in-process
 * by lib/layer_unpack: the blob digest and the image config's diff_id are
 * checked before the directory appears, and whiteouts become what overlayfs
 * expects from a lower directory (".wh.X" a 0/0 character device X,
 * ".wh..wh..opq" the trusted.overlay.opaque="y" xattr on its directory).
 *
 * dir must be absent or empty; on failure it is left as it was.  Errors:
 * -1 and one line in err.  Thread safety: none needed (one call per layer).
 *
 * Ownership: src and the strings stay the caller's.
 */
#ifndef SOCI_LAYER_EXTRACT_H
#define SOCI_LAYER_EXTRACT_H

#include "blob_source.h"
#include "error.h"

/* diff_id: the image config's for this layer, or NULL not to check it */
int layer_extract(struct blob_source *src, const char *diff_id, const char *dir, struct error *err);

#endif
