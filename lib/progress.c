/* progress.c -- terminal status line (see progress.h) */
#include "progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_TASKS 256

struct task {
    char name[24];
    int64_t total;
    volatile int64_t *done;
    int finished;
    int used;
};

struct progress {
    char prog[32];
    pthread_t thread;
    pthread_mutex_t mu;
    int stop;
    struct task tasks[MAX_TASKS];
    int ntasks, nfinished;
    int64_t finished_bytes;
    double t0;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void draw(struct progress *p)
{
    char line[512];
    int64_t bytes = p->finished_bytes;
    double el = now() - p->t0;
    int i, n;

    for (i = 0; i < p->ntasks; i++)
        if (p->tasks[i].used && !p->tasks[i].finished)
            bytes += *p->tasks[i].done;
    n = snprintf(line, sizeof(line), "%s: %d/%d layers, %.1f MB, %.0f MB/s", p->prog, p->nfinished,
                 p->ntasks, bytes / 1e6, el > 0 ? bytes / 1e6 / el : 0.0);
    for (i = 0; i < p->ntasks && n < (int)sizeof(line) - 40; i++) {
        const struct task *t = &p->tasks[i];
        if (!t->used || t->finished)
            continue;
        n += snprintf(line + n, sizeof(line) - (size_t)n, " | %s %d%%", t->name,
                      t->total > 0 ? (int)(100 * *t->done / t->total) : 0);
    }
    fprintf(stderr, "\r%-100.160s", line);
    fflush(stderr);
}

static void *loop(void *arg)
{
    struct progress *p = arg;

    for (;;) {
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        draw(p);
        pthread_mutex_unlock(&p->mu);
    }
}

struct progress *progress_start(const char *prog, int enabled)
{
    struct progress *p;

    if (!enabled || !isatty(STDERR_FILENO))
        return NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    snprintf(p->prog, sizeof(p->prog), "%s", prog);
    pthread_mutex_init(&p->mu, NULL);
    p->t0 = now();
    if (pthread_create(&p->thread, NULL, loop, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

int progress_add(struct progress *p, const char *name, int64_t total, volatile int64_t *done)
{
    int id;

    if (p == NULL)
        return -1;
    pthread_mutex_lock(&p->mu);
    if (p->ntasks == MAX_TASKS) {
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    id = p->ntasks++;
    snprintf(p->tasks[id].name, sizeof(p->tasks[id].name), "%s", name);
    p->tasks[id].total = total;
    p->tasks[id].done = done;
    p->tasks[id].used = 1;
    pthread_mutex_unlock(&p->mu);
    return id;
}

void progress_finish_task(struct progress *p, int id)
{
    if (p == NULL || id < 0)
        return;
    pthread_mutex_lock(&p->mu);
    if (!p->tasks[id].finished) {
        p->tasks[id].finished = 1;
        p->finished_bytes += *p->tasks[id].done;
        p->nfinished++;
    }
    pthread_mutex_unlock(&p->mu);
}

void progress_stop(struct progress *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    fprintf(stderr, "\r%-100s\r", "");
    fflush(stderr);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
