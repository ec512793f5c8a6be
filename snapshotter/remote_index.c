/* remote_index.c -- images, their SOCI indexes and layers, cached (see remote_index.h) */
#include "remote_index.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "digest.h"
#include "discover.h"
#include "oci.h"
#include "remote_image.h"
#include "sha256.h"
#include "soci_index.h"
#include "strutil.h"

#define MAX_ENTRIES 64
#define MAX_CLIENTS 32
#define MAX_CONFIG ((size_t)8 << 20)
#define TTL_LAZY_MS (600 * 1000)
#define TTL_NO_INDEX_MS (60 * 1000)
#define TTL_FAILED_MS (30 * 1000)

struct img_layer {
    char digest[80];
    char media_type[256];
    int64_t size;
    char ztoc_digest[80];
    char diff_id[80];
};

/* one image as the labels named it: the outcome of resolving it */
struct img_entry {
    char key[1400];
    int resolving;
    int64_t expires_ms;
    enum plan_result result;
    char msg[ERROR_MSG_MAX];
    char host[256], repo[512], manifest[80], index[80];
    size_t nlayers;
    struct img_layer *layers;
};

struct host_client {
    char host[256];
    struct reg_client *client;
};

struct remote_index {
    struct snap_config cfg;          /* the scalar settings; passthrough not kept */
    pthread_mutex_t mu;
    pthread_cond_t resolved;
    struct img_entry *entries[MAX_ENTRIES];
    struct host_client clients[MAX_CLIENTS];
    size_t nclients;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct remote_index *remote_index_new(const struct snap_config *cfg, struct error *err)
{
    struct remote_index *ri = calloc(1, sizeof(*ri));

    if (ri == NULL) {
        error_set(err, "out of memory");
        return NULL;
    }
    ri->cfg = *cfg;
    ri->cfg.passthrough = NULL;
    pthread_mutex_init(&ri->mu, NULL);
    pthread_cond_init(&ri->resolved, NULL);
    return ri;
}

static void entry_free(struct img_entry *e)
{
    if (e) {
        free(e->layers);
        free(e);
    }
}

void remote_index_free(struct remote_index *ri)
{
    size_t i;

    if (ri == NULL)
        return;
    for (i = 0; i < MAX_ENTRIES; i++)
        entry_free(ri->entries[i]);
    for (i = 0; i < ri->nclients; i++)
        reg_client_free(ri->clients[i].client);
    pthread_cond_destroy(&ri->resolved);
    pthread_mutex_destroy(&ri->mu);
    free(ri);
}

struct reg_client *remote_index_client(struct remote_index *ri, const char *host, struct error *err)
{
    struct reg_client *c = NULL;
    struct reg_opts o;
    size_t i;

    pthread_mutex_lock(&ri->mu);
    for (i = 0; i < ri->nclients; i++)
        if (strcmp(ri->clients[i].host, host) == 0) {
            c = ri->clients[i].client;
            goto out;
        }
    if (ri->nclients == MAX_CLIENTS) {
        error_set(err, "more than %d registries in use", MAX_CLIENTS);
        goto out;
    }
    /* [http] of config.toml; the password comes from docker's config.json */
    memset(&o, 0, sizeof(o));
    o.connect_timeout_ms = ri->cfg.dial_timeout_msec;
    o.max_retries = ri->cfg.max_retries > 0 ? ri->cfg.max_retries : -1;
    o.low_speed_secs = ri->cfg.response_header_timeout_msec > 0 ? (ri->cfg.response_header_timeout_msec + 999) / 1000 : 0;
    /* [resolver.host."H"]: H as its own insecure mirror */
    o.plain_http = snap_config_plain_http(&ri->cfg, host);
    c = reg_client_new(host, &o, err);
    if (c) {
        str_copy(ri->clients[ri->nclients].host, sizeof(ri->clients[0].host), host);
        ri->clients[ri->nclients++].client = c;
    }
out:
    pthread_mutex_unlock(&ri->mu);
    return c;
}

/* the image config's rootfs.diff_ids, one per layer, digest-checked */
static int load_diff_ids(struct reg_client *c, const char *repo, const struct oci_desc *cd, struct img_entry *e,
                         struct error *err)
{
    uint8_t *buf, raw[32];
    char got[80];
    json_t *doc = NULL, *ids;
    size_t i;
    int rc = -1;

    RETURN_ERROR_IF(cd->size < 2 || (size_t)cd->size > MAX_CONFIG, err, "config %s: size %lld out of range",
                    cd->digest, (long long)cd->size);
    buf = malloc((size_t)cd->size);
    RETURN_ERROR_IF(buf == NULL, err, "out of memory");
    /* exactly the descriptor's size, then its digest */
    if (reg_blob_get_range(c, repo, cd->digest, 0, (size_t)cd->size, buf, err) != 0) {
        error_prefix(err, "config %s", cd->digest);
        goto out;
    }
    sha256_buf(buf, (size_t)cd->size, raw);
    digest_format(raw, got);
    if (strcmp(got, cd->digest) != 0) {
        error_set(err, "config %s from the registry does not match its digest", cd->digest);
        goto out;
    }
    doc = json_loadb((const char *)buf, (size_t)cd->size, 0, NULL);
    ids = json_object_get(json_object_get(doc, "rootfs"), "diff_ids");
    if (!json_is_array(ids) || json_array_size(ids) != e->nlayers) {
        error_set(err, "config %s: rootfs.diff_ids does not list the %zu layers", cd->digest, e->nlayers);
        goto out;
    }
    for (i = 0; i < e->nlayers; i++) {
        const char *d = json_string_value(json_array_get(ids, i));
        if (d == NULL || !digest_valid(d)) {
            error_set(err, "config %s: diff_ids[%zu] is not a sha256 digest", cd->digest, i);
            goto out;
        }
        str_copy(e->layers[i].diff_id, sizeof(e->layers[i].diff_id), d);
    }
    rc = 0;
out:
    json_decref(doc);
    free(buf);
    return rc;
}

/* the image manifest the request names: by digest (CRI), or the reference
 * resolved for this host's platform (ctr-remote) */
static enum plan_result load_manifest(struct remote_index *ri, const struct layer_req *req, struct img_entry *e,
                                      struct reg_client **cp, struct resolved_set *set,
                                      const struct resolved_image **im, struct error *err)
{
    struct reg_ref ref;
    struct platform_sel sel;
    struct remote_target target;
    size_t i, k;

    if (reg_ref_parse(req->image_ref, &ref, err) != 0)
        return PLAN_FAILED;
    if (strcmp(ref.host, "docker.io") == 0)
        str_copy(ref.host, sizeof(ref.host), "registry-1.docker.io");
    str_copy(e->host, sizeof(e->host), ref.host);
    str_copy(e->repo, sizeof(e->repo), ref.repo);
    if ((*cp = remote_index_client(ri, ref.host, err)) == NULL)
        return PLAN_FAILED;
    if (req->manifest_digest[0])
        str_copy(ref.digest, sizeof(ref.digest), req->manifest_digest);
    memset(&sel, 0, sizeof(sel));
    if (remote_resolve(*cp, &ref, &sel, set, &target, err) != 0)
        return PLAN_FAILED;
    remote_target_release(&target);
    for (i = 0; i < set->nimages; i++)
        for (k = 0; k < set->images[i].nlayers; k++)
            if (strcmp(set->images[i].layers[k].digest, req->layer_digest) == 0) {
                *im = &set->images[i];
                return PLAN_LAZY;
            }
    resolved_set_release(set);
    error_set(err, "layer %s is not a layer of %s for this platform", req->layer_digest, req->image_ref);
    return PLAN_FAILED;
}

/* which SOCI index: "" and PLAN_NO_INDEX when none */
static enum plan_result pick_index(struct remote_index *ri, struct reg_client *c, const struct layer_req *req,
                                   const struct resolved_image *im, const char *repo, char *index,
                                   struct error *err)
{
    const char *ann;
    struct found_index found[8];
    size_t n = 0, i;

    if (req->index_digest[0]) {
        str_copy(index, 80, req->index_digest);
        return PLAN_LAZY;
    }
    ann = json_string_value(json_object_get(json_object_get(im->manifest, "annotations"), ANN_INDEX_DIGEST));
    if (ri->cfg.soci_v2_enable && ann && digest_valid(ann)) {
        str_copy(index, 80, ann);
        return PLAN_LAZY;
    }
    if (ri->cfg.soci_v1_enable) {
        if (soci_discover(c, repo, im->manifest_digest, NULL, 0, found, 8, &n, err) != 0)
            return PLAN_FAILED;
        for (i = 0; i < n; i++)
            if (found[i].version == 1) {
                str_copy(index, 80, found[i].digest);
                return PLAN_LAZY;
            }
    }
    error_set(err, "no SOCI index for %s (v2 annotation%s)", im->manifest_digest,
              ri->cfg.soci_v1_enable ? ", referrers, fallback tag" : "; v1 discovery is disabled");
    return PLAN_NO_INDEX;
}

/* the index's ztocs onto the layers; each must be in the registry */
static enum plan_result attach_ztocs(struct reg_client *c, const char *repo, const uint8_t *bytes, size_t len,
                                     const char *manifest, struct img_entry *e, struct error *err)
{
    struct soci_index ix;
    size_t i, k;
    enum plan_result r = PLAN_FAILED;

    if (soci_index_parse(bytes, len, &ix, err) != 0) {
        error_prefix(err, "SOCI index %s", e->index);
        return PLAN_FAILED;
    }
    if (ix.version == 1 && ix.subject_digest[0] && strcmp(ix.subject_digest, manifest) != 0) {
        error_set(err, "SOCI index %s is for manifest %s, not %s", e->index, ix.subject_digest, manifest);
        goto out;
    }
    for (k = 0; k < ix.nztocs; k++) {
        const struct soci_ztoc_ref *z = &ix.ztocs[k];
        int64_t size;
        int found;
        for (i = 0; i < e->nlayers; i++)
            if (strcmp(e->layers[i].digest, z->layer_digest) == 0)
                break;
        if (i == e->nlayers || e->layers[i].ztoc_digest[0])
            continue; /* a layer this image lacks (unused, as upstream), or listed twice: the first wins */
        if (reg_blob_head(c, repo, z->ztoc_digest, &size, &found, err) != 0)
            goto out;
        if (!found || size != z->ztoc_size) {
            error_set(err, "ztoc %s of layer %s: %s", z->ztoc_digest, z->layer_digest,
                      !found ? "not in the registry" : "size differs from the index");
            goto out;
        }
        str_copy(e->layers[i].ztoc_digest, sizeof(e->layers[i].ztoc_digest), z->ztoc_digest);
    }
    r = PLAN_LAZY;
out:
    soci_index_release(&ix);
    return r;
}

static enum plan_result resolve(struct remote_index *ri, const struct layer_req *req, struct img_entry *e,
                                struct error *err)
{
    struct reg_client *c;
    struct resolved_set set;
    const struct resolved_image *im = NULL;
    struct reg_manifest m;
    struct oci_desc cd;
    enum plan_result r;
    size_t i;
    int found;

    r = load_manifest(ri, req, e, &c, &set, &im, err);
    if (r != PLAN_LAZY)
        return r;
    r = PLAN_FAILED;
    str_copy(e->manifest, sizeof(e->manifest), im->manifest_digest);
    e->layers = calloc(im->nlayers + 1, sizeof(*e->layers));
    if (e->layers == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    e->nlayers = im->nlayers;
    for (i = 0; i < im->nlayers; i++) {
        str_copy(e->layers[i].digest, sizeof(e->layers[i].digest), im->layers[i].digest);
        str_copy(e->layers[i].media_type, sizeof(e->layers[i].media_type), im->layers[i].media_type);
        e->layers[i].size = im->layers[i].size;
    }
    r = pick_index(ri, c, req, im, e->repo, e->index, err);
    if (r != PLAN_LAZY)
        goto out;
    r = PLAN_FAILED;
    if (reg_manifest_get(c, e->repo, e->index, &m, &found, err) != 0) {
        error_prefix(err, "SOCI index %s", e->index);
        goto out;
    }
    if (!found) {
        error_set(err, "SOCI index %s is not in %s/%s", e->index, e->host, e->repo);
        r = req->index_digest[0] ? PLAN_REFUSED : PLAN_FAILED;
        goto out;
    }
    r = attach_ztocs(c, e->repo, m.body, m.len, e->manifest, e, err);
    reg_manifest_free(&m);
    if (r != PLAN_LAZY)
        goto out;
    r = PLAN_FAILED;
    if (oci_desc_parse(json_object_get(im->manifest, "config"), &cd, err) != 0) {
        error_prefix(err, "manifest %s config", e->manifest);
        goto out;
    }
    if (load_diff_ids(c, e->repo, &cd, e, err) != 0)
        goto out;
    r = PLAN_LAZY;
out:
    resolved_set_release(&set);
    return r;
}

/* an entry for key: present and fresh, or new (resolving) -- under ri->mu */
static struct img_entry *claim(struct remote_index *ri, const char *key, int *fresh)
{
    struct img_entry *e;
    size_t i, slot = MAX_ENTRIES;
    int64_t now = now_ms(), oldest = INT64_MAX;

    for (;;) {
        for (i = 0; i < MAX_ENTRIES; i++)
            if (ri->entries[i] && strcmp(ri->entries[i]->key, key) == 0)
                break;
        if (i == MAX_ENTRIES || !ri->entries[i]->resolving)
            break;
        pthread_cond_wait(&ri->resolved, &ri->mu);
    }
    if (i < MAX_ENTRIES && ri->entries[i]->expires_ms > now) {
        *fresh = 0;
        return ri->entries[i];
    }
    if (i < MAX_ENTRIES) {
        slot = i;
    } else {
        for (i = 0; i < MAX_ENTRIES; i++) {
            if (ri->entries[i] == NULL) {
                slot = i;
                break;
            }
            if (!ri->entries[i]->resolving && ri->entries[i]->expires_ms < oldest) {
                oldest = ri->entries[i]->expires_ms;
                slot = i;
            }
        }
        if (slot == MAX_ENTRIES)
            return NULL; /* every slot is being resolved */
    }
    entry_free(ri->entries[slot]);
    e = calloc(1, sizeof(*e));
    ri->entries[slot] = e;
    if (e) {
        str_copy(e->key, sizeof(e->key), key);
        e->resolving = 1;
    }
    *fresh = 1;
    return e;
}

/* the plan for req's layer from a resolved entry -- under ri->mu */
static enum plan_result plan_from(const struct img_entry *e, const struct layer_req *req, struct layer_plan *out,
                                  struct error *err)
{
    size_t i;

    if (e->result != PLAN_LAZY) {
        error_set(err, "%s", e->msg);
        return e->result;
    }
    for (i = 0; i < e->nlayers; i++)
        if (strcmp(e->layers[i].digest, req->layer_digest) == 0)
            break;
    if (i == e->nlayers) {
        error_set(err, "layer %s is not a layer of %s", req->layer_digest, e->manifest);
        return PLAN_FAILED;
    }
    memset(out, 0, sizeof(*out));
    str_copy(out->host, sizeof(out->host), e->host);
    str_copy(out->repo, sizeof(out->repo), e->repo);
    snprintf(out->source, sizeof(out->source), "%s/%s@%s", e->host, e->repo, e->manifest);
    str_copy(out->manifest_digest, sizeof(out->manifest_digest), e->manifest);
    str_copy(out->index_digest, sizeof(out->index_digest), e->index);
    str_copy(out->layer_digest, sizeof(out->layer_digest), e->layers[i].digest);
    str_copy(out->media_type, sizeof(out->media_type), e->layers[i].media_type);
    out->layer_size = e->layers[i].size;
    out->has_ztoc = e->layers[i].ztoc_digest[0] != '\0';
    str_copy(out->diff_id, sizeof(out->diff_id), e->layers[i].diff_id);
    return PLAN_LAZY;
}

enum plan_result remote_index_plan(struct remote_index *ri, const struct layer_req *req, struct layer_plan *out,
                                   struct error *err)
{
    char key[1400];
    struct img_entry *e;
    enum plan_result r;
    int fresh, attempt;

    /* the labels' own words are the key: a tag (ctr-remote) is resolved
     * again when the layer is not in what it meant before */
    snprintf(key, sizeof(key), "%s@%s#%s", req->image_ref, req->manifest_digest, req->index_digest);
    for (attempt = 0; attempt < 2; attempt++) {
        struct img_entry tmp;
        pthread_mutex_lock(&ri->mu);
        e = claim(ri, key, &fresh);
        if (e == NULL) {
            pthread_mutex_unlock(&ri->mu);
            error_set(err, "too many images being resolved at once");
            return PLAN_FAILED;
        }
        if (!fresh) {
            r = plan_from(e, req, out, err);
            if (r == PLAN_FAILED && e->result == PLAN_LAZY && attempt == 0 && !req->manifest_digest[0]) {
                e->expires_ms = 0; /* stale tag: resolve it again */
                pthread_mutex_unlock(&ri->mu);
                continue;
            }
            pthread_mutex_unlock(&ri->mu);
            return r;
        }
        pthread_mutex_unlock(&ri->mu);

        memset(&tmp, 0, sizeof(tmp));
        tmp.result = resolve(ri, req, &tmp, err);
        if (tmp.result != PLAN_LAZY)
            str_copy(tmp.msg, sizeof(tmp.msg), err->msg);

        pthread_mutex_lock(&ri->mu);
        e->result = tmp.result;
        memcpy(e->msg, tmp.msg, sizeof(e->msg));
        memcpy(e->host, tmp.host, sizeof(e->host));
        memcpy(e->repo, tmp.repo, sizeof(e->repo));
        memcpy(e->manifest, tmp.manifest, sizeof(e->manifest));
        memcpy(e->index, tmp.index, sizeof(e->index));
        e->layers = tmp.layers;
        e->nlayers = tmp.nlayers;
        e->expires_ms = now_ms() + (tmp.result == PLAN_LAZY       ? TTL_LAZY_MS
                                    : tmp.result == PLAN_NO_INDEX ? TTL_NO_INDEX_MS
                                                                  : TTL_FAILED_MS);
        e->resolving = 0;
        pthread_cond_broadcast(&ri->resolved);
        r = plan_from(e, req, out, err);
        pthread_mutex_unlock(&ri->mu);
        return r;
    }
    return PLAN_FAILED;
}
