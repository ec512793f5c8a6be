/* rpc_server.c -- a small gRPC server on a unix socket (see rpc_server.h) */
#include "rpc_server.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>


#define DEFAULT_WORKERS 8
#define MAX_WORKERS 256
#define MAX_METHODS 256
#define MAX_METHOD_LEN 255
#define MAX_METADATA_BYTES 16384

struct method {
    char *path;
    enum rpc_kind kind;
    rpc_handler_fn fn;
    void *arg;
};

struct worker {
    struct rpc_server *srv;
    grpc_completion_queue *cq;
    pthread_t tid;
};

struct rpc_server {
    grpc_server *server;
    grpc_completion_queue *shutdown_cq;
    size_t max_message_bytes;
    struct method *methods;
    size_t nmethods;
    struct worker *workers;
    int nworkers;        /* allocated, each with a registered queue */
    int nrunning;        /* threads started */
    int started;         /* grpc_server_start called */
    int shut_down;
    pthread_mutex_t mu;  /* guards shut_down against two shutdowns at once */
    char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

struct rpc_call {
    grpc_call *call;
    grpc_completion_queue *cq;
    const grpc_metadata_array *md;
    const struct method *m;
    char method[MAX_METHOD_LEN + 1];
    size_t max_message_bytes;
    int nsent;
    struct rpc_status st;
};

/* --- setup --- */

int rpc_server_new(const struct rpc_server_opts *opts, struct rpc_server **out, struct error *err)
{
    struct rpc_server *s;
    size_t max = opts && opts->max_message_bytes ? opts->max_message_bytes : RPC_DEFAULT_MAX_MESSAGE_BYTES;
    int nworkers = opts && opts->nworkers ? opts->nworkers : DEFAULT_WORKERS;

    *out = NULL;
    RETURN_ERROR_IF(max > INT_MAX, err, "rpc server: message bound %zu is over %d", max, INT_MAX);
    RETURN_ERROR_IF(nworkers < 1 || nworkers > MAX_WORKERS, err, "rpc server: %d workers (1 to %d)", nworkers,
                    MAX_WORKERS);
    s = calloc(1, sizeof(*s));
    RETURN_ERROR_IF(!s, err, "rpc server: out of memory");
    s->workers = calloc((size_t)nworkers, sizeof(*s->workers));
    if (!s->workers) {
        free(s);
        return error_set(err, "rpc server: out of memory");
    }
    s->nworkers = nworkers;
    s->max_message_bytes = max;
    pthread_mutex_init(&s->mu, NULL);
    rpc_init();

    grpc_arg args[] = {
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, .value.integer = (int)max},
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, .value.integer = (int)max},
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_METADATA_SIZE, .value.integer = MAX_METADATA_BYTES},
    };
    grpc_channel_args chargs = {.num_args = sizeof(args) / sizeof(args[0]), .args = args};
    s->server = grpc_server_create(&chargs, NULL);
    s->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->shutdown_cq, NULL);
    for (int i = 0; i < nworkers; i++) {
        s->workers[i].srv = s;
        s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, s->workers[i].cq, NULL);
    }
    *out = s;
    return 0;
}

int rpc_server_add(struct rpc_server *s, const char *method, enum rpc_kind kind, rpc_handler_fn fn, void *arg,
                   struct error *err)
{
    struct method *grown;

    RETURN_ERROR_IF(s->started, err, "rpc server: %s added after the server started", method);
    RETURN_ERROR_IF(method[0] != '/' || strlen(method) > MAX_METHOD_LEN, err, "rpc server: bad method path \"%s\"",
                    method);
    RETURN_ERROR_IF(s->nmethods >= MAX_METHODS, err, "rpc server: more than %d methods", MAX_METHODS);
    for (size_t i = 0; i < s->nmethods; i++)
        RETURN_ERROR_IF(strcmp(s->methods[i].path, method) == 0, err, "rpc server: %s added twice", method);
    grown = realloc(s->methods, (s->nmethods + 1) * sizeof(*grown));
    RETURN_ERROR_IF(!grown, err, "rpc server: out of memory");
    s->methods = grown;
    grown[s->nmethods] = (struct method){.path = strdup(method), .kind = kind, .fn = fn, .arg = arg};
    RETURN_ERROR_IF(!grown[s->nmethods].path, err, "rpc server: out of memory");
    s->nmethods++;
    return 0;
}

int rpc_unix_socket_claim(const char *path, struct error *err)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(path, '/');
    struct stat st;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, rc;

    RETURN_ERROR_IF(!path[0] || strlen(path) >= sizeof(sa.sun_path), err,
                    "socket path \"%s\": empty or longer than %zu bytes", path, sizeof(sa.sun_path) - 1);

    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
        RETURN_ERROR_IF(stat(dir, &st) != 0, err, "socket directory %s: %s", dir, strerror(errno));
        RETURN_ERROR_IF(!S_ISDIR(st.st_mode), err, "socket directory %s: not a directory", dir);
    }
    if (lstat(path, &st) != 0) {
        RETURN_ERROR_IF(errno != ENOENT, err, "socket %s: %s", path, strerror(errno));
        return 0;
    }
    RETURN_ERROR_IF(!S_ISSOCK(st.st_mode), err, "socket %s: exists and is not a socket", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    RETURN_ERROR_IF(fd < 0, err, "socket: %s", strerror(errno));
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int connect_errno = errno;
    close(fd);
    RETURN_ERROR_IF(rc == 0, err, "socket %s: another server is listening on it", path);
    RETURN_ERROR_IF(connect_errno != ECONNREFUSED, err, "socket %s: %s", path, strerror(connect_errno));
    RETURN_ERROR_IF(unlink(path) != 0 && errno != ENOENT, err, "removing stale socket %s: %s", path,
                    strerror(errno));
    return 0;
}

static void *worker_main(void *arg);

int rpc_server_listen_unix(struct rpc_server *s, const char *path, struct error *err)
{
    char addr[sizeof(s->sock_path) + 8];
    grpc_server_credentials *creds;
    int port;

    RETURN_ERROR_IF(s->started, err, "rpc server: already listening");
    if (rpc_unix_socket_claim(path, err) != 0)
        return -1;
    snprintf(addr, sizeof(addr), "unix:%s", path);
    creds = grpc_insecure_server_credentials_create();
    port = grpc_server_add_http2_port(s->server, addr, creds);
    grpc_server_credentials_release(creds);
    RETURN_ERROR_IF(port == 0, err, "socket %s: cannot listen on it", path);
    memcpy(s->sock_path, path, strlen(path) + 1);
    grpc_server_start(s->server);
    s->started = 1;
    /* containerd (root) connects; nobody else needs to */
    if (chmod(path, 0660) != 0) {
        rpc_server_shutdown(s, 0);
        return error_set(err, "socket %s: chmod: %s", path, strerror(errno));
    }
    for (int i = 0; i < s->nworkers; i++) {
        int rc = pthread_create(&s->workers[i].tid, NULL, worker_main, &s->workers[i]);
        if (rc != 0) {
            rpc_server_shutdown(s, 0);
            return error_set(err, "rpc server: starting worker %d: %s", i, strerror(rc));
        }
        s->nrunning++;
    }
    return 0;
}

/* --- one call --- */

/* start a batch on the call and wait for it on the worker's queue, where
 * nothing else is pending while the call runs */
static int run_batch(struct rpc_call *c, const grpc_op *ops, size_t nops)
{
    if (grpc_call_start_batch(c->call, ops, nops, c, NULL) != GRPC_CALL_OK)
        return -1;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return -1;
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == c)
            return ev.success ? 0 : -1;
    }
}

const char *rpc_call_method(const struct rpc_call *c) { return c->method; }

int rpc_call_metadata(const struct rpc_call *c, const char *key, char *buf, size_t len)
{
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < c->md->count; i++) {
        const grpc_metadata *m = &c->md->metadata[i];
        size_t n = GRPC_SLICE_LENGTH(m->value);
        if (grpc_slice_str_cmp(m->key, key) != 0)
            continue;
        if (n >= len || memchr(GRPC_SLICE_START_PTR(m->value), '\0', n))
            return -1;
        memcpy(buf, GRPC_SLICE_START_PTR(m->value), n);
        buf[n] = '\0';
        return 1;
    }
    return 0;
}

int rpc_call_send(struct rpc_call *c, const void *msg, size_t nbytes)
{
    grpc_op op = {.op = GRPC_OP_SEND_MESSAGE};
    grpc_slice slice;
    int rc;

    if (nbytes > c->max_message_bytes) {
        rpc_status_set(&c->st, RPC_INTERNAL, "answer of %zu bytes is over the %zu-byte bound", nbytes,
                       c->max_message_bytes);
        return -1;
    }
    if (c->m->kind == RPC_UNARY && c->nsent > 0) {
        rpc_status_set(&c->st, RPC_INTERNAL, "%s answered twice", c->method);
        return -1;
    }
    slice = grpc_slice_from_copied_buffer(msg, nbytes);
    op.data.send_message.send_message = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    rc = run_batch(c, &op, 1);
    grpc_byte_buffer_destroy(op.data.send_message.send_message);
    if (rc != 0) {
        rpc_status_set(&c->st, RPC_CANCELLED, "client went away");
        return -1;
    }
    c->nsent++;
    return 0;
}

int rpc_call_send_pb(struct rpc_call *c, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf;
    int rc;

    if (n > c->max_message_bytes) {
        rpc_status_set(&c->st, RPC_INTERNAL, "answer of %zu bytes is over the %zu-byte bound", n,
                       c->max_message_bytes);
        return -1;
    }
    buf = malloc(n ? n : 1);
    if (!buf) {
        rpc_status_set(&c->st, RPC_RESOURCE_EXHAUSTED, "out of memory");
        return -1;
    }
    protobuf_c_message_pack(m, buf);
    rc = rpc_call_send(c, buf, n);
    free(buf);
    return rc;
}

enum rpc_code rpc_call_fail(struct rpc_call *c, enum rpc_code code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rpc_status_vset(&c->st, code, fmt, ap);
    va_end(ap);
    return code;
}

static const struct method *find_method(const struct rpc_server *s, const char *path)
{
    for (size_t i = 0; i < s->nmethods; i++)
        if (strcmp(s->methods[i].path, path) == 0)
            return &s->methods[i];
    return NULL;
}

/* the request message into *req; on failure c->st says why (no message,
 * or gRPC ended the call: over the size bound, reset) */
static enum rpc_code receive_request(struct rpc_call *c, grpc_slice *req)
{
    grpc_op ops[2] = {{.op = GRPC_OP_SEND_INITIAL_METADATA}, {.op = GRPC_OP_RECV_MESSAGE}};
    grpc_byte_buffer *bb = NULL;
    grpc_byte_buffer_reader reader;

    ops[1].data.recv_message.recv_message = &bb;
    if (run_batch(c, ops, 2) != 0) {
        /* gRPC has ended the call itself (over the size bound, reset) */
        if (bb)
            grpc_byte_buffer_destroy(bb);
        return rpc_status_set(&c->st, RPC_CANCELLED, "request not received");
    }
    if (!bb)
        return rpc_status_set(&c->st, RPC_INVALID_ARGUMENT, "%s: no request message", c->method);
    if (!grpc_byte_buffer_reader_init(&reader, bb)) {
        grpc_byte_buffer_destroy(bb);
        return rpc_status_set(&c->st, RPC_INVALID_ARGUMENT, "%s: request cannot be decompressed", c->method);
    }
    *req = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    grpc_byte_buffer_destroy(bb);
    return RPC_OK;
}

static void finish_call(struct rpc_call *c, enum rpc_code code)
{
    grpc_op ops[2] = {{.op = GRPC_OP_SEND_STATUS_FROM_SERVER}, {.op = GRPC_OP_RECV_CLOSE_ON_SERVER}};
    const char *msg = code == RPC_OK ? "" : c->st.msg[0] ? c->st.msg : rpc_code_name(code);
    grpc_slice details = grpc_slice_from_copied_string(msg);
    int cancelled = 0;

    ops[0].data.send_status_from_server.status = (grpc_status_code)code;
    ops[0].data.send_status_from_server.status_details = code == RPC_OK ? NULL : &details;
    ops[1].data.recv_close_on_server.cancelled = &cancelled;
    run_batch(c, ops, 2);
    grpc_slice_unref(details);
}

static void serve_call(struct worker *w, grpc_call *call, const grpc_call_details *details,
                       const grpc_metadata_array *md)
{
    struct rpc_call c = {.call = call, .cq = w->cq, .md = md, .max_message_bytes = w->srv->max_message_bytes};
    size_t n = GRPC_SLICE_LENGTH(details->method);
    grpc_slice req = grpc_empty_slice();
    enum rpc_code code;

    if (n > MAX_METHOD_LEN) {
        memcpy(c.method, "(too long)", 11);
    } else {
        memcpy(c.method, GRPC_SLICE_START_PTR(details->method), n);
        c.method[n] = '\0';
        c.m = find_method(w->srv, c.method);
    }
    /* the request is read even for an unknown method: gRPC does not end a
     * call on the server while a message it received is unread */
    if ((code = receive_request(&c, &req)) != RPC_OK) {
        /* c.st says why */
    } else if (!c.m) {
        code = rpc_status_set(&c.st, RPC_UNIMPLEMENTED, "unknown method %s", c.method);
    } else {
        code = c.m->fn(&c, GRPC_SLICE_START_PTR(req), GRPC_SLICE_LENGTH(req), c.m->arg);
        /* a failed rpc_call_send has recorded why; that status wins */
        if (code != RPC_OK && c.st.code != RPC_OK)
            code = c.st.code;
        if (code == RPC_OK && c.m->kind == RPC_UNARY && c.nsent != 1)
            code = rpc_status_set(&c.st, RPC_INTERNAL, "%s: handler sent no answer", c.method);
        if ((unsigned)code > RPC_UNAUTHENTICATED)
            code = rpc_status_set(&c.st, RPC_UNKNOWN, "%s: handler returned code %d", c.method, (int)code);
    }
    finish_call(&c, code);
    grpc_slice_unref(req);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    /* any address unique to this worker tells its request apart from the
     * batches of the call it serves */
    void *new_call_tag = &w->tid;

    for (;;) {
        grpc_call *call = NULL;
        grpc_call_details details;
        grpc_metadata_array md;
        grpc_event ev;

        grpc_call_details_init(&details);
        grpc_metadata_array_init(&md);
        if (grpc_server_request_call(w->srv->server, &call, &details, &md, w->cq, w->cq, new_call_tag) !=
            GRPC_CALL_OK) {
            grpc_call_details_destroy(&details);
            grpc_metadata_array_destroy(&md);
            break;
        }
        do
            ev = grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        while (ev.type == GRPC_OP_COMPLETE && ev.tag != new_call_tag);
        if (ev.type == GRPC_OP_COMPLETE && ev.success)
            serve_call(w, call, &details, &md);
        if (call)
            grpc_call_unref(call);
        grpc_call_details_destroy(&details);
        grpc_metadata_array_destroy(&md);
        /* a request that did not succeed means the server is shutting down */
        if (ev.type != GRPC_OP_COMPLETE || !ev.success)
            break;
    }
    return NULL;
}

/* --- shutdown --- */

static int wait_tag(grpc_completion_queue *cq, void *tag, gpr_timespec deadline)
{
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, deadline, NULL);
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == tag)
            return 0;
        if (ev.type != GRPC_OP_COMPLETE)
            return -1;
    }
}

void rpc_server_shutdown(struct rpc_server *s, int grace_ms)
{
    struct stat st;
    gpr_timespec deadline;

    pthread_mutex_lock(&s->mu);
    if (!s->started || s->shut_down) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->shut_down = 1;
    pthread_mutex_unlock(&s->mu);

    grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, s);
    deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(grace_ms, GPR_TIMESPAN));
    if (wait_tag(s->shutdown_cq, s, deadline) != 0) {
        grpc_server_cancel_all_calls(s->server);
        wait_tag(s->shutdown_cq, s, gpr_inf_future(GPR_CLOCK_MONOTONIC));
    }
    for (int i = 0; i < s->nrunning; i++)
        pthread_join(s->workers[i].tid, NULL);
    s->nrunning = 0;
    if (lstat(s->sock_path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(s->sock_path);
}

static void drain_and_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

void rpc_server_free(struct rpc_server *s)
{
    if (!s)
        return;
    rpc_server_shutdown(s, 0);
    /* a server whose start failed half way is never started; one that
     * never bound has no listener: both may be destroyed as they are */
    grpc_server_destroy(s->server);
    drain_and_destroy(s->shutdown_cq);
    for (int i = 0; i < s->nworkers; i++)
        drain_and_destroy(s->workers[i].cq);
    for (size_t i = 0; i < s->nmethods; i++)
        free(s->methods[i].path);
    free(s->methods);
    free(s->workers);
    pthread_mutex_destroy(&s->mu);
    free(s);
    rpc_fini();
}
