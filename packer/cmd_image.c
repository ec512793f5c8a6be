/* cmd_image.c -- soci image rpull: pull an image into containerd, lazily where indexed
 *
 * Upstream's `soci image rpull` is containerd's pull with the remote
 * snapshotter labels on every layer's Prepare.  Here, under a lease:
 *
 *   1. resolve REF in the registry (an index by platform) and write the
 *      target document, the image manifest and its config into containerd's
 *      content store (Content.Write), labelled so that containerd's garbage
 *      collector sees the manifest -> config/layers -> snapshot references;
 *   2. for each layer, in order, Prepare the snapshot of its chain ID through
 *      the snapshotter with the image and layer labels.  A remote snapshotter
 *      answers AlreadyExists for a layer it mounted lazily (or unpacked
 *      itself); any other layer is fetched into the content store, applied by
 *      containerd's diff service, checked against the config's diff_id and
 *      committed;
 *   3. create the image record, last, so an interrupted pull leaves no image;
 *      then drop the lease.
 *
 * A `fetching sha256:<12 hex>... <mediaType>` line is printed for every
 * document and layer this command downloads, so what was not pulled (the
 * lazily mounted layers) is visible.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "ctrd_client.h"
#include "image_resolve.h"
#include "oci.h"
#include "reg_cli.h"
#include "registry.h"
#include "remote_image.h"
#include "sha256.h"
#include "soci_index.h"

#define MAX_LAYERS 1000            /* as many as the index builder accepts */
#define LEASE_EXPIRE_SECS (60 * 60) /* a killed pull's leftovers go after an hour */
/* containerd bounds a label's key plus value to 4096 bytes */
#define LABEL_MAX 4096

#define LABEL_SNAPSHOT_REF "containerd.io/snapshot.ref"
#define LABEL_CRI_IMAGE_REF "containerd.io/snapshot/cri.image-ref"
#define LABEL_CRI_MANIFEST "containerd.io/snapshot/cri.manifest-digest"
#define LABEL_CRI_LAYER "containerd.io/snapshot/cri.layer-digest"
#define LABEL_CRI_LAYERS "containerd.io/snapshot/cri.image-layers"
#define LABEL_SOCI_INDEX "containerd.io/snapshot/remote/soci.index.digest"
#define LABEL_SOCI_SIZE "containerd.io/snapshot/remote/soci.size"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: soci image rpull [--address SOCK] [--namespace NS] [--snapshotter NAME]\n"
               "                        [--soci-index-digest D] [--platform P] [--plain-http] [--insecure]\n"
               "                        [--user U[:P]] [--password-stdin] REGISTRY/REPO[:TAG|@DIGEST]\n"
               "\n"
               "Pull an image into containerd, letting the snapshotter (default soci) mount indexed\n"
               "layers lazily; prints a `fetching` line for everything it downloads itself.\n"
               "  --address SOCK      containerd's socket (default $CONTAINERD_ADDRESS or %s)\n"
               "  --namespace NS      containerd namespace (default $CONTAINERD_NAMESPACE or default)\n"
               "  --snapshotter NAME  the snapshotter to unpack with (default soci)\n"
               "  --soci-index-digest D  use this SOCI index instead of discovering one\n"
               "  --platform P        os/arch[/variant] of a multi-platform image (default: this host)\n",
               CTRD_DEFAULT_ADDRESS);
}

struct pull {
    struct reg_client *reg;
    struct reg_ref ref;
    struct ctrd *ctrd;
    const char *snapshotter;
    const char *index_digest;  /* --soci-index-digest or NULL */
    char source_label[600];    /* containerd.io/distribution.source.<host> */
    int fetched_layers;
    int lazy_layers;    /* answered AlreadyExists by the snapshotter: mounted lazily */
    int present_layers; /* committed by an earlier pull */
};

static void say_fetching(const char *digest, const char *media_type)
{
    const char *hex = strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
    printf("fetching sha256:%.12s... %s\n", hex, media_type);
    fflush(stdout);
}

/* bytes we already hold into the content store (documents) */
static int store_bytes(struct pull *p, const char *kind, const char *digest, const uint8_t *bytes, size_t len,
                       const struct ctrd_kv *labels, size_t nlabels, struct error *err)
{
    struct ctrd_writer *w;
    char ref[256];
    int have;

    snprintf(ref, sizeof(ref), "%s-%s", kind, digest);
    if (ctrd_content_begin(p->ctrd, ref, digest, (int64_t)len, &w, &have, err) != 0)
        return -1;
    if (have)
        return ctrd_content_set_labels(p->ctrd, digest, labels, nlabels, err);
    if (ctrd_content_offset(w) != 0 && ctrd_content_offset(w) != (int64_t)len) {
        /* an earlier pull left part of it: send the rest */
        int64_t off = ctrd_content_offset(w);
        if (ctrd_content_write(w, bytes + off, len - (size_t)off, err) != 0)
            return -1;
    } else if (ctrd_content_offset(w) == 0 && ctrd_content_write(w, bytes, len, err) != 0) {
        return -1;
    }
    return ctrd_content_commit(w, labels, nlabels, err);
}

struct blob_sink {
    struct ctrd_writer *w;
    int64_t skip;   /* bytes containerd already holds from an earlier try */
};

static int sink_to_content(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    struct blob_sink *s = ctx;

    if (interrupted)
        return error_set(err, "interrupted");
    if (s->skip > 0) {
        size_t drop = (int64_t)n < s->skip ? n : (size_t)s->skip;
        s->skip -= (int64_t)drop;
        data += drop;
        n -= drop;
    }
    return n ? ctrd_content_write(s->w, data, n, err) : 0;
}

/* a layer blob from the registry into the content store, verified by
 * containerd at commit (size and digest) */
static int store_layer(struct pull *p, const struct oci_desc *d, struct error *err)
{
    struct ctrd_kv label = {p->source_label, p->ref.repo};
    struct blob_sink sink = {NULL, 0};
    char ref[256];
    int have;

    snprintf(ref, sizeof(ref), "layer-%s", d->digest);
    if (ctrd_content_begin(p->ctrd, ref, d->digest, d->size, &sink.w, &have, err) != 0)
        return -1;
    say_fetching(d->digest, d->media_type);
    if (have)
        return 0;
    /* the registry stream starts at 0; what containerd already has of an
     * interrupted earlier try is skipped on our side */
    sink.skip = ctrd_content_offset(sink.w);
    if (reg_blob_get(p->reg, p->ref.repo, d->digest, sink_to_content, &sink, err) != 0) {
        ctrd_content_abort(sink.w);
        return error_prefix(err, "fetching layer %s", d->digest);
    }
    return ctrd_content_commit(sink.w, &label, 1, err);
}

struct small_blob {
    uint8_t *buf;
    size_t len, cap;
};

static int sink_to_buf(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    struct small_blob *b = ctx;

    RETURN_ERROR_IF(n > b->cap - b->len, err, "more bytes than its descriptor's size");
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    return 0;
}

/* a document-sized blob (the config) into memory, its size and digest checked */
static int fetch_small(struct pull *p, const struct oci_desc *d, uint8_t **out, size_t *len, struct error *err)
{
    struct small_blob b = {NULL, 0, 0};
    uint8_t sum[32];
    char hex[72];
    int k;

    RETURN_ERROR_IF(d->size < 0 || (uint64_t)d->size > REG_MAX_MANIFEST, err, "%s: size %lld out of bounds",
                    d->digest, (long long)d->size);
    b.cap = (size_t)d->size;
    b.buf = malloc(b.cap ? b.cap : 1);
    RETURN_ERROR_IF(!b.buf, err, "out of memory");
    if (reg_blob_get(p->reg, p->ref.repo, d->digest, sink_to_buf, &b, err) != 0) {
        free(b.buf);
        return error_prefix(err, "fetching %s", d->digest);
    }
    sha256_buf(b.buf, b.len, sum);
    for (k = 0; k < 32; k++)
        sprintf(hex + 2 * k, "%02x", sum[k]);
    if (b.len != b.cap || strcmp(hex, d->digest + 7) != 0) {
        free(b.buf);
        return error_set(err, "blob %s: the registry sent other bytes (%zu bytes, sha256:%s)", d->digest, b.len,
                         hex);
    }
    *out = b.buf;
    *len = b.len;
    return 0;
}

/* chain IDs as the OCI image spec defines them: ChainID(L0) = DiffID(L0),
 * ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)) */
static int chain_ids(json_t *diff_ids, size_t n, char (*chain)[80], struct error *err)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const char *d = json_string_value(json_array_get(diff_ids, i));
        RETURN_ERROR_IF(!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71, err,
                        "image config: rootfs.diff_ids[%zu] is not a sha256 digest", i);
        if (i == 0) {
            snprintf(chain[0], sizeof(chain[0]), "%s", d);
        } else {
            char buf[200];
            uint8_t sum[32];
            int k;
            snprintf(buf, sizeof(buf), "%s %s", chain[i - 1], d);
            sha256_buf((const uint8_t *)buf, strlen(buf), sum);
            strcpy(chain[i], "sha256:");
            for (k = 0; k < 32; k++)
                sprintf(chain[i] + 7 + 2 * k, "%02x", sum[k]);
        }
    }
    return 0;
}

/* the image's layer digests, comma separated, as many as fit one label
 * (CRI does the same) */
static void layers_label(const struct resolved_image *img, char *out, size_t cap)
{
    size_t i, used = 0, room = LABEL_MAX - strlen(LABEL_CRI_LAYERS) - 1;

    if (room > cap)
        room = cap;
    out[0] = 0;
    for (i = 0; i < img->nlayers; i++) {
        size_t need = strlen(img->layers[i].digest) + (used ? 1 : 0);
        if (used + need >= room)
            break;
        used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? "," : "", img->layers[i].digest);
    }
}

/* one layer: AlreadyExists from the snapshotter, or fetch + apply + commit */
static int unpack_layer(struct pull *p, const struct resolved_image *img, size_t i, char (*chain)[80],
                        json_t *diff_ids, const char *layers, struct error *err)
{
    const struct oci_desc *d = &img->layers[i];
    struct ctrd_mounts *mounts = NULL;
    struct ctrd_kv labels[8];
    struct timespec ts;
    char key[200], size[32], applied[128];
    size_t n = 0;
    int exists, code;

    if (ctrd_snapshot_exists(p->ctrd, p->snapshotter, chain[i], &exists, err) != 0)
        return -1;
    if (exists) {
        p->present_layers++; /* there from an earlier pull: nothing to fetch */
        return 0;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(key, sizeof(key), "extract-%lld%09ld-%d %s", (long long)ts.tv_sec, ts.tv_nsec, (int)getpid(),
             chain[i]);
    snprintf(size, sizeof(size), "%lld", (long long)d->size);
    labels[n++] = (struct ctrd_kv){LABEL_SNAPSHOT_REF, chain[i]};
    labels[n++] = (struct ctrd_kv){LABEL_CRI_IMAGE_REF, NULL};
    labels[n++] = (struct ctrd_kv){LABEL_CRI_MANIFEST, img->manifest_digest};
    labels[n++] = (struct ctrd_kv){LABEL_CRI_LAYER, d->digest};
    labels[n++] = (struct ctrd_kv){LABEL_CRI_LAYERS, layers};
    labels[n++] = (struct ctrd_kv){LABEL_SOCI_SIZE, size};
    if (p->index_digest)
        labels[n++] = (struct ctrd_kv){LABEL_SOCI_INDEX, p->index_digest};
    {
        char image_ref[1200];
        snprintf(image_ref, sizeof(image_ref), "%s/%s%s%s", p->ref.host, p->ref.repo,
                 p->ref.digest[0] ? "@" : ":", p->ref.digest[0] ? p->ref.digest : p->ref.tag);
        labels[1].value = image_ref;
        if (ctrd_snapshot_prepare(p->ctrd, p->snapshotter, key, i ? chain[i - 1] : "", labels, n, &mounts, &code,
                                  err) != 0) {
            if (code == 6 /* AlreadyExists: the snapshotter has it */) {
                p->lazy_layers++;
                return 0;
            }
            return error_prefix(err, "layer %zu (%s)", i + 1, d->digest);
        }
    }
    if (store_layer(p, d, err) != 0)
        goto fail;
    if (ctrd_diff_apply(p->ctrd, d->media_type, d->digest, d->size, mounts, applied, sizeof(applied), err) != 0)
        goto fail;
    if (strcmp(applied, json_string_value(json_array_get(diff_ids, i))) != 0) {
        error_set(err, "layer %s unpacks to %s, but the image config says %s", d->digest, applied,
                  json_string_value(json_array_get(diff_ids, i)));
        goto fail;
    }
    if (ctrd_snapshot_commit(p->ctrd, p->snapshotter, chain[i], key, NULL, 0, err) != 0)
        goto fail;
    ctrd_mounts_free(mounts);
    p->fetched_layers++;
    return 0;
fail:
    {
        struct error ignore;
        ctrd_snapshot_remove(p->ctrd, p->snapshotter, key, &ignore);
    }
    ctrd_mounts_free(mounts);
    return -1;
}

/* --soci-index-digest must name a SOCI index in the image's repository */
static int check_index(struct pull *p, struct error *err)
{
    struct reg_manifest m;
    struct soci_index ix;
    int found;

    RETURN_ERROR_IF(strncmp(p->index_digest, "sha256:", 7) != 0 || strlen(p->index_digest) != 71, err,
                    "--soci-index-digest %s: not a sha256 digest", p->index_digest);
    if (reg_manifest_get(p->reg, p->ref.repo, p->index_digest, &m, &found, err) != 0)
        return error_prefix(err, "--soci-index-digest %s", p->index_digest);
    RETURN_ERROR_IF(!found, err, "--soci-index-digest %s: no such manifest in %s/%s", p->index_digest,
                    p->ref.host, p->ref.repo);
    if (soci_index_parse(m.body, m.len, &ix, err) != 0) {
        reg_manifest_free(&m);
        return error_prefix(err, "--soci-index-digest %s is not a SOCI index", p->index_digest);
    }
    soci_index_release(&ix);
    reg_manifest_free(&m);
    return 0;
}

static int pull_image(struct pull *p, const struct platform_sel *sel, struct error *err)
{
    struct resolved_set set;
    struct remote_target target;
    struct resolved_image *img;
    struct reg_manifest cfg = {0};
    json_t *manifest_cfg, *config = NULL, *diff_ids;
    struct oci_desc cfg_desc;
    char (*chain)[80] = NULL;
    char *layers = NULL;
    char gc_key[64][80];
    struct ctrd_kv kv[MAX_LAYERS + 2];
    char snap_label[128], image_name[1200];
    size_t i, n, nkv;
    int rc = -1;

    if (remote_resolve(p->reg, &p->ref, sel, &set, &target, err) != 0)
        return -1;
    img = &set.images[0];
    if (set.nimages != 1) {
        error_set(err, "%zu platform images match; pick one with --platform", set.nimages);
        goto out;
    }
    if (img->nlayers > MAX_LAYERS) {
        error_set(err, "image has %zu layers, more than %d", img->nlayers, MAX_LAYERS);
        goto out;
    }
    manifest_cfg = json_object_get(img->manifest, "config");
    if (!manifest_cfg || oci_desc_parse(manifest_cfg, &cfg_desc, err) != 0) {
        error_prefix(err, "image manifest %s: config", img->manifest_digest);
        goto out;
    }
    /* the config: its diff_ids give the chain IDs the snapshots are named by */
    say_fetching(cfg_desc.digest, cfg_desc.media_type[0] ? cfg_desc.media_type : "application/octet-stream");
    if (fetch_small(p, &cfg_desc, &cfg.body, &cfg.len, err) != 0)
        goto out;
    {
        json_error_t je;
        config = json_loadb((const char *)cfg.body, cfg.len, 0, &je);
    }
    diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    if (!json_is_array(diff_ids) || json_array_size(diff_ids) != img->nlayers) {
        error_set(err, "image config %s: rootfs.diff_ids does not match the manifest's %zu layers", cfg_desc.digest,
                  img->nlayers);
        goto out;
    }
    n = img->nlayers;
    chain = calloc(n ? n : 1, sizeof(*chain));
    layers = malloc(LABEL_MAX);
    if (!chain || !layers) {
        error_set(err, "out of memory");
        goto out;
    }
    if (chain_ids(diff_ids, n, chain, err) != 0)
        goto out;
    layers_label(img, layers, LABEL_MAX);

    /* content, children's references first in the labels: config (holding
     * the top snapshot), manifest (config + layers), target index */
    snprintf(snap_label, sizeof(snap_label), "containerd.io/gc.ref.snapshot.%s", p->snapshotter);
    nkv = 0;
    kv[nkv++] = (struct ctrd_kv){p->source_label, p->ref.repo};
    if (n)
        kv[nkv++] = (struct ctrd_kv){snap_label, chain[n - 1]};
    if (store_bytes(p, "config", cfg_desc.digest, cfg.body, cfg.len, kv, nkv, err) != 0)
        goto out;
    {
        char (*keys)[64] = calloc(n + 1, sizeof(*keys));
        if (!keys) {
            error_set(err, "out of memory");
            goto out;
        }
        nkv = 0;
        kv[nkv++] = (struct ctrd_kv){p->source_label, p->ref.repo};
        kv[nkv++] = (struct ctrd_kv){"containerd.io/gc.ref.content.config", cfg_desc.digest};
        for (i = 0; i < n; i++) {
            snprintf(keys[i], sizeof(keys[i]), "containerd.io/gc.ref.content.l.%zu", i);
            kv[nkv++] = (struct ctrd_kv){keys[i], img->layers[i].digest};
        }
        say_fetching(img->manifest_digest, img->manifest_media_type);
        rc = store_bytes(p, "manifest", img->manifest_digest, img->manifest_bytes, img->manifest_len, kv, nkv, err);
        free(keys);
        if (rc != 0)
            goto out;
        rc = -1;
    }
    if (strcmp(target.digest, img->manifest_digest) != 0) {
        snprintf(gc_key[0], sizeof(gc_key[0]), "containerd.io/gc.ref.content.m.0");
        kv[0] = (struct ctrd_kv){p->source_label, p->ref.repo};
        kv[1] = (struct ctrd_kv){gc_key[0], img->manifest_digest};
        say_fetching(target.digest, target.media_type);
        if (store_bytes(p, "index", target.digest, target.bytes, target.len, kv, 2, err) != 0)
            goto out;
    }

    for (i = 0; i < n; i++) {
        if (interrupted) {
            error_set(err, "interrupted");
            goto out;
        }
        if (unpack_layer(p, img, i, chain, diff_ids, layers, err) != 0)
            goto out;
    }
    if (interrupted) {
        error_set(err, "interrupted");
        goto out;
    }
    snprintf(image_name, sizeof(image_name), "%s/%s%s%s", p->ref.host, p->ref.repo, p->ref.digest[0] ? "@" : ":",
             p->ref.digest[0] ? p->ref.digest : p->ref.tag);
    if (ctrd_image_put(p->ctrd, image_name, target.media_type, target.digest, (int64_t)target.len, NULL, 0, err) !=
        0)
        goto out;
    rc = 0;
out:
    json_decref(config);
    free(cfg.body);
    free(chain);
    free(layers);
    remote_target_release(&target);
    resolved_set_release(&set);
    return rc;
}

static int rpull(int argc, char **argv)
{
    static const struct option opts[] = {
        REG_CLI_LONG_OPTIONS,
        {"address", required_argument, NULL, 'a'},
        {"namespace", required_argument, NULL, 'n'},
        {"snapshotter", required_argument, NULL, 's'},
        {"soci-index-digest", required_argument, NULL, 'i'},
        {"platform", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *address = getenv("CONTAINERD_ADDRESS");
    const char *ns = getenv("CONTAINERD_NAMESPACE");
    struct reg_cli rc;
    struct platform_sel sel;
    struct pull p;
    struct error err;
    struct sigaction sa;
    char lease[128];
    int ch, status = 1, leased = 0;

    memset(&p, 0, sizeof(p));
    memset(&sel, 0, sizeof(sel));
    reg_cli_init(&rc);
    p.snapshotter = "soci";
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "hn:u:", opts, NULL)) != -1) {
        if (reg_cli_option(&rc, ch, optarg))
            continue;
        switch (ch) {
        case 'a':
            address = optarg;
            break;
        case 'n':
            ns = optarg;
            break;
        case 's':
            p.snapshotter = optarg;
            break;
        case 'i':
            p.index_digest = optarg;
            break;
        case 'u':
            reg_cli_option(&rc, REGOPT_USER, optarg);
            break;
        case 'p':
            if (platform_sel_add(&sel, optarg, &err) != 0) {
                cli_report("soci image rpull", &err);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "soci image rpull: unknown option %s; see --help\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "soci image rpull: expected one image reference; see --help\n");
        return 2;
    }
    if (!address || !*address)
        address = CTRD_DEFAULT_ADDRESS;
    if (!ns || !*ns)
        ns = "default";
    if (reg_ref_parse(argv[optind], &p.ref, &err) != 0 || reg_cli_finish(&rc, &err) != 0) {
        cli_report("soci image rpull", &err);
        return 1;
    }
    if (!p.ref.tag[0] && !p.ref.digest[0])
        snprintf(p.ref.tag, sizeof(p.ref.tag), "latest");
    snprintf(p.source_label, sizeof(p.source_label), "containerd.io/distribution.source.%s", p.ref.host);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (ctrd_open(address, ns, &p.ctrd, &err) != 0 || ctrd_ping(p.ctrd, &err) != 0)
        goto out;
    {
        /* a snapshotter containerd does not know fails here, in one line */
        int exists;
        if (ctrd_snapshot_exists(p.ctrd, p.snapshotter, "soci-rpull-probe", &exists, &err) != 0) {
            if (strstr(err.msg, "snapshotter not loaded"))
                error_set(&err, "containerd has no snapshotter \"%s\" (its config needs a [proxy_plugins.%s] "
                                "section, or --snapshotter names another)",
                          p.snapshotter, p.snapshotter);
            else
                error_prefix(&err, "snapshotter \"%s\"", p.snapshotter);
            goto out;
        }
    }
    p.reg = reg_cli_client(&rc, p.ref.host, &err);
    if (!p.reg)
        goto out;
    if (p.index_digest && check_index(&p, &err) != 0)
        goto out;
    snprintf(lease, sizeof(lease), "soci-rpull-%d-%lld", (int)getpid(), (long long)time(NULL));
    if (ctrd_lease_create(p.ctrd, lease, LEASE_EXPIRE_SECS, &err) != 0)
        goto out;
    leased = 1;
    if (pull_image(&p, &sel, &err) != 0)
        goto out;
    printf("pulled %s: %d layer%s fetched, %d served by snapshotter %s", argv[optind], p.fetched_layers,
           p.fetched_layers == 1 ? "" : "s", p.lazy_layers, p.snapshotter);
    if (p.present_layers > 0)
        printf(", %d already present", p.present_layers);
    printf("\n");
    status = 0;
out:
    if (leased) {
        struct error lerr;
        if (ctrd_lease_delete(p.ctrd, &lerr) != 0 && status == 0) {
            err = lerr;
            status = 1;
        }
    }
    if (status != 0) {
        if (interrupted)
            fprintf(stderr, "soci image rpull: interrupted; no image was registered\n");
        else
            cli_report("soci image rpull", &err);
        status = interrupted ? 130 : 1;
    }
    reg_client_free(p.reg);
    ctrd_close(p.ctrd);
    return status;
}

int cmd_image(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: soci image rpull [flags] REF   (soci image rpull --help)\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "rpull") == 0)
        return rpull(argc - 1, argv + 1);
    fprintf(stderr, "soci image: unknown command \"%s\"; see --help\n", argv[1]);
    return 2;
}
