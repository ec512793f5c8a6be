/* prefault.h -- fault a fresh buffer in with one system call
 *
 * In the VMs this project runs on, a first-touch page fault costs 10-16 us
 * and a page populated by MADV_POPULATE_WRITE (Linux 5.14) under 1 us.  A
 * buffer that is about to be written whole (a file read, a span fetched or
 * decompressed, a table sized up front) is cheaper populated at once:
 * ztoc-gen touches ~10,000 fresh pages per GB of layer, a mount of a
 * 60 MB layer ~4,000 before its first file's bytes.
 *
 * Ownership: none (the caller's memory).  Errors: none; where the flag is
 * missing or the kernel refuses it, the pages fault in as before.  Thread
 * safety: any thread; contents never change, so sharing an end page with
 * another allocation is harmless.
 */
#ifndef SOCI_PREFAULT_H
#define SOCI_PREFAULT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

/* small buffers mostly reuse heap pages malloc has touched before: a call
 * per small allocation would populate little and cost a system call each */
#define PREFAULT_MIN_BYTES (64 * 1024)

/* populate [p, p + n) for writing, whatever its size */
static inline void prefault_write(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)4095, e = (uintptr_t)p + n;

    if (n > 0)
        (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)n;
#endif
}

/* the same for buffers of PREFAULT_MIN_BYTES or more only */
static inline void prefault_large(void *p, size_t n)
{
    if (n >= PREFAULT_MIN_BYTES)
        prefault_write(p, n);
}

/* malloc(n), populated when large; NULL when out of memory */
static inline void *alloc_populated(size_t n)
{
    void *p = malloc(n);

    if (p != NULL)
        prefault_large(p, n);
    return p;
}

#endif
