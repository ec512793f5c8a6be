/* service.c -- containerd's Snapshots service over rpc_server (see service.h) */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gojson.h"
#include "log.h"
#include "snapshots_v1.pb-c.h"

typedef Containerd__Services__Snapshots__V1__PrepareSnapshotRequest PrepareReq;
typedef Containerd__Services__Snapshots__V1__MountsRequest MountsReq;
typedef Containerd__Services__Snapshots__V1__CommitSnapshotRequest CommitReq;
typedef Containerd__Services__Snapshots__V1__RemoveSnapshotRequest RemoveReq;
typedef Containerd__Services__Snapshots__V1__StatSnapshotRequest StatReq;
typedef Containerd__Services__Snapshots__V1__UpdateSnapshotRequest UpdateReq;
typedef Containerd__Services__Snapshots__V1__ListSnapshotsRequest ListReq;
typedef Containerd__Services__Snapshots__V1__UsageRequest UsageReq;
typedef Containerd__Services__Snapshots__V1__Info Info;
typedef Containerd__Services__Snapshots__V1__Info__LabelsEntry InfoLabel;
typedef Containerd__Types__Mount Mount;
typedef Google__Protobuf__Timestamp Timestamp;

/* ns: the call's containerd namespace ("" when the client sent none) */
struct req {
    struct rpc_call *call;
    struct snapshotter *sn;
    struct snapstore *store;
    const char *method;   /* short name, for messages */
    char ns[256];
    char failure[ERROR_MSG_MAX]; /* the snapshotter's message, for the log */
};

typedef enum rpc_code (*method_fn)(struct req *r, const ProtobufCMessage *msg);

struct method {
    const char *name;
    enum rpc_kind kind;
    const ProtobufCMessageDescriptor *req_desc;
    method_fn fn;
};

/* --- status and input checks --- */

static enum rpc_code code_of(enum snap_status s)
{
    switch (s) {
    case SNAP_OK: return RPC_OK;
    case SNAP_ERR_NOT_FOUND: return RPC_NOT_FOUND;
    case SNAP_ERR_ALREADY_EXISTS: return RPC_ALREADY_EXISTS;
    case SNAP_ERR_FAILED_PRECONDITION: return RPC_FAILED_PRECONDITION;
    case SNAP_ERR_INVALID_ARGUMENT: return RPC_INVALID_ARGUMENT;
    case SNAP_ERR_INTERNAL: break;
    }
    return RPC_UNKNOWN;
}

static enum rpc_code fail_snap(struct req *r, enum snap_status s, const struct error *err)
{
    snprintf(r->failure, sizeof(r->failure), "%s", err->msg);
    return rpc_call_fail(r->call, code_of(s), "%s", err->msg[0] ? err->msg : "snapshotter failed");
}

/* a name the request must carry (key, name) or may carry (parent) */
static int check_name(struct req *r, const char *what, const char *v, int required, enum rpc_code *code)
{
    size_t n = strlen(v);

    if (required && n == 0)
        *code = rpc_call_fail(r->call, RPC_INVALID_ARGUMENT, "%s: %s must not be empty", r->method, what);
    else if (n > SNAP_SVC_MAX_NAME)
        *code = rpc_call_fail(r->call, RPC_INVALID_ARGUMENT, "%s: %s of %zu bytes is over %d", r->method, what, n,
                              SNAP_SVC_MAX_NAME);
    else
        return 0;
    return -1;
}

/* labels borrowed from the request (the strings stay the message's) */
struct labels_in {
    struct snap_label v[SNAP_SVC_MAX_LABELS];
    struct snap_labels l;
};

/* The labels map of a request: n map entries, each a message of its own
 * type per request (PrepareSnapshotRequest.LabelsEntry, ...) but always
 * `string key = 1; string value = 2;`, read here through protobuf-c's
 * field descriptors.  A repeated key replaces the earlier value, as for
 * any protobuf map. */
static int labels_fill(struct req *r, struct labels_in *in, size_t n, ProtobufCMessage *const *entries,
                       enum rpc_code *code)
{
    in->l = (struct snap_labels){.v = in->v, .n = 0};
    if (n > SNAP_SVC_MAX_LABELS) {
        *code = rpc_call_fail(r->call, RPC_INVALID_ARGUMENT, "%s: %zu labels, at most %d", r->method, n,
                              SNAP_SVC_MAX_LABELS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const ProtobufCFieldDescriptor *f = entries[i]->descriptor->fields;
        char *key = *(char **)((char *)entries[i] + f[0].offset);
        char *value = *(char **)((char *)entries[i] + f[1].offset);
        size_t bytes = strlen(key) + strlen(value);
        size_t j;

        if (!key[0]) {
            *code = rpc_call_fail(r->call, RPC_INVALID_ARGUMENT, "%s: empty label key", r->method);
            return -1;
        }
        if (bytes > SNAP_SVC_MAX_LABEL_BYTES) {
            *code = rpc_call_fail(r->call, RPC_INVALID_ARGUMENT,
                                  "%s: label %.64s: key and value of %zu bytes are over %d", r->method, key, bytes,
                                  SNAP_SVC_MAX_LABEL_BYTES);
            return -1;
        }
        for (j = 0; j < in->l.n && strcmp(in->v[j].key, key) != 0; j++)
            ;
        in->v[j] = (struct snap_label){.key = key, .value = value};
        if (j == in->l.n)
            in->l.n++;
    }
    return 0;
}

/* --- answers --- */

/* a snap_mount as containerd.types.Mount; the strings stay m's */
static void mount_to_pb(const struct snap_mount *m, Mount *out)
{
    containerd__types__mount__init(out);
    out->type = (char *)m->type;
    out->source = m->source ? m->source : (char *)"";
    out->n_options = m->noptions;
    out->options = m->options;
}

enum mounts_answer { ANSWER_PREPARE, ANSWER_VIEW, ANSWER_MOUNTS };

/* Prepare, View and Mounts answer with one mount each, in three message
 * types of the same shape */
static enum rpc_code send_mounts(struct req *r, enum mounts_answer which, const struct snap_mount *m)
{
    Containerd__Services__Snapshots__V1__PrepareSnapshotResponse prepare =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_RESPONSE__INIT;
    Containerd__Services__Snapshots__V1__ViewSnapshotResponse view =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__VIEW_SNAPSHOT_RESPONSE__INIT;
    Containerd__Services__Snapshots__V1__MountsResponse mounts_resp =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_RESPONSE__INIT;
    Mount mount, *mounts[1] = {&mount};
    const ProtobufCMessage *resp;

    mount_to_pb(m, &mount);
    switch (which) {
    case ANSWER_PREPARE:
        prepare.n_mounts = 1, prepare.mounts = mounts, resp = &prepare.base;
        break;
    case ANSWER_VIEW:
        view.n_mounts = 1, view.mounts = mounts, resp = &view.base;
        break;
    default:
        mounts_resp.n_mounts = 1, mounts_resp.mounts = mounts, resp = &mounts_resp.base;
        break;
    }
    if (rpc_call_send_pb(r->call, resp) != 0)
        return RPC_CANCELLED;
    return RPC_OK;
}

static void timestamp_of(int64_t ns, Timestamp *ts)
{
    google__protobuf__timestamp__init(ts);
    ts->seconds = ns / 1000000000;
    ts->nanos = (int32_t)(ns % 1000000000);
    if (ts->nanos < 0) {
        ts->seconds--;
        ts->nanos += 1000000000;
    }
}

/* a snap_info as Info, borrowing its strings; entries and ptrs are the
 * caller's arrays of info->labels.n each (NULL when there are none) */
struct info_pb {
    Info info;
    Timestamp created, updated;
    InfoLabel *entries;
    InfoLabel **ptrs;
};

static int info_to_pb(const struct snap_info *in, struct info_pb *out)
{
    size_t n = in->labels.n;

    containerd__services__snapshots__v1__info__init(&out->info);
    out->entries = NULL;
    out->ptrs = NULL;
    if (n) {
        out->entries = calloc(n, sizeof(*out->entries));
        out->ptrs = calloc(n, sizeof(*out->ptrs));
        if (!out->entries || !out->ptrs) {
            free(out->entries);
            free(out->ptrs);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        containerd__services__snapshots__v1__info__labels_entry__init(&out->entries[i]);
        out->entries[i].key = in->labels.v[i].key;
        out->entries[i].value = in->labels.v[i].value;
        out->ptrs[i] = &out->entries[i];
    }
    out->info.name = in->name ? in->name : (char *)"";
    out->info.parent = in->parent ? in->parent : (char *)"";
    out->info.kind = (Containerd__Services__Snapshots__V1__Kind)in->kind;
    timestamp_of(in->created_ns, &out->created);
    timestamp_of(in->updated_ns, &out->updated);
    /* containerd declares both times non-nullable: always present */
    out->info.created_at = &out->created;
    out->info.updated_at = &out->updated;
    out->info.n_labels = n;
    out->info.labels = out->ptrs;
    return 0;
}

static void info_pb_free(struct info_pb *p)
{
    free(p->entries);
    free(p->ptrs);
}

/* Stat and Update answer with `Info info = 1` */
static enum rpc_code send_info(struct req *r, int is_update, const struct snap_info *info)
{
    Containerd__Services__Snapshots__V1__StatSnapshotResponse stat =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_RESPONSE__INIT;
    Containerd__Services__Snapshots__V1__UpdateSnapshotResponse update =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__UPDATE_SNAPSHOT_RESPONSE__INIT;
    struct info_pb pb;
    int rc;

    if (info_to_pb(info, &pb) != 0)
        return rpc_call_fail(r->call, RPC_RESOURCE_EXHAUSTED, "%s: out of memory", r->method);
    stat.info = update.info = &pb.info;
    rc = rpc_call_send_pb(r->call, is_update ? &update.base : &stat.base);
    info_pb_free(&pb);
    return rc == 0 ? RPC_OK : RPC_CANCELLED;
}

static enum rpc_code send_empty(struct req *r)
{
    /* google.protobuf.Empty is zero bytes */
    if (rpc_call_send(r->call, "", 0) != 0)
        return RPC_CANCELLED;
    return RPC_OK;
}

/* --- the methods --- */

/* Prepare and View: ViewSnapshotRequest has PrepareSnapshotRequest's
 * fields and numbers, so both decode as the latter */
static enum rpc_code create(struct req *r, enum snap_kind kind, const PrepareReq *q, enum mounts_answer which)
{
    struct labels_in labels;
    struct snap_mount mount;
    struct error err = {{0}};
    enum snap_status s;
    enum rpc_code code;

    if (check_name(r, "key", q->key, 1, &code) != 0 || check_name(r, "parent", q->parent, 0, &code) != 0 ||
        labels_fill(r, &labels, q->n_labels, (ProtobufCMessage *const *)q->labels, &code) != 0)
        return code;
    memset(&mount, 0, sizeof(mount));
    s = snapshotter_prepare(r->sn, r->ns, kind, q->key, q->parent, &labels.l, &mount, &err);
    if (s != SNAP_OK)
        return fail_snap(r, s, &err);
    code = send_mounts(r, which, &mount);
    snap_mount_free(&mount);
    return code;
}

static enum rpc_code do_prepare(struct req *r, const ProtobufCMessage *msg)
{
    return create(r, SNAP_KIND_ACTIVE, (const PrepareReq *)msg, ANSWER_PREPARE);
}

static enum rpc_code do_view(struct req *r, const ProtobufCMessage *msg)
{
    return create(r, SNAP_KIND_VIEW, (const PrepareReq *)msg, ANSWER_VIEW);
}

static enum rpc_code do_mounts(struct req *r, const ProtobufCMessage *msg)
{
    const MountsReq *q = (const MountsReq *)msg;
    struct snap_mount mount;
    struct error err = {{0}};
    enum snap_status s;
    enum rpc_code code;

    if (check_name(r, "key", q->key, 1, &code) != 0)
        return code;
    memset(&mount, 0, sizeof(mount));
    if ((s = snapstore_mounts(r->store, q->key, &mount, &err)) != SNAP_OK)
        return fail_snap(r, s, &err);
    code = send_mounts(r, ANSWER_MOUNTS, &mount);
    snap_mount_free(&mount);
    return code;
}

static enum rpc_code do_commit(struct req *r, const ProtobufCMessage *msg)
{
    const CommitReq *q = (const CommitReq *)msg;
    struct labels_in labels;
    struct error err = {{0}};
    enum snap_status s;
    enum rpc_code code;

    if (check_name(r, "name", q->name, 1, &code) != 0 || check_name(r, "key", q->key, 1, &code) != 0 ||
        labels_fill(r, &labels, q->n_labels, (ProtobufCMessage *const *)q->labels, &code) != 0)
        return code;
    if ((s = snapstore_commit(r->store, q->name, q->key, &labels.l, &err)) != SNAP_OK)
        return fail_snap(r, s, &err);
    return send_empty(r);
}

static enum rpc_code do_remove(struct req *r, const ProtobufCMessage *msg)
{
    const RemoveReq *q = (const RemoveReq *)msg;
    struct error err = {{0}};
    enum snap_status s;
    enum rpc_code code;

    if (check_name(r, "key", q->key, 1, &code) != 0)
        return code;
    if ((s = snapshotter_remove(r->sn, q->key, &err)) != SNAP_OK)
        return fail_snap(r, s, &err);
    return send_empty(r);
}

static enum rpc_code do_stat(struct req *r, const ProtobufCMessage *msg)
{
    const StatReq *q = (const StatReq *)msg;
    struct snap_info info;
    struct error err = {{0}};
    enum snap_status s;
    enum rpc_code code;

    if (check_name(r, "key", q->key, 1, &code) != 0)
        return code;
    memset(&info, 0, sizeof(info));
    if ((s = snapstore_stat(r->store, q->key, &info, &err)) != SNAP_OK)
        return fail_snap(r, s, &err);
    code = send_info(r, 0, &info);
    snap_info_free(&info);
    return code;
}

static enum rpc_code do_update(struct req *r, const ProtobufCMessage *msg)
{
    const UpdateReq *q = (const UpdateReq *)msg;
    const Info *in = q->info;
    size_t npaths = q->update_mask ? q->update_mask->n_paths : 0;
    struct labels_in labels;
    struct snap_info want, got;
    struct error err = {{0}};
    enum snap_status s;
    enum rpc_code code;

    if (!in)
        return rpc_call_fail(r->call, RPC_INVALID_ARGUMENT, "%s: no info", r->method);
    if (check_name(r, "name", in->name, 1, &code) != 0 ||
        labels_fill(r, &labels, in->n_labels, (ProtobufCMessage *const *)in->labels, &code) != 0)
        return code;
    if (npaths > SNAP_SVC_MAX_PATHS)
        return rpc_call_fail(r->call, RPC_INVALID_ARGUMENT, "%s: %zu update paths, at most %d", r->method, npaths,
                             SNAP_SVC_MAX_PATHS);
    for (size_t i = 0; i < npaths; i++)
        if (check_name(r, "update path", q->update_mask->paths[i], 1, &code) != 0)
            return code;
    memset(&want, 0, sizeof(want));
    memset(&got, 0, sizeof(got));
    want.name = in->name;
    want.parent = in->parent;
    want.kind = (enum snap_kind)in->kind;
    want.labels = labels.l;
    s = snapstore_update(r->store, &want, npaths ? (const char *const *)q->update_mask->paths : NULL, npaths, &got,
                         &err);
    if (s != SNAP_OK)
        return fail_snap(r, s, &err);
    code = send_info(r, 1, &got);
    snap_info_free(&got);
    return code;
}

/* List answers in batches like containerd's own service (at most 100
 * infos a message), also kept under BATCH_BYTES.  The batches are packed
 * while the store is walked and sent after, so a slow client never holds
 * the store.  A ListSnapshotsResponse is nothing but its infos, each
 * framed as field 1 (tag 0x0a, varint length, bytes). */
#define BATCH_INFOS 100
#define BATCH_BYTES ((size_t)1 << 20)

struct batch {
    uint8_t *buf;
    size_t n, cap;
    int ninfos;
};

struct list_walk {
    struct batch *v;
    size_t n, cap;
    int failed;
};

static int batch_reserve(struct batch *b, size_t more)
{
    uint8_t *grown;
    size_t cap = b->cap ? b->cap : 4096;

    if (b->n + more <= b->cap)
        return 0;
    while (cap < b->n + more)
        cap *= 2;
    if (!(grown = realloc(b->buf, cap)))
        return -1;
    b->buf = grown;
    b->cap = cap;
    return 0;
}

static struct batch *current_batch(struct list_walk *w, size_t more)
{
    struct batch *b = w->n ? &w->v[w->n - 1] : NULL;

    if (b && b->ninfos < BATCH_INFOS && b->n + more <= BATCH_BYTES)
        return b;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        struct batch *grown = realloc(w->v, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        w->v = grown;
        w->cap = cap;
    }
    b = &w->v[w->n++];
    memset(b, 0, sizeof(*b));
    return b;
}

static int list_one(const struct snap_info *info, void *arg)
{
    struct list_walk *w = arg;
    struct info_pb pb;
    struct batch *b;
    size_t n, more;

    if (info_to_pb(info, &pb) != 0)
        goto fail;
    n = protobuf_c_message_get_packed_size(&pb.info.base);
    more = 1 + 10 + n;
    if (!(b = current_batch(w, more)) || batch_reserve(b, more) != 0) {
        info_pb_free(&pb);
        goto fail;
    }
    b->buf[b->n++] = 0x0a;
    for (size_t v = n; ; v >>= 7) {
        b->buf[b->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    b->n += protobuf_c_message_pack(&pb.info.base, b->buf + b->n);
    b->ninfos++;
    info_pb_free(&pb);
    return 0;
fail:
    w->failed = 1;
    return 1;
}

static enum rpc_code do_list(struct req *r, const ProtobufCMessage *msg)
{
    const ListReq *q = (const ListReq *)msg;
    struct list_walk w = {0};
    struct error err = {{0}};
    enum snap_status s;
    enum rpc_code code = RPC_OK;

    if (q->n_filters > SNAP_SVC_MAX_FILTERS)
        return rpc_call_fail(r->call, RPC_INVALID_ARGUMENT, "%s: %zu filters, at most %d", r->method, q->n_filters,
                             SNAP_SVC_MAX_FILTERS);
    for (size_t i = 0; i < q->n_filters; i++)
        if (check_name(r, "filter", q->filters[i], 0, &code) != 0)
            return code;
    s = snapstore_walk(r->store, q->n_filters ? (const char *const *)q->filters : NULL, q->n_filters, list_one, &w,
                       &err);
    if (w.failed)
        code = rpc_call_fail(r->call, RPC_RESOURCE_EXHAUSTED, "%s: out of memory", r->method);
    else if (s != SNAP_OK)
        code = fail_snap(r, s, &err);
    for (size_t i = 0; i < w.n; i++) {
        if (code == RPC_OK && rpc_call_send(r->call, w.v[i].buf, w.v[i].n) != 0)
            code = RPC_CANCELLED;
        free(w.v[i].buf);
    }
    free(w.v);
    return code;
}

static enum rpc_code do_usage(struct req *r, const ProtobufCMessage *msg)
{
    const UsageReq *q = (const UsageReq *)msg;
    Containerd__Services__Snapshots__V1__UsageResponse resp = CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_RESPONSE__INIT;
    struct error err = {{0}};
    enum snap_status s;
    enum rpc_code code;

    if (check_name(r, "key", q->key, 1, &code) != 0)
        return code;
    if ((s = snapstore_usage(r->store, q->key, &resp.size, &resp.inodes, &err)) != SNAP_OK)
        return fail_snap(r, s, &err);
    if (rpc_call_send_pb(r->call, &resp.base) != 0)
        return RPC_CANCELLED;
    return RPC_OK;
}

static enum rpc_code do_cleanup(struct req *r, const ProtobufCMessage *msg)
{
    struct error err = {{0}};
    enum snap_status s;

    (void)msg;
    if ((s = snapshotter_cleanup(r->sn, &err)) != SNAP_OK)
        return fail_snap(r, s, &err);
    return send_empty(r);
}

static const struct method methods[] = {
    {"Prepare", RPC_UNARY, &containerd__services__snapshots__v1__prepare_snapshot_request__descriptor, do_prepare},
    {"View", RPC_UNARY, &containerd__services__snapshots__v1__prepare_snapshot_request__descriptor, do_view},
    {"Mounts", RPC_UNARY, &containerd__services__snapshots__v1__mounts_request__descriptor, do_mounts},
    {"Commit", RPC_UNARY, &containerd__services__snapshots__v1__commit_snapshot_request__descriptor, do_commit},
    {"Remove", RPC_UNARY, &containerd__services__snapshots__v1__remove_snapshot_request__descriptor, do_remove},
    {"Stat", RPC_UNARY, &containerd__services__snapshots__v1__stat_snapshot_request__descriptor, do_stat},
    {"Update", RPC_UNARY, &containerd__services__snapshots__v1__update_snapshot_request__descriptor, do_update},
    {"List", RPC_SERVER_STREAM, &containerd__services__snapshots__v1__list_snapshots_request__descriptor, do_list},
    {"Usage", RPC_UNARY, &containerd__services__snapshots__v1__usage_request__descriptor, do_usage},
    {"Cleanup", RPC_UNARY, &containerd__services__snapshots__v1__cleanup_request__descriptor, do_cleanup},
};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))
#define PATH_PREFIX "/" SNAP_SERVICE_NAME "/"

/* one log line a call: method, the request's key (or name) when it has
 * one, the code, and the failure's message */
static void log_call(const struct req *r, const ProtobufCMessage *msg, enum rpc_code code)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "key");
    struct gojson j;

    if (!f)
        f = protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "name");
    gojson_init(&j, 0);
    gojson_raw(&j, "\"method\":\"", 10);
    gojson_raw(&j, r->method, strlen(r->method));
    gojson_raw(&j, "\",\"code\":\"", 10);
    gojson_raw(&j, rpc_code_name(code), strlen(rpc_code_name(code)));
    gojson_raw(&j, "\"", 1);
    if (f && f->type == PROTOBUF_C_TYPE_STRING) {
        const char *key = *(char *const *)((const char *)msg + f->offset);
        gojson_raw(&j, ",\"key\":", 7);
        gojson_escape(&j, key, strnlen(key, 256));
    }
    if (code != RPC_OK && r->failure[0]) {
        gojson_raw(&j, ",\"error\":", 9);
        gojson_escape(&j, r->failure, strlen(r->failure));
    }
    log_event(code == RPC_UNKNOWN || code == RPC_RESOURCE_EXHAUSTED ? "warn" : "debug", "snapshots call",
              j.buf ? j.buf : "");
    gojson_free(&j);
}

/* every method comes here: find it by the call's path, decode the request,
 * read the namespace, run the method, log the outcome */
static enum rpc_code serve(struct rpc_call *call, const uint8_t *bytes, size_t nbytes, void *arg)
{
    const char *path = rpc_call_method(call);
    const struct method *m = NULL;
    struct req r = {.call = call, .sn = arg};
    ProtobufCMessage *msg;
    enum rpc_code code;

    for (size_t i = 0; i < NMETHODS; i++)
        if (strcmp(path + strlen(PATH_PREFIX), methods[i].name) == 0)
            m = &methods[i];
    if (!m)
        return rpc_call_fail(call, RPC_UNIMPLEMENTED, "unknown method %s", path);
    r.method = m->name;
    r.store = snapshotter_store(r.sn);
    if (rpc_call_metadata(call, "containerd-namespace", r.ns, sizeof(r.ns)) < 0)
        return rpc_call_fail(call, RPC_INVALID_ARGUMENT, "%s: containerd-namespace longer than %zu bytes", m->name,
                             sizeof(r.ns) - 1);
    msg = protobuf_c_message_unpack(m->req_desc, NULL, nbytes, bytes);
    if (!msg)
        return rpc_call_fail(call, RPC_INVALID_ARGUMENT, "%s: malformed request (%zu bytes)", m->name, nbytes);
    code = m->fn(&r, msg);
    log_call(&r, msg, code);
    protobuf_c_message_free_unpacked(msg, NULL);
    return code;
}

int snap_service_register(struct rpc_server *srv, struct snapshotter *sn, struct error *err)
{
    char path[128];

    for (size_t i = 0; i < NMETHODS; i++) {
        snprintf(path, sizeof(path), "%s%s", PATH_PREFIX, methods[i].name);
        if (rpc_server_add(srv, path, methods[i].kind, serve, sn, err) != 0)
            return -1;
    }
    return 0;
}
