/* store.h -- the soci CLI's default store: one OCI image layout per
 * registry repository, under one root
 *
 * The root is `soci --root DIR` (store_set_root), else $SOCI_ROOT, else
 * /var/lib/soci-c for root (euid 0), else $XDG_DATA_HOME/soci-c, else
 * ~/.local/share/soci-c.  It is made 0700 when missing.  The layout of
 * HOST/REPO lives in ROOT/layouts/H/R, where H is HOST lowercased with ':'
 * as '_' and R is REPO with '/' as '+': neither character can occur in its
 * part (registry_ref.h's grammar), so the mapping is one-to-one, and every
 * name is one path component, never "." or "..".  A layout is created
 * whole (in a temporary directory renamed into place), so a reader or a
 * second writer sees no layout or a complete one; writers then serialise
 * on the layout's lock (oci_layout.h).
 *
 * Errors: 0 / -1 with one line in *err naming the path.  Ownership: a
 * store_list owns its strings (store_list_free).  Thread safety:
 * store_set_root is main's, once, before any thread; the rest keep no state.
 */
#ifndef SOCI_STORE_H
#define SOCI_STORE_H

#include <stddef.h>

#include "error.h"
#include "oci_layout.h"
#include "registry_ref.h"

/* more layouts than this in one store is an error, not a long walk */
#define STORE_MAX_LAYOUTS 10000

/* --root DIR: overrides $SOCI_ROOT for this process (dir is not copied) */
void store_set_root(const char *dir);

/* the root's path (nothing is created) */
int store_root(char *out, size_t n, struct error *err);

/* is the root usable: a directory (create=0: or missing); create=1: made
 * 0700 when missing, and writable */
int store_check_root(int create, struct error *err);

/* the store layout of r's repository: its path, and "HOST/REPO" */
int store_layout_path(const struct reg_ref *r, char *dir, size_t dir_len, char *name, size_t name_len,
                      struct error *err);

/* open the store layout of r's repository into l, its path into dir.
 * create=1: make the root and the layout when missing (the root must be
 * a writable directory); create=0: a missing layout is an error naming
 * the repository. */
int store_open_layout(const struct reg_ref *r, int create, struct oci_layout *l, char *dir, size_t dir_len,
                      struct error *err);

struct store_layout {
    char *dir;    /* the layout's path */
    char *name;   /* "HOST/REPO", or NULL for a layout outside the store */
};

struct store_list {
    struct store_layout *v;
    size_t n;
};

/* every layout of the store, sorted by name; a missing root is an empty
 * store, a root that is not a directory an error.  Entries whose names
 * the mapping could not have made are skipped. */
int store_list_layouts(struct store_list *sl, struct error *err);
/* a list of the one layout dir (name may be NULL) */
int store_list_one(struct store_list *sl, const char *dir, const char *name, struct error *err);
void store_list_free(struct store_list *sl);

#endif
