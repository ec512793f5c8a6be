/* registry_auth.h -- registry authentication: credentials, WWW-Authenticate
 * challenges, Basic headers and the Bearer token cache
 *
 * The pieces of the distribution auth flow that need no network:
 *   - credentials: explicit, or ~/.docker/config.json ($DOCKER_CONFIG)
 *     "auths" entries with a base64 "auth";
 *   - challenges: `Bearer realm="..",service="..",scope=".."` or
 *     `Basic realm=".."` (RFC 9110 §11.6.1 auth-params, quoted or token
 *     values), parsed from a hostile header into bounded fields;
 *   - token answers: {"token": ..} or {"access_token": ..};
 *   - struct reg_auth: one client's state -- its credentials, the scheme
 *     the registry asked for, and the Bearer tokens it was given, one per
 *     scope.  The HTTP engine (registry_http) drives the flow; this module
 *     only remembers and formats.
 *
 * Secrets: passwords and tokens never appear in errors or logs; buffers
 * that held them are wiped before they are freed.
 * Errors: 0 / -1 (parsers set no message: the caller names the registry).
 * Thread safety: the parsers are reentrant; a struct reg_auth is shared by
 * every thread of a client and guards all of its state with its own mutex.
 */
#ifndef SOCI_REGISTRY_AUTH_H
#define SOCI_REGISTRY_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* the longest token kept (a registry's JWTs are a few KiB) */
#define REG_TOKEN_MAX 8000

struct reg_challenge {
    char scheme[32];       /* "Bearer", "Basic", ... as sent */
    char realm[1024];      /* "" when absent */
    char service[256];
    char scope[512];       /* one or more space-separated scopes */
};

/* one challenge: a scheme token, then comma-separated key=value or
 * key="quoted\"value" parameters; unknown keys are skipped.  -1 when it
 * does not parse or a known value does not fit its field */
int reg_challenge_parse(const char *header, struct reg_challenge *ch);

/* the credentials for host from the docker config ("auths", keys with or
 * without a scheme and path); 1 found, 0 not (user/pass get "") */
int reg_credentials_for(const char *host, char *user, size_t ulen, char *pass, size_t plen);

/* "Authorization: Basic base64(user:pass)" into out; -1 when it does not fit */
int reg_basic_header(const char *user, const char *pass, char *out, size_t n);

/* the token of a token server's JSON answer, malloc'd into *token (no CR,
 * LF, at most REG_TOKEN_MAX bytes) */
int reg_token_parse(const uint8_t *body, size_t len, char **token);

/* which scheme the registry asked for (the last 401 challenge) */
enum reg_auth_scheme {
    REG_AUTH_UNKNOWN,      /* not challenged yet: send nothing */
    REG_AUTH_BASIC,
    REG_AUTH_BEARER,
};

struct reg_auth;

/* user NULL: the docker config's credentials for host, if any; "user:pass"
 * in user is split at the first ':' (pass is then ignored); NULL when out of
 * memory or the user (255) or password (1023 bytes) is too long */
struct reg_auth *reg_auth_new(const char *host, const char *user, const char *pass);
void reg_auth_free(struct reg_auth *a);

int reg_auth_has_credentials(const struct reg_auth *a);
/* for messages ("authentication failed for user U"); never the password */
const char *reg_auth_user(const struct reg_auth *a);

enum reg_auth_scheme reg_auth_scheme(struct reg_auth *a);
void reg_auth_set_scheme(struct reg_auth *a, enum reg_auth_scheme s);

/* the Authorization header line for a request needing scope ("" for
 * /v2/): the Bearer token cached for it (a push token serves pulls of the
 * same repository), else Basic when that is the scheme and there are
 * credentials, else "".  *basic = 1 when it is Basic.  -1 when it does not
 * fit in out */
int reg_auth_header(struct reg_auth *a, const char *scope, char *out, size_t n, int *basic);
/* the Basic header whatever the scheme (for the token server); "" without
 * credentials */
int reg_auth_basic_header(struct reg_auth *a, char *out, size_t n);
/* remember a token for scope (replacing the old one, or the oldest entry
 * when the cache is full) */
int reg_auth_store_token(struct reg_auth *a, const char *scope, const char *token);

#endif
