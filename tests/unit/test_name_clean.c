/* test_name_clean.c -- a layer's names can never leave the mount's root
 *
 * fs_clean_name (filepath.Clean("/"+name) without the "/") on hostile
 * names: "..", absolute paths, "./a/../../b", runs of slashes, long names;
 * every result is checked against the invariant (no leading or trailing
 * '/', no "", "." or ".." component) as well as against the exact answer
 * Go gives.  Then a TOC built by hand with such names goes through
 * fs_tree_build: every node hangs under the root by names that hold no
 * '/', ".", ".." or NUL, lookups of ".." never climb out, and a name
 * holding a NUL byte is refused.  Linked
 * without libfuse3: fs_tree is the mounter's pure part.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "fs_tree.h"

/* the invariant every cleaned name must hold */
static int clean_ok(const char *s, size_t len)
{
    size_t i = 0;

    if (strlen(s) != len)
        return 0;
    if (len == 0)
        return 1;
    if (s[0] == '/' || s[len - 1] == '/')
        return 0;
    while (i < len) {
        size_t start = i;
        while (i < len && s[i] != '/')
            i++;
        if (i == start || (i - start == 1 && s[start] == '.') ||
            (i - start == 2 && s[start] == '.' && s[start + 1] == '.'))
            return 0;
        i++;
    }
    return 1;
}

static void expect(const char *in, const char *want)
{
    size_t len = strlen(in), n;
    char *out = malloc(len + 2);

    n = fs_clean_name(in, len, out);
    CHECK_MSG(n == strlen(want) && strcmp(out, want) == 0, "\"%s\" cleaned to \"%s\", want \"%s\"", in, out, want);
    CHECK_MSG(clean_ok(out, n), "\"%s\" cleaned to \"%s\"", in, out);
    free(out);
}

static void test_exact(void)
{
    /* answers from Go: strings.TrimPrefix(filepath.Clean("/"+name), "/") */
    expect("", "");
    expect(".", "");
    expect("./", "");
    expect("/", "");
    expect("..", "");
    expect("../", "");
    expect("../..", "");
    expect("/..", "");
    expect("a", "a");
    expect("./a//b/", "a/b");
    expect("./a/../../b", "b");
    expect("a/b/../../../../c", "c");
    expect("../../etc/passwd", "etc/passwd");
    expect("/etc/shadow", "etc/shadow");
    expect("//a///b//", "a/b");
    expect("a/./b/./", "a/b");
    expect("a/b/..", "a");
    expect("a/..", "");
    expect("a/../..", "");
    expect("...", "...");
    expect("..a/b..", "..a/b..");
    expect(".a/.", ".a");
    expect("a/.../b", "a/.../b");
    expect("x/../../../y/./../z", "z");
    expect("./.././.././a", "a");
}

/* long names: deep ".." chains, and a 64 KiB name (tar PAX names have no
 * length limit) */
static void test_long(void)
{
    size_t n = 65536, i, got;
    char *in = malloc(n + 1), *out = malloc(n + 2);

    for (i = 0; i < n; i += 3)
        memcpy(in + i, i + 3 <= n ? "../" : "..", i + 3 <= n ? 3 : n - i);
    in[n] = '\0';
    got = fs_clean_name(in, n, out);
    CHECK_MSG(got == 0 && out[0] == '\0', "21845 \"../\" cleaned to %zu bytes", got);

    /* "a/" x N then ".." x (N + 5) then "b": only "b" */
    {
        size_t depth = 5000, pos = 0;
        for (i = 0; i < depth; i++)
            pos += (size_t)sprintf(in + pos, "a/");
        for (i = 0; i < depth + 5; i++)
            pos += (size_t)sprintf(in + pos, "../");
        pos += (size_t)sprintf(in + pos, "b");
        got = fs_clean_name(in, pos, out);
        CHECK_MSG(got == 1 && strcmp(out, "b") == 0, "deep climb cleaned to \"%.20s\"", out);
    }

    /* a single 64 KiB component is kept whole */
    memset(in, 'x', n);
    got = fs_clean_name(in, n, out);
    CHECK(got == n && out[n] == '\0' && clean_ok(out, got));

    /* "/" + 64 KiB: the out buffer is exactly len + 2 (ASan sees any overrun) */
    free(out);
    out = malloc(n + 2);
    in[0] = '/';
    got = fs_clean_name(in, n, out);
    CHECK(got == n - 1 && clean_ok(out, got));
    free(in);
    free(out);
}

/* every byte sequence over {'a', '.', '/'} up to 9 bytes: the invariant */
static void test_exhaustive(void)
{
    static const char alphabet[] = "a./";
    char in[10], out[12];
    size_t len, got;
    unsigned long k, total, bad = 0;

    for (len = 0; len <= 9; len++) {
        total = 1;
        for (size_t i = 0; i < len; i++)
            total *= 3;
        for (k = 0; k < total; k++) {
            unsigned long v = k;
            for (size_t i = 0; i < len; i++, v /= 3)
                in[i] = alphabet[v % 3];
            in[len] = '\0';
            got = fs_clean_name(in, len, out);
            if (!clean_ok(out, got) || got > len) {
                if (bad++ < 5)
                    fprintf(stderr, "\"%s\" cleaned to \"%s\"\n", in, out);
            }
        }
    }
    CHECK_MSG(bad == 0, "%lu names broke the invariant", bad);
}

/* ---- fs_tree over a hand-built TOC ---- */

static struct ztoc_entry entry(const char *name, size_t name_len, const char *type)
{
    struct ztoc_entry e;

    memset(&e, 0, sizeof(e));
    e.name.ptr = name;
    e.name.len = name_len;
    e.type.ptr = type;
    e.type.len = strlen(type);
    e.mode = strcmp(type, "dir") == 0 ? 0755 : 0644;
    return e;
}

/* every node reachable from the root, by names that are single components */
static void walk(const struct fs_tree *t, const struct fs_node *dir, int depth, unsigned *seen)
{
    CHECK(depth < 64);
    for (uint32_t i = 0; i < dir->nchildren; i++) {
        const struct fs_dirent *d = &dir->children[i];
        const struct fs_node *n = fs_tree_node(t, d->node);
        CHECK_MSG(d->name_len > 0 && memchr(d->name, '/', d->name_len) == NULL &&
                      memchr(d->name, '\0', d->name_len) == NULL &&
                      !(d->name_len == 1 && d->name[0] == '.') &&
                      !(d->name_len == 2 && d->name[0] == '.' && d->name[1] == '.'),
                  "a child named \"%.*s\" (%u bytes)", (int)d->name_len, d->name, d->name_len);
        CHECK(n != NULL);
        if (n == NULL)
            continue;
        (*seen)++;
        if (S_ISDIR(n->mode) && n->id != dir->id)
            walk(t, n, depth + 1, seen);
    }
}

static void test_tree(void)
{
    static const char nul_name[] = "n\0/z";
    struct ztoc_entry e[] = {
        entry("../../etc/passwd", 16, "reg"),
        entry("/abs/file", 9, "reg"),
        entry("./a/../../b", 11, "reg"),
        entry("..", 2, "dir"),
        entry("./", 2, "dir"),
        entry("d//e///f", 8, "reg"),
        entry("d/../../../../g", 15, "reg"),
        entry(nul_name, sizeof(nul_name) - 1, "reg"),
    };
    struct ztoc z;
    struct fs_tree t;
    struct error err = {{0}};
    unsigned seen = 0;

    memset(&z, 0, sizeof(z));
    z.entries = e;
    z.nentries = sizeof(e) / sizeof(e[0]);
    /* a name with a NUL byte (no tar can hold one: only a forged TOC) is
     * refused, in one line; kept, it made a child "n\0/z" of the root */
    CHECK(fs_tree_build(&t, &z, &err) != 0);
    CHECK_MSG(strstr(err.msg, "NUL") != NULL && strchr(err.msg, '\n') == NULL, "\"%s\"", err.msg);
    z.nentries--;
    CHECK_MSG(fs_tree_build(&t, &z, &err) == 0, "%s", err.msg);
    walk(&t, fs_tree_node(&t, 1), 0, &seen);
    CHECK_MSG(seen + 1 == t.nnodes, "%u nodes reachable of %u", seen + 1, t.nnodes);
    CHECK(fs_tree_lookup_path(&t, "etc/passwd") > 1);
    CHECK(fs_tree_lookup_path(&t, "abs/file") > 1);
    CHECK(fs_tree_lookup_path(&t, "b") > 1);
    CHECK(fs_tree_lookup_path(&t, "d/e/f") > 1);
    CHECK(fs_tree_lookup_path(&t, "g") > 1);
    CHECK(fs_tree_lookup(&t, fs_tree_node(&t, 1), "..", 2) == 0);
    CHECK(fs_tree_lookup(&t, fs_tree_node(&t, 1), ".", 1) == 0);
    fs_tree_free(&t);
}

int main(void)
{
    test_exact();
    test_long();
    test_exhaustive();
    test_tree();
    return check_exit();
}
