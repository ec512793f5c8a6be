/* snapshotter.c -- the snapshotter: ordinary snapshots plus lazily mounted layers
 *
 * First cut: every call passes straight through to snapstore; the remote
 * half (index discovery, soci-mount, local unpack) comes next.  See
 * snapshotter.h for the contract.
 */
#include "snapshotter.h"

#include <stdlib.h>
#include <string.h>

struct snapshotter {
    struct snapstore *store;
};

int snapshotter_open(const struct snap_config *cfg, const char *root, const char *mount_helper,
                     struct snapshotter **out, struct error *err)
{
    (void)cfg;
    (void)mount_helper;
    *out = NULL;
    struct snapshotter *sn = calloc(1, sizeof(*sn));
    if (!sn)
        return error_set(err, "snapshotter: out of memory");
    if (snapstore_open(root, &sn->store, err) != 0) {
        free(sn);
        return -1;
    }
    *out = sn;
    return 0;
}

void snapshotter_close(struct snapshotter *sn, int unmount_all)
{
    (void)unmount_all;
    if (!sn)
        return;
    snapstore_close(sn->store);
    free(sn);
}

struct snapstore *snapshotter_store(struct snapshotter *sn)
{
    return sn->store;
}

enum snap_status snapshotter_prepare(struct snapshotter *sn, const char *ns, enum snap_kind kind, const char *key,
                                     const char *parent, const struct snap_labels *labels,
                                     struct snap_mount *mount, struct error *err)
{
    (void)ns;
    return snapstore_prepare(sn->store, kind, key, parent, labels, mount, NULL, err);
}

enum snap_status snapshotter_remove(struct snapshotter *sn, const char *key, struct error *err)
{
    return snapstore_remove(sn->store, key, err);
}

enum snap_status snapshotter_cleanup(struct snapshotter *sn, struct error *err)
{
    int removed = 0;
    return snapstore_cleanup(sn->store, &removed, err);
}

void snapshotter_status(struct snapshotter *sn, FILE *out)
{
    (void)sn;
    (void)out;
}
