/* curl_lazy.c -- libcurl's functions that lib/ calls, opening libcurl on
 * first use (see lazy_lib.h); linked instead of -lcurl */
#define CURL_DISABLE_TYPECHECK /* the option macros would wrap our definitions */
#include <curl/curl.h>
#include <stdarg.h>

#include "lazy_lib.h"

/* the functions with a fixed list of arguments: type, name, parameters,
 * arguments, and what a call returns when libcurl cannot be loaded */
#define CURL_FIXED(X)                                                                                    \
    X(CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)                               \
    X(CURL *, curl_easy_init, (void), (), NULL)                                                          \
    X(CURLcode, curl_easy_perform, (CURL * c), (c), CURLE_FAILED_INIT)                                    \
    X(char *, curl_easy_escape, (CURL * c, const char *s, int n), (c, s, n), NULL)                        \
    X(const char *, curl_easy_strerror, (CURLcode e), (e), "libcurl could not be loaded")                 \
    X(CURLHcode, curl_easy_header,                                                                        \
      (CURL * c, const char *name, size_t i, unsigned int origin, int request, struct curl_header **out), \
      (c, name, i, origin, request, out), CURLHE_NOT_BUILT_IN)                                             \
    X(CURLSH *, curl_share_init, (void), (), NULL)                                                       \
    X(CURLSHcode, curl_share_cleanup, (CURLSH * s), (s), CURLSHE_NOT_BUILT_IN)                            \
    X(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s), NULL)
/* void ones: only ever called with what a loaded libcurl gave */
#define CURL_VOID(X)                                                    \
    X(curl_easy_cleanup, (CURL * c), (c))                               \
    X(curl_easy_reset, (CURL * c), (c))                                 \
    X(curl_free, (void *p), (p))                                        \
    X(curl_slist_free_all, (struct curl_slist * l), (l))
/* variadic: one argument after the option, whose type the option says */
#define CURL_VARIADIC(X) X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_share_setopt)

#define FIELD(RET, NAME, P, A, F) __typeof__(&NAME) NAME;
#define VFIELD(NAME, P, A) __typeof__(&NAME) NAME;
#define VAFIELD(NAME) __typeof__(&NAME) NAME;
static struct {
    CURL_FIXED(FIELD) CURL_VOID(VFIELD) CURL_VARIADIC(VAFIELD)
} fn;

#define SYM(RET, NAME, P, A, F) {#NAME, (void **)&fn.NAME},
#define VSYM(NAME, P, A) {#NAME, (void **)&fn.NAME},
#define VASYM(NAME) {#NAME, (void **)&fn.NAME},
static const struct lazy_sym syms[] = {CURL_FIXED(SYM) CURL_VOID(VSYM) CURL_VARIADIC(VASYM)};
static struct lazy_lib curl_lib = {"libcurl.so.4", syms, sizeof(syms) / sizeof(syms[0]), PTHREAD_ONCE_INIT, 0};

#define FORWARD(RET, NAME, P, A, F) LAZY_FORWARD(curl_lib, fn, RET, NAME, P, A, F)
CURL_FIXED(FORWARD)

#define VFORWARD(NAME, P, A)            \
    void NAME P                         \
    {                                   \
        if (lazy_lib_load(&curl_lib))   \
            fn.NAME A;                  \
    }
CURL_VOID(VFORWARD)

/* the variadic ones: libcurl reads exactly one argument after the option,
 * of the type the option says; ARG(T) passes it on as a T */
#define VA_FORWARD(RET, NAME, HANDLE, OPTION, FAIL, PICK) \
    RET NAME(HANDLE h, OPTION opt, ...)                   \
    {                                                     \
        va_list ap;                                       \
        RET rc;                                           \
        if (!lazy_lib_load(&curl_lib))                    \
            return FAIL;                                  \
        va_start(ap, opt);                                \
        PICK                                              \
        va_end(ap);                                       \
        return rc;                                        \
    }
#define ARG(NAME, T) rc = fn.NAME(h, opt, va_arg(ap, T));

/* curl.h's CURLOPTTYPE_* ranges: long, object pointer, function pointer,
 * curl_off_t, blob */
#define SETOPT_ARG                                         \
    if (opt < CURLOPTTYPE_OBJECTPOINT)                     \
        ARG(curl_easy_setopt, long)                        \
    else if (opt < CURLOPTTYPE_FUNCTIONPOINT)              \
        ARG(curl_easy_setopt, void *)                      \
    else if (opt < CURLOPTTYPE_OFF_T)                      \
        ARG(curl_easy_setopt, void (*)(void))              \
    else if (opt < CURLOPTTYPE_BLOB)                       \
        ARG(curl_easy_setopt, curl_off_t)                  \
    else                                                   \
        ARG(curl_easy_setopt, void *)
VA_FORWARD(CURLcode, curl_easy_setopt, CURL *, CURLoption, CURLE_FAILED_INIT, SETOPT_ARG)

/* every CURLINFO_* takes a pointer to where the answer goes */
VA_FORWARD(CURLcode, curl_easy_getinfo, CURL *, CURLINFO, CURLE_FAILED_INIT, ARG(curl_easy_getinfo, void *))

/* SHARE/UNSHARE take a curl_lock_data (an int once passed through ...),
 * LOCKFUNC/UNLOCKFUNC a function, USERDATA a pointer */
#define SHARE_ARG                                             \
    if (opt == CURLSHOPT_SHARE || opt == CURLSHOPT_UNSHARE)   \
        ARG(curl_share_setopt, int)                           \
    else if (opt == CURLSHOPT_LOCKFUNC || opt == CURLSHOPT_UNLOCKFUNC) \
        ARG(curl_share_setopt, void (*)(void))                \
    else                                                      \
        ARG(curl_share_setopt, void *)
VA_FORWARD(CURLSHcode, curl_share_setopt, CURLSH *, CURLSHoption, CURLSHE_NOT_BUILT_IN, SHARE_ARG)
