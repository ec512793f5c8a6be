/* layer_job.h -- index one image layer: the unit of work of the pipeline
 *
 * Shared by ztoc-gen's stream mode and `soci create`, so the pipeline and
 * the one-command path make the same decisions and the same bytes: skip
 * layers below --min-layer-size and zstd layers with upstream's messages,
 * reuse a ztoc already in the layout when span size and build tool match,
 * otherwise read the layer once (from a file, or from chunks pushed by
 * another thread) while checking its size and digest against the
 * descriptor.  A pool runs jobs N at a time; results are taken in order.
 */
#ifndef SOCI_LAYER_JOB_H
#define SOCI_LAYER_JOB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "stream.h"

#define DEFAULT_MIN_LAYER_SIZE (10 * 1024 * 1024)

struct index_params {
    int64_t span_size;
    const char *build_tool;
    int64_t min_layer_size;
    int threaded_hash;
};

struct chunk_queue;

struct layer_job {
    struct stream_record rec;     /* the layer record (rec.layer: desc, path/inline, existing) */
    int fd;                       /* layer bytes when not inline (-1 otherwise) */
    struct chunk_queue *chunks;   /* inline layers */
    const struct index_params *params;

    /* results */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int done;
    int failed;
    struct error err;
    struct stream_record result;  /* REC_ZTOC or REC_SKIP */
    uint8_t *ztoc;                /* result.ztoc.data points here */
    volatile int64_t bytes_done;  /* progress */
    int refs;                     /* owners; guarded by mu */
};

/* does the job for this layer record need the layer's bytes?  Not when it
 * is skipped (not a layer type is an error, not a skip), or when an
 * `existing` ztoc of the same span size and build tool is reused */
int layer_job_needs_data(const struct stream_layer_rec *layer, const struct index_params *params);

/* a job for a layer record, with one reference; fd is taken over (closed
 * when the job is freed) */
struct layer_job *layer_job_new(const struct stream_record *layer, int fd,
                                const struct index_params *params);
/* another owner: an inline job is held by the thread writing its result
 * and by the thread pushing its chunks, and either may finish with it
 * first (a job can fail before its first chunk arrives) */
void layer_job_hold(struct layer_job *job);
/* drop a reference; the last one frees the job.  Thread-safe. */
void layer_job_free(struct layer_job *job);
/* do the work now, on this thread */
void layer_job_run(struct layer_job *job);
/* pthread entry that runs the job (for callers managing their own threads) */
void *layer_job_thread_main(void *job);
/* wait until done; returns job->failed ? -1 : 0 */
int layer_job_wait(struct layer_job *job);

/* inline layers: the reader pushes copies of chunks (blocking when the
 * job is behind) and closes the queue at the layer's end */
int layer_job_push_chunk(struct layer_job *job, const uint8_t *data, size_t n, struct error *err);
void layer_job_close_chunks(struct layer_job *job);

/* a pool of worker threads */
struct job_pool;
struct job_pool *job_pool_new(int nthreads);
void job_pool_submit(struct job_pool *p, struct layer_job *job);
/* run a job on its own thread (inline layers must start at once) */
int job_pool_spawn(struct job_pool *p, struct layer_job *job);
void job_pool_free(struct job_pool *p);   /* waits for every job */

#endif
