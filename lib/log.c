/* log.c -- JSON log lines (see log.h) */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gojson.h"

static int min_rank = 1;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static int rank(const char *level)
{
    if (strcmp(level, "debug") == 0)
        return 0;
    if (strcmp(level, "info") == 0)
        return 1;
    if (strcmp(level, "warn") == 0)
        return 2;
    return 3;
}

void log_set_level(const char *level) { min_rank = rank(level); }

void log_event(const char *level, const char *msg, const char *fields)
{
    struct gojson j;
    struct timespec ts;
    struct tm tm;
    char when[64];
    static int env_checked;

    if (!env_checked) {
        const char *e = getenv("SOCI_LOG_LEVEL");
        if (e)
            min_rank = rank(e);
        env_checked = 1;
    }
    if (rank(level) < min_rank)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    gojson_init(&j, 0);
    gojson_escape(&j, msg, strlen(msg));
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":%s%s%s}\n", when, level, j.buf ? j.buf : "\"\"",
            fields && fields[0] ? "," : "", fields ? fields : "");
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
    gojson_free(&j);
}

void log_msg(const char *level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_event(level, msg, NULL);
}
