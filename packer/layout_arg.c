/* layout_arg.c -- resolve the layout a command works on (see layout_arg.h) */
#include "layout_arg.h"

#include <stdlib.h>
#include <string.h>

#include "strutil.h"

int layout_from_args(const char *dir_opt, const char *ref_arg, struct oci_layout *l, char *tag,
                     size_t tag_len, struct error *err)
{
    char dir[4096];

    tag[0] = '\0';
    if (ref_arg && layout_ref_parse(ref_arg, dir, sizeof(dir), tag, tag_len) == 0)
        return layout_open(l, dir, 0, err);
    RETURN_ERROR_IF(ref_arg && strncmp(ref_arg, "oci:", 4) != 0 && dir_opt == NULL, err,
                    "\"%s\" is not of the form oci:DIR[:TAG]", ref_arg);
    if (dir_opt == NULL)
        dir_opt = getenv("SOCI_LAYOUT");
    RETURN_ERROR_IF(dir_opt == NULL, err, "no layout given: use --layout DIR (or SOCI_LAYOUT=DIR)");
    return layout_open(l, dir_opt, 0, err);
}
