/* fuzz_www_auth.c -- hostile WWW-Authenticate headers and token answers
 *
 * The input is a challenge header (as curl hands it over: any bytes up to
 * a NUL).  reg_challenge_parse must refuse it or fill every field with a
 * NUL-terminated string inside its buffer; a parsed challenge must parse
 * again, from its own fields re-quoted, to the same fields.  The same bytes
 * are also a token server's answer for reg_token_parse: a token, when
 * found, has no CR or LF and is at most REG_TOKEN_MAX bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "registry_auth.h"

/* value quoted with \ before '"' and '\' */
static size_t quote(char *out, const char *v)
{
    size_t n = 0;

    out[n++] = '"';
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            out[n++] = '\\';
        out[n++] = *v;
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

static void check_field(const char *f, size_t size, const char *what)
{
    if (memchr(f, '\0', size) == NULL)
        FAIL("%s is not NUL-terminated inside its buffer", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), *again, *token;
    struct reg_challenge ch, ch2;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (reg_challenge_parse(s, &ch) == 0) {
        size_t n;
        check_field(ch.scheme, sizeof(ch.scheme), "scheme");
        check_field(ch.realm, sizeof(ch.realm), "realm");
        check_field(ch.service, sizeof(ch.service), "service");
        check_field(ch.scope, sizeof(ch.scope), "scope");
        if (ch.scheme[0] == '\0')
            FAIL("parsed with an empty scheme");
        /* round trip: scheme realm="..",service="..",scope=".." */
        again = malloc(sizeof(ch) * 2 + 64);
        if (again == NULL)
            abort();
        n = (size_t)sprintf(again, "%s realm=", ch.scheme);
        n += quote(again + n, ch.realm);
        n += (size_t)sprintf(again + n, ",service=");
        n += quote(again + n, ch.service);
        n += (size_t)sprintf(again + n, ",scope=");
        quote(again + n, ch.scope);
        if (strchr(ch.scheme, ',') == NULL && strchr(ch.scheme, '=') == NULL) {
            if (reg_challenge_parse(again, &ch2) != 0)
                FAIL("its own fields re-quoted do not parse: %s", again);
            if (strcmp(ch.realm, ch2.realm) != 0 || strcmp(ch.service, ch2.service) != 0 ||
                strcmp(ch.scope, ch2.scope) != 0)
                FAIL("round trip changed a field: %s", again);
        }
        free(again);
    }
    if (reg_token_parse(data, size, &token) == 0) {
        if (strlen(token) > REG_TOKEN_MAX || strpbrk(token, "\r\n") != NULL)
            FAIL("a token with a line break or too long");
        free(token);
    }
    free(s);
    return 0;
}
