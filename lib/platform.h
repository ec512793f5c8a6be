/* platform.h -- this host's platform, the default image selection
 *
 * Asks the kernel (uname) for the machine and maps it the way containerd
 * does (formats/oci.h: oci_platform_of_machine).  Cannot fail: a host
 * whose uname fails is taken for linux/amd64.  Thread-safe.
 *
 * Ownership: fills the caller's struct; nothing is allocated.
 */
#ifndef SOCI_PLATFORM_H
#define SOCI_PLATFORM_H

#include "oci.h"

void platform_host(struct oci_platform *p);

#endif
