/* ctrd_client.c -- containerd's leases, content, snapshots, diff and images (see ctrd_client.h) */
#include "ctrd_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "content_v1.pb-c.h"
#include "diff_v1.pb-c.h"
#include "images_v1.pb-c.h"
#include "leases_v1.pb-c.h"
#include "rpc_client.h"
#include "snapshots_v1.pb-c.h"
#include "version_v1.pb-c.h"

/* containerd's own clients give most calls no deadline; ours are bounded so
 * a wedged daemon fails the pull instead of hanging it.  Applying a layer
 * and a remote Prepare (which mounts it) take longest. */
#define CALL_TIMEOUT_MS (120 * 1000)
#define SLOW_CALL_TIMEOUT_MS (15 * 60 * 1000)
/* one WRITE message carries at most this much (containerd's default
 * receive bound is 16 MiB; 1 MiB keeps memory flat) */
#define WRITE_CHUNK ((size_t)1 << 20)

struct ctrd {
    struct rpc_client *rpc;
    char ns[256];
    char lease[128];
    char address[4200];
};

struct ctrd_writer {
    struct ctrd *c;
    struct rpc_stream *stream;
    char ref[512];
    char expected[80];
    int64_t total;
    int64_t offset;
};

struct ctrd_mounts {
    Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *resp;
};

/* every map<string,string> entry protoc-c generates has this layout; only
 * the descriptor differs */
struct kv_entry {
    ProtobufCMessage base;
    char *key;
    char *value;
};

static void call_opts(const struct ctrd *c, int64_t timeout_ms, struct rpc_md *md, struct rpc_call_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout_ms = timeout_ms;
    o->ns = c->ns;
    if (c->lease[0]) {
        md->key = "containerd-lease";
        md->value = c->lease;
        o->md = md;
        o->nmd = 1;
    }
}

static int fail(const struct rpc_status *st, struct error *err, const char *what)
{
    rpc_status_error(st, err);
    return error_prefix(err, "containerd: %s", what);
}

/* an array of map entries for kv, all pointing into kv (nothing copied) */
static struct kv_entry **map_entries(const ProtobufCMessageDescriptor *entry_desc, const struct ctrd_kv *kv,
                                     size_t n, struct kv_entry **storage)
{
    struct kv_entry **ptrs;
    struct kv_entry *e;
    size_t i;

    *storage = NULL;
    if (n == 0)
        return NULL;
    ptrs = calloc(n, sizeof(*ptrs));
    e = calloc(n, sizeof(*e));
    if (!ptrs || !e) {
        free(ptrs);
        free(e);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        protobuf_c_message_init(entry_desc, &e[i]);
        e[i].key = (char *)kv[i].key;
        e[i].value = (char *)kv[i].value;
        ptrs[i] = &e[i];
    }
    *storage = e;
    return ptrs;
}

int ctrd_open(const char *address, const char *ns, struct ctrd **out, struct error *err)
{
    struct ctrd *c;
    char target[4300];

    *out = NULL;
    RETURN_ERROR_IF(!address || !*address, err, "containerd address is empty");
    RETURN_ERROR_IF(strlen(address) >= 4096, err, "containerd address is too long");
    RETURN_ERROR_IF(!ns || !*ns || strlen(ns) >= 256, err, "namespace must be 1 to 255 characters");
    c = calloc(1, sizeof(*c));
    RETURN_ERROR_IF(!c, err, "out of memory");
    if (strncmp(address, "unix:", 5) == 0)
        address += 5;
    snprintf(c->address, sizeof(c->address), "%s", address);
    snprintf(target, sizeof(target), "unix:%s", address);
    snprintf(c->ns, sizeof(c->ns), "%s", ns);
    if (rpc_client_open(target, NULL, &c->rpc, err) != 0) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void ctrd_close(struct ctrd *c)
{
    if (!c)
        return;
    rpc_client_close(c->rpc);
    free(c);
}

int ctrd_ping(struct ctrd *c, struct error *err)
{
    Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
    ProtobufCMessage *resp = NULL;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;

    call_opts(c, 10 * 1000, &md, &o);
    if (rpc_unary_pb(c->rpc, "/containerd.services.version.v1.Version/Version", &o, &req.base,
                     &containerd__services__version__v1__version_response__descriptor, &resp, &st) != 0) {
        if (st.code == RPC_UNAVAILABLE)
            return error_set(err, "containerd is not reachable at %s (is it running? --address)", c->address);
        return fail(&st, err, "version");
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

int ctrd_lease_create(struct ctrd *c, const char *id, int64_t expire_secs, struct error *err)
{
    Containerd__Services__Leases__V1__CreateRequest req = CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct kv_entry *storage;
    struct ctrd_kv kv;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;
    char when[64];
    time_t t = time(NULL) + expire_secs;
    struct tm tm;
    int rc;

    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    kv.key = "containerd.io/gc.expire";
    kv.value = when;
    req.id = (char *)id;
    req.labels = (Containerd__Services__Leases__V1__CreateRequest__LabelsEntry **)map_entries(
        &containerd__services__leases__v1__create_request__labels_entry__descriptor, &kv, 1, &storage);
    RETURN_ERROR_IF(!req.labels, err, "out of memory");
    req.n_labels = 1;
    c->lease[0] = 0;
    call_opts(c, CALL_TIMEOUT_MS, &md, &o);
    rc = rpc_unary_pb(c->rpc, "/containerd.services.leases.v1.Leases/Create", &o, &req.base,
                      &containerd__services__leases__v1__create_response__descriptor, &resp, &st);
    free(req.labels);
    free(storage);
    if (rc != 0)
        return fail(&st, err, "creating a lease");
    protobuf_c_message_free_unpacked(resp, NULL);
    snprintf(c->lease, sizeof(c->lease), "%s", id);
    return 0;
}

int ctrd_lease_delete(struct ctrd *c, struct error *err)
{
    Containerd__Services__Leases__V1__DeleteRequest req = CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;
    char id[128];

    if (!c->lease[0])
        return 0;
    snprintf(id, sizeof(id), "%s", c->lease);
    c->lease[0] = 0; /* the delete itself must not run under the lease */
    req.id = id;
    req.sync = 0;
    call_opts(c, CALL_TIMEOUT_MS, &md, &o);
    if (rpc_unary_pb(c->rpc, "/containerd.services.leases.v1.Leases/Delete", &o, &req.base,
                     &google__protobuf__empty__descriptor, NULL, &st) != 0)
        return fail(&st, err, "deleting the lease");
    return 0;
}

/* a Get-style call whose NOT_FOUND means "absent", not a failure */
static int call_exists(struct ctrd *c, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *resp_desc, const char *what, int *exists, struct error *err)
{
    ProtobufCMessage *resp = NULL;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;

    *exists = 0;
    call_opts(c, CALL_TIMEOUT_MS, &md, &o);
    if (rpc_unary_pb(c->rpc, method, &o, req, resp_desc, &resp, &st) != 0) {
        if (st.code == RPC_NOT_FOUND)
            return 0;
        return fail(&st, err, what);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    *exists = 1;
    return 0;
}

int ctrd_content_exists(struct ctrd *c, const char *digest, int *exists, struct error *err)
{
    Containerd__Services__Content__V1__InfoRequest req = CONTAINERD__SERVICES__CONTENT__V1__INFO_REQUEST__INIT;

    req.digest = (char *)digest;
    return call_exists(c, "/containerd.services.content.v1.Content/Info", &req.base,
                       &containerd__services__content__v1__info_response__descriptor, "content info", exists, err);
}

int ctrd_content_set_labels(struct ctrd *c, const char *digest, const struct ctrd_kv *labels, size_t n,
                            struct error *err)
{
    Containerd__Services__Content__V1__UpdateRequest req = CONTAINERD__SERVICES__CONTENT__V1__UPDATE_REQUEST__INIT;
    Containerd__Services__Content__V1__Info info = CONTAINERD__SERVICES__CONTENT__V1__INFO__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    struct kv_entry *storage = NULL;
    char **paths;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;
    size_t i;
    int rc = -1;

    if (n == 0)
        return 0;
    paths = calloc(n, sizeof(*paths));
    RETURN_ERROR_IF(!paths, err, "out of memory");
    for (i = 0; i < n; i++) {
        if (asprintf(&paths[i], "labels.%s", labels[i].key) < 0) {
            paths[i] = NULL;
            error_set(err, "out of memory");
            goto out;
        }
    }
    info.digest = (char *)digest;
    info.labels = (Containerd__Services__Content__V1__Info__LabelsEntry **)map_entries(
        &containerd__services__content__v1__info__labels_entry__descriptor, labels, n, &storage);
    if (!info.labels) {
        error_set(err, "out of memory");
        goto out;
    }
    info.n_labels = n;
    mask.paths = paths;
    mask.n_paths = n;
    req.info = &info;
    req.update_mask = &mask;
    call_opts(c, CALL_TIMEOUT_MS, &md, &o);
    if (rpc_unary_pb(c->rpc, "/containerd.services.content.v1.Content/Update", &o, &req.base,
                     &containerd__services__content__v1__update_response__descriptor, NULL, &st) != 0) {
        fail(&st, err, "labelling content");
        goto out;
    }
    rc = 0;
out:
    for (i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(info.labels);
    free(storage);
    return rc;
}

/* one request on the ingest stream and its answer */
static int write_exchange(struct ctrd_writer *w, Containerd__Services__Content__V1__WriteContentRequest *req,
                          struct rpc_status *st)
{
    ProtobufCMessage *m = NULL;
    Containerd__Services__Content__V1__WriteContentResponse *resp;
    int r;

    if (rpc_stream_send_pb(w->stream, &req->base, st) != 0)
        return -1;
    r = rpc_stream_recv_pb(w->stream, &containerd__services__content__v1__write_content_response__descriptor, &m,
                           st);
    if (r != 1) {
        if (r == 0)
            rpc_status_set(st, RPC_INTERNAL, "the ingest stream ended early");
        return -1;
    }
    resp = (Containerd__Services__Content__V1__WriteContentResponse *)m;
    if (resp->offset < 0 || resp->offset > w->total) {
        protobuf_c_message_free_unpacked(m, NULL);
        rpc_status_set(st, RPC_INTERNAL, "the ingest reports offset %lld of %lld bytes", (long long)resp->offset,
                       (long long)w->total);
        return -1;
    }
    w->offset = resp->offset;
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

int ctrd_content_begin(struct ctrd *c, const char *ref, const char *expected, int64_t total,
                       struct ctrd_writer **out, int *have_it, struct error *err)
{
    Containerd__Services__Content__V1__WriteContentRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_REQUEST__INIT;
    struct ctrd_writer *w;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;

    *out = NULL;
    *have_it = 0;
    RETURN_ERROR_IF(total < 0, err, "content %s: negative size", expected);
    w = calloc(1, sizeof(*w));
    RETURN_ERROR_IF(!w, err, "out of memory");
    w->c = c;
    w->total = total;
    snprintf(w->ref, sizeof(w->ref), "%s", ref);
    snprintf(w->expected, sizeof(w->expected), "%s", expected);
    call_opts(c, SLOW_CALL_TIMEOUT_MS, &md, &o);
    if (rpc_stream_open(c->rpc, "/containerd.services.content.v1.Content/Write", &o, &w->stream, &st) != 0) {
        free(w);
        return fail(&st, err, "opening an ingest");
    }
    /* STAT first, as containerd's own writer does: it tells how much of
     * this ref is there already, or that the content itself is */
    req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__STAT;
    req.ref = w->ref;
    req.total = total;
    req.expected = w->expected;
    if (write_exchange(w, &req, &st) != 0) {
        struct rpc_status fin;
        rpc_stream_finish(w->stream, &fin);
        free(w);
        if (st.code == RPC_ALREADY_EXISTS) {
            *have_it = 1;
            return 0;
        }
        return fail(&st, err, "starting an ingest");
    }
    *out = w;
    return 0;
}

int64_t ctrd_content_offset(const struct ctrd_writer *w) { return w->offset; }

int ctrd_content_write(struct ctrd_writer *w, const uint8_t *data, size_t n, struct error *err)
{
    Containerd__Services__Content__V1__WriteContentRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_REQUEST__INIT;
    struct rpc_status st;

    while (n > 0) {
        size_t chunk = n < WRITE_CHUNK ? n : WRITE_CHUNK;
        int64_t at = w->offset;

        RETURN_ERROR_IF((int64_t)chunk > w->total - w->offset, err, "content %s: more than its %lld bytes",
                        w->expected, (long long)w->total);
        req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__WRITE;
        req.ref = w->ref;
        req.offset = at;
        req.data.data = (uint8_t *)data;
        req.data.len = chunk;
        if (write_exchange(w, &req, &st) != 0)
            return fail(&st, err, "writing content");
        RETURN_ERROR_IF(w->offset != at + (int64_t)chunk, err,
                        "containerd: writing content %s: offset %lld after writing up to %lld", w->expected,
                        (long long)w->offset, (long long)(at + (int64_t)chunk));
        data += chunk;
        n -= chunk;
    }
    return 0;
}

int ctrd_content_commit(struct ctrd_writer *w, const struct ctrd_kv *labels, size_t n, struct error *err)
{
    Containerd__Services__Content__V1__WriteContentRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_REQUEST__INIT;
    struct kv_entry *storage = NULL;
    struct rpc_status st, fin;
    int rc;

    req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT;
    req.ref = w->ref;
    req.total = w->total;
    req.expected = w->expected;
    req.offset = w->offset;
    if (n > 0) {
        req.labels = (Containerd__Services__Content__V1__WriteContentRequest__LabelsEntry **)map_entries(
            &containerd__services__content__v1__write_content_request__labels_entry__descriptor, labels, n,
            &storage);
        if (!req.labels) {
            ctrd_content_abort(w);
            return error_set(err, "out of memory");
        }
        req.n_labels = n;
    }
    rc = write_exchange(w, &req, &st);
    free(req.labels);
    free(storage);
    if (rc == 0) {
        rpc_stream_close_send(w->stream, &fin);
        rpc_stream_finish(w->stream, &fin);
        free(w);
        return 0;
    }
    rpc_stream_finish(w->stream, &fin);
    free(w);
    if (st.code == RPC_ALREADY_EXISTS)
        return 0; /* committed meanwhile by another pull: the same bytes */
    return fail(&st, err, "committing content");
}

void ctrd_content_abort(struct ctrd_writer *w)
{
    struct rpc_status st;

    if (!w)
        return;
    rpc_stream_finish(w->stream, &st);
    free(w);
}

int ctrd_snapshot_prepare(struct ctrd *c, const char *snapshotter, const char *key, const char *parent,
                          const struct ctrd_kv *labels, size_t n, struct ctrd_mounts **mounts, int *code,
                          struct error *err)
{
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
    struct kv_entry *storage = NULL;
    ProtobufCMessage *resp = NULL;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;
    int rc;

    *mounts = NULL;
    *code = RPC_OK;
    req.snapshotter = (char *)snapshotter;
    req.key = (char *)key;
    req.parent = (char *)(parent ? parent : "");
    if (n > 0) {
        req.labels = (Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry **)map_entries(
            &containerd__services__snapshots__v1__prepare_snapshot_request__labels_entry__descriptor, labels, n,
            &storage);
        RETURN_ERROR_IF(!req.labels, err, "out of memory");
        req.n_labels = n;
    }
    call_opts(c, SLOW_CALL_TIMEOUT_MS, &md, &o);
    rc = rpc_unary_pb(c->rpc, "/containerd.services.snapshots.v1.Snapshots/Prepare", &o, &req.base,
                      &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, &resp, &st);
    free(req.labels);
    free(storage);
    if (rc != 0) {
        *code = st.code;
        return fail(&st, err, "preparing a snapshot");
    }
    *mounts = calloc(1, sizeof(**mounts));
    if (!*mounts) {
        protobuf_c_message_free_unpacked(resp, NULL);
        return error_set(err, "out of memory");
    }
    (*mounts)->resp = (Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *)resp;
    return 0;
}

int ctrd_snapshot_exists(struct ctrd *c, const char *snapshotter, const char *key, int *exists,
                         struct error *err)
{
    Containerd__Services__Snapshots__V1__StatSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;

    *exists = 0;
    req.snapshotter = (char *)snapshotter;
    req.key = (char *)key;
    call_opts(c, CALL_TIMEOUT_MS, &md, &o);
    if (rpc_unary_pb(c->rpc, "/containerd.services.snapshots.v1.Snapshots/Stat", &o, &req.base,
                     &containerd__services__snapshots__v1__stat_snapshot_response__descriptor, &resp, &st) != 0) {
        if (st.code == RPC_NOT_FOUND)
            return 0;
        return fail(&st, err, "stat of a snapshot");
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    *exists = 1;
    return 0;
}

int ctrd_snapshot_commit(struct ctrd *c, const char *snapshotter, const char *name, const char *key,
                         const struct ctrd_kv *labels, size_t n, struct error *err)
{
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__INIT;
    struct kv_entry *storage = NULL;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;
    int rc;

    req.snapshotter = (char *)snapshotter;
    req.name = (char *)name;
    req.key = (char *)key;
    if (n > 0) {
        req.labels = (Containerd__Services__Snapshots__V1__CommitSnapshotRequest__LabelsEntry **)map_entries(
            &containerd__services__snapshots__v1__commit_snapshot_request__labels_entry__descriptor, labels, n,
            &storage);
        RETURN_ERROR_IF(!req.labels, err, "out of memory");
        req.n_labels = n;
    }
    call_opts(c, CALL_TIMEOUT_MS, &md, &o);
    rc = rpc_unary_pb(c->rpc, "/containerd.services.snapshots.v1.Snapshots/Commit", &o, &req.base,
                      &google__protobuf__empty__descriptor, NULL, &st);
    free(req.labels);
    free(storage);
    if (rc != 0)
        return fail(&st, err, "committing a snapshot");
    return 0;
}

int ctrd_snapshot_remove(struct ctrd *c, const char *snapshotter, const char *key, struct error *err)
{
    Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;

    req.snapshotter = (char *)snapshotter;
    req.key = (char *)key;
    call_opts(c, CALL_TIMEOUT_MS, &md, &o);
    if (rpc_unary_pb(c->rpc, "/containerd.services.snapshots.v1.Snapshots/Remove", &o, &req.base,
                     &google__protobuf__empty__descriptor, NULL, &st) != 0)
        return fail(&st, err, "removing a snapshot");
    return 0;
}

void ctrd_mounts_free(struct ctrd_mounts *m)
{
    if (!m)
        return;
    protobuf_c_message_free_unpacked(&m->resp->base, NULL);
    free(m);
}

int ctrd_diff_apply(struct ctrd *c, const char *media_type, const char *digest, int64_t size,
                    const struct ctrd_mounts *mounts, char *applied, size_t applied_len, struct error *err)
{
    Containerd__Services__Diff__V1__ApplyRequest req = CONTAINERD__SERVICES__DIFF__V1__APPLY_REQUEST__INIT;
    Containerd__Types__Descriptor desc = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    Containerd__Services__Diff__V1__ApplyResponse *resp;
    ProtobufCMessage *m = NULL;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;

    desc.media_type = (char *)media_type;
    desc.digest = (char *)digest;
    desc.size = size;
    req.diff = &desc;
    req.n_mounts = mounts->resp->n_mounts;
    req.mounts = mounts->resp->mounts;
    call_opts(c, SLOW_CALL_TIMEOUT_MS, &md, &o);
    if (rpc_unary_pb(c->rpc, "/containerd.services.diff.v1.Diff/Apply", &o, &req.base,
                     &containerd__services__diff__v1__apply_response__descriptor, &m, &st) != 0)
        return fail(&st, err, "applying a layer");
    resp = (Containerd__Services__Diff__V1__ApplyResponse *)m;
    if (!resp->applied || !resp->applied->digest || strlen(resp->applied->digest) >= applied_len) {
        protobuf_c_message_free_unpacked(m, NULL);
        return error_set(err, "containerd: applying layer %s: no digest in the answer", digest);
    }
    snprintf(applied, applied_len, "%s", resp->applied->digest);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

int ctrd_image_exists(struct ctrd *c, const char *name, int *exists, struct error *err)
{
    Containerd__Services__Images__V1__GetImageRequest req = CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_REQUEST__INIT;

    req.name = (char *)name;
    return call_exists(c, "/containerd.services.images.v1.Images/Get", &req.base,
                       &containerd__services__images__v1__get_image_response__descriptor, "image get", exists, err);
}

int ctrd_image_put(struct ctrd *c, const char *name, const char *media_type, const char *digest, int64_t size,
                   const struct ctrd_kv *labels, size_t n, struct error *err)
{
    Containerd__Services__Images__V1__Image img = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
    Containerd__Types__Descriptor target = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    struct kv_entry *storage = NULL;
    struct rpc_call_opts o;
    struct rpc_md md;
    struct rpc_status st;
    int rc;

    img.name = (char *)name;
    target.media_type = (char *)media_type;
    target.digest = (char *)digest;
    target.size = size;
    img.target = &target;
    if (n > 0) {
        img.labels = (Containerd__Services__Images__V1__Image__LabelsEntry **)map_entries(
            &containerd__services__images__v1__image__labels_entry__descriptor, labels, n, &storage);
        RETURN_ERROR_IF(!img.labels, err, "out of memory");
        img.n_labels = n;
    }
    call_opts(c, CALL_TIMEOUT_MS, &md, &o);
    {
        Containerd__Services__Images__V1__CreateImageRequest req =
            CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_REQUEST__INIT;
        req.image = &img;
        rc = rpc_unary_pb(c->rpc, "/containerd.services.images.v1.Images/Create", &o, &req.base,
                          &containerd__services__images__v1__create_image_response__descriptor, NULL, &st);
    }
    if (rc != 0 && st.code == RPC_ALREADY_EXISTS) {
        /* as containerd's client does: an existing name is pointed at the
         * new target (labels and target replaced) */
        Containerd__Services__Images__V1__UpdateImageRequest req =
            CONTAINERD__SERVICES__IMAGES__V1__UPDATE_IMAGE_REQUEST__INIT;
        Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
        char *paths[2] = {"target", "labels"};
        mask.paths = paths;
        mask.n_paths = 2;
        req.image = &img;
        req.update_mask = &mask;
        rc = rpc_unary_pb(c->rpc, "/containerd.services.images.v1.Images/Update", &o, &req.base,
                          &containerd__services__images__v1__update_image_response__descriptor, NULL, &st);
    }
    free(img.labels);
    free(storage);
    if (rc != 0)
        return fail(&st, err, "creating the image record");
    return 0;
}
