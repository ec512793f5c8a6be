/* platform.c -- this host's platform (see platform.h) */
#include "platform.h"

#include <sys/utsname.h>

void platform_host(struct oci_platform *p)
{
    struct utsname u;

    oci_platform_of_machine(uname(&u) == 0 ? u.machine : NULL, p);
}
