/* reg_cli.h -- the registry options every command shares
 *
 *   --plain-http  --insecure  --user U[:P]  --password-stdin  -v/--verbose
 *
 * The password comes from --user U:P, --password-stdin, the
 * SOCI_REGISTRY_PASSWORD environment variable, or ~/.docker/config.json,
 * in that order.  It is kept out of argv we log and out of every message.
 *
 * Errors: reg_cli_finish returns 0, or -1 with one line (a name or password
 * too long, --password-stdin without input).  Thread safety: main's, once,
 * before any thread.
 *
 * Ownership: a struct reg_cli is the caller's and holds the secret; the
 * client from reg_cli_client is the caller's to reg_client_free().
 */
#ifndef SOCI_REG_CLI_H
#define SOCI_REG_CLI_H

#include "error.h"
#include "registry.h"

enum {
    REGOPT_PLAIN_HTTP = 1000,
    REGOPT_INSECURE,
    REGOPT_USER,
    REGOPT_PASSWORD_STDIN,
    REGOPT_VERBOSE,
};

#define REG_CLI_LONG_OPTIONS                                                   \
    {"plain-http", no_argument, NULL, REGOPT_PLAIN_HTTP},                      \
    {"insecure", no_argument, NULL, REGOPT_INSECURE},                          \
    {"skip-verify", no_argument, NULL, REGOPT_INSECURE},                       \
    {"user", required_argument, NULL, REGOPT_USER},                            \
    {"password-stdin", no_argument, NULL, REGOPT_PASSWORD_STDIN},              \
    {"verbose", no_argument, NULL, REGOPT_VERBOSE}

struct reg_cli {
    struct reg_opts opts;
    char user[256];
    char password[1024];
    int password_stdin;
    int too_long;          /* --user's name or password did not fit (reported by reg_cli_finish) */
};

void reg_cli_init(struct reg_cli *rc);
/* 1 if c was a registry option (consumed), 0 if not */
int reg_cli_option(struct reg_cli *rc, int c, const char *arg);
/* read the password now (stdin / environment); hides --user's password
 * from /proc/PID/cmdline by overwriting the argument in place */
int reg_cli_finish(struct reg_cli *rc, struct error *err);
struct reg_client *reg_cli_client(struct reg_cli *rc, const char *host, struct error *err);

#endif
