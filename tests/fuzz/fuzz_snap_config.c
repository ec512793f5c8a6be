/* fuzz_snap_config.c -- hostile config.toml for soci-snapshotter-grpc
 *
 * The input is the file (written to a memfd and loaded by its /proc path,
 * as the daemon loads --config).  snap_config_load must refuse it with one
 * line or load it; a loaded config, dumped, must load again and dump to the
 * same text (config dump claims to print what the loader accepts), and
 * every string field must stay NUL-terminated inside its buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static char *dump_text(const struct snap_config *cfg, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);

    if (f == NULL)
        abort();
    snap_config_dump(cfg, f);
    if (fclose(f) != 0)
        abort();
    return buf;
}

/* write bytes to a fresh memfd; its /proc path in path */
static int memfd_with(const void *data, size_t size, char *path, size_t path_size)
{
    int fd = memfd_create("config.toml", 0);

    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
        abort();
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct snap_config cfg, again;
    struct error err;
    char path[64], *first, *second;
    size_t first_len, second_len;
    int fd, fd2, i;

    fd = memfd_with(data, size, path, sizeof(path));
    err.msg[0] = '\0';
    if (snap_config_load(&cfg, path, 0, &err) != 0) {
        if (err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL)
            FAIL("refused without a one-line message: \"%s\"", err.msg);
        snap_config_free(&cfg);
        close(fd);
        return 0;
    }
    close(fd);
    if (memchr(cfg.cache_dir, '\0', sizeof(cfg.cache_dir)) == NULL)
        FAIL("cache_dir is not NUL-terminated");
    if (cfg.n_plain_http_hosts < 0 || cfg.n_plain_http_hosts > SNAP_MAX_PLAIN_HOSTS)
        FAIL("%d plain-http hosts", cfg.n_plain_http_hosts);
    for (i = 0; i < cfg.n_plain_http_hosts; i++)
        if (memchr(cfg.plain_http_hosts[i], '\0', sizeof(cfg.plain_http_hosts[i])) == NULL)
            FAIL("plain-http host %d is not NUL-terminated", i);

    first = dump_text(&cfg, &first_len);
    fd2 = memfd_with(first, first_len, path, sizeof(path));
    if (snap_config_load(&again, path, 0, &err) != 0)
        FAIL("its own dump does not load: %s\n--- dump:\n%s", err.msg, first);
    close(fd2);
    second = dump_text(&again, &second_len);
    if (first_len != second_len || memcmp(first, second, first_len) != 0)
        FAIL("dump, load, dump changed the text:\n--- first:\n%s\n--- second:\n%s", first, second);
    free(first);
    free(second);
    snap_config_free(&cfg);
    snap_config_free(&again);
    return 0;
}
