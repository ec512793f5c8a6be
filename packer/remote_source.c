/* remote_source.c -- registry images as index input (see remote_source.h) */
#include "remote_source.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "oci.h"
#include "strutil.h"

#define FEED_CHUNK (1 << 20)

/* soci-mount's defaults (mounter/soci_mount_main.c), for the same reason:
 * a registry that stops answering must fail the run in bounded time */
#define BOUND_TIMEOUT_SECS 5
#define BOUND_MIN_RATE (32 << 10)
#define BOUND_RETRIES 3

void remote_source_bounds(struct reg_opts *o)
{
    o->connect_timeout_ms = BOUND_TIMEOUT_SECS * 1000;
    o->low_speed_secs = BOUND_TIMEOUT_SECS;
    o->low_speed_bytes = BOUND_MIN_RATE;
    o->max_retries = BOUND_RETRIES;
}

/* curl hands over 16 KiB pieces; the job wants fewer, bigger ones */
struct feed_ctx {
    struct layer_job *job;
    uint8_t *buf;
    size_t have;
    int64_t total;      /* bytes received so far */
};

static int to_job(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    struct feed_ctx *f = ctx;

    /* a registry streaming past the descriptor's size is stopped there,
     * not read until it stops on its own */
    f->total += (int64_t)n;
    RETURN_ERROR_IF(f->total > f->job->rec.layer.desc.size, err,
                    "the registry sent more than the %lld bytes the descriptor gives",
                    (long long)f->job->rec.layer.desc.size);

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
    struct feed_ctx f = {job, malloc(FEED_CHUNK), 0, 0};
    int rc;

    if (f.buf == NULL) {
        layer_job_close_chunks(job);
        return error_set(err, "out of memory");
    }
    rc = reg_blob_get(c, repo, job->rec.layer.desc.digest, to_job, &f, err);
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

static int will_read(const struct stream_layer_rec *layer, const struct index_params *p)
{
    enum layer_compression comp = oci_layer_compression(layer->desc.media_type);
    return layer->nexisting == 0 && comp != LAYER_NOT_A_LAYER && comp != LAYER_ZSTD &&
           layer->desc.size >= p->min_layer_size;
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

    for (i = 0; i < set->nimages; i++) {
        if (image_check_layer_count(set->images[i].manifest_digest, set->images[i].nlayers, err) != 0) {
            free(rec);
            return -1;
        }
        total += set->images[i].nlayers;
    }
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
            rec->layer.inline_data = will_read(&rec->layer, params);
            rec->layer.path[0] = '\0';
            all[nall] = layer_job_new(rec, -1, params);
            if (all[nall] == NULL) {
                error_set(err, "out of memory");
                goto out;
            }
            snprintf(name, sizeof(name), "%.19s", rec->layer.desc.digest + 7);
            pids[nall] = progress_add(prog, name, rec->layer.desc.size, &all[nall]->bytes_done);
            nall++;
        }
    /* keep `jobs` layers in flight; results are consumed in order */
    nall = 0;
    for (i = 0; i < set->nimages; i++) {
        const struct resolved_image *im = &set->images[i];
        layers_image_record(im, (uint32_t)i, "", user_ref, rec);
        /* the manifest is not in the layout yet: the packer gets its bytes,
         * as soci-pack does from soci-layers' image record */
        rec->image.manifest_data = im->manifest_bytes;
        rec->image.manifest_data_len = im->manifest_len;
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
                    error_prefix(err, "layer %s", all[next_done]->rec.layer.desc.digest);
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
        rec->image_id = (uint32_t)i;
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
