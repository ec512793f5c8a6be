/* table.c -- tabwriter-style tables (see table.h) */
#include "table.h"

#include <stdlib.h>
#include <string.h>

void table_init(struct table *t, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols > TABLE_MAX_COLS ? TABLE_MAX_COLS : ncols;
}

int table_add(struct table *t, const char *const *row)
{
    size_t i;

    if (t->nrows == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        char **nc = realloc(t->cells, ncap * t->ncols * sizeof(*nc));
        if (nc == NULL)
            return -1;
        t->cells = nc;
        t->cap = ncap;
    }
    for (i = 0; i < t->ncols; i++) {
        t->cells[t->nrows * t->ncols + i] = strdup(row[i] ? row[i] : "");
        if (t->cells[t->nrows * t->ncols + i] == NULL)
            return -1;
    }
    t->nrows++;
    return 0;
}

void table_print(const struct table *t, FILE *f)
{
    size_t width[TABLE_MAX_COLS] = {0}, r, c;

    for (r = 0; r < t->nrows; r++)
        for (c = 0; c < t->ncols; c++) {
            size_t w = strlen(t->cells[r * t->ncols + c]) + 4;
            if (w > width[c])
                width[c] = w;
        }
    for (c = 0; c < t->ncols; c++)
        if (width[c] < 8)
            width[c] = 8;
    for (r = 0; r < t->nrows; r++) {
        for (c = 0; c < t->ncols; c++)
            fprintf(f, "%-*s", (int)width[c], t->cells[r * t->ncols + c]);
        fputc('\n', f);
    }
}

void table_free(struct table *t)
{
    size_t i;

    for (i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}
