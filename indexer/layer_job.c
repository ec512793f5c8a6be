/* layer_job.c -- one layer's indexing job, and a pool to run them (see layer_job.h) */
#include "layer_job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "fileio.h"
#include "layer_index.h"
#include "oci.h"
#include "sha256.h"
#include "strutil.h"
#include "ztoc.h"

#define READ_SIZE (1024 * 1024)
#define QUEUE_CHUNKS 8

/* ---- chunk queue for inline layers ---- */

struct chunk {
    uint8_t *data;
    size_t n;
};

struct chunk_queue {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct chunk items[QUEUE_CHUNKS];
    size_t head, len;
    int closed;
    int abandoned;     /* the job failed: drop further chunks */
};

static struct chunk_queue *queue_new(void)
{
    struct chunk_queue *q = calloc(1, sizeof(*q));

    if (q == NULL)
        return NULL;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cond, NULL);
    return q;
}

static void queue_free(struct chunk_queue *q)
{
    if (q == NULL)
        return;
    while (q->len > 0) {
        free(q->items[q->head].data);
        q->head = (q->head + 1) % QUEUE_CHUNKS;
        q->len--;
    }
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cond);
    free(q);
}

/* next chunk (caller frees), or n=0 at the end */
static struct chunk queue_pop(struct chunk_queue *q)
{
    struct chunk c = {NULL, 0};

    pthread_mutex_lock(&q->mu);
    while (q->len == 0 && !q->closed)
        pthread_cond_wait(&q->cond, &q->mu);
    if (q->len > 0) {
        c = q->items[q->head];
        q->head = (q->head + 1) % QUEUE_CHUNKS;
        q->len--;
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->mu);
    return c;
}

static void queue_abandon(struct chunk_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->abandoned = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

int layer_job_push_chunk(struct layer_job *job, const uint8_t *data, size_t n, struct error *err)
{
    struct chunk_queue *q = job->chunks;
    uint8_t *copy;

    RETURN_ERROR_IF(q == NULL, err, "chunk for layer %u which is not inline", job->rec.n);
    if (n == 0)
        return 0;
    copy = malloc(n);
    RETURN_ERROR_IF(copy == NULL, err, "out of memory");
    memcpy(copy, data, n);
    pthread_mutex_lock(&q->mu);
    while (q->len == QUEUE_CHUNKS && !q->abandoned)
        pthread_cond_wait(&q->cond, &q->mu);
    if (q->abandoned || q->closed) {
        pthread_mutex_unlock(&q->mu);
        free(copy);
        return 0;
    }
    q->items[(q->head + q->len) % QUEUE_CHUNKS].data = copy;
    q->items[(q->head + q->len) % QUEUE_CHUNKS].n = n;
    q->len++;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

void layer_job_close_chunks(struct layer_job *job)
{
    struct chunk_queue *q = job->chunks;

    if (q == NULL)
        return;
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

/* ---- the job ---- */

struct layer_job *layer_job_new(const struct stream_record *layer, int fd,
                                const struct index_params *params)
{
    struct layer_job *job = calloc(1, sizeof(*job));

    if (job == NULL)
        return NULL;
    job->rec = *layer;
    job->fd = fd;
    job->params = params;
    job->refs = 1;
    pthread_mutex_init(&job->mu, NULL);
    pthread_cond_init(&job->cond, NULL);
    if (layer->layer.inline_data) {
        job->chunks = queue_new();
        if (job->chunks == NULL) {
            layer_job_free(job);
            return NULL;
        }
    }
    return job;
}

void layer_job_hold(struct layer_job *job)
{
    pthread_mutex_lock(&job->mu);
    job->refs++;
    pthread_mutex_unlock(&job->mu);
}

void layer_job_free(struct layer_job *job)
{
    int last;

    if (job == NULL)
        return;
    pthread_mutex_lock(&job->mu);
    last = --job->refs == 0;
    pthread_mutex_unlock(&job->mu);
    if (!last)
        return;
    if (job->fd >= 0)
        close(job->fd);
    queue_free(job->chunks);
    free(job->ztoc);
    pthread_mutex_destroy(&job->mu);
    pthread_cond_destroy(&job->cond);
    free(job);
}

static void finish(struct layer_job *job, int failed)
{
    /* whatever the outcome, chunks still coming for this layer are dropped,
     * so a reader never blocks on a job that stopped reading */
    if (job->chunks)
        queue_abandon(job->chunks);
    pthread_mutex_lock(&job->mu);
    job->failed = failed;
    job->done = 1;
    pthread_cond_broadcast(&job->cond);
    pthread_mutex_unlock(&job->mu);
}

int layer_job_wait(struct layer_job *job)
{
    pthread_mutex_lock(&job->mu);
    while (!job->done)
        pthread_cond_wait(&job->cond, &job->mu);
    pthread_mutex_unlock(&job->mu);
    return job->failed ? -1 : 0;
}

static void set_result_head(struct layer_job *job, enum stream_type type)
{
    stream_record_init(&job->result, type);
    job->result.image_id = job->rec.image_id;
    job->result.n = job->rec.n;
    if (type == REC_SKIP)
        job->result.skip.desc = job->rec.layer.desc;
    else
        job->result.ztoc.desc = job->rec.layer.desc;
}

static void skip(struct layer_job *job, const char *reason)
{
    const struct stream_desc *d = &job->rec.layer.desc;

    set_result_head(job, REC_SKIP);
    snprintf(job->result.skip.message, sizeof(job->result.skip.message), "ztoc skipped - layer %s (%s) %s",
             d->digest, d->media_type, reason);
}

static const struct stream_existing *reusable(const struct stream_layer_rec *layer, const struct index_params *p)
{
    size_t i;

    for (i = 0; i < layer->nexisting; i++) {
        const struct stream_existing *x = &layer->existing[i];
        if (x->span_size == p->span_size && strcmp(x->build_tool, p->build_tool) == 0)
            return x;
    }
    return NULL;
}

int layer_job_needs_data(const struct stream_layer_rec *layer, const struct index_params *params)
{
    enum layer_compression comp = oci_layer_compression(layer->desc.media_type);

    return comp != LAYER_NOT_A_LAYER && comp != LAYER_ZSTD && layer->desc.size >= params->min_layer_size &&
           reusable(layer, params) == NULL;
}

/* the indexer failed on a file: when the file is not the blob its
 * descriptor names at all (another file put in its place), say that rather
 * than what the indexer tripped on.  Only on this failure path is the file
 * hashed a second time. */
static void file_digest_first(struct layer_job *job, uint8_t *buf, struct error *err)
{
    struct sha256 *h = sha256_new();
    uint8_t raw[32];
    char got[DIGEST_STR_SIZE];
    off_t off = 0;

    if (h == NULL)
        return;
    for (;;) {
        ssize_t n = pread(job->fd, buf, READ_SIZE, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sha256_free(h);
            return; /* keep the indexer's error */
        }
        if (n == 0)
            break;
        sha256_update(h, buf, (size_t)n);
        off += n;
    }
    sha256_final(h, raw);
    sha256_free(h);
    digest_format(raw, got);
    if (strcmp(got, job->rec.layer.desc.digest) != 0)
        error_set(err, "the layer's content does not match its digest (content is %s)", got);
}

/* read the whole layer through the indexer, checking size and digest */
static int index_bytes(struct layer_job *job, struct layer_index_result *res, struct error *err)
{
    const struct stream_desc *d = &job->rec.layer.desc;
    struct layer_index_opts lo;
    struct layer_indexer *li;
    uint8_t *buf = NULL;
    char got[DIGEST_STR_SIZE];
    int rc = -1;

    memset(res, 0, sizeof(*res)); /* freed on every failure, even before layer_indexer_finish */
    lo.span_size = job->params->span_size;
    lo.build_tool = job->params->build_tool;
    lo.threaded = job->params->threaded_hash;
    li = layer_indexer_new(&lo, err);
    if (li == NULL)
        return -1;
    /* a layer named by path is opened here, when its turn comes, so that
     * the number of open files does not grow with the number of layers */
    if (job->fd < 0 && job->chunks == NULL && job->rec.layer.path[0] &&
        open_regular(job->rec.layer.path, d->size, &job->fd, err) != 0)
        goto out;
    if (job->fd < 0 && job->chunks == NULL) {
        error_set(err, "no bytes were sent for this layer (was soci-layers run with a larger --min-layer-size?)");
        goto out;
    }
    if (job->fd >= 0) {
        buf = malloc(READ_SIZE);
        if (buf == NULL) {
            error_set(err, "out of memory");
            goto out;
        }
        posix_fadvise(job->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        for (;;) {
            ssize_t n = read(job->fd, buf, READ_SIZE);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                error_set(err, "read: %s", strerror(errno));
                goto out;
            }
            if (n == 0)
                break;
            if (layer_indexer_feed(li, buf, (size_t)n, err) != 0) {
                file_digest_first(job, buf, err);
                goto out;
            }
            job->bytes_done += n;
        }
    } else {
        for (;;) {
            struct chunk c = queue_pop(job->chunks);
            int frc;
            if (c.n == 0)
                break;
            frc = layer_indexer_feed(li, c.data, c.n, err);
            job->bytes_done += (int64_t)c.n;
            free(c.data);
            if (frc != 0)
                goto out;
        }
    }
    if (layer_indexer_finish(li, res, err) != 0)
        goto out;
    if (res->blob_size != d->size) {
        error_set(err, "the layer has %lld bytes but its descriptor says %lld", (long long)res->blob_size,
                  (long long)d->size);
        goto out;
    }
    digest_format(res->blob_digest, got);
    if (strcmp(got, d->digest) != 0) {
        error_set(err, "the layer's content does not match its digest (content is %s)", got);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        layer_index_result_free(res);
    layer_indexer_free(li);
    free(buf);
    return rc;
}

void layer_job_run(struct layer_job *job)
{
    const struct stream_desc *d = &job->rec.layer.desc;
    const struct index_params *p = job->params;
    struct layer_index_result res;
    enum layer_compression comp = oci_layer_compression(d->media_type);
    const struct stream_existing *x;
    char reason[256];

    if (comp == LAYER_NOT_A_LAYER) {
        error_set(&job->err, "layer %s has media type \"%s\", which is not an image layer type",
                  d->digest, d->media_type);
        finish(job, 1);
        return;
    }
    if (d->size < p->min_layer_size) {
        snprintf(reason, sizeof(reason), "size %lld is less than min-layer-size %lld", (long long)d->size,
                 (long long)p->min_layer_size);
        skip(job, reason);
        finish(job, 0);
        return;
    }
    if (comp == LAYER_ZSTD) {
        skip(job, "is compressed in an unsupported format. expect: [tar, gzip, unknown] but got \"zstd\"");
        finish(job, 0);
        return;
    }
    x = reusable(&job->rec.layer, p);
    if (x != NULL) {
        set_result_head(job, REC_ZTOC);
        str_copy(job->result.ztoc.ztoc.media_type, sizeof(job->result.ztoc.ztoc.media_type), MT_OCTET_STREAM);
        str_copy(job->result.ztoc.ztoc.digest, sizeof(job->result.ztoc.ztoc.digest), x->digest);
        job->result.ztoc.ztoc.size = x->size;
        job->result.ztoc.reused = 1;
        job->result.ztoc.span_size = p->span_size;
        str_copy(job->result.ztoc.build_tool, sizeof(job->result.ztoc.build_tool), p->build_tool);
        job->result.ztoc.xattr_free = 0;
        finish(job, 0);
        return;
    }
    if (index_bytes(job, &res, &job->err) != 0) {
        error_prefix(&job->err, "layer %s", d->digest);
        finish(job, 1);
        return;
    }
    if ((comp == LAYER_GZIP) != (res.algorithm == ZTOC_GZIP)) {
        error_set(&job->err, "layer %s: its media type says %s but its data is %s", d->digest, d->media_type,
                  res.algorithm == ZTOC_GZIP ? "gzip" : "not gzip");
        layer_index_result_free(&res);
        finish(job, 1);
        return;
    }
    set_result_head(job, REC_ZTOC);
    str_copy(job->result.ztoc.ztoc.media_type, sizeof(job->result.ztoc.ztoc.media_type), MT_OCTET_STREAM);
    digest_format(res.ztoc_digest, job->result.ztoc.ztoc.digest);
    job->result.ztoc.ztoc.size = (int64_t)res.ztoc_len;
    job->ztoc = res.ztoc;
    job->result.ztoc.data = res.ztoc;
    job->result.ztoc.data_len = res.ztoc_len;
    job->result.ztoc.span_size = p->span_size;
    str_copy(job->result.ztoc.build_tool, sizeof(job->result.ztoc.build_tool), p->build_tool);
    job->result.ztoc.xattr_free = res.xattr_free;
    finish(job, 0);
}

/* ---- pool ---- */

struct job_node {
    struct layer_job *job;
    struct job_node *next;
};

struct job_pool {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct job_node *head, *tail;
    int stopping;
    int nthreads;
    pthread_t *threads;
    pthread_t *spawned;
    size_t nspawned, spawned_cap;
};

static void *worker(void *arg)
{
    struct job_pool *p = arg;

    for (;;) {
        struct job_node *node;
        pthread_mutex_lock(&p->mu);
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cond, &p->mu);
        node = p->head;
        if (node == NULL) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        p->head = node->next;
        if (p->head == NULL)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        layer_job_run(node->job);
        free(node);
    }
}

struct job_pool *job_pool_new(int nthreads)
{
    struct job_pool *p = calloc(1, sizeof(*p));
    int i;

    if (p == NULL)
        return NULL;
    if (nthreads < 1)
        nthreads = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->threads = calloc((size_t)nthreads, sizeof(*p->threads));
    if (p->threads == NULL) {
        free(p);
        return NULL;
    }
    for (i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
            break;
    }
    p->nthreads = i;
    return p;
}

void job_pool_submit(struct job_pool *p, struct layer_job *job)
{
    struct job_node *node = malloc(sizeof(*node));

    if (node == NULL || p->nthreads == 0) {
        free(node);
        layer_job_run(job); /* no memory or no threads: do it here */
        return;
    }
    node->job = job;
    node->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = node;
    else
        p->head = node;
    p->tail = node;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

void *layer_job_thread_main(void *arg)
{
    layer_job_run(arg);
    return NULL;
}

static void *solo(void *arg)
{
    return layer_job_thread_main(arg);
}

int job_pool_spawn(struct job_pool *p, struct layer_job *job)
{
    pthread_t t;

    if (p->nspawned == p->spawned_cap) {
        size_t ncap = p->spawned_cap ? p->spawned_cap * 2 : 16;
        pthread_t *ns = realloc(p->spawned, ncap * sizeof(*ns));
        if (ns == NULL)
            return -1;
        p->spawned = ns;
        p->spawned_cap = ncap;
    }
    if (pthread_create(&t, NULL, solo, job) != 0)
        return -1;
    p->spawned[p->nspawned++] = t;
    return 0;
}

void job_pool_free(struct job_pool *p)
{
    int i;
    size_t k;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    for (k = 0; k < p->nspawned; k++)
        pthread_join(p->spawned[k], NULL);
    free(p->threads);
    free(p->spawned);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cond);
    free(p);
}
