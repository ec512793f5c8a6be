/* base64.h -- standard base64 (RFC 4648), for Basic auth and docker config */
#ifndef SOCI_BASE64_H
#define SOCI_BASE64_H

#include <stddef.h>

/* out needs 4*ceil(n/3)+1 bytes; returns the length written */
size_t base64_encode(const unsigned char *in, size_t n, char *out);
/* returns the decoded length, or -1 on invalid input; out needs n*3/4+1 */
long base64_decode(const char *in, size_t n, unsigned char *out);

#endif
