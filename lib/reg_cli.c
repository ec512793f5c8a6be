/* reg_cli.c -- shared registry options (see reg_cli.h) */
#include "reg_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

void reg_cli_init(struct reg_cli *rc)
{
    memset(rc, 0, sizeof(*rc));
}

int reg_cli_option(struct reg_cli *rc, int c, const char *arg)
{
    switch (c) {
    case REGOPT_PLAIN_HTTP:
        rc->opts.plain_http = 1;
        return 1;
    case REGOPT_INSECURE:
        rc->opts.insecure = 1;
        return 1;
    case REGOPT_USER: {
        const char *colon = strchr(arg, ':');
        size_t ul = colon ? (size_t)(colon - arg) : strlen(arg);
        if (ul >= sizeof(rc->user)) {
            rc->too_long = 1;
            ul = sizeof(rc->user) - 1;
        }
        memcpy(rc->user, arg, ul);
        rc->user[ul] = '\0';
        if (colon) {
            if (str_copy(rc->password, sizeof(rc->password), colon + 1) != 0)
                rc->too_long = 1;
            /* keep the password out of ps: blank it in argv */
            memset((char *)colon + 1, 'x', strlen(colon + 1));
        }
        return 1;
    }
    case REGOPT_PASSWORD_STDIN:
        rc->password_stdin = 1;
        return 1;
    case REGOPT_VERBOSE:
        rc->opts.verbose = 1;
        return 1;
    default:
        return 0;
    }
}

int reg_cli_finish(struct reg_cli *rc, struct error *err)
{
    RETURN_ERROR_IF(rc->too_long, err, "--user: the name must be shorter than %zu bytes and the password than %zu",
                    sizeof(rc->user), sizeof(rc->password));
    if (rc->password_stdin) {
        size_t n;
        RETURN_ERROR_IF(!rc->user[0], err, "--password-stdin needs --user");
        if (fgets(rc->password, sizeof(rc->password), stdin) == NULL)
            return error_set(err, "--password-stdin: nothing to read on stdin");
        n = strlen(rc->password);
        RETURN_ERROR_IF(n == sizeof(rc->password) - 1 && rc->password[n - 1] != '\n', err,
                        "--password-stdin: the password must be shorter than %zu bytes", sizeof(rc->password));
        while (n > 0 && (rc->password[n - 1] == '\n' || rc->password[n - 1] == '\r'))
            rc->password[--n] = '\0';
    } else if (rc->user[0] && !rc->password[0] && getenv("SOCI_REGISTRY_PASSWORD")) {
        RETURN_ERROR_IF(str_copy(rc->password, sizeof(rc->password), getenv("SOCI_REGISTRY_PASSWORD")) != 0, err,
                        "SOCI_REGISTRY_PASSWORD: the password must be shorter than %zu bytes", sizeof(rc->password));
    }
    if (rc->user[0]) {
        rc->opts.user = rc->user;
        rc->opts.password = rc->password;
    }
    return 0;
}

struct reg_client *reg_cli_client(struct reg_cli *rc, const char *host, struct error *err)
{
    return reg_client_new(host, &rc->opts, err);
}
