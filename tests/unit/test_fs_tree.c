/* test_fs_tree.c -- fs_tree_build (mounter/fs_tree.h) on TOCs whose names
 * change what they point to: a directory replaced by a file and made
 * again, entries going back to a directory left earlier, implied parents,
 * a hard link over a directory's name.  The builder remembers the
 * directory the previous entry went into; these orders are the ones where
 * remembering it wrongly would put an entry into a directory no longer
 * reachable, or miss one. */
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "error.h"
#include "fs_tree.h"
#include "ztoc.h"

static struct strv sv(const char *s)
{
    struct strv v;

    v.ptr = s;
    v.len = strlen(s);
    return v;
}

static void entry(struct ztoc_entry *e, const char *name, const char *type, const char *link)
{
    memset(e, 0, sizeof(*e));
    e->name = sv(name);
    e->type = sv(type);
    e->linkname = sv(link ? link : "");
    e->mode = strcmp(type, "dir") == 0 ? 0755 : 0644;
}

/* the node at path, 0 if none */
static const struct fs_node *at(const struct fs_tree *t, const char *path)
{
    uint32_t id = fs_tree_lookup_path(t, path);

    return id ? &t->nodes[id] : NULL;
}

/* how many entries the directory at path holds, 0 if there is none */
static unsigned entries_in(const struct fs_tree *t, const char *path)
{
    const struct fs_node *n = at(t, path);

    return n != NULL ? n->nchildren : 0;
}

static int is_dir(const struct fs_tree *t, const char *path)
{
    const struct fs_node *n = at(t, path);

    return n != NULL && S_ISDIR(n->mode);
}

static int is_file(const struct fs_tree *t, const char *path)
{
    const struct fs_node *n = at(t, path);

    return n != NULL && S_ISREG(n->mode);
}

int main(void)
{
    static const struct {
        const char *name, *type, *link;
    } toc[] = {
        {"a/", "dir", NULL},
        {"a/b/", "dir", NULL},
        {"a/b/x", "reg", NULL},
        {"a/b/x2", "reg", NULL},
        {"a/c", "reg", NULL},
        {"a/b", "reg", NULL},      /* a file takes the directory's name */
        {"a/b/y", "reg", NULL},    /* a directory again, holding only y */
        {"a/b/z", "reg", NULL},
        {"d/e/f", "reg", NULL},    /* d and d/e implied */
        {"d/g", "reg", NULL},
        {"a/h", "reg", NULL},      /* back to a directory left earlier */
        {"d/e/i", "reg", NULL},
        {"k/", "dir", NULL},
        {"k/l/", "dir", NULL},
        {"k/m", "reg", NULL},
        {"k/l", "hardlink", "a/c"}, /* a hard link takes a directory's name */
        {"k/l/n", "reg", NULL},     /* and loses it to a directory again */
        {"k/o", "reg", NULL},
    };
    struct ztoc_entry e[sizeof(toc) / sizeof(toc[0])];
    struct ztoc z;
    struct fs_tree t;
    struct error err;
    size_t i;

    memset(&z, 0, sizeof(z));
    for (i = 0; i < sizeof(toc) / sizeof(toc[0]); i++)
        entry(&e[i], toc[i].name, toc[i].type, toc[i].link);
    z.entries = e;
    z.nentries = sizeof(toc) / sizeof(toc[0]);
    if (fs_tree_build(&t, &z, &err) != 0) {
        fprintf(stderr, "fs_tree_build: %s\n", err.msg);
        return 1;
    }
    CHECK(is_dir(&t, "a"));
    CHECK(is_dir(&t, "a/b"));
    CHECK_MSG(entries_in(&t, "a/b") == 2, "a/b has %u entries, want y and z", entries_in(&t, "a/b"));
    CHECK(is_file(&t, "a/b/y"));
    CHECK(is_file(&t, "a/b/z"));
    CHECK_MSG(at(&t, "a/b/x") == NULL && at(&t, "a/b/x2") == NULL, "the replaced directory's files show");
    CHECK(is_file(&t, "a/c"));
    CHECK(is_file(&t, "a/h"));
    CHECK_MSG(entries_in(&t, "a") == 3, "a has %u entries, want b, c and h", entries_in(&t, "a"));
    CHECK(is_dir(&t, "d"));
    CHECK(is_dir(&t, "d/e"));
    CHECK(is_file(&t, "d/e/f"));
    CHECK(is_file(&t, "d/e/i"));
    CHECK(is_file(&t, "d/g"));
    CHECK_MSG(entries_in(&t, "d/e") == 2, "d/e has %u entries, want f and i", entries_in(&t, "d/e"));
    CHECK(is_dir(&t, "k/l"));
    CHECK(is_file(&t, "k/l/n"));
    CHECK(is_file(&t, "k/m"));
    CHECK(is_file(&t, "k/o"));
    CHECK_MSG(entries_in(&t, "k/l") == 1, "k/l has %u entries, want n", entries_in(&t, "k/l"));
    fs_tree_free(&t);
    return check_exit();
}
