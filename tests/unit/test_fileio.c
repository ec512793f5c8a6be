/* test_fileio.c -- read_file (lib/fileio.h): a file read whole is its exact
 * bytes whatever fstat said its size was, the limit holds, and nothing but
 * regular files is read */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "error.h"
#include "fileio.h"

static void exact_sizes(const char *dir)
{
    static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 65536, 3 * 1024 * 1024 + 7};
    char path[4200];
    struct error err;

    snprintf(path, sizeof(path), "%s/f", dir);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i], len = 99;
        uint8_t *want = malloc(n + 1), *got = NULL;
        FILE *f = fopen(path, "wb");
        for (size_t k = 0; k < n; k++)
            want[k] = (uint8_t)(k * 7 + n);
        CHECK(f != NULL && fwrite(want, 1, n, f) == n && fclose(f) == 0);
        CHECK_MSG(read_file(path, n, &got, &len, &err) == 0, "%zu bytes: %s", n, err.msg);
        CHECK_MSG(len == n && memcmp(got, want, n) == 0 && got[n] == 0, "%zu bytes read back as %zu", n, len);
        free(got);
        if (n > 0) {
            CHECK(read_file(path, n - 1, &got, &len, &err) != 0 && strstr(err.msg, "limit") != NULL);
        }
        free(want);
    }
}

/* procfs gives st_size 0 for files that hold bytes: the read goes past the
 * size fstat gave, one probe byte at a time, then grows the buffer */
static void grows_past_fstat(void)
{
    uint8_t *got = NULL, buf[8192];
    size_t len = 0, n = 0;
    struct error err;
    int fd;
    ssize_t r;

    CHECK_MSG(read_file("/proc/self/cmdline", 1 << 20, &got, &len, &err) == 0, "%s", err.msg);
    fd = open("/proc/self/cmdline", O_RDONLY);
    while (fd >= 0 && (r = read(fd, buf + n, sizeof(buf) - n)) > 0)
        n += (size_t)r;
    if (fd >= 0)
        close(fd);
    CHECK_MSG(len > 0 && len == n && memcmp(got, buf, n) == 0, "/proc/self/cmdline: %zu bytes, want %zu", len, n);
    free(got);
    CHECK(read_file("/proc/self/cmdline", 2, &got, &len, &err) != 0 && strstr(err.msg, "limit") != NULL);
}

static void not_regular(const char *dir)
{
    uint8_t *got = NULL;
    size_t len;
    struct error err;

    CHECK(read_file(dir, 1 << 20, &got, &len, &err) != 0);
    CHECK(read_file("/dev/zero", 1 << 20, &got, &len, &err) != 0);
}

int main(void)
{
    char dir[] = "/tmp/test_fileio.XXXXXX";
    char path[64];

    CHECK(mkdtemp(dir) != NULL);
    exact_sizes(dir);
    grows_past_fstat();
    not_regular(dir);
    snprintf(path, sizeof(path), "%s/f", dir);
    unlink(path);
    rmdir(dir);
    return check_exit();
}
