/* strutil.c -- bounded string copies (see strutil.h) */
#include "strutil.h"

#include <string.h>

int str_copy(char *dst, size_t n, const char *src)
{
    size_t len = src ? strlen(src) : 0;

    if (n == 0)
        return -1;
    if (len >= n) {
        memcpy(dst, src, n - 1);
        dst[n - 1] = '\0';
        return -1;
    }
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}
