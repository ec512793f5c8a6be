/* layout_arg.h -- which layout a list/info/rm command works on: --layout
 * DIR, or the DIR of an oci:DIR[:TAG] argument */
#ifndef SOCI_LAYOUT_ARG_H
#define SOCI_LAYOUT_ARG_H

#include "error.h"
#include "oci_layout.h"

/* dir_opt: --layout value or NULL; ref_arg: an oci: argument or NULL.
 * Opens the layout; *tag gets the ref's tag ("" if none). */
int layout_from_args(const char *dir_opt, const char *ref_arg, struct oci_layout *l, char *tag,
                     size_t tag_len, struct error *err);

#endif
