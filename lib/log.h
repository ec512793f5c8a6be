/* log.h -- JSON log lines on stderr, one object per line
 *
 *   {"time":"2026-12-01T07:00:00.123Z","level":"info","msg":"mounted","layer":"sha256:..."}
 *
 * Daemons (soci-mount, soci-snapshotter-grpc) log this way; the command-line
 * tools print plain one-line errors instead.
 */
#ifndef SOCI_LOG_H
#define SOCI_LOG_H

/* level: "debug", "info", "warn", "error"; fields: extra JSON members
 * already formatted ("\"span\":3,\"bytes\":4096") or NULL; msg is
 * escaped */
void log_event(const char *level, const char *msg, const char *fields);
/* printf-style message, no extra fields */
void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* minimum level printed (default "info"); SOCI_LOG_LEVEL overrides */
void log_set_level(const char *level);

#define log_json(level, msg, key1, val1, key2, val2)                                        \
    do {                                                                                \
        char log_fields_[160];                                                          \
        snprintf(log_fields_, sizeof(log_fields_), "\"%s\":%lld,\"%s\":%lld", key1,     \
                 (long long)(val1), key2, (long long)(val2));                           \
        log_event(level, msg, log_fields_);                                             \
    } while (0)

#endif
