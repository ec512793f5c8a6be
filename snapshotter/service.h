/* service.h -- containerd.services.snapshots.v1.Snapshots over rpc_server
 *
 * The gRPC face of the snapshotter: Prepare, View, Mounts, Commit, Remove,
 * Stat, Update, List (server streaming, infos in batches), Usage and
 * Cleanup, with containerd 1.6's messages (rpc/proto/snapshots_v1.proto).
 * Each request is decoded with protobuf-c, bounded (names, labels, filters,
 * update paths), and handed to snapshotter_* or snapstore_*; an enum
 * snap_status comes back as the gRPC code containerd maps to its errdefs
 * (NotFound, AlreadyExists, FailedPrecondition, InvalidArgument, Unknown)
 * with the one-line message.  A request that does not decode is
 * InvalidArgument.  The containerd namespace of a call is read from the
 * "containerd-namespace" metadata and given to snapshotter_prepare.
 *
 * Errors: snap_service_register returns 0 or -1 with one line in err.
 * Ownership: the service borrows sn, which must outlive the server.  Thread
 * safety: handlers run on the server's workers concurrently; they share
 * nothing but sn, which is thread safe.
 */
#ifndef SOCI_SNAP_SERVICE_H
#define SOCI_SNAP_SERVICE_H

#include "error.h"
#include "rpc_server.h"
#include "snapshotter.h"

#define SNAP_SERVICE_NAME "containerd.services.snapshots.v1.Snapshots"

/* bounds on what a request may carry */
#define SNAP_SVC_MAX_NAME 4096          /* key, parent, name: bytes */
#define SNAP_SVC_MAX_LABELS 256         /* labels per request */
#define SNAP_SVC_MAX_LABEL_BYTES 4096   /* key plus value, as containerd's own check */
#define SNAP_SVC_MAX_FILTERS 64
#define SNAP_SVC_MAX_PATHS 256          /* update_mask paths */

/* add the service's methods to srv (before it listens) */
int snap_service_register(struct rpc_server *srv, struct snapshotter *sn, struct error *err);

#endif
