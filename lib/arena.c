/* arena.c -- bump allocator (see arena.h) */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (64 * 1024)

struct block {
    struct block *next;
    size_t used, cap;
    char data[];
};

struct arena {
    struct block *head;
    size_t total;
};

struct arena *arena_new(void) { return calloc(1, sizeof(struct arena)); }

void arena_free(struct arena *a)
{
    struct block *b, *next;

    if (a == NULL)
        return;
    for (b = a->head; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
    struct block *b = a->head;
    size_t need = (n + 7) & ~(size_t)7;
    void *p;

    if (need < n)
        return NULL;
    if (b == NULL || b->cap - b->used < need) {
        size_t cap = need > BLOCK_SIZE / 4 ? need : BLOCK_SIZE;
        struct block *nb = malloc(sizeof(*nb) + cap);
        if (nb == NULL)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (b != NULL && need > BLOCK_SIZE / 4) {
            /* a big object gets its own block behind the current one */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
        a->total += sizeof(*nb) + cap;
    }
    p = b->data + b->used;
    b->used += need;
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);

    if (p == NULL)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

size_t arena_bytes(const struct arena *a) { return a->total; }
