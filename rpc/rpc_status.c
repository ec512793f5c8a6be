/* rpc_status.c -- gRPC status codes, global init (see rpc_status.h) */
#include "rpc_status.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <grpc/grpc.h>
#include <grpc/support/log.h>

#include "log.h"

static const char *const code_names[] = {
    "OK",           "Canceled",       "Unknown",           "InvalidArgument", "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",     "OutOfRange",
    "Unimplemented", "Internal",      "Unavailable",       "DataLoss",        "Unauthenticated",
};

const char *rpc_code_name(int code)
{
    static __thread char other[24];

    if (code >= 0 && (size_t)code < sizeof(code_names) / sizeof(code_names[0]))
        return code_names[code];
    snprintf(other, sizeof(other), "Code(%d)", code);
    return other;
}

enum rpc_code rpc_status_vset(struct rpc_status *st, enum rpc_code code, const char *fmt, va_list ap)
{
    if (st) {
        st->code = code;
        vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
    }
    return code;
}

enum rpc_code rpc_status_set(struct rpc_status *st, enum rpc_code code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rpc_status_vset(st, code, fmt, ap);
    va_end(ap);
    return code;
}

int rpc_status_fail(struct rpc_status *st, enum rpc_code code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rpc_status_vset(st, code, fmt, ap);
    va_end(ap);
    return -1;
}

int rpc_status_error(const struct rpc_status *st, struct error *err)
{
    return error_set(err, "rpc error: code = %s desc = %s", rpc_code_name(st->code), st->msg);
}

/* gRPC's internal lines (bind failures, transport resets) as JSON log
 * lines: errors as warnings (the caller reports what failed), the rest as
 * debug */
static void grpc_log_to_json(gpr_log_func_args *args)
{
    char where[200], fields[320];
    const char *file = args->file ? args->file : "?";
    size_t n = 0;

    /* source file names need no JSON escaping; drop what would */
    for (; *file && n + 1 < sizeof(where); file++)
        if (*file != '"' && *file != '\\' && (unsigned char)*file >= 0x20)
            where[n++] = *file;
    where[n] = '\0';
    snprintf(fields, sizeof(fields), "\"component\":\"grpc\",\"where\":\"%s:%d\"", where, args->line);
    log_event(args->severity == GPR_LOG_SEVERITY_ERROR ? "warn" : "debug", args->message ? args->message : "",
              fields);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void route_logs(void)
{
    gpr_set_log_function(grpc_log_to_json);
}

void rpc_init(void)
{
    pthread_once(&log_once, route_logs);
    grpc_init();
}

void rpc_fini(void)
{
    grpc_shutdown();
}
