/* layout_arg.c -- resolve the layouts a command works on (see layout_arg.h) */
#include "layout_arg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_ref.h"
#include "strutil.h"

int layout_named(const char *dir_opt, const char *ref_arg)
{
    const char *env = getenv("SOCI_LAYOUT");

    return dir_opt != NULL || ref_arg != NULL || (env != NULL && env[0] != '\0');
}

/* keep only the store layout of ref's repository */
static int store_only(struct store_list *sl, const struct reg_ref *r, struct error *err)
{
    char dir[4096], name[800];
    size_t i, k = 0;

    if (store_layout_path(r, dir, sizeof(dir), name, sizeof(name), err) != 0)
        return -1;
    for (i = 0; i < sl->n; i++) {
        if (strcmp(sl->v[i].name, name) == 0) {
            struct store_layout keep = sl->v[i];
            sl->v[i] = sl->v[k];
            sl->v[k++] = keep;
        }
    }
    for (i = k; i < sl->n; i++) {
        free(sl->v[i].dir);
        free(sl->v[i].name);
    }
    sl->n = k;
    return 0;
}

int layouts_from_args(const char *dir_opt, const char *ref_arg, const char *ref_opt, struct store_list *sl,
                      char *tag, size_t tag_len, struct error *err)
{
    char dir[4096];
    struct reg_ref r;

    memset(sl, 0, sizeof(*sl));
    tag[0] = '\0';
    if (ref_arg) {
        RETURN_ERROR_IF(layout_ref_parse(ref_arg, dir, sizeof(dir), tag, tag_len) != 0, err,
                        "\"%s\" is not of the form oci:DIR[:TAG]", ref_arg);
        dir_opt = dir;
    } else if (dir_opt == NULL && layout_named(NULL, NULL)) {
        dir_opt = getenv("SOCI_LAYOUT");
    }
    if (dir_opt) {
        if (ref_opt)
            str_copy(tag, tag_len, ref_opt);
        return store_list_one(sl, dir_opt, NULL, err);
    }
    if (store_list_layouts(sl, err) != 0)
        return -1;
    if (ref_opt == NULL)
        return 0;
    if (!reg_ref_looks_remote(ref_opt))
        return str_copy(tag, tag_len, ref_opt) == 0 ? 0 : error_set(err, "--ref \"%.100s\" is too long", ref_opt);
    if (reg_ref_parse(ref_opt, &r, err) != 0 || store_only(sl, &r, err) != 0) {
        store_list_free(sl);
        return -1;
    }
    str_copy(tag, tag_len, r.tag[0] ? r.tag : r.digest);
    return 0;
}

int layout_entry_open(const struct store_layout *e, struct oci_layout *l, struct catalog *cat,
                      struct error *err)
{
    if (layout_open(l, e->dir, 0, err) != 0)
        return -1;
    if (catalog_load(l, cat, err) != 0) {
        layout_close(l);
        return -1;
    }
    return 0;
}

void layout_entry_close(struct oci_layout *l, struct catalog *cat)
{
    catalog_release(cat);
    layout_close(l);
}

void layout_entry_ref(const struct store_layout *e, const char *tag, char *out, size_t n)
{
    if (e->name == NULL)
        snprintf(out, n, "%s", tag);
    else if (tag[0] == '\0')
        snprintf(out, n, "%s", e->name);
    else
        snprintf(out, n, "%s%s%s", e->name, strncmp(tag, "sha256:", 7) == 0 ? "@" : ":", tag);
}
