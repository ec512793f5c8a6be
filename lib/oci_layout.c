/* oci_layout.c -- OCI image layout access (see oci_layout.h) */
#include "oci_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "fileio.h"
#include "gojson.h"
#include "oci.h"
#include "sha256.h"
#include "strutil.h"

#define LAYOUT_FILE "{\"imageLayoutVersion\":\"1.0.0\"}"

int layout_ref_parse(const char *s, char *dir, size_t dir_len, char *ref, size_t ref_len)
{
    const char *p, *at, *colon;

    if (strncmp(s, "oci:", 4) != 0)
        return -1;
    p = s + 4;
    at = strstr(p, "@sha256:");
    if (at) {
        if ((size_t)(at - p) + 1 > dir_len || str_copy(ref, ref_len, at + 1) != 0)
            return -1;
        memcpy(dir, p, (size_t)(at - p));
        dir[at - p] = '\0';
        return dir[0] ? 0 : -1;
    }
    colon = strrchr(p, ':');
    if (colon && strchr(colon, '/') == NULL) {
        if ((size_t)(colon - p) + 1 > dir_len || str_copy(ref, ref_len, colon + 1) != 0)
            return -1;
        memcpy(dir, p, (size_t)(colon - p));
        dir[colon - p] = '\0';
    } else {
        if (str_copy(dir, dir_len, p) != 0)
            return -1;
        ref[0] = '\0';
    }
    return dir[0] ? 0 : -1;
}

/* the oci-layout file: {"imageLayoutVersion": "1.x.y"}.  A later major
 * version may lay blobs out differently, so it is refused rather than
 * misread; minor versions are compatible by the spec's semver rule. */
static int check_layout_version(const char *path, struct error *err)
{
    uint8_t *buf;
    size_t len;
    json_t *doc;
    const char *v;
    int rc = 0;

    if (read_file(path, 64 << 10, &buf, &len, err) != 0)
        return -1;
    if (oci_load(buf, len, &doc, err) != 0) {
        free(buf);
        return error_prefix(err, "%s", path);
    }
    free(buf);
    v = json_string_value(json_object_get(doc, "imageLayoutVersion"));
    if (v == NULL)
        rc = error_set(err, "%s: no imageLayoutVersion", path);
    else if (strncmp(v, "1.", 2) != 0)
        rc = error_set(err, "%s: imageLayoutVersion \"%.40s\" is not supported (this build reads 1.x)", path, v);
    json_decref(doc);
    return rc;
}

int layout_open(struct oci_layout *l, const char *dir, int create, struct error *err)
{
    char path[4096];
    struct stat st;

    memset(l, 0, sizeof(*l));
    l->dir_fd = -1;
    if (create && stat(dir, &st) != 0) {
        if (mkdir_p(dir, 0755, err) != 0)
            return -1;
    }
    l->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    RETURN_ERROR_IF(l->dir_fd < 0, err, "%s: not an OCI layout directory: %s", dir, strerror(errno));
    l->dir = strdup(dir);
    if (l->dir == NULL) {
        layout_close(l);
        return error_set(err, "out of memory");
    }
    snprintf(path, sizeof(path), "%s/oci-layout", dir);
    if (stat(path, &st) != 0) {
        if (!create) {
            layout_close(l);
            return error_set(err, "%s: not an OCI layout (no oci-layout file)", dir);
        }
        if (atomic_write_file(path, LAYOUT_FILE, strlen(LAYOUT_FILE), 0644, err) != 0) {
            layout_close(l);
            return -1;
        }
    } else if (check_layout_version(path, err) != 0) {
        layout_close(l);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
    if (create && mkdir_p(path, 0755, err) != 0) {
        layout_close(l);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/index.json", dir);
    if (stat(path, &st) != 0) {
        static const char empty[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[]}";
        if (!create) {
            layout_close(l);
            return error_set(err, "%s: not an OCI layout (no index.json)", dir);
        }
        if (atomic_write_file(path, empty, strlen(empty), 0644, err) != 0) {
            layout_close(l);
            return -1;
        }
    }
    return 0;
}

void layout_close(struct oci_layout *l)
{
    if (l->dir_fd >= 0)
        close(l->dir_fd); /* also drops the flock */
    l->dir_fd = -1;
    free(l->dir);
    l->dir = NULL;
}

/* is name one of our temporaries, ".<final>.tmp.XXXXXX" (fileio.c)? */
static int is_our_temp(const char *name)
{
    size_t n = strlen(name);
    const char *t;

    if (name[0] != '.' || n < 13)
        return 0;
    t = name + n - 11;
    return strncmp(t, ".tmp.", 5) == 0 && t > name + 1 && strspn(t + 5, "abcdefghijklmnopqrstuvwxyz"
                                                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == 6;
}

int layout_lock(struct oci_layout *l, struct error *err)
{
    char path[4096];

    if (l->locked)
        return 0;
    if (flock(l->dir_fd, LOCK_EX | LOCK_NB) != 0) {
        RETURN_ERROR_IF(errno == EWOULDBLOCK, err,
                        "%s: the layout is locked by another soci process; try again when it finishes",
                        l->dir);
        return error_set(err, "%s: lock: %s", l->dir, strerror(errno));
    }
    l->locked = 1;
    /* the temporaries a killed writer left: with the lock held, no live
     * writer of ours owns them */
    unlink_matching(l->dir, is_our_temp);
    snprintf(path, sizeof(path), "%s/blobs/sha256", l->dir);
    unlink_matching(path, is_our_temp);
    return 0;
}

int layout_read_index(struct oci_layout *l, json_t **index, struct error *err)
{
    char path[4096];
    uint8_t *buf;
    size_t len;

    snprintf(path, sizeof(path), "%s/index.json", l->dir);
    if (read_file(path, LAYOUT_MAX_JSON, &buf, &len, err) != 0)
        return -1;
    if (oci_load(buf, len, index, err) != 0) {
        free(buf);
        return error_prefix(err, "%s", path);
    }
    free(buf);
    if (!json_is_array(json_object_get(*index, "manifests"))) {
        json_decref(*index);
        *index = NULL;
        return error_set(err, "%s: no \"manifests\" array", path);
    }
    return 0;
}

int layout_write_index(struct oci_layout *l, json_t *index, struct error *err)
{
    char path[4096];
    struct gojson j;
    const char *out;
    size_t len;
    int rc;

    snprintf(path, sizeof(path), "%s/index.json", l->dir);
    gojson_init(&j, 0);
    oci_write_index(&j, index);
    if (gojson_result(&j, &out, &len, err) != 0) {
        gojson_free(&j);
        return -1;
    }
    rc = atomic_write_file(path, out, len, 0644, err);
    gojson_free(&j);
    return rc;
}

void layout_blob_path(const struct oci_layout *l, const char *digest, char *out, size_t n)
{
    snprintf(out, n, "%s/blobs/sha256/%s", l->dir, digest + 7);
}

int layout_blob_exists(const struct oci_layout *l, const char *digest, int64_t *size)
{
    char path[4096];
    struct stat st;

    if (!digest_valid(digest))
        return 0;
    layout_blob_path(l, digest, path, sizeof(path));
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    if (size)
        *size = st.st_size;
    return 1;
}

int layout_read_blob(const struct oci_layout *l, const char *digest, int64_t want_size, size_t max,
                     uint8_t **buf, size_t *len, struct error *err)
{
    char path[4096], got[DIGEST_STR_SIZE];
    uint8_t raw[32];
    struct sha256 *h;

    RETURN_ERROR_IF(!digest_valid(digest), err, "invalid digest \"%.80s\"", digest);
    RETURN_ERROR_IF(want_size > (int64_t)max, err, "blob %s: %lld bytes is more than the %zu-byte limit",
                    digest, (long long)want_size, max);
    layout_blob_path(l, digest, path, sizeof(path));
    if (access(path, F_OK) != 0)
        return error_set(err, "blob %s is missing from %s", digest, l->dir);
    h = sha256_new();
    if (read_file_hashed(path, max, buf, len, h, err) != 0) {
        sha256_free(h);
        return -1;
    }
    if (want_size >= 0 && (int64_t)*len != want_size) {
        sha256_free(h);
        free(*buf);
        return error_set(err, "blob %s has %zu bytes, its descriptor says %lld", digest, *len,
                         (long long)want_size);
    }
    if (h != NULL)
        sha256_final(h, raw);
    else
        sha256_buf(*buf, *len, raw); /* no context (out of memory): hash it now */
    sha256_free(h);
    digest_format(raw, got);
    if (strcmp(got, digest) != 0) {
        free(*buf);
        return error_set(err, "blob %s does not match its digest (content is %s)", digest, got);
    }
    return 0;
}

int layout_write_blob(const struct oci_layout *l, const void *data, size_t n, char *digest_out,
                      struct error *err)
{
    char path[4096], digest[DIGEST_STR_SIZE];
    uint8_t raw[32];
    int64_t have;

    sha256_buf(data, n, raw);
    digest_format(raw, digest);
    if (digest_out)
        memcpy(digest_out, digest, DIGEST_STR_SIZE);
    if (layout_blob_exists(l, digest, &have) && have == (int64_t)n)
        return 0;
    layout_blob_path(l, digest, path, sizeof(path));
    return atomic_write_file(path, data, n, 0644, err);
}

int layout_open_blob(const struct oci_layout *l, const char *digest, int64_t want_size, int *fd,
                     struct error *err)
{
    char path[4096];

    *fd = -1;
    RETURN_ERROR_IF(!digest_valid(digest), err, "invalid digest \"%.80s\"", digest);
    layout_blob_path(l, digest, path, sizeof(path));
    RETURN_ERROR_IF(access(path, F_OK) != 0, err, "blob %s is missing from %s", digest, l->dir);
    return open_regular(path, want_size, fd, err);
}
