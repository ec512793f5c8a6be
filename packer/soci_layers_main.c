/* soci_layers_main.c -- soci-layers: the first stage of the index pipeline
 *
 *   soci-layers [--platform os/arch[/variant]]... [--all-platforms] oci:DIR[:TAG|@DIGEST]
 *
 * Resolves the image and writes one image record and its layer records per
 * platform image to stdout (docs/format.md §5).  Layer bytes are not read
 * here: local layers are named by path for ztoc-gen to read.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include "cli.h"
#include "existing.h"
#include "image_resolve.h"
#include "index_opts.h"
#include "layer_job.h"
#include "layers.h"
#include "oci.h"
#include "oci_layout.h"
#include "reg_cli.h"
#include "registry.h"
#include "remote_source.h"
#include "stream_io.h"

#define PROG "soci-layers"

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--platform os/arch[/variant]]... [--all-platforms] oci:DIR[:TAG|@sha256:...]\n"
               "       " PROG " [options] [registry options] REGISTRY/REPO[:TAG|@sha256:...]\n"
               "Write the image's layers as a record stream (see formats/STREAM.md) for ztoc-gen.\n"
               "From a registry, layer bytes stream inline:\n"
               "  -j, --jobs N            layers fetched at once (default: number of CPUs)\n"
               "  --min-layer-size N      do not fetch smaller layers (default 10485760, as ztoc-gen)\n"
               "  --plain-http, --insecure, --user U[:P], --password-stdin, --verbose\n");
}

/* ---- registry source ---- */

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static int write_locked(const struct stream_record *rec, struct error *err)
{
    int rc;

    pthread_mutex_lock(&out_mu);
    rc = stream_write(STDOUT_FILENO, rec, err);
    pthread_mutex_unlock(&out_mu);
    return rc;
}

#define CHUNK_SIZE (1 << 20)

struct fetch_job {
    struct reg_client *c;
    const char *repo;
    const char *digest;
    int64_t size;       /* the descriptor's: no more is read */
    int64_t total;
    uint32_t image, n;
    uint8_t *buf;
    size_t have;
    int rc;
    struct error err;
};

static int flush_chunk(struct fetch_job *f, struct error *err)
{
    struct stream_record *rec = malloc(sizeof(*rec));
    int rc;

    RETURN_ERROR_IF(rec == NULL, err, "out of memory");
    stream_record_init(rec, REC_CHUNK);
    rec->image_id = f->image;
    rec->n = f->n;
    rec->chunk.data = f->buf;
    rec->chunk.data_len = f->have;
    rc = write_locked(rec, err);
    free(rec);
    f->have = 0;
    return rc;
}

static int to_chunks(void *ctx, const uint8_t *data, size_t n, struct error *err)
{
    struct fetch_job *f = ctx;

    f->total += (int64_t)n;
    RETURN_ERROR_IF(f->total > f->size, err, "the registry sent more than the %lld bytes the descriptor gives",
                    (long long)f->size);
    while (n > 0) {
        size_t k = CHUNK_SIZE - f->have < n ? CHUNK_SIZE - f->have : n;
        memcpy(f->buf + f->have, data, k);
        f->have += k;
        data += k;
        n -= k;
        if (f->have == CHUNK_SIZE && flush_chunk(f, err) != 0)
            return -1;
    }
    return 0;
}

/* fetch jobs in order, `jobs` at a time, from a shared counter */
struct fetch_pool {
    struct fetch_job *v;
    size_t n, next;
    pthread_mutex_t mu;
    int failed;
};

static void *fetch_worker(void *arg)
{
    struct fetch_pool *p = arg;

    for (;;) {
        struct fetch_job *f;
        struct stream_record end;
        pthread_mutex_lock(&p->mu);
        if (p->next >= p->n || p->failed) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        f = &p->v[p->next++];
        pthread_mutex_unlock(&p->mu);
        f->buf = malloc(CHUNK_SIZE);
        if (f->buf == NULL) {
            f->rc = error_set(&f->err, "out of memory");
        } else {
            f->rc = reg_blob_get(f->c, f->repo, f->digest, to_chunks, f, &f->err);
            if (f->rc == 0 && f->have > 0)
                f->rc = flush_chunk(f, &f->err);
        }
        free(f->buf);
        if (f->rc != 0) {
            error_prefix(&f->err, "layer %s", f->digest);
            pthread_mutex_lock(&p->mu);
            p->failed = 1;
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        stream_record_init(&end, REC_LAYER_END);
        end.image_id = f->image;
        end.n = f->n;
        if (write_locked(&end, &f->err) != 0) {
            f->rc = -1;
            pthread_mutex_lock(&p->mu);
            p->failed = 1;
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
    }
}

static int emit_remote(const char *arg, struct reg_cli *rc_opts, const struct platform_sel *sel, int jobs,
                       int64_t min_layer_size, struct error *err)
{
    struct reg_ref r;
    struct reg_client *c;
    struct resolved_set set;
    struct remote_target target;
    struct stream_record *rec = malloc(sizeof(*rec));
    size_t i, k;
    int status = -1;

    if (rec == NULL)
        return error_set(err, "out of memory");
    if (reg_ref_parse(arg, &r, err) != 0 || reg_cli_finish(rc_opts, err) != 0) {
        free(rec);
        return -1;
    }
    remote_source_bounds(&rc_opts->opts);
    c = reg_cli_client(rc_opts, r.host, err);
    if (c == NULL || reg_ping(c, err) != 0 || remote_resolve(c, &r, sel, &set, &target, err) != 0) {
        reg_client_free(c);
        free(rec);
        return -1;
    }
    stream_record_init(rec, REC_HEADER);
    if (write_locked(rec, err) != 0)
        goto out;
    for (i = 0; i < set.nimages; i++) {
        const struct resolved_image *im = &set.images[i];
        struct fetch_pool pool;
        pthread_t *threads;
        int t, nthreads;

        if (image_check_layer_count(im->manifest_digest, im->nlayers, err) != 0)
            goto out;
        layers_image_record(im, (uint32_t)i, "", arg, rec);
        rec->image.manifest_data = im->manifest_bytes;
        rec->image.manifest_data_len = im->manifest_len;
        if (write_locked(rec, err) != 0)
            goto out;
        memset(&pool, 0, sizeof(pool));
        pthread_mutex_init(&pool.mu, NULL);
        pool.v = calloc(im->nlayers + 1, sizeof(*pool.v));
        if (pool.v == NULL) {
            error_set(err, "out of memory");
            goto out;
        }
        for (k = 0; k < im->nlayers; k++) {
            enum layer_compression comp;
            if (layers_layer_record(NULL, im, (uint32_t)i, (uint32_t)k, NULL, rec, err) != 0) {
                free(pool.v);
                goto out;
            }
            comp = oci_layer_compression(rec->layer.desc.media_type);
            rec->layer.inline_data =
                comp != LAYER_NOT_A_LAYER && comp != LAYER_ZSTD && rec->layer.desc.size >= min_layer_size;
            if (rec->layer.inline_data) {
                struct fetch_job *f = &pool.v[pool.n++];
                f->c = c;
                f->repo = r.repo;
                f->digest = im->layers[k].digest;
                f->size = im->layers[k].size;
                f->image = (uint32_t)i;
                f->n = (uint32_t)k;
            }
            if (write_locked(rec, err) != 0) {
                free(pool.v);
                goto out;
            }
        }
        nthreads = jobs < (int)pool.n ? jobs : (int)pool.n;
        threads = calloc((size_t)nthreads + 1, sizeof(*threads));
        for (t = 0; threads && t < nthreads; t++)
            if (pthread_create(&threads[t], NULL, fetch_worker, &pool) != 0)
                break;
        nthreads = threads ? t : 0;
        for (t = 0; t < nthreads; t++)
            pthread_join(threads[t], NULL);
        free(threads);
        if (pool.failed || (pool.n > 0 && nthreads == 0)) {
            for (k = 0; k < pool.n; k++)
                if (pool.v[k].rc != 0)
                    *err = pool.v[k].err;
            if (nthreads == 0)
                error_set(err, "cannot start threads");
            free(pool.v);
            goto out;
        }
        free(pool.v);
        stream_record_init(rec, REC_IMAGE_END);
        rec->image_id = (uint32_t)i;
        if (write_locked(rec, err) != 0)
            goto out;
    }
    stream_record_init(rec, REC_END);
    if (write_locked(rec, err) != 0)
        goto out;
    status = 0;
out:
    resolved_set_release(&set);
    remote_target_release(&target);
    reg_client_free(c);
    free(rec);
    return status;
}

static int header_sent;

/* the stream header first, so that ztoc-gen recognises the stream even when
 * it carries nothing but an error (docs/format.md §5.1: the header is always first) */
static int emit_header(struct stream_record *rec, struct error *err)
{
    stream_record_init(rec, REC_HEADER);
    if (stream_write(STDOUT_FILENO, rec, err) != 0)
        return -1;
    header_sent = 1;
    return 0;
}

static int emit_error(const char *msg)
{
    struct stream_record rec;
    struct error ignored;

    if (!header_sent && emit_header(&rec, &ignored) != 0)
        return -1;
    stream_record_init(&rec, REC_ERROR);
    snprintf(rec.error.message, sizeof(rec.error.message), "%s", msg);
    return stream_write(STDOUT_FILENO, &rec, &ignored);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"platform", required_argument, NULL, 'p'},
        {"all-platforms", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        INDEX_LONG_OPTIONS,
        REG_CLI_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct reg_cli rc_opts;
    struct index_params params;
    int jobs;
    struct platform_sel sel;
    struct oci_layout l;
    struct resolved_set set;
    struct existing_set *existing = NULL;
    struct stream_record *rec;
    struct error err;
    char dir[4096], ref[512];
    int c;
    size_t i, k;

    memset(&sel, 0, sizeof(sel));
    reg_cli_init(&rc_opts);
    index_opts_init(&params, &jobs);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:hj:", opts, NULL)) != -1) {
        int known = index_opts_option(c, optarg, &params, &jobs, &err);
        if (known < 0) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            return 2;
        }
        if (known || reg_cli_option(&rc_opts, c, optarg))
            continue;
        switch (c) {
        case 'p':
            if (platform_sel_add(&sel, optarg, &err) != 0) {
                fprintf(stderr, PROG ": %s\n", err.msg);
                return 2;
            }
            break;
        case 'a':
            sel.all = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return cli_bad_option(PROG, c, argv, optind);
        }
    }
    if (argc - optind != 1)
        return cli_bad_args(PROG, "want one image: oci:DIR[:TAG] or REGISTRY/REPO[:TAG]");
    if (isatty(STDOUT_FILENO)) {
        fprintf(stderr, PROG ": stdout is a terminal; pipe it into ztoc-gen\n");
        return 2;
    }
    if (reg_ref_looks_remote(argv[optind])) {
        signal(SIGPIPE, SIG_IGN);
        if (emit_remote(argv[optind], &rc_opts, &sel, jobs, params.min_layer_size, &err) != 0) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            emit_error(err.msg);
            return 1;
        }
        return 0;
    }
    if (layout_ref_parse(argv[optind], dir, sizeof(dir), ref, sizeof(ref)) != 0) {
        fprintf(stderr, PROG ": \"%s\" is neither oci:DIR[:TAG] nor REGISTRY/REPO[:TAG]\n", argv[optind]);
        return 2;
    }
    rec = malloc(sizeof(*rec));
    if (rec == NULL || layout_open(&l, dir, 0, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", rec ? err.msg : "out of memory");
        emit_error(rec ? err.msg : "out of memory");
        free(rec);
        return 1;
    }
    if (image_resolve(&l, ref, &sel, &set, &err) != 0)
        goto fail;
    existing = existing_scan(&l);
    if (emit_header(rec, &err) != 0)
        goto fail_set;
    for (i = 0; i < set.nimages; i++) {
        const struct resolved_image *im = &set.images[i];
        layers_image_record(im, (uint32_t)i, dir, argv[optind], rec);
        if (stream_write(STDOUT_FILENO, rec, &err) != 0)
            goto fail_set;
        for (k = 0; k < im->nlayers; k++) {
            if (layers_layer_record(&l, im, (uint32_t)i, (uint32_t)k, existing, rec, &err) != 0 ||
                stream_write(STDOUT_FILENO, rec, &err) != 0)
                goto fail_set;
        }
        stream_record_init(rec, REC_IMAGE_END);
        rec->image_id = (uint32_t)i;
        if (stream_write(STDOUT_FILENO, rec, &err) != 0)
            goto fail_set;
    }
    stream_record_init(rec, REC_END);
    if (stream_write(STDOUT_FILENO, rec, &err) != 0)
        goto fail_set;
    existing_free(existing);
    resolved_set_release(&set);
    layout_close(&l);
    free(rec);
    return 0;
fail_set:
    resolved_set_release(&set);
fail:
    fprintf(stderr, PROG ": %s\n", err.msg);
    emit_error(err.msg); /* so the next stages stop without a second message */
    existing_free(existing);
    layout_close(&l);
    free(rec);
    return 1;
}
