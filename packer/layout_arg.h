/* layout_arg.h -- which layouts a list/info/rm command works on: the one
 * it names (--layout DIR, an oci:DIR[:TAG] argument, or $SOCI_LAYOUT), or,
 * naming none, the layouts of the store (store.h)
 *
 * Errors: 0 / -1 with one line in *err.  Ownership: the caller frees the
 * store_list (store_list_free) and closes what layout_entry_open opened.
 * Thread safety: no state of its own.
 */
#ifndef SOCI_LAYOUT_ARG_H
#define SOCI_LAYOUT_ARG_H

#include <stddef.h>

#include "catalog.h"
#include "error.h"
#include "oci_layout.h"
#include "store.h"

/* does the command name a layout (else it works on the store)?
 * ref_arg: an oci: argument or NULL */
int layout_named(const char *dir_opt, const char *ref_arg);

/* dir_opt: --layout value or NULL; ref_arg: an oci:DIR[:TAG] argument or
 * NULL; ref_opt: --ref / --image-ref or NULL.  Fills sl with the named
 * layout (name NULL), else with the store's layouts -- only the one of
 * ref_opt's repository when ref_opt is a registry reference.  *tag gets the
 * tag to filter on ("" for none): ref_opt's tag, ref_opt itself when it is
 * a plain tag, or the oci: argument's. */
int layouts_from_args(const char *dir_opt, const char *ref_arg, const char *ref_opt, struct store_list *sl,
                      char *tag, size_t tag_len, struct error *err);

/* open a listed layout and load its catalog; on failure nothing is left open */
int layout_entry_open(const struct store_layout *e, struct oci_layout *l, struct catalog *cat,
                      struct error *err);
void layout_entry_close(struct oci_layout *l, struct catalog *cat);

/* how a list shows an image of e tagged tag: "HOST/REPO:TAG" in the
 * store, the tag alone in a named layout */
void layout_entry_ref(const struct store_layout *e, const char *tag, char *out, size_t n);

#endif
