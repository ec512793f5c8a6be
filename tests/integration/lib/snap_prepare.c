/* snap_prepare.c -- one Prepare straight to a snapshotter's socket, for tests
 *
 *   snap_prepare SOCK NS KEY PARENT [LABEL=VALUE]...
 *
 * Sends containerd.services.snapshots.v1.Snapshots/Prepare with the labels
 * given (what containerd forwards from a pull, without containerd), through
 * the project's own rpc client.  Prints "ok" (exit 0) or "code N: MESSAGE"
 * (exit 1) with the gRPC status code.  PARENT "" for none.  Compiled by the
 * test that uses it, against the build's archives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrd_client.h"

int main(int argc, char **argv)
{
    struct ctrd *c;
    struct ctrd_mounts *m = NULL;
    struct ctrd_kv kv[64];
    struct error err;
    size_t n = 0;
    int code = 0, i;

    if (argc < 5 || argc - 5 > 64) {
        fprintf(stderr, "usage: snap_prepare SOCK NS KEY PARENT [LABEL=VALUE]...\n");
        return 2;
    }
    for (i = 5; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL) {
            fprintf(stderr, "snap_prepare: %s is not LABEL=VALUE\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        kv[n].key = argv[i];
        kv[n++].value = eq + 1;
    }
    if (ctrd_open(argv[1], argv[2], &c, &err) != 0) {
        fprintf(stderr, "snap_prepare: %s\n", err.msg);
        return 2;
    }
    if (ctrd_snapshot_prepare(c, "soci", argv[3], argv[4], kv, n, &m, &code, &err) != 0) {
        printf("code %d: %s\n", code, err.msg);
        ctrd_close(c);
        return 1;
    }
    ctrd_mounts_free(m);
    ctrd_close(c);
    printf("ok\n");
    return 0;
}
