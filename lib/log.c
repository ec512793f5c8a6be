/* log.c -- JSON log lines (see log.h) */
#include "log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gojson.h"

static atomic_int set_rank = 1;          /* log_set_level's */
static int env_rank = -1;                /* SOCI_LOG_LEVEL's, -1: unset; written once */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_out;                    /* under log_mu; NULL: stderr */

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

static void read_env(void)
{
    const char *e = getenv("SOCI_LOG_LEVEL");

    if (e)
        env_rank = rank(e);
}

static int enabled(const char *level)
{
    pthread_once(&env_once, read_env);
    return rank(level) >= (env_rank >= 0 ? env_rank : atomic_load(&set_rank));
}

void log_set_level(const char *level) { atomic_store(&set_rank, rank(level)); }

void log_set_output(FILE *out)
{
    pthread_mutex_lock(&log_mu);
    log_out = out;
    pthread_mutex_unlock(&log_mu);
}

/* time, level and msg: the members every record starts with */
static void begin_record(struct gojson *j, const char *level, const char *msg)
{
    struct timespec ts;
    struct tm tm;
    char when[64];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    gojson_init(j, 0);
    gojson_begin_object(j);
    gojson_key(j, "time");
    gojson_cstr(j, when);
    gojson_key(j, "level");
    gojson_cstr(j, level);
    gojson_key(j, "msg");
    gojson_cstr(j, msg ? msg : "");
}

/* end the record and write it as one line */
static void emit_record(struct gojson *j)
{
    const char *text;
    size_t len;
    struct error err;

    gojson_end_object(j);
    if (gojson_result(j, &text, &len, &err) == 0) {
        FILE *out;
        pthread_mutex_lock(&log_mu);
        out = log_out ? log_out : stderr;
        fwrite(text, 1, len, out);
        fputc('\n', out);
        fflush(out);
        pthread_mutex_unlock(&log_mu);
    }
    gojson_free(j);
}

void log_fields(const char *level, const char *msg, const struct log_field *fields, size_t n)
{
    struct gojson j;
    size_t i;

    if (!enabled(level))
        return;
    begin_record(&j, level, msg);
    for (i = 0; i < n; i++) {
        gojson_key(&j, fields[i].key);
        if (fields[i].kind == LOG_KIND_INT)
            gojson_int(&j, fields[i].num);
        else
            gojson_cstr(&j, fields[i].str ? fields[i].str : "");
    }
    emit_record(&j);
}

/* a parsed JSON value, encoded again */
static void write_value(struct gojson *j, json_t *v, int depth)
{
    char num[64];

    if (depth >= GOJSON_MAX_DEPTH - 2) {
        gojson_null(j);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *m;
        gojson_begin_object(j);
        json_object_foreach(v, k, m) {
            gojson_key(j, k);
            write_value(j, m, depth + 1);
        }
        gojson_end_object(j);
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *m;
        gojson_begin_array(j);
        json_array_foreach(v, i, m)
            write_value(j, m, depth + 1);
        gojson_end_array(j);
        break;
    }
    case JSON_STRING: gojson_string(j, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: gojson_int(j, (int64_t)json_integer_value(v)); break;
    case JSON_REAL:
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        gojson_raw(j, num, strlen(num));
        break;
    case JSON_TRUE: gojson_bool(j, 1); break;
    case JSON_FALSE: gojson_bool(j, 0); break;
    default: gojson_null(j); break;
    }
}

void log_event(const char *level, const char *msg, const char *fields)
{
    struct gojson j;
    json_t *obj = NULL;

    if (!enabled(level))
        return;
    if (fields && fields[0]) {
        size_t n = strlen(fields);
        char *wrapped = malloc(n + 3);
        if (wrapped) {
            wrapped[0] = '{';
            memcpy(wrapped + 1, fields, n);
            wrapped[n + 1] = '}';
            wrapped[n + 2] = '\0';
            obj = json_loads(wrapped, JSON_REJECT_DUPLICATES, NULL);
            free(wrapped);
        }
    }
    begin_record(&j, level, msg);
    if (obj && json_is_object(obj)) {
        const char *k;
        json_t *m;
        json_object_foreach(obj, k, m) {
            if (strcmp(k, "time") == 0 || strcmp(k, "level") == 0 || strcmp(k, "msg") == 0)
                continue; /* never a second one of ours */
            gojson_key(&j, k);
            write_value(&j, m, 1);
        }
    } else if (fields && fields[0]) {
        gojson_key(&j, "fields");
        gojson_cstr(&j, fields);
    }
    json_decref(obj);
    emit_record(&j);
}

void log_msg(const char *level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (!enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_fields(level, msg, NULL, 0);
}
