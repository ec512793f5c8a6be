/* test_rpc_roundtrip.c -- rpc_server and rpc_client talking over a temp unix socket
 *
 * One in-process server with a few test methods, called through the client:
 * unary echo with metadata, server streams, error codes and messages,
 * unknown methods, size bounds, deadlines, a slow call not blocking the
 * others, protobuf-c messages, the socket claim rules, and shutdown with a
 * call in flight.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "rpc_client.h"
#include "rpc_server.h"
#include "snapshots_v1.pb-c.h"

#define SERVER_MAX (64 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* answers "<ns>|<request>" */
static enum rpc_code echo(struct rpc_call *c, const uint8_t *req, size_t n, void *arg)
{
    char ns[64], out[SERVER_MAX + 80];
    int got = rpc_call_metadata(c, "containerd-namespace", ns, sizeof(ns));
    int len;

    (void)arg;
    if (got < 0)
        return rpc_call_fail(c, RPC_INVALID_ARGUMENT, "namespace too long");
    len = snprintf(out, sizeof(out), "%s|", got ? ns : "-");
    memcpy(out + len, req, n);
    return rpc_call_send(c, out, (size_t)len + n) == 0 ? RPC_OK : RPC_CANCELLED;
}

static enum rpc_code fail_not_found(struct rpc_call *c, const uint8_t *req, size_t n, void *arg)
{
    (void)arg;
    return rpc_call_fail(c, RPC_NOT_FOUND, "snapshot \"%.*s\": not found", (int)n, (const char *)req);
}

/* the request's first byte says how many messages; 255 = fail after 2 */
static enum rpc_code stream(struct rpc_call *c, const uint8_t *req, size_t n, void *arg)
{
    int count = n ? req[0] : 0;

    (void)arg;
    for (int i = 0; i < (count == 255 ? 2 : count); i++) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "message %d", i);
        if (rpc_call_send(c, msg, (size_t)len) != 0)
            return RPC_CANCELLED;
    }
    if (count == 255)
        return rpc_call_fail(c, RPC_FAILED_PRECONDITION, "stopped after 2");
    return RPC_OK;
}

static enum rpc_code slow(struct rpc_call *c, const uint8_t *req, size_t n, void *arg)
{
    (void)req, (void)n, (void)arg;
    usleep(1000 * 1000);
    return rpc_call_send(c, "late", 4) == 0 ? RPC_OK : RPC_CANCELLED;
}

static enum rpc_code unary_twice(struct rpc_call *c, const uint8_t *req, size_t n, void *arg)
{
    (void)req, (void)n, (void)arg;
    if (rpc_call_send(c, "a", 1) != 0)
        return RPC_CANCELLED;
    CHECK(rpc_call_send(c, "b", 1) != 0);
    return RPC_OK;
}

static enum rpc_code unary_silent(struct rpc_call *c, const uint8_t *req, size_t n, void *arg)
{
    (void)c, (void)req, (void)n, (void)arg;
    return RPC_OK;
}

/* a protobuf-c round trip: UsageRequest{key} -> UsageResponse{size = len(key), inodes = 7} */
static enum rpc_code usage(struct rpc_call *c, const uint8_t *req, size_t n, void *arg)
{
    Containerd__Services__Snapshots__V1__UsageRequest *q =
        containerd__services__snapshots__v1__usage_request__unpack(NULL, n, req);
    Containerd__Services__Snapshots__V1__UsageResponse resp = CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_RESPONSE__INIT;
    int rc;

    (void)arg;
    if (!q)
        return rpc_call_fail(c, RPC_INVALID_ARGUMENT, "malformed request");
    resp.size = (int64_t)strlen(q->key);
    resp.inodes = 7;
    containerd__services__snapshots__v1__usage_request__free_unpacked(q, NULL);
    rc = rpc_call_send_pb(c, &resp.base);
    return rc == 0 ? RPC_OK : RPC_CANCELLED;
}

struct slow_arg {
    struct rpc_client *cl;
    struct rpc_status st;
    int rc;
    double secs;
};

static void *call_slow(void *p)
{
    struct slow_arg *a = p;
    uint8_t *resp = NULL;
    size_t n = 0;
    double t0 = now();

    a->rc = rpc_unary(a->cl, "/test.T/Slow", NULL, "", 0, &resp, &n, &a->st);
    a->secs = now() - t0;
    free(resp);
    return NULL;
}

static int unary_str(struct rpc_client *cl, const char *method, const struct rpc_call_opts *o, const char *req,
                     char *out, size_t outlen, struct rpc_status *st)
{
    uint8_t *resp = NULL;
    size_t n = 0;
    int rc = rpc_unary(cl, method, o, req, strlen(req), &resp, &n, st);

    if (rc == 0) {
        snprintf(out, outlen, "%.*s", (int)n, (const char *)resp);
        free(resp);
    }
    return rc;
}

static void test_socket_claim(const char *dir, const char *live_sock)
{
    char path[256];
    struct error err = {{0}};
    int fd;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    /* a live server: refused */
    CHECK(rpc_unix_socket_claim(live_sock, &err) != 0);
    CHECK_MSG(strstr(err.msg, "another server is listening") != NULL, "%s", err.msg);
    /* a stale socket file (bound, never listening, closed): removed */
    snprintf(path, sizeof(path), "%s/stale.sock", dir);
    CHECK(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    close(fd);
    CHECK(access(path, F_OK) == 0);
    CHECK_MSG(rpc_unix_socket_claim(path, &err) == 0, "%s", err.msg);
    CHECK(access(path, F_OK) != 0);
    /* a regular file: refused and left alone */
    snprintf(path, sizeof(path), "%s/file", dir);
    fclose(fopen(path, "w"));
    CHECK(rpc_unix_socket_claim(path, &err) != 0);
    CHECK_MSG(strstr(err.msg, "not a socket") != NULL, "%s", err.msg);
    CHECK(access(path, F_OK) == 0);
    /* a missing directory: refused, nothing created */
    snprintf(path, sizeof(path), "%s/missing/s.sock", dir);
    CHECK(rpc_unix_socket_claim(path, &err) != 0);
    CHECK_MSG(strstr(err.msg, "socket directory") != NULL, "%s", err.msg);
    snprintf(path, sizeof(path), "%s/missing", dir);
    CHECK(access(path, F_OK) != 0);
}

int main(void)
{
    char dir[] = "/tmp/test_rpc.XXXXXX", sock[256], target[300], out[512];
    struct rpc_server_opts so = {.nworkers = 4, .max_message_bytes = SERVER_MAX};
    struct rpc_client_opts co = {.max_message_bytes = 1 << 20};
    struct rpc_server *srv;
    struct rpc_client *cl;
    struct rpc_status st;
    struct error err = {{0}};
    struct stat sb;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(sock, sizeof(sock), "%s/rpc.sock", dir);
    snprintf(target, sizeof(target), "unix:%s", sock);

    CHECK(rpc_server_new(&so, &srv, &err) == 0);
    CHECK(rpc_server_add(srv, "/test.T/Echo", RPC_UNARY, echo, NULL, &err) == 0);
    CHECK(rpc_server_add(srv, "/test.T/Fail", RPC_UNARY, fail_not_found, NULL, &err) == 0);
    CHECK(rpc_server_add(srv, "/test.T/Stream", RPC_SERVER_STREAM, stream, NULL, &err) == 0);
    CHECK(rpc_server_add(srv, "/test.T/Slow", RPC_UNARY, slow, NULL, &err) == 0);
    CHECK(rpc_server_add(srv, "/test.T/Twice", RPC_UNARY, unary_twice, NULL, &err) == 0);
    CHECK(rpc_server_add(srv, "/test.T/Silent", RPC_UNARY, unary_silent, NULL, &err) == 0);
    CHECK(rpc_server_add(srv, "/containerd.services.snapshots.v1.Snapshots/Usage", RPC_UNARY, usage, NULL, &err) ==
          0);
    CHECK(rpc_server_add(srv, "/test.T/Echo", RPC_UNARY, echo, NULL, &err) != 0); /* twice */
    CHECK_MSG(rpc_server_listen_unix(srv, sock, &err) == 0, "%s", err.msg);
    CHECK(rpc_server_add(srv, "/test.T/Late", RPC_UNARY, echo, NULL, &err) != 0); /* after listening */
    CHECK(stat(sock, &sb) == 0 && S_ISSOCK(sb.st_mode) && (sb.st_mode & 0777) == 0660);

    CHECK(rpc_client_open(target, &co, &cl, &err) == 0);

    /* unary, with and without the namespace */
    struct rpc_call_opts ns = {.timeout_ms = 5000, .ns = "k8s.io"};
    CHECK(unary_str(cl, "/test.T/Echo", &ns, "hello", out, sizeof(out), &st) == 0);
    CHECK_MSG(strcmp(out, "k8s.io|hello") == 0, "%s", out);
    CHECK(st.code == RPC_OK);
    CHECK(unary_str(cl, "/test.T/Echo", NULL, "", out, sizeof(out), &st) == 0);
    CHECK_MSG(strcmp(out, "-|") == 0, "%s", out);
    /* other metadata passes too, and a namespace over the handler's buffer is its error */
    char longns[100];
    memset(longns, 'n', sizeof(longns) - 1);
    longns[sizeof(longns) - 1] = '\0';
    struct rpc_call_opts lo = {.ns = longns};
    CHECK(unary_str(cl, "/test.T/Echo", &lo, "x", out, sizeof(out), &st) != 0);
    CHECK(st.code == RPC_INVALID_ARGUMENT && strcmp(st.msg, "namespace too long") == 0);

    /* error code and message as the handler set them */
    CHECK(unary_str(cl, "/test.T/Fail", NULL, "k1", out, sizeof(out), &st) != 0);
    CHECK_MSG(st.code == RPC_NOT_FOUND && strcmp(st.msg, "snapshot \"k1\": not found") == 0, "%d %s", st.code,
              st.msg);
    CHECK(rpc_status_error(&st, &err) == -1);
    CHECK_MSG(strcmp(err.msg, "rpc error: code = NotFound desc = snapshot \"k1\": not found") == 0, "%s", err.msg);

    /* unknown method */
    CHECK(unary_str(cl, "/test.T/Nope", NULL, "x", out, sizeof(out), &st) != 0);
    CHECK_MSG(st.code == RPC_UNIMPLEMENTED && strstr(st.msg, "/test.T/Nope"), "%d %s", st.code, st.msg);

    /* a unary handler answering twice or never */
    CHECK(unary_str(cl, "/test.T/Twice", NULL, "", out, sizeof(out), &st) == 0);
    CHECK(strcmp(out, "a") == 0);
    CHECK(unary_str(cl, "/test.T/Silent", NULL, "", out, sizeof(out), &st) != 0);
    CHECK_MSG(st.code == RPC_INTERNAL, "%d %s", st.code, st.msg);

    /* over the server's bound: refused by gRPC before the handler */
    char *big = malloc(SERVER_MAX + 100);
    memset(big, 'b', SERVER_MAX + 99);
    big[SERVER_MAX + 99] = '\0';
    CHECK(unary_str(cl, "/test.T/Echo", NULL, big, out, sizeof(out), &st) != 0);
    CHECK_MSG(st.code == RPC_RESOURCE_EXHAUSTED, "%d %s", st.code, st.msg);
    /* just under it goes through, and the answer (just over it) is refused by the server */
    big[SERVER_MAX - 1] = '\0';
    uint8_t *resp = NULL;
    size_t n = 0;
    CHECK(rpc_unary(cl, "/test.T/Echo", NULL, big, strlen(big), &resp, &n, &st) != 0);
    CHECK_MSG(st.code == RPC_INTERNAL && strstr(st.msg, "bound"), "%d %s", st.code, st.msg);
    big[SERVER_MAX - 100] = '\0';
    CHECK(rpc_unary(cl, "/test.T/Echo", NULL, big, strlen(big), &resp, &n, &st) == 0);
    CHECK(n == SERVER_MAX - 100 + 2 && memcmp(resp, "-|bbb", 5) == 0);
    free(resp);
    free(big);

    /* server streams: several messages then OK; a failure after two */
    struct rpc_stream *s;
    uint8_t count = 5;
    CHECK(rpc_stream_open_server(cl, "/test.T/Stream", NULL, &count, 1, &s, &st) == 0);
    int got = 0, rc;
    while ((rc = rpc_stream_recv(s, &resp, &n, &st)) == 1) {
        snprintf(out, sizeof(out), "message %d", got);
        CHECK(n == strlen(out) && memcmp(resp, out, n) == 0);
        free(resp);
        got++;
    }
    CHECK(rc == 0 && got == 5 && st.code == RPC_OK);
    CHECK(rpc_stream_recv(s, &resp, &n, &st) == 0); /* stays over */
    CHECK(rpc_stream_finish(s, &st) == 0);
    count = 255;
    CHECK(rpc_stream_open_server(cl, "/test.T/Stream", NULL, &count, 1, &s, &st) == 0);
    got = 0;
    while ((rc = rpc_stream_recv(s, &resp, &n, &st)) == 1) {
        free(resp);
        got++;
    }
    CHECK(rc == -1 && got == 2);
    CHECK_MSG(st.code == RPC_FAILED_PRECONDITION && strcmp(st.msg, "stopped after 2") == 0, "%d %s", st.code,
              st.msg);
    CHECK(rpc_stream_finish(s, &st) == -1 && st.code == RPC_FAILED_PRECONDITION);
    /* the general stream API: open, send, close, read; and finish before the end cancels */
    count = 3;
    CHECK(rpc_stream_open(cl, "/test.T/Stream", NULL, &s, &st) == 0);
    CHECK(rpc_stream_send(s, &count, 1, &st) == 0);
    CHECK(rpc_stream_close_send(s, &st) == 0);
    CHECK(rpc_stream_recv(s, &resp, &n, &st) == 1);
    free(resp);
    CHECK(rpc_stream_finish(s, &st) == -1 && st.code == RPC_CANCELLED);

    /* protobuf-c on both ends */
    Containerd__Services__Snapshots__V1__UsageRequest ureq = CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_REQUEST__INIT;
    ProtobufCMessage *uresp = NULL;
    ureq.key = "default/1/abc";
    CHECK(rpc_unary_pb(cl, "/containerd.services.snapshots.v1.Snapshots/Usage", NULL, &ureq.base,
                       &containerd__services__snapshots__v1__usage_response__descriptor, &uresp, &st) == 0);
    CHECK(uresp && ((Containerd__Services__Snapshots__V1__UsageResponse *)uresp)->size == 13 &&
          ((Containerd__Services__Snapshots__V1__UsageResponse *)uresp)->inodes == 7);
    protobuf_c_message_free_unpacked(uresp, NULL);
    /* an answer that does not decode as what was asked for */
    CHECK(rpc_unary_pb(cl, "/test.T/Echo", NULL, &ureq.base,
                       &containerd__services__snapshots__v1__usage_response__descriptor, &uresp, &st) != 0);
    CHECK_MSG(st.code == RPC_INTERNAL && strstr(st.msg, "malformed answer"), "%d %s", st.code, st.msg);

    /* a slow call holds one worker only; a deadline ends a call in time */
    struct slow_arg sa = {.cl = cl};
    pthread_t t;
    pthread_create(&t, NULL, call_slow, &sa);
    usleep(100 * 1000);
    double t0 = now();
    CHECK(unary_str(cl, "/test.T/Echo", NULL, "quick", out, sizeof(out), &st) == 0);
    CHECK_MSG(now() - t0 < 0.5, "quick call took %.2fs behind a slow one", now() - t0);
    pthread_join(t, NULL);
    CHECK(sa.rc == 0 && sa.secs >= 0.9);
    struct rpc_call_opts quick = {.timeout_ms = 200};
    t0 = now();
    CHECK(unary_str(cl, "/test.T/Slow", &quick, "", out, sizeof(out), &st) != 0);
    CHECK_MSG(st.code == RPC_DEADLINE_EXCEEDED && now() - t0 < 0.9, "%d %s after %.2fs", st.code, st.msg,
              now() - t0);

    test_socket_claim(dir, sock);

    /* shutdown with a call in flight: the call completes, the socket goes */
    sa = (struct slow_arg){.cl = cl};
    pthread_create(&t, NULL, call_slow, &sa);
    usleep(200 * 1000);
    rpc_server_shutdown(srv, 5000);
    pthread_join(t, NULL);
    CHECK_MSG(sa.rc == 0, "in-flight call: %d %s", sa.st.code, sa.st.msg);
    CHECK(access(sock, F_OK) != 0);
    rpc_server_free(srv);

    /* nobody listening */
    CHECK(unary_str(cl, "/test.T/Echo", NULL, "x", out, sizeof(out), &st) != 0);
    CHECK_MSG(st.code == RPC_UNAVAILABLE, "%d %s", st.code, st.msg);
    rpc_client_close(cl);
    CHECK(rpc_client_open("/no/scheme", NULL, &cl, &err) != 0);

    rmdir(dir);
    {
        char p[300];
        snprintf(p, sizeof(p), "%s/file", dir);
        unlink(p);
        rmdir(dir);
    }
    return check_exit();
}
