/* layer_unpack.h -- unpack a whole layer into a directory, verified
 *
 * For layers that are not mounted lazily (no ztoc): the snapshotter's unpack
 * of a layer an indexed image has no ztoc for, and soci-mount --image.  The
 * compressed stream is hashed as it is read (the blob digest) and, after
 * inflating in-process, the tar stream too (the config's diff_id); the tar is
 * unpacked with libarchive into a staging directory beside dest_dir and only
 * when both digests match is it renamed onto dest_dir (which must be absent
 * or an empty directory).  On any failure nothing is left at dest_dir beyond
 * what was there.  Entries that would leave the directory (.., absolute
 * paths, through symlinks) are refused.  With overlay_whiteouts, `.wh.X`
 * becomes a 0/0 character device X and `.wh..wh..opq` the
 * trusted.overlay.opaque=y xattr on its directory, as containerd's overlayfs
 * applier does.
 *
 * Errors: -1 and one line in err ("layer sha256:ab..: diff_id mismatch: got
 * sha256:.., want sha256:.."); the read callback's errors are passed on.
 * Thread safety: no shared state; concurrent calls on different
 * directories are fine.
 *
 * Ownership: opts and its strings stay the caller's; nothing outlives the
 * call but the unpacked directory.
 */
#ifndef SOCI_LAYER_UNPACK_H
#define SOCI_LAYER_UNPACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* up to n bytes into buf: the count, 0 at the end, -1 on error (err set) */
typedef ssize_t (*layer_read_fn)(void *ctx, uint8_t *buf, size_t n, struct error *err);

struct layer_unpack_opts {
    const char *blob_digest;   /* required: sha256 of the compressed bytes */
    int64_t blob_size;         /* -1 when unknown; else bytes beyond it are an error */
    const char *diff_id;       /* sha256 of the uncompressed tar, or NULL to skip */
    int overlay_whiteouts;
};

int layer_unpack(layer_read_fn read_fn, void *ctx, const struct layer_unpack_opts *opts, const char *dest_dir,
                 struct error *err);

#endif
