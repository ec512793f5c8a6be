/* rpc_client.h -- a gRPC client over gRPC's core C API
 *
 * Calls a gRPC server (containerd, or our own snapshotter in tests) on a
 * unix socket: unary calls, server-streaming reads and bidirectional
 * streams, each with a deadline and request metadata (containerd's
 * namespace goes in "containerd-namespace").  Messages are serialized
 * protobuf bytes; the _pb variants pack and unpack protobuf-c messages.
 *
 * Results: every call returns 0 when the call ended (or, for a stream, goes
 * on) with status OK, and -1 otherwise with st filled: the server's code
 * and message, gRPC's own (Unavailable when nothing listens, Deadline
 * Exceeded, ResourceExhausted over the size bound), or one of ours
 * (Internal "malformed answer" when an answer does not decode).  Nothing is
 * printed.  rpc_status_error() turns st into one error line.
 *
 * Ownership: answers returned through resp are the caller's: bytes with
 * free(), protobuf-c messages with protobuf_c_message_free_unpacked(m, NULL).
 * The client copies its target; metadata and requests are only read during
 * the call.
 *
 * Thread safety: one rpc_client may be used by any number of threads at
 * once (each call has its own completion queue).  One rpc_stream is used by
 * one thread at a time, except that one thread may send while another
 * receives.
 */
#ifndef SOCI_RPC_CLIENT_H
#define SOCI_RPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "error.h"
#include "rpc_status.h"

struct rpc_client;
struct rpc_stream;

struct rpc_client_opts {
    size_t max_message_bytes;   /* 0: RPC_DEFAULT_MAX_MESSAGE_BYTES, both directions */
};

/* target: "unix:/path" (or "unix:relative"); opts may be NULL.  Connects
 * lazily: a missing server shows as Unavailable on the first call. */
int rpc_client_open(const char *target, const struct rpc_client_opts *opts, struct rpc_client **out,
                    struct error *err);
void rpc_client_close(struct rpc_client *c);

struct rpc_md {
    const char *key;     /* lower case, e.g. "containerd-namespace" */
    const char *value;
};

/* per call; NULL means no deadline and no metadata */
struct rpc_call_opts {
    int64_t timeout_ms;         /* 0: no deadline */
    const char *ns;             /* containerd-namespace, or NULL */
    const struct rpc_md *md;    /* more metadata */
    size_t nmd;
};

/* one request, one answer: *resp (malloc'd, may be size 0) and *resp_nbytes
 * are set only on success */
int rpc_unary(struct rpc_client *c, const char *method, const struct rpc_call_opts *o, const void *req,
              size_t req_nbytes, uint8_t **resp, size_t *resp_nbytes, struct rpc_status *st);
/* the same with protobuf-c: req packed, the answer unpacked as resp_desc;
 * resp may be NULL when the answer is not needed (google.protobuf.Empty) */
int rpc_unary_pb(struct rpc_client *c, const char *method, const struct rpc_call_opts *o,
                 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                 struct rpc_status *st);

/* --- streams --- */

/* start a call with no message sent yet (bidirectional or client stream) */
int rpc_stream_open(struct rpc_client *c, const char *method, const struct rpc_call_opts *o,
                    struct rpc_stream **out, struct rpc_status *st);
/* start a server-streaming call: open, send req, close the sending side */
int rpc_stream_open_server(struct rpc_client *c, const char *method, const struct rpc_call_opts *o,
                           const void *req, size_t req_nbytes, struct rpc_stream **out, struct rpc_status *st);
int rpc_stream_open_server_pb(struct rpc_client *c, const char *method, const struct rpc_call_opts *o,
                              const ProtobufCMessage *req, struct rpc_stream **out, struct rpc_status *st);

int rpc_stream_send(struct rpc_stream *s, const void *msg, size_t nbytes, struct rpc_status *st);
int rpc_stream_send_pb(struct rpc_stream *s, const ProtobufCMessage *m, struct rpc_status *st);
/* no more messages from this side (the server sees end of stream) */
int rpc_stream_close_send(struct rpc_stream *s, struct rpc_status *st);

/* next answer: 1 with *msg (malloc'd) and *nbytes; 0 when the server ended
 * the stream with OK (st->code RPC_OK); -1 when it ended otherwise, or
 * failed (st).  After 0 or -1 the stream is over and recv keeps answering
 * the same. */
int rpc_stream_recv(struct rpc_stream *s, uint8_t **msg, size_t *nbytes, struct rpc_status *st);
int rpc_stream_recv_pb(struct rpc_stream *s, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **msg,
                       struct rpc_status *st);

/* end the call: cancels it if the server has not ended it yet, collects
 * the status (returned as for the other calls; Cancelled after a cancel)
 * and frees s.  s may be NULL (returns 0). */
int rpc_stream_finish(struct rpc_stream *s, struct rpc_status *st);

#endif
