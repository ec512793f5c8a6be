/* stream_mode.c -- ztoc-gen's record-stream mode (see stream_mode.h) */
#include "stream_mode.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "stream_io.h"

#define PROG "ztoc-gen"

/* one output position: a record to pass on, or a job's result */
struct slot {
    struct slot *next;
    uint8_t *raw;
    size_t len;
    struct layer_job *job;
    int progress_id;
};

struct output {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct slot *head, *tail;
    int closed;
    int failed;              /* a job failed or writing failed: stop */
    int reported;            /* the failure was printed already */
    int upstream_failed;     /* an earlier stage failed and said so: the
                                inline jobs it cut short fail quietly */
    struct progress *progress;
};

static void out_push(struct output *o, struct slot *s)
{
    pthread_mutex_lock(&o->mu);
    if (o->tail)
        o->tail->next = s;
    else
        o->head = s;
    o->tail = s;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->mu);
}

static void report(struct output *o, const char *msg)
{
    struct stream_record rec;
    struct error ignored;

    pthread_mutex_lock(&o->mu);
    if (!o->reported) {
        o->reported = 1;
        fprintf(stderr, "%s" PROG ": %s\n", o->progress ? "\n" : "", msg);
        stream_record_init(&rec, REC_ERROR);
        snprintf(rec.error.message, sizeof(rec.error.message), "%s", msg);
        stream_write(STDOUT_FILENO, &rec, &ignored);
    }
    o->failed = 1;
    pthread_mutex_unlock(&o->mu);
}

static void *writer(void *arg)
{
    struct output *o = arg;

    for (;;) {
        struct slot *s;
        struct error err;
        int rc = 0;

        pthread_mutex_lock(&o->mu);
        while (o->head == NULL && !o->closed)
            pthread_cond_wait(&o->cond, &o->mu);
        s = o->head;
        if (s == NULL) {
            pthread_mutex_unlock(&o->mu);
            return NULL;
        }
        o->head = s->next;
        if (o->head == NULL)
            o->tail = NULL;
        pthread_mutex_unlock(&o->mu);

        if (s->job) {
            int jrc = layer_job_wait(s->job);
            progress_finish_task(o->progress, s->progress_id);
            if (!o->failed) {
                int quiet;
                pthread_mutex_lock(&o->mu);
                quiet = o->upstream_failed;
                pthread_mutex_unlock(&o->mu);
                if (jrc == 0)
                    rc = stream_write(STDOUT_FILENO, &s->job->result, &err);
                else if (!quiet)
                    report(o, s->job->err.msg);
            }
            layer_job_free(s->job);
        } else if (!o->failed) {
            rc = stream_write_raw(STDOUT_FILENO, s->raw, s->len, &err);
        }
        if (rc != 0 && errno == EPIPE) {
            /* the next stage exited (and said why, if it failed): stop quietly */
            pthread_mutex_lock(&o->mu);
            o->reported = 1;
            o->failed = 1;
            pthread_mutex_unlock(&o->mu);
        } else if (rc != 0) {
            report(o, err.msg);
        }
        free(s->raw);
        free(s);
    }
}

static int pass_on(struct stream_reader *r, struct output *o, struct error *err)
{
    struct slot *s = calloc(1, sizeof(*s));
    const uint8_t *raw;
    size_t len;

    RETURN_ERROR_IF(s == NULL, err, "out of memory");
    if (stream_reader_raw(r, &raw, &len, err) != 0) {
        free(s);
        return -1;
    }
    s->raw = malloc(len);
    if (s->raw == NULL) {
        free(s);
        return error_set(err, "out of memory");
    }
    memcpy(s->raw, raw, len);
    s->len = len;
    out_push(o, s);
    return 0;
}

/* inline layers whose chunks may still come: each holds a thread and up to
 * 8 queued chunks (layer_job.c), so their number is bounded */
#define MAX_INLINE 256

/* the open inline layers; each entry holds a reference to its job */
struct inline_jobs {
    struct layer_job *job[MAX_INLINE];
    int n;
};

static struct layer_job *find_inline(struct inline_jobs *ij, uint32_t image, uint32_t n)
{
    int i;

    for (i = 0; i < ij->n; i++) {
        struct layer_job *j = ij->job[i];
        if (j->rec.image_id == image && j->rec.n == n)
            return j;
    }
    return NULL;
}

/* the layer's chunks are over: close its queue and drop our reference */
static void close_inline(struct inline_jobs *ij, struct layer_job *job)
{
    int i;

    for (i = 0; i < ij->n; i++) {
        if (ij->job[i] == job) {
            ij->job[i] = ij->job[--ij->n];
            layer_job_close_chunks(job);
            layer_job_free(job);
            return;
        }
    }
}

static int start_layer(const struct stream_record *rec, const struct stream_mode_opts *opts,
                       struct job_pool *pool, struct output *o, struct inline_jobs *ij, struct error *err)
{
    const struct stream_layer_rec *layer = &rec->layer;
    struct slot *s;
    struct layer_job *job;
    char name[24];

    /* every check before anything is queued: a slot in the output queue
     * whose job never runs would keep the writer waiting forever */
    RETURN_ERROR_IF(layer->inline_data && ij->n == MAX_INLINE, err,
                    "record stream: more than %d inline layers in flight (layer %u of image %u)", MAX_INLINE,
                    rec->n, rec->image_id);
    RETURN_ERROR_IF(layer->inline_data && find_inline(ij, rec->image_id, rec->n) != NULL, err,
                    "record stream: layer %u of image %u is sent twice", rec->n, rec->image_id);
    s = calloc(1, sizeof(*s));
    RETURN_ERROR_IF(s == NULL, err, "out of memory");
    /* a layer named by path is opened by its job, when it runs, and only
     * if read: a skipped layer or one whose ztoc is reused need not be there */
    job = layer_job_new(rec, -1, &opts->params);
    if (job == NULL) {
        free(s);
        return error_set(err, "out of memory");
    }
    if (layer->inline_data) {
        layer_job_hold(job); /* ij's reference; the slot has the first */
        if (job_pool_spawn(pool, job) != 0) {
            layer_job_free(job);
            layer_job_free(job);
            free(s);
            return error_set(err, "cannot start a thread");
        }
        ij->job[ij->n++] = job;
    }
    s->job = job;
    snprintf(name, sizeof(name), "%.19s", layer->desc.digest + 7);
    s->progress_id = progress_add(o->progress, name, layer->desc.size, &job->bytes_done);
    out_push(o, s);
    if (!layer->inline_data)
        job_pool_submit(pool, job);
    return 0;
}

int ztoc_gen_stream(const uint8_t *initial, size_t initial_len, const struct stream_mode_opts *opts)
{
    struct stream_reader *r = stream_reader_new(STDIN_FILENO, initial, initial_len);
    struct stream_record *rec = malloc(sizeof(*rec));
    struct job_pool *pool = job_pool_new(opts->jobs);
    struct inline_jobs ij;
    struct output o;
    pthread_t wt;
    struct error err;
    int rc, saw_end = 0, upstream_failed = 0, status;

    memset(&ij, 0, sizeof(ij));
    memset(&o, 0, sizeof(o));
    signal(SIGPIPE, SIG_IGN);
    if (r == NULL || rec == NULL || pool == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    pthread_mutex_init(&o.mu, NULL);
    pthread_cond_init(&o.cond, NULL);
    o.progress = progress_start(PROG, opts->progress);
    pthread_create(&wt, NULL, writer, &o);

    while (!o.failed && (rc = stream_read(r, rec, &err)) == 1) {
        int frc = 0;
        struct layer_job *job;
        switch (rec->type) {
        case REC_LAYER:
            frc = start_layer(rec, opts, pool, &o, &ij, &err);
            break;
        case REC_CHUNK:
            job = find_inline(&ij, rec->image_id, rec->n);
            if (job == NULL)
                frc = error_set(&err, "chunk for layer %u of image %u, which is not an open inline layer",
                                rec->n, rec->image_id);
            else
                frc = layer_job_push_chunk(job, rec->chunk.data, rec->chunk.data_len, &err);
            break;
        case REC_LAYER_END:
            job = find_inline(&ij, rec->image_id, rec->n);
            if (job == NULL)
                frc = error_set(&err, "layer_end for layer %u of image %u, which is not open", rec->n,
                                rec->image_id);
            else
                close_inline(&ij, job);
            break;
        case REC_ERROR:
            /* an earlier stage failed and said so: pass it on quietly */
            upstream_failed = 1;
            pthread_mutex_lock(&o.mu);
            o.upstream_failed = 1;
            pthread_mutex_unlock(&o.mu);
            frc = pass_on(r, &o, &err);
            break;
        case REC_END:
            saw_end = 1;
            frc = pass_on(r, &o, &err);
            break;
        default:
            frc = pass_on(r, &o, &err);
            break;
        }
        if (frc != 0) {
            rc = -1;
            break;
        }
        if (upstream_failed || saw_end)
            break;
    }
    if (rc < 0)
        report(&o, err.msg);
    else if (!saw_end && !upstream_failed && !o.failed)
        report(&o, "the record stream ended early (an earlier stage failed)");
    while (ij.n > 0)
        close_inline(&ij, ij.job[0]);
    pthread_mutex_lock(&o.mu);
    o.closed = 1;
    pthread_cond_broadcast(&o.cond);
    pthread_mutex_unlock(&o.mu);
    pthread_join(wt, NULL);
    job_pool_free(pool);
    progress_stop(o.progress);
    status = (o.failed || upstream_failed) ? 1 : 0;
    stream_reader_free(r);
    free(rec);
    return status;
}
