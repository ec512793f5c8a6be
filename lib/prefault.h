/* prefault.h -- fault a fresh buffer in with one system call, on 2 MiB
 * pages where the buffer is big enough
 *
 * In the VMs this project runs on, a first-touch page fault costs 10-16 us
 * and a page populated by MADV_POPULATE_WRITE (Linux 5.14) under 1 us.  A
 * buffer that is about to be written whole (a file read, a span fetched or
 * decompressed, a table sized up front) is cheaper populated at once:
 * ztoc-gen touches ~10,000 fresh pages per GB of layer, a mount of a
 * 60 MB layer ~4,000 before its first file's bytes.
 *
 * Populating is not the whole cost there: the first access from user space
 * to each populated 4 KiB page still costs ~5 us (the hypervisor fills its
 * own page table then), so ISA-L inflating a 3.9 MB span into a populated
 * buffer took 9 ms against 4 ms into pages touched before.  A transparent
 * huge page (THP in "madvise" or "always" mode; "madvise" on these VMs) is
 * one such fault per 2 MiB: alloc_huge_populated() puts the whole 2 MiB pages of a big buffer
 * on them, 4 ms for that span again.  Its last part goes on 4 KiB pages
 * unless rounding it up to a huge page wastes no more than the caller
 * allows, since memory a caller counts (a cache budget) should not grow by
 * up to 2 MiB per buffer unasked.
 *
 * Ownership: the caller's memory; what the alloc_ functions return, free()
 * releases.  Errors: none; where a flag is missing or the kernel refuses
 * it, the pages fault in as before.  Thread safety: any thread; contents
 * never change, so sharing an end page with another allocation is
 * harmless.
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

/* the size of a transparent huge page on x86-64 */
#define HUGE_PAGE_BYTES ((size_t)2 << 20)

/* malloc(n), populated, its whole 2 MiB pages (2 MiB-aligned) advised as
 * huge; the part after them is rounded up to a huge page too when that
 * adds max_waste bytes or fewer.  free() releases it.  NULL when out of
 * memory.  Where THP is off the kernel ignores the advice: 4 KiB pages
 * (and a rounded-up part is populated for nothing).  With THP's defrag
 * set to madvise (the kernel's default) the kernel may compact memory here
 * to find a huge page; where it finds none, it falls back to small pages. */
static inline void *alloc_huge_populated(size_t n, size_t max_waste)
{
    size_t whole = n & ~(HUGE_PAGE_BYTES - 1), tail = n - whole;
    void *p;

    if (tail > 0 && HUGE_PAGE_BYTES - tail <= max_waste) {
        whole += HUGE_PAGE_BYTES;
        n = whole;
    }
    if (whole == 0)
        return alloc_populated(n);
    if (posix_memalign(&p, HUGE_PAGE_BYTES, n) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, whole, MADV_HUGEPAGE);
#endif
    prefault_write(p, n);
    return p;
}

#endif
