/* config.h -- soci-snapshotter-grpc's config.toml
 *
 * Upstream's key names where they apply (a TOML subset: tables, dotted and
 * quoted table names, strings, integers, booleans, and arrays of strings);
 * keys this project adds live in [cache].  A missing file at the default path
 * means defaults; a missing file named with --config is an error.  An unknown
 * table or key, or a value of the wrong type or out of range, fails with the
 * file, line and key:
 *
 *   /etc/soci-snapshotter-grpc/config.toml:7: [fuse] attr_timout: unknown key
 *
 * Keys upstream has that do not apply to this implementation (metrics,
 * metadata_store, http_cache_type, ...) are accepted, kept, printed by
 * `config dump`, and otherwise ignored; the docs list which.
 *
 * Thread safety: a loaded config is read-only and may be shared.
 *
 * Ownership: snap_config_load fills the caller's struct, whose kept text
 * (passthrough) is freed by snap_config_free().  Errors: 0, or -1 with one
 * line in err as above.
 */
#ifndef SOCI_SNAP_CONFIG_H
#define SOCI_SNAP_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"

#define SNAP_DEFAULT_ADDRESS "/run/soci-snapshotter-grpc/soci-snapshotter-grpc.sock"
#define SNAP_DEFAULT_ROOT "/var/lib/soci-snapshotter-grpc"
#define SNAP_DEFAULT_CONFIG "/etc/soci-snapshotter-grpc/config.toml"
#define SNAP_MAX_PLAIN_HOSTS 16

struct snap_config {
    /* top level */
    int mount_timeout_sec;            /* 30: how long a layer mount may take */
    int disable_verification;         /* false: kept false here; true is refused */
    int skip_check_snapshotter_supported;
    int max_concurrency;              /* 100 */

    /* [snapshotter] */
    int64_t min_layer_size;           /* 0: smaller layers are not mounted lazily */
    int allow_invalid_mounts_on_restart;

    /* [pull_modes.soci_v1] enable (true here; upstream: false) / [pull_modes.soci_v2] enable (true) */
    int soci_v1_enable;
    int soci_v2_enable;

    /* [http]: CamelCase keys as upstream */
    int dial_timeout_msec;            /* 3000 */
    int response_header_timeout_msec; /* 3000 */
    int request_timeout_msec;         /* 300000 */
    int max_retries;                  /* 8 */

    /* [blob] */
    int fetching_timeout_sec;         /* 300 */
    int max_span_verification_retries;/* 0 (this project refetches once anyway) */

    /* [fuse] (seconds) */
    int attr_timeout;                 /* 1 */
    int entry_timeout;                /* 1 */
    int negative_timeout;             /* 1 */

    /* [background_fetch] */
    int bg_disable;                   /* false */
    int bg_silence_period_msec;       /* 30000 */
    int bg_fetch_period_msec;         /* 500 */

    /* [prefetch] enable (false, as upstream): fetch the spans of each
     * layer's prefetch artifact before its mount answers */
    int prefetch_enable;

    /* [cache] memory_size, disk_size, dir: this project's node-wide budgets,
     * shared by every lazily mounted layer of the node (not per layer);
     * sizes as "512MiB", "10GiB", "4M" or bytes */
    int64_t cache_memory_bytes;       /* span memory, "512MiB" */
    int64_t cache_disk_bytes;         /* compressed + decompressed disk cache, "10GiB" */
    char cache_dir[4096];             /* "" = ROOT/soci/spancache */

    /* hosts named as their own insecure mirror ([resolver.host."H"] mirrors
     * = [{host = "H", insecure = true}]): reached with plain http */
    char plain_http_hosts[SNAP_MAX_PLAIN_HOSTS][256];
    int n_plain_http_hosts;

    /* keys accepted for compatibility and not otherwise used, for config
     * dump: one line each in file order, "TABLE\tkey = VALUE\n" with TABLE
     * the table's name as a header writes it ("" top level,
     * resolver.host."h") and VALUE in TOML; NULL when there are none */
    char *passthrough;
};

void snap_config_defaults(struct snap_config *cfg);
/* missing_ok: a file that does not exist leaves the defaults (the default
 * path); otherwise it is an error */
int snap_config_load(struct snap_config *cfg, const char *path, int missing_ok, struct error *err);
/* the effective config as TOML that snap_config_load accepts */
void snap_config_dump(const struct snap_config *cfg, FILE *out);
void snap_config_free(struct snap_config *cfg);
/* 1 when host (HOST[:PORT]) is to be reached with plain http */
int snap_config_plain_http(const struct snap_config *cfg, const char *host);

#endif
