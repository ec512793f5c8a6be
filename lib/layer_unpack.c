/* layer_unpack.c -- unpack a whole layer into a directory, verified (see layer_unpack.h)
 *
 * One pass: the caller's reader -> sha256 of the blob -> zlib inflate (every
 * gzip member) or nothing for a plain tar -> sha256 of the tar -> libarchive's
 * tar reader -> libarchive's disk writer under a staging directory.  The
 * stream is drained after the archive's end marker so both digests cover
 * every byte; only then is staging renamed onto dest_dir.
 *
 * libarchive writes relative to the working directory, which is the
 * process's; instead every entry's name is checked (no absolute name, no ..)
 * and prefixed with the staging directory's real path (no symlinks in it),
 * and ARCHIVE_EXTRACT_SECURE_SYMLINKS refuses anything below a symlink the
 * layer made.  Hard-link targets are checked the same way by hand.
 */
#include "layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include "digest.h"
#include "fileio.h"
#include "sha256.h"

#define IN_CHUNK (1024 * 1024)
#define OUT_CHUNK (256 * 1024)

#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_NAME ".wh..wh..opq"

/* the byte stream libarchive reads: compressed in, tar out, both hashed */
struct unpack_stream {
    layer_read_fn read_fn;
    void *ctx;
    int gzip;
    z_stream zs;
    int zs_ready;
    int tar_done;              /* no more tar bytes */
    int src_eof;
    uint8_t *in, *out;
    size_t in_len;             /* plain tar: bytes of in not yet handed out */
    int64_t blob_bytes, blob_limit;
    struct sha256 *blob_hash, *diff_hash;
    int failed;                /* next_tar failed: err says why */
    int source_failed;         /* the reader failed, or the blob is too long */
    struct error err;
};

/* the next piece of the blob into in after its first keep bytes; sets
 * src_eof at the blob's end */
static int fill_input(struct unpack_stream *s, size_t keep)
{
    ssize_t n = s->read_fn(s->ctx, s->in + keep, IN_CHUNK - keep, &s->err);

    if (n < 0 || (size_t)n > IN_CHUNK - keep || (s->blob_limit >= 0 && s->blob_bytes + n > s->blob_limit))
        s->source_failed = 1;
    if (n < 0)
        return -1;
    if ((size_t)n > IN_CHUNK - keep)
        return error_set(&s->err, "reader returned %zd bytes for a %zu-byte buffer", n, IN_CHUNK - keep);
    if (n == 0) {
        s->src_eof = 1;
        s->in_len = keep;
        s->zs.next_in = s->in;
        s->zs.avail_in = (uInt)keep;
        return 0;
    }
    if (s->blob_limit >= 0 && s->blob_bytes + n > s->blob_limit)
        return error_set(&s->err, "blob is longer than its size %lld", (long long)s->blob_limit);
    s->blob_bytes += n;
    sha256_update(s->blob_hash, s->in + keep, (size_t)n);
    s->in_len = keep + (size_t)n;
    s->zs.next_in = s->in;
    s->zs.avail_in = (uInt)s->in_len;
    return 0;
}

/* after a gzip member ends: another member follows, or the blob ends */
static int next_member(struct unpack_stream *s)
{
    if (s->zs.avail_in == 0 && !s->src_eof && fill_input(s, 0) != 0)
        return -1;
    if (s->zs.avail_in == 0) {
        s->tar_done = 1;
        return 0;
    }
    RETURN_ERROR_IF(inflateReset(&s->zs) != Z_OK, &s->err, "gzip: inflateReset failed");
    return 0;
}

/* the next piece of tar: its length, 0 at the end, -1 with s->err set */
static ssize_t next_tar(struct unpack_stream *s, const uint8_t **data)
{
    if (s->tar_done)
        return 0;
    if (!s->gzip) {
        if (s->in_len == 0 && !s->src_eof && fill_input(s, 0) != 0)
            return -1;
        if (s->in_len == 0) {
            s->tar_done = 1;
            return 0;
        }
        *data = s->in;
        size_t n = s->in_len;
        s->in_len = 0;
        sha256_update(s->diff_hash, s->in, n);
        return (ssize_t)n;
    }
    for (;;) {
        int zrc;
        size_t produced;

        if (s->zs.avail_in == 0 && !s->src_eof && fill_input(s, 0) != 0)
            return -1;
        if (s->zs.avail_in == 0 && s->src_eof)
            return error_set(&s->err, "gzip stream is truncated");
        s->zs.next_out = s->out;
        s->zs.avail_out = OUT_CHUNK;
        zrc = inflate(&s->zs, Z_NO_FLUSH);
        produced = OUT_CHUNK - s->zs.avail_out;
        if (zrc == Z_STREAM_END) {
            if (next_member(s) != 0)
                return -1;
        } else if (zrc != Z_OK && !(zrc == Z_BUF_ERROR && produced == 0 && s->zs.avail_in == 0)) {
            return error_set(&s->err, "gzip: %s", s->zs.msg ? s->zs.msg : "data error");
        }
        if (produced > 0) {
            sha256_update(s->diff_hash, s->out, produced);
            *data = s->out;
            return (ssize_t)produced;
        }
        if (s->tar_done)
            return 0;
    }
}

static la_ssize_t archive_read_cb(struct archive *a, void *client, const void **buf)
{
    struct unpack_stream *s = client;
    const uint8_t *data = NULL;
    ssize_t n = next_tar(s, &data);

    if (n < 0) {
        s->failed = 1;
        archive_set_error(a, EIO, "%s", s->err.msg);
        return -1;
    }
    *buf = data;
    return n;
}

/* ---- names ---- */

/* a tar entry name made relative and clean: "./a//b/" -> "a/b", "." -> "";
 * absolute names and ".." are refused */
static int clean_name(const char *name, char *out, size_t cap, struct error *err)
{
    size_t n = 0;
    const char *p = name;

    RETURN_ERROR_IF(name[0] == '/', err, "entry %.200s: absolute name", name);
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return error_set(err, "entry %.200s: .. leaves the layer", name);
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            RETURN_ERROR_IF(n + len + 2 > cap, err, "entry %.200s: name too long", name);
            if (n > 0)
                out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
        }
        p += len + (slash ? 1 : 0);
    }
    out[n] = '\0';
    return 0;
}

/* root + "/" + rel into out */
static int join_path(const char *root, const char *rel, char *out, size_t cap, struct error *err)
{
    int n = rel[0] ? snprintf(out, cap, "%s/%s", root, rel) : snprintf(out, cap, "%s", root);
    RETURN_ERROR_IF(n < 0 || (size_t)n >= cap, err, "entry %.200s: path too long", rel);
    return 0;
}

/* a hard link's target must not go through a symlink the layer made */
static int check_no_symlink_parents(const char *root, const char *rel, struct error *err)
{
    char path[PATH_MAX];
    size_t root_len = strlen(root);
    struct stat st;

    if (join_path(root, rel, path, sizeof(path), err) != 0)
        return -1;
    for (char *p = path + root_len + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        int is_link = lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
        *p = '/';
        RETURN_ERROR_IF(is_link, err, "entry %.200s: link target through a symlink", rel);
    }
    return 0;
}

/* ---- extraction ---- */

struct unpack_ctx {
    struct archive *in, *out;
    const char *staging;
    int overlay_whiteouts;
    struct error *err;
};

static int archive_failed(struct unpack_ctx *u, struct archive *a, const char *what, const char *name)
{
    return error_set(u->err, "%s %.200s: %s", what, name, archive_error_string(a) ? archive_error_string(a) : "failed");
}

/* ".wh.X": X becomes a 0/0 character device (overlayfs' whiteout) */
static int write_whiteout(struct unpack_ctx *u, struct archive_entry *src, const char *path)
{
    struct archive_entry *wh = archive_entry_new();
    int rc;

    RETURN_ERROR_IF(!wh, u->err, "out of memory");
    archive_entry_set_pathname(wh, path);
    archive_entry_set_filetype(wh, AE_IFCHR);
    archive_entry_set_perm(wh, 0);
    archive_entry_set_rdev(wh, 0);
    archive_entry_set_uid(wh, archive_entry_uid(src));
    archive_entry_set_gid(wh, archive_entry_gid(src));
    archive_entry_set_mtime(wh, archive_entry_mtime(src), archive_entry_mtime_nsec(src));
    rc = archive_write_header(u->out, wh) == ARCHIVE_OK && archive_write_finish_entry(u->out) == ARCHIVE_OK;
    archive_entry_free(wh);
    if (!rc)
        return archive_failed(u, u->out, "whiteout", path);
    return 0;
}

/* ".wh..wh..opq" in D: D gets trusted.overlay.opaque=y */
static int mark_opaque(struct unpack_ctx *u, const char *dir)
{
    struct stat st;

    if (lstat(dir, &st) != 0 && mkdir_p(dir, 0755, u->err) != 0)
        return -1;
    RETURN_ERROR_IF(lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode), u->err, "opaque marker in %.200s: not a directory",
                    dir);
    RETURN_ERROR_IF(setxattr(dir, "trusted.overlay.opaque", "y", 1, 0) != 0, u->err,
                    "setting trusted.overlay.opaque on %.200s: %s", dir, strerror(errno));
    return 0;
}

/* overlay whiteouts: 1 when the entry was one (and is handled), 0 when not */
static int handle_whiteout(struct unpack_ctx *u, struct archive_entry *e, const char *rel, const char *path)
{
    const char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    char target[PATH_MAX];

    if (!u->overlay_whiteouts || strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) != 0)
        return 0;
    /* path = staging/dir/.wh.X; the directory is path minus the base */
    size_t path_dir_len = strlen(path) - strlen(base);
    RETURN_ERROR_IF(path_dir_len >= sizeof(target), u->err, "entry %.200s: name too long", rel);
    memcpy(target, path, path_dir_len);
    if (strcmp(base, OPAQUE_NAME) == 0) {
        target[path_dir_len > 0 ? path_dir_len - 1 : 0] = '\0';
        return mark_opaque(u, target) == 0 ? 1 : -1;
    }
    RETURN_ERROR_IF(base[strlen(WHITEOUT_PREFIX)] == '\0', u->err, "entry %.200s: whiteout of nothing", rel);
    int n = snprintf(target + path_dir_len, sizeof(target) - path_dir_len, "%s", base + strlen(WHITEOUT_PREFIX));
    RETURN_ERROR_IF(n < 0 || (size_t)n >= sizeof(target) - path_dir_len, u->err, "entry %.200s: name too long", rel);
    return write_whiteout(u, e, target) == 0 ? 1 : -1;
}

/* a hard link's own header (owner, mode, mtime) applies to the inode it
 * shares, unless that is a symlink: what containerd's applier does, and so
 * what a snapshot unpacked by containerd would hold (libarchive and GNU tar
 * leave the target's) */
static int apply_link_header(struct unpack_ctx *u, struct archive_entry *e, const char *path, const char *rel)
{
    struct stat st;
    struct timespec ts[2];

    RETURN_ERROR_IF(lstat(path, &st) != 0, u->err, "entry %.200s: %s", rel, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return 0;
    ts[0].tv_sec = ts[1].tv_sec = archive_entry_mtime(e);
    ts[0].tv_nsec = ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    /* chown first: it clears setuid and setgid */
    RETURN_ERROR_IF(lchown(path, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) != 0 ||
                        chmod(path, archive_entry_perm(e)) != 0 || utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0,
                    u->err, "entry %.200s: setting the link's owner, mode or time: %s", rel, strerror(errno));
    return 0;
}

static int copy_data(struct unpack_ctx *u, const char *name)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    int rc;

    while ((rc = archive_read_data_block(u->in, &buf, &len, &off)) == ARCHIVE_OK) {
        if (archive_write_data_block(u->out, buf, len, off) != ARCHIVE_OK)
            return archive_failed(u, u->out, "writing", name);
    }
    if (rc != ARCHIVE_EOF)
        return archive_failed(u, u->in, "reading", name);
    return 0;
}

static int extract_entry(struct unpack_ctx *u, struct archive_entry *e)
{
    char rel[PATH_MAX], path[PATH_MAX], link_rel[PATH_MAX], link_path[PATH_MAX];
    const char *name = archive_entry_pathname(e);
    const char *hardlink = archive_entry_hardlink(e);
    int rc;

    RETURN_ERROR_IF(!name, u->err, "an entry without a name");
    if (clean_name(name, rel, sizeof(rel), u->err) != 0 || join_path(u->staging, rel, path, sizeof(path), u->err) != 0)
        return -1;
    rc = handle_whiteout(u, e, rel, path);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (hardlink) {
        if (clean_name(hardlink, link_rel, sizeof(link_rel), u->err) != 0)
            return -1;
        RETURN_ERROR_IF(!link_rel[0], u->err, "entry %.200s: hard link to the root", name);
        if (join_path(u->staging, link_rel, link_path, sizeof(link_path), u->err) != 0 ||
            check_no_symlink_parents(u->staging, link_rel, u->err) != 0)
            return -1;
        archive_entry_set_hardlink(e, link_path);
    }
    archive_entry_set_pathname(e, path);
    if (archive_write_header(u->out, e) != ARCHIVE_OK)
        return archive_failed(u, u->out, "entry", rel[0] ? rel : ".");
    if (archive_entry_size(e) > 0 && copy_data(u, rel) != 0)
        return -1;
    if (archive_write_finish_entry(u->out) != ARCHIVE_OK)
        return archive_failed(u, u->out, "entry", rel[0] ? rel : ".");
    if (hardlink && apply_link_header(u, e, path, rel) != 0)
        return -1;
    return 0;
}

static int extract_all(struct unpack_ctx *u)
{
    struct archive_entry *e;
    int rc;

    while ((rc = archive_read_next_header(u->in, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
        if (extract_entry(u, e) != 0)
            return -1;
    }
    if (rc != ARCHIVE_EOF)
        return error_set(u->err, "tar: %s", archive_error_string(u->in) ? archive_error_string(u->in) : "bad archive");
    /* directories' permissions and times are set last, here */
    if (archive_write_close(u->out) != ARCHIVE_OK)
        return archive_failed(u, u->out, "finishing", ".");
    return 0;
}

/* ---- staging ---- */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    remove(path);
    return 0;
}

static void remove_tree(const char *path)
{
    nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dest must be absent or an empty directory */
static int check_dest(const char *dest, struct error *err)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    int empty = 1;

    if (lstat(dest, &st) != 0) {
        RETURN_ERROR_IF(errno != ENOENT, err, "%s: %s", dest, strerror(errno));
        return 0;
    }
    RETURN_ERROR_IF(!S_ISDIR(st.st_mode), err, "%s exists and is not a directory", dest);
    d = opendir(dest);
    RETURN_ERROR_IF(!d, err, "%s: %s", dest, strerror(errno));
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    RETURN_ERROR_IF(!empty, err, "%s is not empty", dest);
    return 0;
}

/* a fresh directory beside dest, named by its parent's real path */
static int make_staging(const char *dest, char *out, size_t cap, struct error *err)
{
    char parent[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(dest, '/');
    const char *base = slash ? slash + 1 : dest;
    int n;

    RETURN_ERROR_IF(!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0, err,
                    "%s: not a directory name to unpack into", dest);
    if (!slash)
        snprintf(parent, sizeof(parent), ".");
    else if (slash == dest)
        snprintf(parent, sizeof(parent), "/");
    else
        snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dest), dest);
    RETURN_ERROR_IF(!realpath(parent, real), err, "%s: %s", parent, strerror(errno));
    n = snprintf(out, cap, "%s/.%s.unpack-XXXXXX", strcmp(real, "/") == 0 ? "" : real, base);
    RETURN_ERROR_IF(n < 0 || (size_t)n >= cap, err, "%s: path too long", dest);
    RETURN_ERROR_IF(!mkdtemp(out), err, "creating a directory beside %s: %s", dest, strerror(errno));
    if (chmod(out, 0755) != 0) {
        int e = errno;
        rmdir(out);
        return error_set(err, "%s: %s", out, strerror(e));
    }
    return 0;
}

/* ---- the whole ---- */

static int stream_open(struct unpack_stream *s, layer_read_fn read_fn, void *ctx, int64_t blob_size,
                       struct error *err)
{
    static const uint8_t zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

    s->read_fn = read_fn;
    s->ctx = ctx;
    s->blob_limit = blob_size;
    s->in = malloc(IN_CHUNK);
    s->out = malloc(OUT_CHUNK);
    s->blob_hash = sha256_new();
    s->diff_hash = sha256_new();
    RETURN_ERROR_IF(!s->in || !s->out || !s->blob_hash || !s->diff_hash, err, "out of memory");
    /* the first bytes say what the blob is */
    while (s->in_len < sizeof(zstd_magic) && !s->src_eof)
        if (fill_input(s, s->in_len) != 0)
            return error_set(err, "%s", s->err.msg);
    RETURN_ERROR_IF(s->in_len >= 4 && memcmp(s->in, zstd_magic, 4) == 0, err,
                    "zstd layers cannot be unpacked here");
    s->gzip = s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
    if (s->gzip) {
        RETURN_ERROR_IF(inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK, err, "gzip: inflateInit failed");
        s->zs_ready = 1;
    }
    return 0;
}

static void stream_close(struct unpack_stream *s)
{
    if (s->zs_ready)
        inflateEnd(&s->zs);
    free(s->in);
    free(s->out);
    sha256_free(s->blob_hash);
    sha256_free(s->diff_hash);
}

/* read what the archive left (padding, trailing blocks), so the digests
 * cover the whole blob */
static int stream_drain(struct unpack_stream *s, struct error *err)
{
    const uint8_t *data;
    ssize_t n;

    while ((n = next_tar(s, &data)) > 0)
        ;
    if (n < 0)
        return error_set(err, "%s", s->err.msg);
    return 0;
}

/* after a failure in the bytes (bad gzip, bad tar, a bad entry): when the
 * blob itself is not the one named, say that instead, as it is the cause */
static void blame_blob(struct unpack_stream *s, const char *want, struct error *err)
{
    uint8_t raw[DIGEST_RAW_SIZE];
    char got[DIGEST_STR_SIZE];

    if (s->source_failed)
        return;
    while (!s->src_eof)
        if (fill_input(s, 0) != 0)
            return;
    sha256_final(s->blob_hash, raw);
    digest_format(raw, got);
    if (strcmp(got, want) != 0)
        error_set(err, "blob digest mismatch: got %s, want %s", got, want);
}

static int check_digest(struct sha256 *h, const char *what, const char *want, struct error *err)
{
    uint8_t raw[DIGEST_RAW_SIZE];
    char got[DIGEST_STR_SIZE];

    sha256_final(h, raw);
    digest_format(raw, got);
    RETURN_ERROR_IF(strcmp(got, want) != 0, err, "%s mismatch: got %s, want %s", what, got, want);
    return 0;
}

static int unpack_into(struct unpack_stream *s, const struct layer_unpack_opts *opts, const char *staging,
                       struct error *err)
{
    struct unpack_ctx u = {.staging = staging, .overlay_whiteouts = opts->overlay_whiteouts, .err = err};
    int rc = -1;

    u.in = archive_read_new();
    u.out = archive_write_disk_new();
    if (!u.in || !u.out) {
        error_set(err, "out of memory");
        goto out;
    }
    archive_read_support_format_tar(u.in);
    archive_write_disk_set_options(u.out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                              ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                              ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    if (archive_read_open(u.in, s, NULL, archive_read_cb, NULL) != ARCHIVE_OK) {
        if (!s->failed)
            error_set(err, "tar: %s", archive_error_string(u.in) ? archive_error_string(u.in) : "bad archive");
        goto out;
    }
    if (extract_all(&u) != 0)
        goto out;
    rc = stream_drain(s, err);
out:
    /* a failure of the reader beneath libarchive is the one to report */
    if (rc != 0 && s->failed)
        error_set(err, "%s", s->err.msg);
    if (u.in)
        archive_read_free(u.in);
    if (u.out)
        archive_write_free(u.out);
    return rc;
}

int layer_unpack(layer_read_fn read_fn, void *ctx, const struct layer_unpack_opts *opts, const char *dest_dir,
                 struct error *err)
{
    struct unpack_stream s = {0};
    char staging[PATH_MAX];
    int rc = -1;

    RETURN_ERROR_IF(!opts || !opts->blob_digest || !digest_valid(opts->blob_digest), err,
                    "layer unpack: a sha256 blob digest is required");
    RETURN_ERROR_IF(opts->diff_id && !digest_valid(opts->diff_id), err, "layer %s: bad diff_id %.80s",
                    opts->blob_digest, opts->diff_id);
    if (check_dest(dest_dir, err) != 0 || make_staging(dest_dir, staging, sizeof(staging), err) != 0)
        return error_prefix(err, "layer %s", opts->blob_digest);
    if (stream_open(&s, read_fn, ctx, opts->blob_size, err) != 0)
        goto out;
    if (unpack_into(&s, opts, staging, err) != 0) {
        blame_blob(&s, opts->blob_digest, err);
        goto out;
    }
    if (opts->blob_size >= 0 && s.blob_bytes != opts->blob_size) {
        error_set(err, "blob is %lld bytes, its size is %lld", (long long)s.blob_bytes, (long long)opts->blob_size);
        goto out;
    }
    if (check_digest(s.blob_hash, "blob digest", opts->blob_digest, err) != 0)
        goto out;
    if (opts->diff_id && check_digest(s.diff_hash, "diff_id", opts->diff_id, err) != 0)
        goto out;
    if (rename(staging, dest_dir) != 0) {
        error_set(err, "renaming %s onto %s: %s", staging, dest_dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    stream_close(&s);
    if (rc != 0) {
        remove_tree(staging);
        error_prefix(err, "layer %s", opts->blob_digest);
    }
    return rc;
}
