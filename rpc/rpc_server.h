/* rpc_server.h -- a small gRPC server on a unix socket, over gRPC's core C API
 *
 * Enough of a gRPC server for containerd's proxy plugins: handlers are
 * registered by full method path ("/containerd.services.snapshots.v1.
 * Snapshots/Prepare"), each unary (one request, one answer) or
 * server-streaming (one request, any number of answers).  Requests and
 * answers are serialized protobuf bytes; the _pb helpers pack protobuf-c
 * messages.  An unknown method ends with Unimplemented.
 *
 * Threads: the server runs nworkers threads, each with its own completion
 * queue, each taking one call at a time and running its handler to the end
 * synchronously, so a slow handler holds one worker and no other call.
 * Calls beyond the number of workers wait in gRPC until a worker is free.
 * Handlers therefore run on several threads at once and must be thread safe.
 *
 * Bounds: a request larger than max_message_bytes is refused by gRPC with
 * ResourceExhausted before any handler runs; request metadata is bounded to
 * 16 KiB; an answer larger than the bound fails the call with Internal.
 *
 * Lifecycle: rpc_server_new, rpc_server_add for every method, then
 * rpc_server_listen_unix (binds and starts the workers), later
 * rpc_server_shutdown (from any one thread; e.g. main after SIGTERM) and
 * rpc_server_free.  Registration after listening is refused.
 *
 * Errors: setup calls return 0 or -1 with one line in err.  Ownership: the
 * server copies method names; handler arguments stay the caller's and must
 * outlive the server.
 */
#ifndef SOCI_RPC_SERVER_H
#define SOCI_RPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "error.h"
#include "rpc_status.h"

enum rpc_kind {
    RPC_UNARY,          /* exactly one rpc_call_send on success */
    RPC_SERVER_STREAM,  /* any number of rpc_call_send */
};

struct rpc_server;
/* one call in progress, valid only inside its handler */
struct rpc_call;

/* req/req_nbytes: the request message (valid until the handler returns).
 * Returns RPC_OK once the answer is sent, or the code the call ends with
 * (set its message with rpc_call_fail, which returns the code). */
typedef enum rpc_code (*rpc_handler_fn)(struct rpc_call *call, const uint8_t *req, size_t req_nbytes, void *arg);

struct rpc_server_opts {
    int nworkers;               /* 0: 8 */
    size_t max_message_bytes;   /* 0: RPC_DEFAULT_MAX_MESSAGE_BYTES, both directions */
};

/* opts may be NULL for the defaults */
int rpc_server_new(const struct rpc_server_opts *opts, struct rpc_server **out, struct error *err);
int rpc_server_add(struct rpc_server *s, const char *method, enum rpc_kind kind, rpc_handler_fn fn, void *arg,
                   struct error *err);

/* Make sure path is free to bind: its directory exists, and nothing is
 * there or only the socket file of a server that is gone (removed here).
 * A live server on it (a connect() succeeds) is an error, as is a path that
 * exists and is not a socket.  Daemons call it before anything else so that
 * a second instance touches nothing of the first. */
int rpc_unix_socket_claim(const char *path, struct error *err);

/* Claim the unix socket at path (absolute or relative, no "unix:" prefix),
 * bind it and start serving; the socket is made 0660. */
int rpc_server_listen_unix(struct rpc_server *s, const char *path, struct error *err);

/* Stop taking calls, let running calls finish for up to grace_ms, cancel
 * the rest, wait for every worker, remove the socket file.  Idempotent. */
void rpc_server_shutdown(struct rpc_server *s, int grace_ms);
/* shuts down first if needed (with no grace) */
void rpc_server_free(struct rpc_server *s);

/* --- inside a handler --- */

/* the full method path of the call */
const char *rpc_call_method(const struct rpc_call *c);
/* the value of request metadata key (lower case) copied into buf as a
 * C string: 1 found, 0 absent, -1 longer than len-1 or holding a NUL byte
 * (buf is then "") */
int rpc_call_metadata(const struct rpc_call *c, const char *key, char *buf, size_t len);
/* send one answer message; 0, or -1 when the client is gone, the answer is
 * over the size bound, or a unary call already answered.  On -1 the call's
 * status is already set (Cancelled, Internal): the handler just returns any
 * code other than RPC_OK, e.g. RPC_CANCELLED, and that status is sent. */
int rpc_call_send(struct rpc_call *c, const void *msg, size_t nbytes);
/* pack m with protobuf-c and send it */
int rpc_call_send_pb(struct rpc_call *c, const ProtobufCMessage *m);
/* set the status the call ends with (the last set wins); returns code */
enum rpc_code rpc_call_fail(struct rpc_call *c, enum rpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
