/* multirange.c -- test driver for tests/cli/registry_multirange.sh: reads
 * N ranges of a blob through reg_blob_get_ranges and checks each against
 * the same bytes of a local copy of the blob.
 *
 *   multirange HOST REPO DIGEST FILE OFF:LEN...
 *
 * Prints "ok requests=R range_requests=G" and exits 0 when every range
 * matched; one line on stderr and exit 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "registry.h"

int main(int argc, char **argv)
{
    struct reg_opts o = {.plain_http = 1};
    struct reg_range r[64];
    struct reg_client *c;
    struct reg_stats st;
    struct error err;
    uint8_t *blob;
    size_t blob_len, n = 0;
    int i, rc = 0;

    if (argc < 6 || argc - 5 > 64) {
        fprintf(stderr, "usage: multirange HOST REPO DIGEST FILE OFF:LEN...\n");
        return 2;
    }
    if (read_file(argv[4], (size_t)1 << 30, &blob, &blob_len, &err) != 0) {
        fprintf(stderr, "multirange: %s\n", err.msg);
        return 1;
    }
    for (i = 5; i < argc; i++, n++) {
        long long off, len;
        if (sscanf(argv[i], "%lld:%lld", &off, &len) != 2 || off < 0 || len <= 0 ||
            (size_t)(off + len) > blob_len) {
            fprintf(stderr, "multirange: bad range %s\n", argv[i]);
            return 2;
        }
        r[n] = (struct reg_range){off, (size_t)len, calloc(1, (size_t)len)};
    }
    c = reg_client_new(argv[1], &o, &err);
    if (c == NULL || reg_blob_get_ranges(c, argv[2], argv[3], r, n, &err) != 0) {
        fprintf(stderr, "multirange: %s\n", err.msg);
        rc = 1;
    }
    for (i = 0; rc == 0 && i < (int)n; i++)
        if (memcmp(r[i].buf, blob + r[i].off, r[i].len) != 0) {
            fprintf(stderr, "multirange: range %lld+%zu differs from the blob\n", (long long)r[i].off, r[i].len);
            rc = 1;
        }
    if (rc == 0) {
        reg_client_stats(c, &st);
        printf("ok requests=%ld range_requests=%ld\n", st.requests, st.range_requests);
    }
    reg_client_free(c);
    for (i = 0; i < (int)n; i++)
        free(r[i].buf);
    free(blob);
    return rc;
}
