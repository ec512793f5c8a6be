/* test_prefault.c -- alloc_huge_populated (lib/prefault.h): big buffers
 * start on a 2 MiB boundary, their whole 2 MiB pages are huge pages where
 * the kernel has THP on, a last part is rounded up to one only within the
 * waste the caller allows, and every byte asked for is there to write and
 * free() takes it back */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "prefault.h"

#define MiB ((size_t)1 << 20)

/* AddressSanitizer's allocator maps memory its own way: what the kernel
 * makes of the advice there says nothing of glibc's, which the programs
 * use, so only alignment and sizes are checked under it */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* 1 when the kernel gives huge pages to madvise(MADV_HUGEPAGE) regions
 * (THP "always" or "madvise"), 2 when only to those ("madvise"), else 0 */
static int thp_available(void)
{
    char line[256] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

    if (f == NULL)
        return 0;
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = 0;
    fclose(f);
    if (line[0] == 0 || strstr(line, "[never]") != NULL)
        return 0;
    return strstr(line, "[madvise]") != NULL ? 2 : 1;
}

/* the kernel's count of huge page faults that fell back to small pages */
static long thp_fallbacks(void)
{
    char key[128];
    long v, total = 0;
    FILE *f = fopen("/proc/vmstat", "r");

    if (f == NULL)
        return 0;
    while (fscanf(f, "%127s %ld", key, &v) == 2)
        if (strcmp(key, "thp_fault_fallback") == 0)
            total += v;
    fclose(f);
    return total;
}

/* AnonHugePages (kB) of the mapping holding address a, or -1 */
static long huge_kb_at(const void *a)
{
    char line[512];
    uintptr_t lo = 0, hi = 0, x = (uintptr_t)a;
    int inside = 0;
    long kb = -1;
    FILE *f = fopen("/proc/self/smaps", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            lo = s;
            hi = e;
            inside = x >= lo && x < hi;
            continue;
        }
        if (inside && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
            break;
    }
    fclose(f);
    return inside ? kb : -1;
}

struct want {
    size_t n, max_waste;
    size_t huge;                /* bytes from the start on huge pages */
};

static void one(const struct want *w, int thp)
{
    long before = thp_fallbacks();
    uint8_t *p = alloc_huge_populated(w->n, w->max_waste);
    long kb;

    CHECK_MSG(p != NULL, "%zu bytes", w->n);
    if (p == NULL)
        return;
    memset(p, 0xa5, w->n);
    CHECK_MSG(p[0] == 0xa5 && p[w->n - 1] == 0xa5, "%zu bytes not writable", w->n);
    if (w->huge > 0)
        CHECK_MSG((uintptr_t)p % HUGE_PAGE_BYTES == 0, "%zu bytes at %p: not on a 2 MiB boundary", w->n, (void *)p);
    if (thp && w->huge > 0) {
        kb = huge_kb_at(p);
        if (thp_fallbacks() != before)
            printf("  %zu bytes: the kernel fell back to small pages (memory fragmented): huge pages not checked\n",
                   w->n);
        else
            CHECK_MSG(kb == (long)(w->huge / 1024), "%zu bytes (waste %zu): %ld kB on huge pages, want %zu",
                      w->n, w->max_waste, kb, w->huge / 1024);
        /* the part after the whole pages, when not rounded up: small pages
         * (with THP "always" the kernel may put it on a huge page anyway) */
        if (w->n > w->huge && thp == 2)
            CHECK_MSG(huge_kb_at(p + w->huge) == 0, "%zu bytes: its last part is on huge pages", w->n);
    }
    free(p);
}

int main(void)
{
    int thp = UNDER_ASAN ? 0 : thp_available();
    const struct want cases[] = {
        {100 * 1024, 100 * 1024, 0},           /* small: an ordinary allocation */
        {MiB + MiB / 8, MiB + MiB / 8, 2 * MiB}, /* a fetch buffer: rounded up, 0.9 MiB wasted */
        {MiB + MiB / 8, MiB / 3, 0},           /* the same, kept: too much waste, small pages */
        {2 * MiB, 0, 2 * MiB},                 /* exactly one huge page */
        {3875197, 3875197 / 16, 2 * MiB},      /* the mount benchmark's last span: 0.3 MiB short */
        {3875197, 3875197 / 8, 4 * MiB},       /* the same as soci-mount's cache asks: rounded up */
        {4 * MiB + 200 * 1024, (4 * MiB + 200 * 1024) / 16, 4 * MiB}, /* a 4 MiB span: tail small */
        {9 * MiB + 1, 0, 8 * MiB},             /* several, one byte past */
    };

    printf("transparent huge pages: %s\n", UNDER_ASAN ? "not checked under AddressSanitizer (its own allocator)"
                                            : thp == 2 ? "madvise"
                                            : thp      ? "always (last parts not checked)"
                                                       : "off (alignment and sizes checked only)");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        one(&cases[i], thp);
    return check_exit();
}
