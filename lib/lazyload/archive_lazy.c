/* archive_lazy.c -- libarchive's functions that lib/ calls, opening
 * libarchive on first use (see lazy_lib.h); linked instead of -larchive */
#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdio.h>

#include "lazy_lib.h"

/* type, name, parameters, arguments, and what a call returns when
 * libarchive cannot be loaded: the constructors' NULL is what matters (the
 * others take what a loaded libarchive made) */
#define AR_FIXED(X)                                                                                              \
    X(struct archive *, archive_read_new, (void), (), NULL)                                                      \
    X(struct archive *, archive_write_disk_new, (void), (), NULL)                                                \
    X(struct archive_entry *, archive_entry_new, (void), (), NULL)                                               \
    X(int, archive_read_free, (struct archive * a), (a), ARCHIVE_FATAL)                                           \
    X(int, archive_read_support_format_tar, (struct archive * a), (a), ARCHIVE_FATAL)                             \
    X(int, archive_read_open,                                                                                    \
      (struct archive * a, void *data, archive_open_callback *o, archive_read_callback *r,                       \
       archive_close_callback *c),                                                                               \
      (a, data, o, r, c), ARCHIVE_FATAL)                                                                         \
    X(int, archive_read_next_header, (struct archive * a, struct archive_entry * *e), (a, e), ARCHIVE_FATAL)      \
    X(int, archive_read_data_block, (struct archive * a, const void **b, size_t *n, la_int64_t *off),             \
      (a, b, n, off), ARCHIVE_FATAL)                                                                             \
    X(const char *, archive_error_string, (struct archive * a), (a), "libarchive could not be loaded")           \
    X(int, archive_write_disk_set_options, (struct archive * a, int flags), (a, flags), ARCHIVE_FATAL)            \
    X(int, archive_write_header, (struct archive * a, struct archive_entry * e), (a, e), ARCHIVE_FATAL)           \
    X(la_ssize_t, archive_write_data_block, (struct archive * a, const void *b, size_t n, la_int64_t off),        \
      (a, b, n, off), ARCHIVE_FATAL)                                                                             \
    X(int, archive_write_finish_entry, (struct archive * a), (a), ARCHIVE_FATAL)                                  \
    X(int, archive_write_close, (struct archive * a), (a), ARCHIVE_FATAL)                                         \
    X(int, archive_write_free, (struct archive * a), (a), ARCHIVE_FATAL)                                          \
    X(la_int64_t, archive_entry_gid, (struct archive_entry * e), (e), 0)                                          \
    X(la_int64_t, archive_entry_uid, (struct archive_entry * e), (e), 0)                                          \
    X(la_int64_t, archive_entry_size, (struct archive_entry * e), (e), 0)                                         \
    X(const char *, archive_entry_hardlink, (struct archive_entry * e), (e), NULL)                                \
    X(const char *, archive_entry_pathname, (struct archive_entry * e), (e), NULL)                                \
    X(time_t, archive_entry_mtime, (struct archive_entry * e), (e), 0)                                            \
    X(long, archive_entry_mtime_nsec, (struct archive_entry * e), (e), 0)                                         \
    X(__LA_MODE_T, archive_entry_perm, (struct archive_entry * e), (e), 0)
/* void ones */
#define AR_VOID(X)                                                                                \
    X(archive_entry_free, (struct archive_entry * e), (e))                                        \
    X(archive_entry_set_filetype, (struct archive_entry * e, unsigned int t), (e, t))             \
    X(archive_entry_set_gid, (struct archive_entry * e, la_int64_t v), (e, v))                    \
    X(archive_entry_set_uid, (struct archive_entry * e, la_int64_t v), (e, v))                    \
    X(archive_entry_set_hardlink, (struct archive_entry * e, const char *s), (e, s))              \
    X(archive_entry_set_pathname, (struct archive_entry * e, const char *s), (e, s))              \
    X(archive_entry_set_mtime, (struct archive_entry * e, time_t t, long ns), (e, t, ns))         \
    X(archive_entry_set_perm, (struct archive_entry * e, __LA_MODE_T m), (e, m))                  \
    X(archive_entry_set_rdev, (struct archive_entry * e, dev_t d), (e, d))

#define FIELD(RET, NAME, P, A, F) __typeof__(&NAME) NAME;
#define VFIELD(NAME, P, A) __typeof__(&NAME) NAME;
static struct {
    AR_FIXED(FIELD) AR_VOID(VFIELD) __typeof__(&archive_set_error) archive_set_error;
} fn;

#define SYM(RET, NAME, P, A, F) {#NAME, (void **)&fn.NAME},
#define VSYM(NAME, P, A) {#NAME, (void **)&fn.NAME},
static const struct lazy_sym syms[] = {AR_FIXED(SYM) AR_VOID(VSYM){"archive_set_error", (void **)&fn.archive_set_error}};
static struct lazy_lib ar_lib = {"libarchive.so.13", syms, sizeof(syms) / sizeof(syms[0]), PTHREAD_ONCE_INIT, 0};

#define FORWARD(RET, NAME, P, A, F) LAZY_FORWARD(ar_lib, fn, RET, NAME, P, A, F)
AR_FIXED(FORWARD)

#define VFORWARD(NAME, P, A)         \
    void NAME P                      \
    {                                \
        if (lazy_lib_load(&ar_lib))  \
            fn.NAME A;               \
    }
AR_VOID(VFORWARD)

/* printf-like: formatted here, handed over whole (libarchive keeps its own
 * copy of the message) */
void archive_set_error(struct archive *a, int err, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (!lazy_lib_load(&ar_lib))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fn.archive_set_error(a, err, "%s", msg);
}
