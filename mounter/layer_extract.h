/* layer_extract.h -- a whole layer unpacked into a directory, overlay-style
 *
 * For --image mounts, layers that have no ztoc are fetched whole and
 * unpacked with GNU tar; their whiteouts become what overlayfs expects from
 * a lower directory: ".wh.X" a 0/0 character device X, ".wh..wh..opq" the
 * trusted.overlay.opaque="y" xattr on its directory.
 */
#ifndef SOCI_LAYER_EXTRACT_H
#define SOCI_LAYER_EXTRACT_H

#include "blob_source.h"
#include "error.h"

int layer_extract(struct blob_source *src, const char *media_type, const char *dir, struct error *err);

#endif
