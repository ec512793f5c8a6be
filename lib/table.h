/* table.h -- column-aligned text tables, laid out like Go's tabwriter
 * (minwidth 8, padding 4, every cell padded), which upstream's list
 * commands use
 *
 * Ownership: the table owns copies of its cells until table_free().
 * Errors: table_add returns 0, or -1 when out of memory (the row is not
 * added).  Thread safety: none; one thread per table.
 */
#ifndef SOCI_TABLE_H
#define SOCI_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_MAX_COLS 12

struct table {
    size_t ncols;
    size_t nrows, cap;
    char **cells;     /* nrows * ncols strdup'd strings */
};

void table_init(struct table *t, size_t ncols);
/* add a row of ncols strings (copied) */
int table_add(struct table *t, const char *const *row);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

#endif
