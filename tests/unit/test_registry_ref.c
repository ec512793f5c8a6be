/* test_registry_ref.c -- registry references: the parts of good ones
 * (docker's reference grammar: host[:port], lowercase path components,
 * tags, sha256 digests), and bad ones refused with a one-line message
 * before any part could reach a URL */
#include <string.h>

#include "check.h"
#include "registry_ref.h"

static void good(void)
{
    static const struct {
        const char *s, *host, *repo, *tag, *digest;
    } v[] = {
        {"127.0.0.1:5000/repo:t", "127.0.0.1:5000", "repo", "t", ""},
        {"localhost/a/b/c", "localhost", "a/b/c", "latest", ""},
        {"registry.example.com/ns/app:v1.2-rc_3", "registry.example.com", "ns/app", "v1.2-rc_3", ""},
        {"r.io/a.b_c__d---e/f:_x", "r.io", "a.b_c__d---e/f", "_x", ""},
        {"[::1]:5000/repo@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "[::1]:5000",
         "repo", "", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
        {"h.io/repo:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "h.io", "repo",
         "tag", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
        {"my-host.example:443/x", "my-host.example:443", "x", "latest", ""},
    };
    struct reg_ref r;
    struct error err;
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        err.msg[0] = '\0';
        CHECK_MSG(reg_ref_parse(v[i].s, &r, &err) == 0, "\"%s\": %s", v[i].s, err.msg);
        CHECK_MSG(strcmp(r.host, v[i].host) == 0, "\"%s\": host \"%s\"", v[i].s, r.host);
        CHECK_MSG(strcmp(r.repo, v[i].repo) == 0, "\"%s\": repo \"%s\"", v[i].s, r.repo);
        CHECK_MSG(strcmp(r.tag, v[i].tag) == 0, "\"%s\": tag \"%s\"", v[i].s, r.tag);
        CHECK_MSG(strcmp(r.digest, v[i].digest) == 0, "\"%s\": digest \"%s\"", v[i].s, r.digest);
        CHECK(strcmp(reg_ref_reference(&r), v[i].digest[0] ? v[i].digest : v[i].tag) == 0);
    }
}

static void bad(void)
{
    static const char *const v[] = {
        "", "repo", "/repo", "host/", "host/Repo", "host/re po", "host//repo", "host/repo/", "host/-repo",
        "host/repo-", "host/a..b", "host/a___b", "host/a.-b", "host/repo:", "host/repo:-t", "host/repo:.t",
        "host/repo:t!", "host/repo:t/x", "host/repo@sha256:abc", "host/repo@md5:0123",
        "host/repo@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "ho st/repo", "host:/repo", "host:99999x/repo", "host:123456/repo", ".host/repo", "host./repo",
        "-host/repo", "host-/repo", "a..b/repo", "[::1/repo", "[]:5000/repo", "[::1]x/repo", "host?x/repo",
        "host/repo?x=1", "host/repo#f", "host/../../etc", "host/repo%2f",
    };
    struct reg_ref r;
    struct error err;
    size_t i;
    char longhost[400];

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        err.msg[0] = '\0';
        CHECK_MSG(reg_ref_parse(v[i], &r, &err) != 0, "\"%s\" is refused", v[i]);
        CHECK_MSG(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL, "\"%s\": one line", v[i]);
    }
    memset(longhost, 'a', sizeof(longhost));
    memcpy(longhost + 300, "/repo", 6);
    CHECK(reg_ref_parse(longhost, &r, &err) != 0);
    /* tags: 128 characters are fine, 129 are not */
    memcpy(longhost, "h/r:", 4);
    memset(longhost + 4, 't', 128);
    longhost[4 + 128] = '\0';
    CHECK(reg_ref_parse(longhost, &r, &err) == 0 && strlen(r.tag) == 128);
    longhost[4 + 128] = 't';
    longhost[4 + 129] = '\0';
    CHECK(reg_ref_parse(longhost, &r, &err) != 0);
}

static void looks_remote(void)
{
    CHECK(reg_ref_looks_remote("127.0.0.1:5000/repo:t"));
    CHECK(reg_ref_looks_remote("localhost/repo"));
    CHECK(reg_ref_looks_remote("registry.example.com/repo"));
    CHECK(!reg_ref_looks_remote("oci:dir:tag"));
    CHECK(!reg_ref_looks_remote("./dir/x"));
    CHECK(!reg_ref_looks_remote("/abs/dir"));
    CHECK(!reg_ref_looks_remote("dir/sub"));
    CHECK(!reg_ref_looks_remote("repo"));
}

int main(void)
{
    good();
    bad();
    looks_remote();
    return check_exit();
}
