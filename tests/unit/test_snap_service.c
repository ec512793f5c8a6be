/* test_snap_service.c -- the Snapshots service over a real socket and a real store
 *
 * The service with the real snapshotter on a temp root, called through
 * rpc_client with containerd's messages: the gRPC codes containerd maps
 * back to its errdefs (AlreadyExists, NotFound, FailedPrecondition,
 * InvalidArgument), hostile requests (bytes that are not protobuf, empty
 * and oversized names, too many or too large labels, too many filters),
 * Update field paths, and List answering in batches of at most 100 infos.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "rpc_client.h"
#include "rpc_server.h"
#include "service.h"
#include "snapshots_v1.pb-c.h"
#include "snapshotter.h"

#define SVC "/containerd.services.snapshots.v1.Snapshots/"

typedef Containerd__Services__Snapshots__V1__PrepareSnapshotRequest PrepareReq;
typedef Containerd__Services__Snapshots__V1__PrepareSnapshotResponse PrepareResp;
typedef Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry PrepareLabel;
typedef Containerd__Services__Snapshots__V1__Info Info;

static struct rpc_client *cl;
static const struct rpc_call_opts opts = {.timeout_ms = 10000, .ns = "default"};

/* Prepare key on parent with n labels of value_len bytes each; the code */
static int prepare(const char *key, const char *parent, size_t nlabels, size_t value_len, PrepareResp **out)
{
    PrepareReq q = CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
    PrepareLabel *entries = calloc(nlabels + 1, sizeof(*entries));
    PrepareLabel **ptrs = calloc(nlabels + 1, sizeof(*ptrs));
    char (*keys)[16] = calloc(nlabels + 1, sizeof(*keys));
    char *value = calloc(1, value_len + 1);
    ProtobufCMessage *resp = NULL;
    struct rpc_status st;

    memset(value, 'v', value_len);
    for (size_t i = 0; i < nlabels; i++) {
        containerd__services__snapshots__v1__prepare_snapshot_request__labels_entry__init(&entries[i]);
        snprintf(keys[i], sizeof(keys[i]), "l%zu", i);
        entries[i].key = keys[i];
        entries[i].value = value;
        ptrs[i] = &entries[i];
    }
    q.key = (char *)key;
    q.parent = (char *)parent;
    q.n_labels = nlabels;
    q.labels = ptrs;
    rpc_unary_pb(cl, SVC "Prepare", &opts, &q.base,
                 &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, &resp, &st);
    if (out)
        *out = (PrepareResp *)resp;
    else if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    free(entries), free(ptrs), free(keys), free(value);
    return st.code;
}

static int commit(const char *name, const char *key)
{
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest q =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__INIT;
    struct rpc_status st;

    q.name = (char *)name;
    q.key = (char *)key;
    rpc_unary_pb(cl, SVC "Commit", &opts, &q.base, &google__protobuf__empty__descriptor, NULL, &st);
    return st.code;
}

static int removal(const char *key)
{
    Containerd__Services__Snapshots__V1__RemoveSnapshotRequest q =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
    struct rpc_status st;

    q.key = (char *)key;
    rpc_unary_pb(cl, SVC "Remove", &opts, &q.base, &google__protobuf__empty__descriptor, NULL, &st);
    return st.code;
}

static Info *stat_info(const char *key, int *code)
{
    Containerd__Services__Snapshots__V1__StatSnapshotRequest q =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct rpc_status st;
    Info *info;

    q.key = (char *)key;
    rpc_unary_pb(cl, SVC "Stat", &opts, &q.base,
                 &containerd__services__snapshots__v1__stat_snapshot_response__descriptor, &resp, &st);
    *code = st.code;
    if (!resp)
        return NULL;
    info = ((Containerd__Services__Snapshots__V1__StatSnapshotResponse *)resp)->info;
    ((Containerd__Services__Snapshots__V1__StatSnapshotResponse *)resp)->info = NULL;
    protobuf_c_message_free_unpacked(resp, NULL);
    return info;
}

static const char *label_of(const Info *info, const char *key)
{
    for (size_t i = 0; i < info->n_labels; i++)
        if (strcmp(info->labels[i]->key, key) == 0)
            return info->labels[i]->value;
    return NULL;
}

/* Update name with one label and the given mask paths; the code */
static int update(const char *name, const char *lkey, const char *lvalue, char **paths, size_t npaths, Info **out)
{
    Containerd__Services__Snapshots__V1__UpdateSnapshotRequest q =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__UPDATE_SNAPSHOT_REQUEST__INIT;
    Info info = CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
    Containerd__Services__Snapshots__V1__Info__LabelsEntry e =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__LABELS_ENTRY__INIT;
    Containerd__Services__Snapshots__V1__Info__LabelsEntry *ep = &e;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    ProtobufCMessage *resp = NULL;
    struct rpc_status st;

    info.name = (char *)name;
    if (lkey) {
        e.key = (char *)lkey;
        e.value = (char *)lvalue;
        info.n_labels = 1;
        info.labels = &ep;
    }
    mask.n_paths = npaths;
    mask.paths = paths;
    q.info = &info;
    q.update_mask = &mask;
    rpc_unary_pb(cl, SVC "Update", &opts, &q.base,
                 &containerd__services__snapshots__v1__update_snapshot_response__descriptor, &resp, &st);
    if (resp) {
        *out = ((Containerd__Services__Snapshots__V1__UpdateSnapshotResponse *)resp)->info;
        ((Containerd__Services__Snapshots__V1__UpdateSnapshotResponse *)resp)->info = NULL;
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return st.code;
}

/* List with the filters: the number of answer messages, infos in *ninfos,
 * the largest batch in *largest; -code on failure */
static int list(char **filters, size_t nfilters, int *ninfos, int *largest)
{
    Containerd__Services__Snapshots__V1__ListSnapshotsRequest q =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_REQUEST__INIT;
    struct rpc_stream *s;
    struct rpc_status st;
    ProtobufCMessage *m;
    int nmsgs = 0, rc;

    *ninfos = *largest = 0;
    q.filters = filters;
    q.n_filters = nfilters;
    if (rpc_stream_open_server_pb(cl, SVC "List", &opts, &q.base, &s, &st) != 0)
        return -(int)st.code;
    while ((rc = rpc_stream_recv_pb(s, &containerd__services__snapshots__v1__list_snapshots_response__descriptor,
                                    &m, &st)) == 1) {
        int n = (int)((Containerd__Services__Snapshots__V1__ListSnapshotsResponse *)m)->n_info;
        *ninfos += n;
        if (n > *largest)
            *largest = n;
        nmsgs++;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    rpc_stream_finish(s, &st);
    return rc == 0 ? nmsgs : -(int)st.code;
}

static int raw_call(const char *method, const void *bytes, size_t n)
{
    uint8_t *resp = NULL;
    size_t rn = 0;
    struct rpc_status st;

    rpc_unary(cl, method, &opts, bytes, n, &resp, &rn, &st);
    free(resp);
    return st.code;
}

int main(void)
{
    char dir[] = "/tmp/test_snap_service.XXXXXX", root[300], sock[300], target[310], big[5000];
    struct snap_config cfg;
    struct snapshotter *sn = NULL;
    struct rpc_server *srv = NULL;
    struct error err = {{0}};
    PrepareResp *pr = NULL;
    Info *info;
    int code, ninfos, largest;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(root, sizeof(root), "%s/root", dir);
    snprintf(sock, sizeof(sock), "%s/s.sock", dir);
    snprintf(target, sizeof(target), "unix:%s", sock);
    snap_config_defaults(&cfg);
    if (snapshotter_open(&cfg, root, "/nonexistent/soci-mount", &sn, &err) != 0) {
        fprintf(stderr, "snapshotter_open: %s\n", err.msg);
        return 1;
    }
    CHECK(rpc_server_new(NULL, &srv, &err) == 0);
    CHECK(snap_service_register(srv, sn, &err) == 0);
    CHECK_MSG(rpc_server_listen_unix(srv, sock, &err) == 0, "%s", err.msg);
    CHECK(rpc_client_open(target, NULL, &cl, &err) == 0);

    /* Prepare answers one rw bind mount of the new snapshot's fs/ */
    CHECK(prepare("k1", "", 2, 10, &pr) == RPC_OK);
    CHECK(pr && pr->n_mounts == 1);
    if (pr && pr->n_mounts == 1) {
        CHECK_MSG(strcmp(pr->mounts[0]->type, "bind") == 0, "%s", pr->mounts[0]->type);
        CHECK(strncmp(pr->mounts[0]->source, root, strlen(root)) == 0);
        CHECK(pr->mounts[0]->n_options >= 1 && strcmp(pr->mounts[0]->options[0], "rw") == 0);
    }
    if (pr)
        protobuf_c_message_free_unpacked(&pr->base, NULL);

    /* the codes containerd maps back */
    CHECK(prepare("k1", "", 0, 0, NULL) == RPC_ALREADY_EXISTS);
    CHECK(prepare("k2", "no-such-parent", 0, 0, NULL) == RPC_NOT_FOUND);
    CHECK(commit("c1", "k1") == RPC_OK);
    CHECK(commit("c1", "k1") == RPC_NOT_FOUND);
    CHECK(prepare("k3", "c1", 0, 0, NULL) == RPC_OK);
    CHECK(removal("c1") == RPC_FAILED_PRECONDITION);
    CHECK(removal("nothing") == RPC_NOT_FOUND);
    info = stat_info("nothing", &code);
    CHECK(!info && code == RPC_NOT_FOUND);

    /* Stat: kind, parent, times, labels (Commit without labels keeps none) */
    info = stat_info("k3", &code);
    CHECK(info && code == RPC_OK);
    if (info) {
        CHECK(info->kind == CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__ACTIVE);
        CHECK(strcmp(info->parent, "c1") == 0);
        CHECK(info->created_at && info->created_at->seconds > 1700000000);
        protobuf_c_message_free_unpacked(&info->base, NULL);
    }

    /* Update: one label by its path, all labels, a path that is not allowed */
    char *one[] = {"labels.color"}, *bad[] = {"kind"}, *all[] = {"labels"};
    info = NULL;
    CHECK(update("c1", "color", "blue", one, 1, &info) == RPC_OK);
    CHECK(info && label_of(info, "color") && strcmp(label_of(info, "color"), "blue") == 0);
    if (info)
        protobuf_c_message_free_unpacked(&info->base, NULL);
    info = NULL;
    CHECK(update("c1", "color", "blue", bad, 1, &info) == RPC_INVALID_ARGUMENT);
    CHECK(update("c1", "shape", "round", all, 1, &info) == RPC_OK);
    CHECK(info && !label_of(info, "color") && label_of(info, "shape"));
    if (info)
        protobuf_c_message_free_unpacked(&info->base, NULL);
    info = NULL;
    CHECK(update("nothing", "a", "b", one, 1, &info) == RPC_NOT_FOUND);

    /* hostile requests */
    CHECK(raw_call(SVC "Prepare", "\xff\xff\xff\xff", 4) == RPC_INVALID_ARGUMENT);
    CHECK(raw_call(SVC "Stat", "\x12\x40" "short", 7) == RPC_INVALID_ARGUMENT); /* length past the end */
    CHECK(raw_call(SVC "Nope", "", 0) == RPC_UNIMPLEMENTED);
    CHECK(prepare("", "", 0, 0, NULL) == RPC_INVALID_ARGUMENT);
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(prepare(big, "", 0, 0, NULL) == RPC_INVALID_ARGUMENT);
    CHECK(prepare("k4", big, 0, 0, NULL) == RPC_INVALID_ARGUMENT);
    CHECK(prepare("k4", "", SNAP_SVC_MAX_LABELS + 1, 1, NULL) == RPC_INVALID_ARGUMENT);
    CHECK(prepare("k4", "", 1, SNAP_SVC_MAX_LABEL_BYTES, NULL) == RPC_INVALID_ARGUMENT);
    CHECK(prepare("k4", "", SNAP_SVC_MAX_LABELS, 100, NULL) == RPC_OK); /* at the bounds */
    info = stat_info("k4", &code);
    CHECK(info && info->n_labels == SNAP_SVC_MAX_LABELS);
    if (info)
        protobuf_c_message_free_unpacked(&info->base, NULL);
    char *filters[SNAP_SVC_MAX_FILTERS + 1];
    for (int i = 0; i <= SNAP_SVC_MAX_FILTERS; i++)
        filters[i] = "kind==active";
    CHECK(list(filters, SNAP_SVC_MAX_FILTERS + 1, &ninfos, &largest) == -RPC_INVALID_ARGUMENT);

    /* List: 250 more snapshots come in batches of at most 100 */
    for (int i = 0; i < 250; i++) {
        char key[32];
        snprintf(key, sizeof(key), "many-%03d", i);
        CHECK(prepare(key, "", 1, 8, NULL) == RPC_OK);
    }
    int nmsgs = list(NULL, 0, &ninfos, &largest);
    CHECK_MSG(nmsgs >= 3 && ninfos == 253 && largest <= 100, "%d messages, %d infos, largest %d", nmsgs, ninfos,
              largest);
    char *byname[] = {"name==c1"};
    CHECK(list(byname, 1, &ninfos, &largest) == 1 && ninfos == 1);

    /* Usage of a snapshot, Cleanup, then removal of all */
    Containerd__Services__Snapshots__V1__UsageRequest uq = CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_REQUEST__INIT;
    ProtobufCMessage *ur = NULL;
    struct rpc_status st;
    uq.key = "c1";
    CHECK(rpc_unary_pb(cl, SVC "Usage", &opts, &uq.base,
                       &containerd__services__snapshots__v1__usage_response__descriptor, &ur, &st) == 0);
    if (ur)
        protobuf_c_message_free_unpacked(ur, NULL);
    Containerd__Services__Snapshots__V1__CleanupRequest cq = CONTAINERD__SERVICES__SNAPSHOTS__V1__CLEANUP_REQUEST__INIT;
    CHECK(rpc_unary_pb(cl, SVC "Cleanup", &opts, &cq.base, &google__protobuf__empty__descriptor, NULL, &st) == 0);
    CHECK(removal("k3") == RPC_OK && removal("c1") == RPC_OK);

    rpc_client_close(cl);
    rpc_server_shutdown(srv, 1000);
    rpc_server_free(srv);
    snapshotter_close(sn, 1);
    snap_config_free(&cfg);
    {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
    return check_exit();
}
