/* tar_build.h -- the ustar header of a regular file, for unit tests that
 * build their layers in memory
 *
 * One 512-byte block: name, mode 0644, uid and gid 1000, size, mtime
 * 1700000000, typeflag '0', "ustar\0" "00", and its checksum.  No state,
 * no allocation: callable from any thread.
 */
#ifndef SOCI_TEST_TAR_BUILD_H
#define SOCI_TEST_TAR_BUILD_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static inline void tar_build_header(uint8_t h[512], const char *name, size_t size)
{
    unsigned sum = 0;
    size_t i;

    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 108, 8, "%07o", 1000);
    snprintf((char *)h + 116, 8, "%07o", 1000);
    snprintf((char *)h + 124, 12, "%011zo", size);
    snprintf((char *)h + 136, 12, "%011o", 1700000000);
    h[156] = '0';
    memcpy(h + 257, "ustar\0" "00", 8);
    memset(h + 148, ' ', 8);
    for (i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

#endif
