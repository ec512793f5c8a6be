/* index_run.c -- layers of resolved images through the job pool (see index_run.h) */
#include "index_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "oci.h"

/* run every layer of every image through the pool, in order, into pk */
int index_run(struct oci_layout *l, const struct resolved_set *set, const char *ref,
                        const struct existing_set *existing, const struct index_params *params, int jobs,
                        struct progress *prog, struct packer *pk, struct error *err)
{
    struct job_pool *pool = job_pool_new(jobs);
    struct stream_record *rec = malloc(sizeof(*rec));
    struct layer_job **all = NULL;
    int *pids = NULL;
    size_t nall = 0, i, k, total = 0;
    int rc = -1;

    for (i = 0; i < set->nimages; i++)
        total += set->images[i].nlayers;
    all = calloc(total + 1, sizeof(*all));
    pids = calloc(total + 1, sizeof(*pids));
    if (pool == NULL || rec == NULL || all == NULL || pids == NULL) {
        error_set(err, "out of memory");
        goto out;
    }
    /* submit everything first so -j can work across images */
    for (i = 0; i < set->nimages; i++) {
        const struct resolved_image *im = &set->images[i];
        for (k = 0; k < im->nlayers; k++) {
            if (layers_layer_record(l, im, (uint32_t)i, (uint32_t)k, existing, rec, err) != 0)
                goto out;
            /* the job opens the blob (rec->layer.path) when it runs, and only
             * when it reads it: a skipped or reused layer need not be there */
            all[nall] = layer_job_new(rec, -1, params);
            if (all[nall] == NULL) {
                error_set(err, "out of memory");
                goto out;
            }
            {
                char name[24];
                snprintf(name, sizeof(name), "%.19s", rec->layer.desc.digest + 7);
                pids[nall] = progress_add(prog, name, rec->layer.desc.size, &all[nall]->bytes_done);
            }
            job_pool_submit(pool, all[nall]);
            nall++;
        }
    }
    nall = 0;
    for (i = 0; i < set->nimages; i++) {
        const struct resolved_image *im = &set->images[i];
        layers_image_record(im, (uint32_t)i, l->dir, ref, rec);
        if (packer_record(pk, rec, err) != 0)
            goto out;
        for (k = 0; k < im->nlayers; k++, nall++) {
            if (layer_job_wait(all[nall]) != 0) {
                *err = all[nall]->err;
                nall++;
                goto out;
            }
            progress_finish_task(prog, pids[nall]);
            if (packer_record(pk, &all[nall]->result, err) != 0) {
                nall++;
                goto out;
            }
        }
        stream_record_init(rec, REC_IMAGE_END);
        rec->image_id = (uint32_t)i;
        if (packer_record(pk, rec, err) != 0)
            goto out;
    }
    rc = 0;
out:
    /* the pool runs every submitted job to its end before it stops */
    job_pool_free(pool);
    for (i = 0; i < total && all; i++)
        layer_job_free(all[i]);
    free(all);
    free(pids);
    free(rec);
    return rc;
}

