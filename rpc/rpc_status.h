/* rpc_status.h -- gRPC status codes and the status a call ends with
 *
 * Shared by rpc_server and rpc_client.  The numbers are gRPC's (and so
 * containerd's errdefs mapping: NotFound, AlreadyExists, ...); a status is a
 * code plus one line of text, the grpc-message of the call.
 *
 * rpc_init() / rpc_fini() pair up gRPC's own global init and shutdown
 * (reference counted by gRPC) and, on the first init, send gRPC's internal
 * log lines into lib/log (JSON) instead of gRPC's own stderr format.  The
 * server and client call them; other code does not need to.  Thread safe.
 *
 * Ownership: a struct rpc_status holds its text itself; nothing is
 * allocated.  Errors: rpc_status_fail and rpc_status_error return -1 (as
 * the project's fallible functions do); rpc_init cannot fail.
 */
#ifndef SOCI_RPC_STATUS_H
#define SOCI_RPC_STATUS_H

#include <stdarg.h>

#include "error.h"

enum rpc_code {
    RPC_OK = 0,
    RPC_CANCELLED = 1,
    RPC_UNKNOWN = 2,
    RPC_INVALID_ARGUMENT = 3,
    RPC_DEADLINE_EXCEEDED = 4,
    RPC_NOT_FOUND = 5,
    RPC_ALREADY_EXISTS = 6,
    RPC_PERMISSION_DENIED = 7,
    RPC_RESOURCE_EXHAUSTED = 8,
    RPC_FAILED_PRECONDITION = 9,
    RPC_ABORTED = 10,
    RPC_OUT_OF_RANGE = 11,
    RPC_UNIMPLEMENTED = 12,
    RPC_INTERNAL = 13,
    RPC_UNAVAILABLE = 14,
    RPC_DATA_LOSS = 15,
    RPC_UNAUTHENTICATED = 16,
};

/* messages larger than this are refused unless a caller asks for another
 * bound (gRPC's own default is the same 4 MiB) */
#define RPC_DEFAULT_MAX_MESSAGE_BYTES ((size_t)4 << 20)

struct rpc_status {
    enum rpc_code code;
    char msg[ERROR_MSG_MAX];   /* "" when code is RPC_OK */
};

/* "NotFound", "AlreadyExists", ... as gRPC spells them; "Code(N)" otherwise */
const char *rpc_code_name(int code);

/* set st from a printf format; returns code so handlers can
 * `return rpc_status_set(...)` */
enum rpc_code rpc_status_set(struct rpc_status *st, enum rpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* the same, returning -1 for the 0/-1 convention */
int rpc_status_fail(struct rpc_status *st, enum rpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum rpc_code rpc_status_vset(struct rpc_status *st, enum rpc_code code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* "rpc error: code = NotFound desc = <msg>" as containerd's clients print
 * it, into err; returns -1 */
int rpc_status_error(const struct rpc_status *st, struct error *err);

void rpc_init(void);
void rpc_fini(void);

#endif
