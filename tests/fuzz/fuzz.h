/* fuzz.h -- what the libFuzzer targets share: FAIL(...) reports a broken
 * invariant on stderr and aborts, which libFuzzer records as a crash with
 * the input that caused it */
#ifndef SOCI_FUZZ_H
#define SOCI_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define FAIL(...)                                                                             \
    do {                                                                                      \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fputc('\n', stderr);                                                                  \
        abort();                                                                              \
    } while (0)

#endif
