/* registry_ref.c -- registry image references (see registry_ref.h) */
#include "registry_ref.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "digest.h"
#include "strutil.h"

#define MAX_TAG 128

static int is_lower_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* host[:port] or [v6][:port]: what may go between "://" and the path */
static int host_valid(const char *h, size_t n)
{
    size_t i = 0, port_at;

    if (n == 0)
        return 0;
    if (h[0] == '[') {
        while (i + 1 < n && h[i + 1] != ']' && (isxdigit((unsigned char)h[i + 1]) || h[i + 1] == ':'))
            i++;
        if (i == 0 || i + 1 >= n || h[i + 1] != ']')
            return 0;
        port_at = i + 2;
    } else {
        int label = 0;
        for (; i < n && h[i] != ':'; i++) {
            char ch = h[i];
            if (isalnum((unsigned char)ch)) {
                label++;
            } else if (ch == '-' && label > 0) {
                label++;
            } else if (ch == '.' && label > 0 && h[i - 1] != '-') {
                label = 0;
            } else {
                return 0;
            }
        }
        if (label == 0 || h[i - 1] == '-')
            return 0;
        port_at = i;
    }
    if (port_at == n)
        return 1;
    if (h[port_at] != ':' || n - port_at - 1 == 0 || n - port_at - 1 > 5)
        return 0;
    for (i = port_at + 1; i < n; i++)
        if (!isdigit((unsigned char)h[i]))
            return 0;
    return 1;
}

/* distribution's path-component grammar: [a-z0-9]+ joined by '.', '_',
 * '__' or one or more '-'; components separated by single '/' */
static int repo_valid(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (!is_lower_alnum(s[i]))
            return 0; /* a component starts with a letter or digit */
        while (i < n && s[i] != '/') {
            if (is_lower_alnum(s[i])) {
                i++;
                continue;
            }
            if (s[i] == '.' || s[i] == '_') {
                size_t sep = (s[i] == '_' && i + 1 < n && s[i + 1] == '_') ? 2 : 1;
                i += sep;
            } else if (s[i] == '-') {
                while (i < n && s[i] == '-')
                    i++;
            } else {
                return 0;
            }
            if (i >= n || !is_lower_alnum(s[i]))
                return 0; /* a separator sits between letters or digits */
        }
        if (i < n) { /* the '/' */
            i++;
            if (i == n)
                return 0;
        }
    }
    return n > 0;
}

static int tag_valid(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > MAX_TAG || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
            return 0;
    return 1;
}

/* host[:port] names this machine's loopback: localhost, 127.0.0.0/8 as
 * an address, [::1] (a name that merely starts like one, such as
 * 127.example.com or localhost.example.com, does not count) */
int reg_host_is_loopback(const char *host)
{
    char name[64];
    struct in_addr a;
    size_t n;

    if (strncmp(host, "[::1]", 5) == 0)
        return host[5] == '\0' || host[5] == ':';
    n = strcspn(host, ":");
    if (n >= sizeof(name))
        return 0;
    if (host[n] == ':') { /* a port: one or more digits, nothing after */
        size_t digits = strspn(host + n + 1, "0123456789");
        if (digits == 0 || host[n + 1 + digits] != '\0')
            return 0;
    }
    memcpy(name, host, n);
    name[n] = '\0';
    if (strcmp(name, "localhost") == 0)
        return 1;
    return inet_pton(AF_INET, name, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

int reg_ref_looks_remote(const char *s)
{
    const char *slash = strchr(s, '/');

    if (strncmp(s, "oci:", 4) == 0 || s[0] == '/' || s[0] == '.' || slash == NULL)
        return 0;
    /* the first component names a registry: has a dot or a port, or is localhost */
    return memchr(s, '.', (size_t)(slash - s)) != NULL || memchr(s, ':', (size_t)(slash - s)) != NULL ||
           strncmp(s, "localhost/", 10) == 0;
}

int reg_ref_parse(const char *s, struct reg_ref *r, struct error *err)
{
    const char *slash = strchr(s, '/'), *rest, *at, *colon, *last_slash;
    size_t hl, rl, tl;

    memset(r, 0, sizeof(*r));
    RETURN_ERROR_IF(slash == NULL || slash == s, err, "\"%.200s\" is not REGISTRY/REPOSITORY[:TAG][@DIGEST]", s);
    hl = (size_t)(slash - s);
    RETURN_ERROR_IF(hl >= sizeof(r->host), err, "registry name in \"%.60s\" is too long", s);
    RETURN_ERROR_IF(!host_valid(s, hl), err, "\"%.200s\": \"%.*s\" is not a registry host[:port]", s, (int)hl, s);
    memcpy(r->host, s, hl);
    rest = slash + 1;
    at = strchr(rest, '@');
    if (at) {
        RETURN_ERROR_IF(!digest_valid(at + 1), err, "\"%.200s\": the digest must be sha256:<64 hex>", s);
        str_copy(r->digest, sizeof(r->digest), at + 1);
        rl = (size_t)(at - rest);
    } else {
        rl = strlen(rest);
    }
    /* a tag follows a ':' after the repository's last '/' */
    last_slash = rest;
    while ((colon = memchr(last_slash, '/', rl - (size_t)(last_slash - rest))) != NULL)
        last_slash = colon + 1;
    colon = memchr(last_slash, ':', rl - (size_t)(last_slash - rest));
    if (colon) {
        tl = (size_t)(rest + rl - colon - 1);
        RETURN_ERROR_IF(!tag_valid(colon + 1, tl), err,
                        "\"%.200s\": a tag is up to 128 of A-Z a-z 0-9 _ . - (not starting with . or -)", s);
        memcpy(r->tag, colon + 1, tl);
        rl = (size_t)(colon - rest);
    }
    RETURN_ERROR_IF(rl == 0 || rl >= sizeof(r->repo), err, "\"%.200s\": bad repository name", s);
    RETURN_ERROR_IF(!repo_valid(rest, rl), err,
                    "\"%.200s\": repository names are lowercase letters and digits, joined by . _ __ - and /", s);
    memcpy(r->repo, rest, rl);
    if (!r->tag[0] && !r->digest[0])
        str_copy(r->tag, sizeof(r->tag), "latest");
    return 0;
}

const char *reg_ref_reference(const struct reg_ref *r)
{
    return r->digest[0] ? r->digest : r->tag;
}
