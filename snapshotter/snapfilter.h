/* snapfilter.h -- containerd filter expressions over snapshot info
 *
 * The grammar of containerd's filters package, as snapshotters' Walk uses it:
 *
 *   filter    := selector ("," selector)*          all selectors must match
 *   selector  := fieldpath [("==" | "!=" | "~=") value]
 *   fieldpath := field ("." field)*
 *   field     := [-_A-Za-z0-9]+ | "quoted"
 *   value     := "quoted" | [^\s,]+                 after ~= also /quoted/, |quoted|
 *
 * Quoted strings take Go's escapes (\n, \x41, \101, \u00e9, ...).  Several
 * filters given together match when any of them does; none, or an empty
 * string, matches everything.  The fields of a snapshot are name, parent,
 * kind (active, view, committed) and labels.KEY (labels."a.b/c" for keys that
 * are not plain fields; unquoted dotted parts are joined with "."); a field
 * without operator tests presence (parent is always present, a label only
 * when set).  "!=" also matches an absent field.
 *
 * One difference from containerd: ~= takes a POSIX extended regular
 * expression (regcomp), not Go's RE2; as there, an expression that does not
 * compile matches nothing rather than failing the call.
 *
 * Errors: snapfilter_parse returns 0, or -1 with the filter and the position
 * in err (the snapstore maps it to INVALID_ARGUMENT).  Ownership: the caller
 * frees a parsed filter with snapfilter_free.  Thread safety: a parsed filter
 * is read-only and may be matched from several threads.
 */
#ifndef SOCI_SNAPFILTER_H
#define SOCI_SNAPFILTER_H

#include <stddef.h>

#include "error.h"
#include "snapstore.h"

struct snapfilter;

/* each string at most SNAPFILTER_MAX_LEN bytes, at most SNAPFILTER_MAX_COUNT strings */
#define SNAPFILTER_MAX_LEN 65536
#define SNAPFILTER_MAX_COUNT 1024

int snapfilter_parse(const char *const *filters, size_t nfilters, struct snapfilter **out, struct error *err);
int snapfilter_match(const struct snapfilter *f, const struct snap_info *info);
void snapfilter_free(struct snapfilter *f);

#endif
