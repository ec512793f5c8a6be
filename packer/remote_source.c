/* remote_source.c -- registry images as index input (see remote_source.h) */
#include "remote_source.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "oci.h"
#include "soci_index.h"
#include "strutil.h"

void remote_target_release(struct remote_target *t)
{
    free(t->bytes);
    t->bytes = NULL;
}

static int selected(const struct platform_sel *sel, const struct oci_platform *p)
{
    size_t i;

    if (sel->all)
        return 1;
    for (i = 0; i < sel->n; i++)
        if (oci_platform_match(&sel->want[i], p))
            return 1;
    return 0;
}

static int add_remote_image(struct reg_client *c, const char *repo, const struct oci_desc *d, struct resolved_set *out,
                            struct error *err)
{
    struct reg_manifest m;
    struct resolved_image *im;
    json_t *doc, *v;
    int found;
    size_t i;

    if (reg_manifest_get(c, repo, d->digest, &m, &found, err) != 0)
        return -1;
    RETURN_ERROR_IF(!found, err, "manifest %s is missing from %s", d->digest, repo);
    if (oci_load(m.body, m.len, &doc, err) != 0) {
        reg_manifest_free(&m);
        return error_prefix(err, "manifest %s", d->digest);
    }
    im = realloc(out->images, (out->nimages + 1) * sizeof(*im));
    if (im == NULL) {
        json_decref(doc);
        reg_manifest_free(&m);
        return error_set(err, "out of memory");
    }
    out->images = im;
    im = &out->images[out->nimages++];
    memset(im, 0, sizeof(*im));
    str_copy(im->manifest_digest, sizeof(im->manifest_digest), d->digest);
    str_copy(im->manifest_media_type, sizeof(im->manifest_media_type),
             m.media_type[0] ? m.media_type : (d->media_type[0] ? d->media_type : MT_OCI_MANIFEST));
    /* the Content-Type may carry parameters; keep the bare type */
    im->manifest_media_type[strcspn(im->manifest_media_type, "; ")] = '\0';
    im->manifest_size = (int64_t)m.len;
    im->manifest_bytes = m.body;
    im->manifest_len = m.len;
    im->manifest = doc;
    if (d->has_platform) {
        im->platform = d->platform;
        im->has_platform = 1;
    }
    im->layers = calloc(json_array_size(json_object_get(doc, "layers")) + 1, sizeof(*im->layers));
    RETURN_ERROR_IF(im->layers == NULL, err, "out of memory");
    json_array_foreach(json_object_get(doc, "layers"), i, v) {
        FORWARD_IF_ERROR(oci_desc_parse(v, &im->layers[i], err), err, "manifest %s layer %zu", d->digest, i);
        im->nlayers++;
    }
    return 0;
}

int remote_resolve(struct reg_client *c, const struct reg_ref *ref, const struct platform_sel *sel_in,
                   struct resolved_set *out, struct remote_target *target, struct error *err)
{
    struct reg_manifest m;
    struct platform_sel sel = *sel_in;
    json_t *doc = NULL, *v;
    int found, explicit = sel.all || sel.n > 0;
    size_t i;

    memset(out, 0, sizeof(*out));
    memset(target, 0, sizeof(*target));
    if (reg_manifest_get(c, ref->repo, reg_ref_reference(ref), &m, &found, err) != 0)
        return -1;
    RETURN_ERROR_IF(!found, err, "%s/%s:%s: no such image in the registry", ref->host, ref->repo,
                    reg_ref_reference(ref));
    target->bytes = m.body;
    target->len = m.len;
    str_copy(target->digest, sizeof(target->digest), m.digest);
    str_copy(target->media_type, sizeof(target->media_type), m.media_type);
    target->media_type[strcspn(target->media_type, "; ")] = '\0';
    str_copy(out->target_digest, sizeof(out->target_digest), m.digest);
    str_copy(out->target_media_type, sizeof(out->target_media_type), target->media_type);
    if (oci_load(m.body, m.len, &doc, err) != 0)
        goto fail;
    if (oci_kind_of(doc) == OCI_KIND_MANIFEST) {
        struct oci_desc d;
        memset(&d, 0, sizeof(d));
        d.digest = m.digest;
        d.media_type = target->media_type;
        d.size = (int64_t)m.len;
        RETURN_ERROR_IF(soci_index_version_of(doc) != 0, err, "%s is a SOCI index, not an image", m.digest);
        if (add_remote_image(c, ref->repo, &d, out, err) != 0)
            goto fail;
    } else if (oci_kind_of(doc) == OCI_KIND_INDEX) {
        int pass;
        if (!explicit) {
            sel.n = 1;
            oci_platform_host(&sel.want[0]);
        }
        /* pass 0: the selection; pass 1 (default selection found nothing):
         * the only image there is */
        for (pass = 0; pass < 2 && out->nimages == 0; pass++) {
            size_t candidates = 0;
            json_array_foreach(json_object_get(doc, "manifests"), i, v) {
                struct oci_desc d;
                if (oci_desc_parse(v, &d, err) != 0)
                    goto fail;
                if (desc_is_soci_artifact(v) || (d.has_platform && strcmp(d.platform.os, "unknown") == 0))
                    continue;
                candidates++;
                if (pass == 0 && d.has_platform && !selected(&sel, &d.platform))
                    continue;
                if (pass == 1 && (explicit || json_array_size(json_object_get(doc, "manifests")) == 0))
                    continue;
                if (add_remote_image(c, ref->repo, &d, out, err) != 0)
                    goto fail;
            }
            if (pass == 1 && out->nimages > 1) {
                error_set(err, "no image for this host's platform; choose with --platform or --all-platforms");
                goto fail;
            }
            (void)candidates;
        }
    } else {
        error_set(err, "%s: unsupported manifest media type \"%s\"", reg_ref_reference(ref), target->media_type);
        goto fail;
    }
    json_decref(doc);
    if (out->nimages == 0)
        return error_set(err, "no image matches the requested platform(s)");
    return 0;
fail:
    json_decref(doc);
    resolved_set_release(out);
    remote_target_release(target);
    return -1;
}

int remote_store_image(struct reg_client *c, const struct reg_ref *ref, const struct resolved_set *set,
                       const struct remote_target *target, struct oci_layout *l, const char *tag,
                       struct error *err)
{
    json_t *index, *mans, *m;
    size_t i;

    if (layout_write_blob(l, target->bytes, target->len, NULL, err) != 0)
        return -1;
    for (i = 0; i < set->nimages; i++) {
        const struct resolved_image *im = &set->images[i];
        struct oci_desc cd;
        if (layout_write_blob(l, im->manifest_bytes, im->manifest_len, NULL, err) != 0)
            return -1;
        /* the config too (small): platform lookups and pushes want it */
        if (oci_desc_parse(json_object_get(im->manifest, "config"), &cd, err) == 0 &&
            !layout_blob_exists(l, cd.digest, NULL) && cd.size < (1 << 20)) {
            uint8_t *buf = malloc((size_t)cd.size + 1);
            if (buf && reg_blob_get_range(c, ref->repo, cd.digest, 0, (size_t)cd.size, buf, err) == 0)
                layout_write_blob(l, buf, (size_t)cd.size, NULL, err);
            free(buf);
        }
    }
    if (layout_read_index(l, &index, err) != 0)
        return -1;
    mans = json_object_get(index, "manifests");
    for (i = json_array_size(mans); i-- > 0;) {
        const char *name;
        m = json_array_get(mans, i);
        name = json_string_value(json_object_get(json_object_get(m, "annotations"), ANN_REF_NAME));
        if (name && strcmp(name, tag) == 0)
            json_array_remove(mans, i);
    }
    json_array_append_new(mans, json_pack("{s:s,s:s,s:I,s:{s:s}}", "mediaType",
                                          target->media_type[0] ? target->media_type : MT_OCI_MANIFEST, "digest",
                                          target->digest, "size", (json_int_t)target->len, "annotations",
                                          ANN_REF_NAME, tag));
    if (layout_write_index(l, index, err) != 0) {
        json_decref(index);
        return -1;
    }
    json_decref(index);
    return 0;
}

#define FEED_CHUNK (1 << 20)

/* curl hands over 16 KiB pieces; the job wants fewer, bigger ones */
struct feed_ctx {
    struct layer_job *job;
    uint8_t *buf;
    size_t have;
};

static int to_job(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    struct feed_ctx *f = ctx;

    while (n > 0) {
        size_t k = FEED_CHUNK - f->have < n ? FEED_CHUNK - f->have : n;
        memcpy(f->buf + f->have, data, k);
        f->have += k;
        data += k;
        n -= k;
        if (f->have == FEED_CHUNK) {
            if (layer_job_push_chunk(f->job, f->buf, f->have, err) != 0)
                return -1;
            f->have = 0;
        }
    }
    return 0;
}

int remote_feed_job(struct reg_client *c, const char *repo, struct layer_job *job, struct error *err)
{
    struct feed_ctx f = {job, malloc(FEED_CHUNK), 0};
    int rc;

    if (f.buf == NULL) {
        layer_job_close_chunks(job);
        return error_set(err, "out of memory");
    }
    rc = reg_blob_get(c, repo, job->layer.desc.digest, to_job, &f, err);
    if (rc == 0 && f.have > 0)
        rc = layer_job_push_chunk(job, f.buf, f.have, err);
    free(f.buf);
    layer_job_close_chunks(job);
    return rc;
}

/* one fetch thread per layer in flight */
struct fetcher {
    struct reg_client *c;
    const char *repo;
    struct layer_job *job;
    struct error err;
    int rc;
    pthread_t thread;
    int started;
    pthread_t job_thread;   /* runs the job; joined before the job is freed */
    int job_started;
};

static void *fetch_main(void *arg)
{
    struct fetcher *f = arg;
    f->rc = remote_feed_job(f->c, f->repo, f->job, &f->err);
    return NULL;
}

static int will_read(const struct stream_record *rec, const struct index_params *p)
{
    enum layer_compression comp = oci_layer_compression(rec->desc.media_type);
    return rec->nexisting == 0 && comp != LAYER_NOT_A_LAYER && comp != LAYER_ZSTD &&
           rec->desc.size >= p->min_layer_size;
}

int remote_index_run(struct reg_client *c, const struct reg_ref *ref, const struct resolved_set *set,
                     const char *user_ref, const struct existing_set *existing, const struct index_params *params,
                     int jobs, struct progress *prog, struct packer *pk, struct error *err)
{
    struct stream_record *rec = malloc(sizeof(*rec));
    struct layer_job **all;
    struct fetcher *fetch;
    int *pids;
    size_t total = 0, nall = 0, i, k, next_start = 0, next_done = 0;
    int rc = -1;

    for (i = 0; i < set->nimages; i++)
        total += set->images[i].nlayers;
    all = calloc(total + 1, sizeof(*all));
    fetch = calloc(total + 1, sizeof(*fetch));
    pids = calloc(total + 1, sizeof(*pids));
    if (rec == NULL || all == NULL || fetch == NULL || pids == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    for (i = 0; i < set->nimages; i++)
        for (k = 0; k < set->images[i].nlayers; k++) {
            char name[24];
            if (layers_layer_record(NULL, &set->images[i], (uint32_t)i, (uint32_t)k, existing, rec, err) != 0)
                goto out;
            rec->inline_data = will_read(rec, params);
            rec->path[0] = '\0';
            all[nall] = layer_job_new(rec, -1, params);
            if (all[nall] == NULL) {
                error_set(err, "out of memory");
                goto out;
            }
            snprintf(name, sizeof(name), "%.19s", rec->desc.digest + 7);
            pids[nall] = progress_add(prog, name, rec->desc.size, &all[nall]->bytes_done);
            nall++;
        }
    /* keep `jobs` layers in flight; results are consumed in order */
    nall = 0;
    for (i = 0; i < set->nimages; i++) {
        const struct resolved_image *im = &set->images[i];
        layers_image_record(im, (uint32_t)i, "", user_ref, rec);
        if (packer_record(pk, rec, err) != 0)
            goto out;
        for (k = 0; k < im->nlayers; k++, next_done++) {
            while (next_start < total && next_start < next_done + (size_t)jobs) {
                struct layer_job *job = all[next_start];
                if (job->chunks) {
                    fetch[next_start].c = c;
                    fetch[next_start].repo = ref->repo;
                    fetch[next_start].job = job;
                    if (pthread_create(&fetch[next_start].thread, NULL, fetch_main, &fetch[next_start]) != 0) {
                        error_set(err, "cannot start a thread");
                        goto out;
                    }
                    fetch[next_start].started = 1;
                    if (pthread_create(&fetch[next_start].job_thread, NULL, layer_job_thread_main, job) != 0) {
                        error_set(err, "cannot start a thread");
                        goto out;
                    }
                    fetch[next_start].job_started = 1;
                } else {
                    layer_job_run(job); /* skipped or reused: no bytes to read */
                }
                next_start++;
            }
            layer_job_wait(all[next_done]);
            if (fetch[next_done].job_started) {
                pthread_join(fetch[next_done].job_thread, NULL);
                fetch[next_done].job_started = 0;
            }
            if (fetch[next_done].started) {
                pthread_join(fetch[next_done].thread, NULL);
                fetch[next_done].started = 0;
                if (fetch[next_done].rc != 0) {
                    /* the fetch's failure explains the job's */
                    *err = fetch[next_done].err;
                    error_prefix(err, "layer %s", all[next_done]->layer.desc.digest);
                    goto out;
                }
            }
            if (all[next_done]->failed) {
                *err = all[next_done]->err;
                goto out;
            }
            progress_finish_task(prog, pids[next_done]);
            if (packer_record(pk, &all[next_done]->result, err) != 0)
                goto out;
        }
        stream_record_init(rec, REC_IMAGE_END);
        rec->image = (uint32_t)i;
        if (packer_record(pk, rec, err) != 0)
            goto out;
    }
    rc = 0;
out:
    /* stop what is still running: abandoned jobs drop their chunks */
    for (i = 0; i < total && all && fetch; i++) {
        if (fetch[i].started)
            pthread_join(fetch[i].thread, NULL);
        if (fetch[i].job_started)
            pthread_join(fetch[i].job_thread, NULL);
    }
    for (i = 0; i < total && all; i++)
        layer_job_free(all[i]);
    free(all);
    free(fetch);
    free(pids);
    free(rec);
    return rc;
}
