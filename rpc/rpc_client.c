/* rpc_client.c -- a gRPC client over gRPC's core C API (see rpc_client.h) */
#include "rpc_client.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>

#define MAX_CALL_METADATA 16
#define MAX_METHOD_LEN 255

struct rpc_client {
    grpc_channel *ch;
    size_t max_message_bytes;
};

/* request metadata as gRPC wants it; the slices are released once the
 * batch that sends them has completed */
struct call_md {
    grpc_metadata v[MAX_CALL_METADATA];
    size_t n;
};

struct rpc_stream {
    grpc_call *call;
    grpc_completion_queue *cq;
    size_t max_message_bytes;
    grpc_metadata_array initial_md;   /* the server's, received with the first answer */
    int got_initial_md;
    int done;                         /* the status has been received */
    struct rpc_status final;
    /* distinct tags so that a sender and a receiver can wait at once */
    char send_tag, recv_tag;
};

int rpc_client_open(const char *target, const struct rpc_client_opts *opts, struct rpc_client **out,
                    struct error *err)
{
    size_t max = opts && opts->max_message_bytes ? opts->max_message_bytes : RPC_DEFAULT_MAX_MESSAGE_BYTES;
    struct rpc_client *c;
    grpc_channel_credentials *creds;

    *out = NULL;
    RETURN_ERROR_IF(strncmp(target, "unix:", 5) != 0 || !target[5], err, "rpc target \"%s\": not unix:PATH",
                    target);
    RETURN_ERROR_IF(max > INT_MAX, err, "rpc client: message bound %zu is over %d", max, INT_MAX);
    c = calloc(1, sizeof(*c));
    RETURN_ERROR_IF(!c, err, "rpc client: out of memory");
    rpc_init();
    grpc_arg args[] = {
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, .value.integer = (int)max},
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, .value.integer = (int)max},
    };
    grpc_channel_args chargs = {.num_args = sizeof(args) / sizeof(args[0]), .args = args};
    creds = grpc_insecure_credentials_create();
    c->ch = grpc_channel_create(target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    if (!c->ch) {
        free(c);
        rpc_fini();
        return error_set(err, "rpc target \"%s\": cannot create a channel", target);
    }
    c->max_message_bytes = max;
    *out = c;
    return 0;
}

void rpc_client_close(struct rpc_client *c)
{
    if (!c)
        return;
    grpc_channel_destroy(c->ch);
    free(c);
    rpc_fini();
}

/* --- pieces shared by every call --- */

static int md_fill(struct call_md *md, const struct rpc_call_opts *o, struct rpc_status *st)
{
    md->n = 0;
    if (!o)
        return 0;
    if (o->nmd + (o->ns ? 1 : 0) > MAX_CALL_METADATA)
        return rpc_status_fail(st, RPC_INVALID_ARGUMENT, "more than %d metadata entries", MAX_CALL_METADATA);
    if (o->ns) {
        md->v[md->n].key = grpc_slice_from_static_string("containerd-namespace");
        md->v[md->n++].value = grpc_slice_from_copied_string(o->ns);
    }
    for (size_t i = 0; i < o->nmd; i++) {
        md->v[md->n].key = grpc_slice_from_copied_string(o->md[i].key);
        md->v[md->n++].value = grpc_slice_from_copied_string(o->md[i].value);
    }
    return 0;
}

static void md_free(struct call_md *md)
{
    for (size_t i = 0; i < md->n; i++) {
        grpc_slice_unref(md->v[i].key);
        grpc_slice_unref(md->v[i].value);
    }
    md->n = 0;
}

static gpr_timespec deadline_of(const struct rpc_call_opts *o)
{
    if (!o || o->timeout_ms <= 0)
        return gpr_inf_future(GPR_CLOCK_REALTIME);
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(o->timeout_ms, GPR_TIMESPAN));
}

static int start_call(struct rpc_client *c, const char *method, const struct rpc_call_opts *o, grpc_call **call,
                      grpc_completion_queue **cq, struct rpc_status *st)
{
    grpc_slice m;

    if (method[0] != '/' || strlen(method) > MAX_METHOD_LEN)
        return rpc_status_fail(st, RPC_INVALID_ARGUMENT, "bad method path \"%.80s\"", method);
    *cq = grpc_completion_queue_create_for_pluck(NULL);
    m = grpc_slice_from_copied_string(method);
    *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, *cq, m, NULL, deadline_of(o), NULL);
    grpc_slice_unref(m);
    if (!*call) {
        grpc_completion_queue_shutdown(*cq);
        grpc_completion_queue_destroy(*cq);
        return rpc_status_fail(st, RPC_INTERNAL, "%s: cannot create the call", method);
    }
    return 0;
}

static void end_call(grpc_call *call, grpc_completion_queue *cq)
{
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);
}

static int run_batch(grpc_call *call, grpc_completion_queue *cq, const grpc_op *ops, size_t nops, void *tag)
{
    grpc_event ev;

    if (grpc_call_start_batch(call, ops, nops, tag, NULL) != GRPC_CALL_OK)
        return -1;
    ev = grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success ? 0 : -1;
}

static grpc_byte_buffer *buffer_of(const void *msg, size_t nbytes)
{
    grpc_slice slice = grpc_slice_from_copied_buffer(msg, nbytes);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);

    grpc_slice_unref(slice);
    return bb;
}

/* the bytes of an answer, malloc'd; NULL only when out of memory */
static uint8_t *bytes_of(grpc_byte_buffer *bb, size_t *nbytes)
{
    grpc_byte_buffer_reader reader;
    grpc_slice all;
    uint8_t *out;

    if (!grpc_byte_buffer_reader_init(&reader, bb))
        return NULL;
    all = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    *nbytes = GRPC_SLICE_LENGTH(all);
    out = malloc(*nbytes ? *nbytes : 1);
    if (out)
        memcpy(out, GRPC_SLICE_START_PTR(all), *nbytes);
    grpc_slice_unref(all);
    return out;
}

static int status_of(grpc_status_code code, grpc_slice details, struct rpc_status *st)
{
    size_t n = GRPC_SLICE_LENGTH(details);

    if (n >= sizeof(st->msg))
        n = sizeof(st->msg) - 1;
    st->code = (enum rpc_code)code;
    memcpy(st->msg, GRPC_SLICE_START_PTR(details), n);
    st->msg[n] = '\0';
    return code == GRPC_STATUS_OK ? 0 : -1;
}

static int pack(const ProtobufCMessage *m, size_t max, uint8_t **buf, size_t *n, struct rpc_status *st)
{
    *n = protobuf_c_message_get_packed_size(m);
    if (*n > max)
        return rpc_status_fail(st, RPC_RESOURCE_EXHAUSTED, "request of %zu bytes is over the %zu-byte bound",
                                    *n, max);
    *buf = malloc(*n ? *n : 1);
    if (!*buf)
        return rpc_status_fail(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
    protobuf_c_message_pack(m, *buf);
    return 0;
}

/* --- unary --- */

int rpc_unary(struct rpc_client *c, const char *method, const struct rpc_call_opts *o, const void *req,
              size_t req_nbytes, uint8_t **resp, size_t *resp_nbytes, struct rpc_status *st)
{
    grpc_call *call;
    grpc_completion_queue *cq;
    struct call_md md;
    grpc_metadata_array initial_md, trailing_md;
    grpc_byte_buffer *out_bb, *in_bb = NULL;
    grpc_status_code code = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6] = {
        {.op = GRPC_OP_SEND_INITIAL_METADATA}, {.op = GRPC_OP_SEND_MESSAGE},
        {.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT}, {.op = GRPC_OP_RECV_INITIAL_METADATA},
        {.op = GRPC_OP_RECV_MESSAGE},          {.op = GRPC_OP_RECV_STATUS_ON_CLIENT},
    };
    int rc;

    rpc_status_set(st, RPC_OK, "%s", "");
    if (req_nbytes > c->max_message_bytes)
        return rpc_status_fail(st, RPC_RESOURCE_EXHAUSTED, "request of %zu bytes is over the %zu-byte bound",
                                    req_nbytes, c->max_message_bytes);
    if (md_fill(&md, o, st) != 0)
        return -1;
    if (start_call(c, method, o, &call, &cq, st) != 0) {
        md_free(&md);
        return -1;
    }
    grpc_metadata_array_init(&initial_md);
    grpc_metadata_array_init(&trailing_md);
    out_bb = buffer_of(req, req_nbytes);
    ops[0].data.send_initial_metadata.count = md.n;
    ops[0].data.send_initial_metadata.metadata = md.v;
    ops[1].data.send_message.send_message = out_bb;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
    ops[4].data.recv_message.recv_message = &in_bb;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing_md;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &details;
    if (run_batch(call, cq, ops, 6, call) != 0) {
        rc = rpc_status_fail(st, RPC_INTERNAL, "%s: call failed to start (bad metadata?)", method);
    } else if ((rc = status_of(code, details, st)) == 0) {
        if (!in_bb)
            rc = rpc_status_fail(st, RPC_INTERNAL, "%s: no answer", method);
        else if (!(*resp = bytes_of(in_bb, resp_nbytes)))
            rc = rpc_status_fail(st, RPC_INTERNAL, "%s: answer cannot be read", method);
    }
    if (rc < 0)
        rc = -1;
    if (in_bb)
        grpc_byte_buffer_destroy(in_bb);
    grpc_byte_buffer_destroy(out_bb);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial_md);
    grpc_metadata_array_destroy(&trailing_md);
    end_call(call, cq);
    md_free(&md);
    return rc;
}

int rpc_unary_pb(struct rpc_client *c, const char *method, const struct rpc_call_opts *o,
                 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                 struct rpc_status *st)
{
    uint8_t *buf, *ans = NULL;
    size_t n, ans_n = 0;
    int rc;

    if (resp)
        *resp = NULL;
    if (pack(req, c->max_message_bytes, &buf, &n, st) != 0)
        return -1;
    rc = rpc_unary(c, method, o, buf, n, &ans, &ans_n, st);
    free(buf);
    if (rc != 0)
        return -1;
    if (resp) {
        *resp = protobuf_c_message_unpack(resp_desc, NULL, ans_n, ans);
        if (!*resp)
            rc = rpc_status_fail(st, RPC_INTERNAL, "%s: malformed answer (%zu bytes, not a %s)", method, ans_n,
                                      resp_desc->name);
    }
    free(ans);
    return rc < 0 ? -1 : 0;
}

/* --- streams --- */

int rpc_stream_open(struct rpc_client *c, const char *method, const struct rpc_call_opts *o,
                    struct rpc_stream **out, struct rpc_status *st)
{
    struct rpc_stream *s;
    struct call_md md;
    grpc_op op = {.op = GRPC_OP_SEND_INITIAL_METADATA};
    int rc;

    *out = NULL;
    rpc_status_set(st, RPC_OK, "%s", "");
    s = calloc(1, sizeof(*s));
    if (!s)
        return rpc_status_fail(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
    if (md_fill(&md, o, st) != 0 || start_call(c, method, o, &s->call, &s->cq, st) != 0) {
        md_free(&md);
        free(s);
        return -1;
    }
    s->max_message_bytes = c->max_message_bytes;
    grpc_metadata_array_init(&s->initial_md);
    op.data.send_initial_metadata.count = md.n;
    op.data.send_initial_metadata.metadata = md.v;
    rc = run_batch(s->call, s->cq, &op, 1, &s->send_tag);
    md_free(&md);
    if (rc != 0) {
        rpc_status_set(st, RPC_INTERNAL, "%s: call failed to start (bad metadata?)", method);
        rpc_stream_finish(s, NULL);
        return -1;
    }
    *out = s;
    return 0;
}

int rpc_stream_send(struct rpc_stream *s, const void *msg, size_t nbytes, struct rpc_status *st)
{
    grpc_op op = {.op = GRPC_OP_SEND_MESSAGE};
    int rc;

    if (nbytes > s->max_message_bytes)
        return rpc_status_fail(st, RPC_RESOURCE_EXHAUSTED, "message of %zu bytes is over the %zu-byte bound",
                                    nbytes, s->max_message_bytes);
    op.data.send_message.send_message = buffer_of(msg, nbytes);
    rc = run_batch(s->call, s->cq, &op, 1, &s->send_tag);
    grpc_byte_buffer_destroy(op.data.send_message.send_message);
    if (rc != 0)
        /* the call is over; its status says why (recv or finish) */
        return rpc_status_fail(st, RPC_UNAVAILABLE, "stream closed by the server");
    return 0;
}

int rpc_stream_send_pb(struct rpc_stream *s, const ProtobufCMessage *m, struct rpc_status *st)
{
    uint8_t *buf;
    size_t n;
    int rc;

    if (pack(m, s->max_message_bytes, &buf, &n, st) != 0)
        return -1;
    rc = rpc_stream_send(s, buf, n, st);
    free(buf);
    return rc;
}

int rpc_stream_close_send(struct rpc_stream *s, struct rpc_status *st)
{
    grpc_op op = {.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT};

    if (run_batch(s->call, s->cq, &op, 1, &s->send_tag) != 0)
        return rpc_status_fail(st, RPC_UNAVAILABLE, "stream closed by the server");
    return 0;
}

int rpc_stream_open_server(struct rpc_client *c, const char *method, const struct rpc_call_opts *o,
                           const void *req, size_t req_nbytes, struct rpc_stream **out, struct rpc_status *st)
{
    struct rpc_stream *s;

    if (rpc_stream_open(c, method, o, &s, st) != 0)
        return -1;
    if (rpc_stream_send(s, req, req_nbytes, st) != 0 || rpc_stream_close_send(s, st) != 0) {
        /* the server's status says more than "closed" */
        rpc_stream_finish(s, st);
        if (st && st->code == RPC_OK)
            rpc_status_set(st, RPC_UNAVAILABLE, "%s: stream closed before the request was sent", method);
        return -1;
    }
    *out = s;
    return 0;
}

int rpc_stream_open_server_pb(struct rpc_client *c, const char *method, const struct rpc_call_opts *o,
                              const ProtobufCMessage *req, struct rpc_stream **out, struct rpc_status *st)
{
    uint8_t *buf;
    size_t n;
    int rc;

    *out = NULL;
    if (pack(req, c->max_message_bytes, &buf, &n, st) != 0)
        return -1;
    rc = rpc_stream_open_server(c, method, o, buf, n, out, st);
    free(buf);
    return rc;
}

/* receive the call's status (after the last message, or after a cancel) */
static void receive_status(struct rpc_stream *s)
{
    grpc_op ops[2] = {{.op = GRPC_OP_RECV_STATUS_ON_CLIENT}, {.op = GRPC_OP_RECV_INITIAL_METADATA}};
    grpc_metadata_array trailing_md;
    grpc_status_code code = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();

    grpc_metadata_array_init(&trailing_md);
    ops[0].data.recv_status_on_client.trailing_metadata = &trailing_md;
    ops[0].data.recv_status_on_client.status = &code;
    ops[0].data.recv_status_on_client.status_details = &details;
    ops[1].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
    if (run_batch(s->call, s->cq, ops, s->got_initial_md ? 1 : 2, &s->recv_tag) != 0)
        rpc_status_set(&s->final, RPC_INTERNAL, "stream status not received");
    else
        status_of(code, details, &s->final);
    s->got_initial_md = 1;
    s->done = 1;
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&trailing_md);
}

static int stream_result(const struct rpc_stream *s, struct rpc_status *st)
{
    if (st)
        *st = s->final;
    return s->final.code == RPC_OK ? 0 : -1;
}

int rpc_stream_recv(struct rpc_stream *s, uint8_t **msg, size_t *nbytes, struct rpc_status *st)
{
    grpc_op ops[2] = {{.op = GRPC_OP_RECV_MESSAGE}, {.op = GRPC_OP_RECV_INITIAL_METADATA}};
    grpc_byte_buffer *bb = NULL;
    int rc;

    if (s->done)
        return stream_result(s, st);
    ops[0].data.recv_message.recv_message = &bb;
    ops[1].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
    rc = run_batch(s->call, s->cq, ops, s->got_initial_md ? 1 : 2, &s->recv_tag);
    s->got_initial_md = 1;
    if (rc != 0 || !bb) {
        if (bb)
            grpc_byte_buffer_destroy(bb);
        receive_status(s);
        return stream_result(s, st) == 0 ? 0 : -1;
    }
    *msg = bytes_of(bb, nbytes);
    grpc_byte_buffer_destroy(bb);
    if (!*msg)
        return rpc_status_fail(st, RPC_INTERNAL, "stream answer cannot be read");
    return 1;
}

int rpc_stream_recv_pb(struct rpc_stream *s, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg,
                       struct rpc_status *st)
{
    uint8_t *buf;
    size_t n;
    int rc = rpc_stream_recv(s, &buf, &n, st);

    *msg = NULL;
    if (rc != 1)
        return rc;
    *msg = protobuf_c_message_unpack(desc, NULL, n, buf);
    free(buf);
    if (!*msg)
        return rpc_status_fail(st, RPC_INTERNAL, "malformed stream answer (%zu bytes, not a %s)", n,
                                    desc->name);
    return 1;
}

int rpc_stream_finish(struct rpc_stream *s, struct rpc_status *st)
{
    int rc;

    if (!s)
        return 0;
    if (!s->done) {
        grpc_call_cancel(s->call, NULL);
        receive_status(s);
    }
    rc = stream_result(s, st);
    grpc_metadata_array_destroy(&s->initial_md);
    end_call(s->call, s->cq);
    free(s);
    return rc;
}
