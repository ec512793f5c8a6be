/* arena.h -- bump allocator for many small strings that die together
 *
 * Ownership: every allocation belongs to the arena and is freed with it by
 * arena_free(); none is freed alone.  Errors: arena_new, arena_alloc and
 * arena_strndup return NULL when out of memory.  Thread safety: none; an
 * arena is used by one thread at a time.
 */
#ifndef SOCI_ARENA_H
#define SOCI_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_new(void);
void arena_free(struct arena *a);
/* n bytes aligned to 8; NULL when out of memory */
void *arena_alloc(struct arena *a, size_t n);
/* a copy of s[0..n) plus a NUL */
char *arena_strndup(struct arena *a, const char *s, size_t n);
size_t arena_bytes(const struct arena *a);

#endif
