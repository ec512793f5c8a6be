/* lazy_lib.c -- a shared library opened on its first use (see lazy_lib.h) */
#include "lazy_lib.h"

#include <dlfcn.h>
#include <stdio.h>

/* pthread_once takes no argument: the library being loaded is handed over
 * in a thread-local, set just before the call by the thread that may run it */
static _Thread_local struct lazy_lib *loading;

static void load_once(void)
{
    struct lazy_lib *lib = loading;
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    size_t i;

    if (h == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", lib->soname, dlerror());
        return;
    }
    for (i = 0; i < lib->nsyms; i++) {
        *lib->syms[i].addr = dlsym(h, lib->syms[i].name);
        if (*lib->syms[i].addr == NULL) {
            fprintf(stderr, "cannot load %s: no %s in it\n", lib->soname, lib->syms[i].name);
            return; /* the handle stays open: dlclose is not worth the risk here */
        }
    }
    lib->ok = 1;
}

int lazy_lib_load(struct lazy_lib *lib)
{
    loading = lib;
    pthread_once(&lib->once, load_once);
    return lib->ok;
}
