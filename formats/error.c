/* error.c -- one-line error reports (see error.h) */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* messages quote names from hostile input (tar member names, PAX values):
 * control bytes become '?' so a report stays one line on a terminal */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

int error_set(struct error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    one_line(err->msg);
    return -1;
}

int error_prefix(struct error *err, const char *fmt, ...)
{
    char prefix[ERROR_MSG_MAX];
    char old[ERROR_MSG_MAX];
    va_list ap;

    if (err == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    size_t plen;

    memcpy(old, err->msg, sizeof(old));
    old[sizeof(old) - 1] = '\0';
    plen = strlen(prefix);
    if (plen > sizeof(err->msg) - 3)
        plen = sizeof(err->msg) - 3;
    memcpy(err->msg, prefix, plen);
    memcpy(err->msg + plen, ": ", 2);
    plen += 2;
    memcpy(err->msg + plen, old, strnlen(old, sizeof(err->msg) - plen - 1));
    err->msg[plen + strnlen(old, sizeof(err->msg) - plen - 1)] = '\0';
    one_line(err->msg);
    return -1;
}
