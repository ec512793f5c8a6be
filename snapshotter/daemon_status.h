/* daemon_status.h -- `soci-snapshotter-grpc status`: one line per remote layer
 *
 * The daemon owns <root>/daemon.pid (written once serving, removed at a clean
 * stop).  On SIGUSR1 it writes the status of every remote layer (key, layer
 * digest, state, fetched %, bytes fetched: snapshotter_status) to
 * <root>/status, atomically, and logs the same as JSON lines.  The status
 * command signals the daemon named by the pid file and prints that file
 * once it is newer than the signal; it never opens the metadata store, so it
 * cannot disturb a running daemon.
 *
 * Errors: -1 with one line in err.  Thread safety: daemon_status_write runs
 * on the main thread only (the signal loop); the rest are for the command.
 */
#ifndef SOCI_DAEMON_STATUS_H
#define SOCI_DAEMON_STATUS_H

#include <stdio.h>

#include "error.h"
#include "snapshotter.h"

int daemon_pid_write(const char *root, struct error *err);
void daemon_pid_remove(const char *root);

/* the daemon's answer to SIGUSR1 */
int daemon_status_write(struct snapshotter *sn, const char *root, struct error *err);

/* the command: signal the daemon of root, wait (bounded) for its answer and
 * print it to out with a header */
int daemon_status_query(const char *root, FILE *out, struct error *err);

#endif
