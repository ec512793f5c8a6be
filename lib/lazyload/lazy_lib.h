/* lazy_lib.h -- a shared library opened on its first use, not at exec
 *
 * A program that links a library normally pays for loading it (mapping,
 * relocating, running its constructors, and the same for everything it
 * depends on) before main, whether or not this run uses it.  libcurl (about
 * 30 libraries with its TLS, Kerberos, LDAP and IDN dependencies) and
 * libarchive (libxml2, ICU, ...) cost soci-mount more start-up time than
 * mounting a local layer does.  The files of lib/lazyload/ define those
 * libraries' functions as forwarders that open the library with dlopen the
 * first time one of them is called; a program links them instead of -lcurl
 * / -larchive (build/Makefile: soci-mount).  The prototypes come from the
 * libraries' own headers, so the compiler checks every forwarder.
 *
 * Ownership: the library stays open until exit.  Errors: a library or
 * symbol that cannot be found is said once on stderr; then the forwarders
 * return what their library returns for a failure (NULL from a
 * constructor, an error code), and lib/'s callers report that as they
 * would any such failure.  Thread safety: loading happens once
 * (pthread_once), every forwarder may be called from any thread.
 */
#ifndef SOCI_LAZY_LIB_H
#define SOCI_LAZY_LIB_H

#include <pthread.h>
#include <stddef.h>

struct lazy_sym {
    const char *name;
    void **addr;                /* where the loader stores its address */
};

struct lazy_lib {
    const char *soname;         /* e.g. "libcurl.so.4": the ABI the headers describe */
    const struct lazy_sym *syms;
    size_t nsyms;
    pthread_once_t once;
    int ok;                     /* every symbol was found (written inside once) */
};

/* open lib and resolve all its symbols, once; 1 if they are all there */
int lazy_lib_load(struct lazy_lib *lib);

/* the forwarder of function NAME: loads the library first, then calls
 * through the resolved pointer; FAIL is returned when it could not load.
 * RET, PARAMS and ARGS are the prototype's, as in the library's header. */
#define LAZY_FORWARD(lib, ptrs, RET, NAME, PARAMS, ARGS, FAIL) \
    RET NAME PARAMS                                            \
    {                                                          \
        if (!lazy_lib_load(&lib))                              \
            return FAIL;                                       \
        return ptrs.NAME ARGS;                                 \
    }

#endif
