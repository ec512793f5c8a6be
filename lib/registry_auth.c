/* registry_auth.c -- credentials, challenges, tokens (see registry_auth.h) */
#include "registry_auth.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "fileio.h"
#include "strutil.h"

#define MAX_TOKENS 32
#define MAX_CONFIG (1 << 20)     /* docker config.json */
#define MAX_AUTH_B64 2000        /* an "auth" value: user:password, base64 */

struct token {
    char scope[512];
    char *value;
};

struct reg_auth {
    char user[256], pass[1024];  /* fixed at creation */
    int have_creds;
    pthread_mutex_t mu;          /* guards everything below */
    enum reg_auth_scheme scheme;
    struct token tokens[MAX_TOKENS];
    int ntokens, next_evict;
};

static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

/* ---- challenges ---- */

/* one auth-param value at *p (quoted with \ escapes, or a token up to ','
 * or space) into val[n]; -1 when it is unterminated or too long */
static int param_value(const char **pp, char *val, size_t n)
{
    const char *p = *pp;
    size_t vl = 0;

    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (vl + 1 >= n)
                return -1;
            val[vl++] = *p;
        }
        if (*p != '"')
            return -1;
        p++;
    } else {
        for (; *p && *p != ',' && *p != ' '; p++) {
            if (vl + 1 >= n)
                return -1;
            val[vl++] = *p;
        }
    }
    val[vl] = '\0';
    *pp = p;
    return 0;
}

int reg_challenge_parse(const char *header, struct reg_challenge *ch)
{
    const char *p = header;
    size_t n;

    memset(ch, 0, sizeof(*ch));
    while (*p == ' ')
        p++;
    n = strcspn(p, " ");
    if (n == 0 || n >= sizeof(ch->scheme))
        return -1;
    memcpy(ch->scheme, p, n);
    p += n;
    for (;;) {
        char key[64], val[2048];
        size_t kl = 0;
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            return 0;
        while (*p && *p != '=' && *p != ' ' && *p != ',') {
            if (kl + 1 >= sizeof(key))
                return -1;
            key[kl++] = *p++;
        }
        key[kl] = '\0';
        if (*p != '=' || kl == 0)
            return -1;
        p++;
        if (param_value(&p, val, sizeof(val)) != 0)
            return -1;
        if ((strcasecmp(key, "realm") == 0 && str_copy(ch->realm, sizeof(ch->realm), val) != 0) ||
            (strcasecmp(key, "service") == 0 && str_copy(ch->service, sizeof(ch->service), val) != 0) ||
            (strcasecmp(key, "scope") == 0 && str_copy(ch->scope, sizeof(ch->scope), val) != 0))
            return -1;
        if (*p != '\0' && *p != ',' && *p != ' ')
            return -1; /* junk after a quoted value */
    }
}

/* ---- base64 (OpenSSL) and Basic ---- */

int reg_basic_header(const char *user, const char *pass, char *out, size_t n)
{
    static const char prefix[] = "Authorization: Basic ";
    char plain[1400];
    size_t pl;
    int k = snprintf(plain, sizeof(plain), "%s:%s", user, pass);
    int rc = -1;

    if (k < 0 || (size_t)k >= sizeof(plain))
        goto out;
    pl = (size_t)k;
    /* EVP_EncodeBlock writes 4 * ceil(pl / 3) characters and a NUL */
    if (sizeof(prefix) - 1 + 4 * ((pl + 2) / 3) + 1 > n)
        goto out;
    memcpy(out, prefix, sizeof(prefix) - 1);
    EVP_EncodeBlock((unsigned char *)out + sizeof(prefix) - 1, (const unsigned char *)plain, (int)pl);
    rc = 0;
out:
    memset(plain, 0, sizeof(plain));
    return rc;
}

/* base64 of in (padded, no line breaks) into out (NUL-terminated);
 * returns the decoded length or -1 */
static long b64_decode(const char *in, unsigned char *out, size_t cap)
{
    size_t n = strlen(in), pad = 0;
    int k;

    if (n == 0 || n % 4 != 0 || n / 4 * 3 + 1 > cap)
        return -1;
    if (in[n - 1] == '=')
        pad = in[n - 2] == '=' ? 2 : 1;
    /* EVP_DecodeBlock counts the bytes '=' padding stands for */
    k = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (k < 0 || (size_t)k < pad)
        return -1;
    out[k - (int)pad] = '\0';
    return k - (long)pad;
}

/* ---- credentials ---- */

int reg_credentials_for(const char *host, char *user, size_t ulen, char *pass, size_t plen)
{
    char path[4096];
    const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME"), *key;
    uint8_t *buf;
    size_t len, hl = strlen(host);
    struct error err;
    json_t *root, *v;
    int found = 0;

    user[0] = pass[0] = '\0';
    if (dir)
        snprintf(path, sizeof(path), "%s/config.json", dir);
    else if (home)
        snprintf(path, sizeof(path), "%s/.docker/config.json", home);
    else
        return 0;
    if (read_file(path, MAX_CONFIG, &buf, &len, &err) != 0)
        return 0;
    root = json_loadb((const char *)buf, len, 0, NULL);
    free(buf);
    json_object_foreach(json_object_get(root, "auths"), key, v) {
        const char *k = key, *auth = json_string_value(json_object_get(v, "auth"));
        unsigned char dec[MAX_AUTH_B64];
        char *colon;
        long dl;
        if (strncmp(k, "https://", 8) == 0)
            k += 8;
        else if (strncmp(k, "http://", 7) == 0)
            k += 7;
        if (strncmp(k, host, hl) != 0 || (k[hl] != '\0' && k[hl] != '/') || auth == NULL ||
            strlen(auth) > MAX_AUTH_B64)
            continue;
        dl = b64_decode(auth, dec, sizeof(dec));
        colon = dl > 0 ? memchr(dec, ':', (size_t)dl) : NULL;
        if (colon != NULL) {
            *colon = '\0';
            found = str_copy(user, ulen, (char *)dec) == 0 && str_copy(pass, plen, colon + 1) == 0;
        }
        memset(dec, 0, sizeof(dec));
        if (found)
            break;
    }
    json_decref(root);
    if (!found)
        user[0] = pass[0] = '\0';
    return found;
}

/* ---- tokens ---- */

int reg_token_parse(const uint8_t *body, size_t len, char **token)
{
    json_t *root = json_loadb(body ? (const char *)body : "", len, 0, NULL);
    const char *t = json_string_value(json_object_get(root, "token"));

    *token = NULL;
    if (t == NULL || t[0] == '\0')
        t = json_string_value(json_object_get(root, "access_token"));
    if (t != NULL && t[0] != '\0' && strlen(t) <= REG_TOKEN_MAX && strpbrk(t, "\r\n") == NULL)
        *token = strdup(t);
    json_decref(root);
    return *token ? 0 : -1;
}

/* ---- one client's state ---- */

struct reg_auth *reg_auth_new(const char *host, const char *user, const char *pass)
{
    struct reg_auth *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    if (user != NULL) {
        const char *colon = strchr(user, ':');
        size_t ul = colon ? (size_t)(colon - user) : strlen(user);
        if (ul >= sizeof(a->user) || str_copy(a->pass, sizeof(a->pass), colon ? colon + 1 : pass) != 0) {
            memset(a->pass, 0, sizeof(a->pass));
            free(a);
            return NULL;
        }
        memcpy(a->user, user, ul);
        a->have_creds = 1;
    } else {
        a->have_creds = reg_credentials_for(host, a->user, sizeof(a->user), a->pass, sizeof(a->pass));
    }
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

void reg_auth_free(struct reg_auth *a)
{
    int i;

    if (a == NULL)
        return;
    for (i = 0; i < a->ntokens; i++)
        wipe_free(a->tokens[i].value);
    memset(a->pass, 0, sizeof(a->pass));
    pthread_mutex_destroy(&a->mu);
    free(a);
}

int reg_auth_has_credentials(const struct reg_auth *a)
{
    return a->have_creds;
}

const char *reg_auth_user(const struct reg_auth *a)
{
    return a->user;
}

enum reg_auth_scheme reg_auth_scheme(struct reg_auth *a)
{
    enum reg_auth_scheme s;

    pthread_mutex_lock(&a->mu);
    s = a->scheme;
    pthread_mutex_unlock(&a->mu);
    return s;
}

void reg_auth_set_scheme(struct reg_auth *a, enum reg_auth_scheme s)
{
    pthread_mutex_lock(&a->mu);
    a->scheme = s;
    pthread_mutex_unlock(&a->mu);
}

/* the cached token for a scope (caller holds a->mu) */
static const char *token_for(const struct reg_auth *a, const char *scope)
{
    size_t sl = strlen(scope);
    int i;

    for (i = 0; i < a->ntokens; i++)
        if (strcmp(a->tokens[i].scope, scope) == 0)
            return a->tokens[i].value;
    /* a push token also serves pulls of the same repository */
    if (sl > 5 && strcmp(scope + sl - 5, ":pull") == 0)
        for (i = 0; i < a->ntokens; i++)
            if (strncmp(a->tokens[i].scope, scope, sl) == 0 && strcmp(a->tokens[i].scope + sl, ",push") == 0)
                return a->tokens[i].value;
    return NULL;
}

int reg_auth_header(struct reg_auth *a, const char *scope, char *out, size_t n, int *basic)
{
    const char *tok;
    enum reg_auth_scheme s;
    int k = 0;

    *basic = 0;
    out[0] = '\0';
    pthread_mutex_lock(&a->mu);
    s = a->scheme;
    tok = s == REG_AUTH_BEARER ? token_for(a, scope) : NULL;
    if (tok)
        k = snprintf(out, n, "Authorization: Bearer %s", tok);
    pthread_mutex_unlock(&a->mu);
    if (tok)
        return k >= 0 && (size_t)k < n ? 0 : -1;
    if (s == REG_AUTH_BASIC && a->have_creds) {
        *basic = 1;
        return reg_basic_header(a->user, a->pass, out, n);
    }
    return 0;
}

int reg_auth_basic_header(struct reg_auth *a, char *out, size_t n)
{
    out[0] = '\0';
    return a->have_creds ? reg_basic_header(a->user, a->pass, out, n) : 0;
}

int reg_auth_store_token(struct reg_auth *a, const char *scope, const char *token)
{
    char *copy = strdup(token);
    int i;

    if (copy == NULL || strlen(scope) >= sizeof(a->tokens[0].scope)) {
        wipe_free(copy);
        return -1;
    }
    pthread_mutex_lock(&a->mu);
    for (i = 0; i < a->ntokens; i++)
        if (strcmp(a->tokens[i].scope, scope) == 0)
            break;
    if (i == a->ntokens) {
        if (a->ntokens < MAX_TOKENS)
            a->ntokens++;
        else
            i = a->next_evict++ % MAX_TOKENS;
    }
    wipe_free(a->tokens[i].value);
    str_copy(a->tokens[i].scope, sizeof(a->tokens[i].scope), scope);
    a->tokens[i].value = copy;
    pthread_mutex_unlock(&a->mu);
    return 0;
}
