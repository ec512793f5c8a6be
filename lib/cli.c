/* cli.c -- command-line helpers (see cli.h) */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void cli_report(const char *prog, const struct error *err)
{
    fprintf(stderr, "%s: %s\n", prog, err->msg);
}

int cli_parse_size(const char *s, int64_t *out)
{
    char *end;
    long long v;
    int64_t mult = 1;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || v <= 0)
        return -1;
    if (*end == 'K' || *end == 'k')
        mult = 1024;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024;
    else if (*end == 'G' || *end == 'g')
        mult = 1024LL * 1024 * 1024;
    else if (*end != '\0')
        return -1;
    /* "4M", "4Mi", "4MB", "4MiB" all mean 4 * 2^20 */
    if (mult > 1) {
        const char *unit = end + 1;
        if (*unit == 'i')
            unit++;
        if (*unit == 'B')
            unit++;
        if (*unit != '\0')
            return -1;
    }
    if (v > INT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

int cli_ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

int cli_bad_option(const char *cmd, int c, char **argv, int optind_now)
{
    const char *arg = optind_now > 0 ? argv[optind_now - 1] : "?";

    if (c == ':')
        fprintf(stderr, "%s: option %s needs a value; see '%s --help'\n", cmd, arg, cmd);
    else
        fprintf(stderr, "%s: unknown option %s; see '%s --help'\n", cmd, arg, cmd);
    return 2;
}

int cli_bad_args(const char *cmd, const char *what)
{
    fprintf(stderr, "%s: %s; see '%s --help'\n", cmd, what, cmd);
    return 2;
}
