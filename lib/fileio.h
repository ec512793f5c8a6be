/* fileio.h -- whole-file reads, full writes, and crash-safe output files
 *
 * Output files are written to a temporary name in the destination's
 * directory, fsynced, then renamed over the final name (and the directory
 * fsynced), so a reader or a crash sees the old file or the new one, never
 * half of one.
 *
 * Ownership: read_file's *buf is the caller's to free; an out_file owns its
 * fd and paths until commit or abort.  Errors: 0, or -1 with one line in err
 * naming the path and errno's text; unlink_matching reports nothing.
 * Thread safety: no shared state; calls on different files may run at once.
 */
#ifndef SOCI_FILEIO_H
#define SOCI_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct sha256; /* sha256.h */

/* open a regular file for reading.  Anything else (a FIFO, a device, a
 * directory, a symlink to one) is refused without blocking: the file is
 * opened O_NONBLOCK, checked with fstat, and only then made blocking.
 * When want_size >= 0 the file must hold exactly that many bytes. */
int open_regular(const char *path, int64_t want_size, int *fd, struct error *err);
/* read a whole regular file (open_regular) of at most max_len bytes;
 * *buf is malloc'd (+1 NUL) */
int read_file(const char *path, size_t max_len, uint8_t **buf, size_t *len, struct error *err);
/* the same, each byte also fed to h (when not NULL) as it is read, a
 * megabyte at a time: the hash of a big file costs no time of its own
 * where the disk is the slower part */
int read_file_hashed(const char *path, size_t max_len, uint8_t **buf, size_t *len, struct sha256 *h,
                     struct error *err);
int write_all(int fd, const void *buf, size_t n, struct error *err);
/* read exactly n bytes at off */
int pread_full(int fd, void *buf, size_t n, off_t off, struct error *err);

struct out_file {
    int fd;
    char *tmp_path;
    char *final_path;
};

int out_file_open(struct out_file *of, const char *path, mode_t mode, struct error *err);
/* fsync, rename into place, fsync the directory; closes the file */
int out_file_commit(struct out_file *of, struct error *err);
/* close and delete the temporary file (safe after a failed commit) */
void out_file_abort(struct out_file *of);

int atomic_write_file(const char *path, const void *buf, size_t n, mode_t mode,
                      struct error *err);

/* unlink every entry of dir whose name match() accepts; best effort (a
 * missing dir, or an entry already gone, is no error) */
void unlink_matching(const char *dir, int (*match)(const char *name));

/* mkdir -p */
int mkdir_p(const char *path, mode_t mode, struct error *err);

#endif
