/* error.h -- one-line error reports carried up to main()
 *
 * Every fallible function in this project returns 0 on success and -1 on
 * failure, and on failure fills a `struct error` with one human-readable line
 * that carries the context (file, offset, what was expected).  Callers may
 * prefix more context on the way up; main() prints it once.  Nothing below
 * main() prints or exits.
 *
 * Ownership: a struct error is the caller's (usually on its stack) and
 * holds the text itself; nothing is allocated.  Thread safety: a struct
 * error belongs to one thread at a time; the functions keep no state.
 */
#ifndef SOCI_ERROR_H
#define SOCI_ERROR_H

#include <stddef.h>

#define ERROR_MSG_MAX 512

struct error {
    char msg[ERROR_MSG_MAX];
};

/* set err->msg from a printf format; always returns -1 so callers can write
 * `return error_set(err, "...")`.  err may be NULL (the message is dropped). */
int error_set(struct error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* prepend "<context>: " to the current message; returns -1 */
int error_prefix(struct error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* one-line validation exit: RETURN_ERROR_IF(len < 12, err, "short blob") */
#define RETURN_ERROR_IF(cond, err, ...)                                       \
    do {                                                                      \
        if (cond)                                                             \
            return error_set((err), __VA_ARGS__);                             \
    } while (0)

/* forward a failure after adding context: FORWARD_IF_ERROR(f(x, err), err, "reading %s", p) */
#define FORWARD_IF_ERROR(expr, err, ...)                                      \
    do {                                                                      \
        if ((expr) != 0)                                                      \
            return error_prefix((err), __VA_ARGS__);                          \
    } while (0)

#endif
