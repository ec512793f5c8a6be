/* test_registry_auth.c -- WWW-Authenticate challenges as registries send
 * them (docker-registry's token auth, Docker Hub's, Basic), hostile ones
 * refused; Basic headers and docker config credentials through OpenSSL's
 * base64, checked against base64(1) output; token answers */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "registry_auth.h"

static void challenges(void)
{
    struct reg_challenge ch;
    char big[4000];

    /* docker-registry 2.8 with token auth (its exact header) */
    CHECK(reg_challenge_parse("Bearer realm=\"http://127.0.0.1:5001/token\",service=\"test-registry\","
                              "scope=\"repository:app:pull,push\"",
                              &ch) == 0);
    CHECK(strcmp(ch.scheme, "Bearer") == 0 && strcmp(ch.realm, "http://127.0.0.1:5001/token") == 0);
    CHECK(strcmp(ch.service, "test-registry") == 0 && strcmp(ch.scope, "repository:app:pull,push") == 0);
    /* Basic from an htpasswd registry */
    CHECK(reg_challenge_parse("Basic realm=\"basic-realm\"", &ch) == 0 && strcmp(ch.scheme, "Basic") == 0 &&
          strcmp(ch.realm, "basic-realm") == 0 && ch.service[0] == '\0');
    /* unquoted values, spaces, unknown keys, escapes, key case */
    CHECK(reg_challenge_parse("Bearer  Realm=https://auth.example/token , error=\"insufficient_scope\", "
                              "service=\"a\\\"b\"",
                              &ch) == 0);
    CHECK(strcmp(ch.realm, "https://auth.example/token") == 0 && strcmp(ch.service, "a\"b") == 0);
    CHECK(reg_challenge_parse("Bearer", &ch) == 0 && ch.realm[0] == '\0');
    /* hostile: unterminated quotes, no '=', empty key, junk after a quote,
     * values that do not fit, an over-long scheme */
    CHECK(reg_challenge_parse("Bearer realm=\"http://127.0.0.1:1/token,service=fake", &ch) != 0);
    CHECK(reg_challenge_parse("Bearer realm", &ch) != 0);
    CHECK(reg_challenge_parse("Bearer =x", &ch) != 0);
    CHECK(reg_challenge_parse("Bearer realm=\"a\"b", &ch) != 0);
    CHECK(reg_challenge_parse("", &ch) != 0);
    CHECK(reg_challenge_parse("   ", &ch) != 0);
    CHECK(reg_challenge_parse("Averyveryveryveryveryverylongschemename realm=x", &ch) != 0);
    memset(big, 'a', sizeof(big));
    memcpy(big, "Bearer realm=\"", 14);
    big[sizeof(big) - 2] = '"';
    big[sizeof(big) - 1] = '\0';
    CHECK(reg_challenge_parse(big, &ch) != 0);
    memcpy(big, "Bearer service=", 15); /* unquoted and too long */
    CHECK(reg_challenge_parse(big, &ch) != 0);
    snprintf(big, sizeof(big), "Bearer realm=\"%01100d\"", 0); /* 1100 bytes: longer than realm[] */
    CHECK(reg_challenge_parse(big, &ch) != 0);
}

/* base64 as coreutils' base64(1) writes it */
static void shell_b64(const char *plain, char *out, size_t n)
{
    char cmd[512];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | base64 -w0", plain);
    p = popen(cmd, "r");
    out[0] = '\0';
    if (p) {
        if (fgets(out, (int)n, p) == NULL)
            out[0] = '\0';
        pclose(p);
    }
}

static void basic(void)
{
    static const char *const pairs[][2] = {{"u", "p"}, {"user", "pa:ss"}, {"ab", "c"}, {"abc", "defg"}, {"", ""}};
    char hdr[256], want[256], b64[200], plain[64];
    size_t i;

    for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        snprintf(plain, sizeof(plain), "%s:%s", pairs[i][0], pairs[i][1]);
        shell_b64(plain, b64, sizeof(b64));
        snprintf(want, sizeof(want), "Authorization: Basic %s", b64);
        CHECK(reg_basic_header(pairs[i][0], pairs[i][1], hdr, sizeof(hdr)) == 0);
        CHECK_MSG(strcmp(hdr, want) == 0, "%s: \"%s\", base64(1) says \"%s\"", plain, hdr, want);
    }
    CHECK(reg_basic_header("user", "password", hdr, 30) != 0); /* does not fit */
}

static void docker_config(void)
{
    char dir[] = "/tmp/test_registry_auth.XXXXXX", path[64], cmd[1024], user[64], pass[64];

    if (mkdtemp(dir) == NULL) {
        CHECK(!"mkdtemp");
        return;
    }
    snprintf(path, sizeof(path), "%s/config.json", dir);
    /* written with base64(1): padded by one '=', by two, by none */
    snprintf(cmd, sizeof(cmd),
             "{ printf '{\"auths\":{\"https://a.example\":{\"auth\":\"%%s\"},' \"$(printf 'alice:s3cr:t' | base64 -w0)\";"
             "  printf '\"b.example:5000/\":{\"auth\":\"%%s\"},' \"$(printf 'bob:pw' | base64 -w0)\";"
             "  printf '\"c.example\":{\"auth\":\"%%s\"},' \"$(printf 'carol:abcd' | base64 -w0)\";"
             "  printf '\"d.example\":{\"auth\":\"!!notbase64\"},\"e.example\":{\"auth\":\"%%s\"}}}' "
             "\"$(printf 'nocolon' | base64 -w0)\"; } > %s",
             path);
    CHECK(system(cmd) == 0);
    setenv("DOCKER_CONFIG", dir, 1);
    CHECK(reg_credentials_for("a.example", user, sizeof(user), pass, sizeof(pass)) == 1);
    CHECK(strcmp(user, "alice") == 0 && strcmp(pass, "s3cr:t") == 0);
    CHECK(reg_credentials_for("b.example:5000", user, sizeof(user), pass, sizeof(pass)) == 1);
    CHECK(strcmp(user, "bob") == 0 && strcmp(pass, "pw") == 0);
    CHECK(reg_credentials_for("c.example", user, sizeof(user), pass, sizeof(pass)) == 1);
    CHECK(strcmp(user, "carol") == 0 && strcmp(pass, "abcd") == 0);
    CHECK(reg_credentials_for("d.example", user, sizeof(user), pass, sizeof(pass)) == 0 && user[0] == '\0');
    CHECK(reg_credentials_for("e.example", user, sizeof(user), pass, sizeof(pass)) == 0 && user[0] == '\0');
    CHECK(reg_credentials_for("a.exampl", user, sizeof(user), pass, sizeof(pass)) == 0);
    CHECK(reg_credentials_for("b.example", user, sizeof(user), pass, sizeof(pass)) == 0);
    unlink(path);
    rmdir(dir);
}

static void tokens(void)
{
    static const char *const bad[] = {"", "{}", "[]", "{\"token\":1}", "{\"token\":\"a\\nb\"}", "{\"token\":\"\"}"};
    char *t;
    size_t i;

    CHECK(reg_token_parse((const uint8_t *)"{\"token\":\"abc\"}", 15, &t) == 0 && strcmp(t, "abc") == 0);
    free(t);
    CHECK(reg_token_parse((const uint8_t *)"{\"access_token\":\"xyz\",\"expires_in\":300}", 39, &t) == 0 &&
          strcmp(t, "xyz") == 0);
    free(t);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(reg_token_parse((const uint8_t *)bad[i], strlen(bad[i]), &t) != 0 && t == NULL, "%s", bad[i]);
}

static void state(void)
{
    struct reg_auth *a = reg_auth_new("h.example", "u:p", NULL);
    char hdr[256];
    int basic;

    CHECK(a != NULL);
    if (a == NULL)
        return;
    CHECK(reg_auth_has_credentials(a) && strcmp(reg_auth_user(a), "u") == 0);
    /* not challenged yet: nothing is sent */
    CHECK(reg_auth_header(a, "repository:r:pull", hdr, sizeof(hdr), &basic) == 0 && hdr[0] == '\0' && !basic);
    reg_auth_set_scheme(a, REG_AUTH_BASIC);
    CHECK(reg_auth_header(a, "repository:r:pull", hdr, sizeof(hdr), &basic) == 0 && basic &&
          strcmp(hdr, "Authorization: Basic dTpw") == 0);
    reg_auth_set_scheme(a, REG_AUTH_BEARER);
    CHECK(reg_auth_store_token(a, "repository:r:pull,push", "T1") == 0);
    /* a push token serves a pull of the same repository, not of another */
    CHECK(reg_auth_header(a, "repository:r:pull", hdr, sizeof(hdr), &basic) == 0 &&
          strcmp(hdr, "Authorization: Bearer T1") == 0 && !basic);
    CHECK(reg_auth_header(a, "repository:rr:pull", hdr, sizeof(hdr), &basic) == 0 && hdr[0] == '\0');
    CHECK(reg_auth_store_token(a, "repository:r:pull,push", "T2") == 0);
    CHECK(reg_auth_header(a, "repository:r:pull,push", hdr, sizeof(hdr), &basic) == 0 &&
          strcmp(hdr, "Authorization: Bearer T2") == 0);
    reg_auth_free(a);
}

int main(void)
{
    challenges();
    basic();
    docker_config();
    tokens();
    state();
    return check_exit();
}
