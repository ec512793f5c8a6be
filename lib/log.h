/* log.h -- JSON log lines on stderr (or another stream), one object per line
 *
 *   {"time":"2026-12-01T07:00:00.123Z","level":"info","msg":"mounted","layer":"sha256:..."}
 *
 * Daemons (soci-mount, soci-snapshotter-grpc) log this way; the command-line
 * tools print plain one-line errors instead.  Every record is built by a
 * JSON encoder (formats/gojson): whatever a message or a field holds (an
 * error text from a registry with quotes or newlines), a record is one line
 * of valid JSON and cannot forge another.
 *
 * Thread safety: every function may be called from any thread at any time;
 * records are written whole, one at a time.
 *
 * Ownership: msg, fields and the FILE given to log_set_output stay the
 * caller's (that stream must stay open while anything may log).  Errors:
 * logging cannot fail for its caller; a record that cannot be built or
 * written is dropped.
 */
#ifndef SOCI_LOG_H
#define SOCI_LOG_H

#include <stddef.h>
#include <stdio.h>

/* one extra member of a record: a string or an integer */
enum log_kind { LOG_KIND_STR = 1, LOG_KIND_INT };
struct log_field {
    const char *key;
    enum log_kind kind;
    const char *str;            /* LOG_KIND_STR (NULL: "") */
    long long num;              /* LOG_KIND_INT */
};
#define LOG_STR(k, v) ((struct log_field){(k), LOG_KIND_STR, (v), 0})
#define LOG_INT(k, v) ((struct log_field){(k), LOG_KIND_INT, NULL, (long long)(v)})

/* level: "debug", "info", "warn", "error"; msg and fields are encoded */
void log_fields(const char *level, const char *msg, const struct log_field *fields, size_t n);
/* log_kv("info", "mounted", LOG_STR("layer", d), LOG_INT("spans", n)) */
#define log_kv(level, msg, ...)                                                                    \
    do {                                                                                           \
        const struct log_field log_f_[] = {__VA_ARGS__};                                          \
        log_fields((level), (msg), log_f_, sizeof(log_f_) / sizeof(log_f_[0]));                  \
    } while (0)
#define log_json(level, msg, key1, val1, key2, val2) log_kv(level, msg, LOG_INT(key1, val1), LOG_INT(key2, val2))

/* printf-style message, no extra fields */
void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Older form: fields is text meant as JSON members ("\"span\":3") or NULL.
 * It is parsed, and its members re-encoded; text that is not such members
 * becomes one string member "fields", so no caller can break a record.
 * Prefer log_kv. */
void log_event(const char *level, const char *msg, const char *fields);

/* where the lines go: stderr unless set (soci-snapshotter-grpc logs on
 * stdout, as upstream's daemon does; soci-mount --log-file to a file) */
void log_set_output(FILE *out);
/* minimum level printed (default "info"); SOCI_LOG_LEVEL overrides */
void log_set_level(const char *level);

#endif
