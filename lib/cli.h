/* cli.h -- small helpers shared by the command-line programs */
#ifndef SOCI_CLI_H
#define SOCI_CLI_H

#include <stdint.h>

#include "error.h"

/* "prog: message" on stderr, one line */
void cli_report(const char *prog, const struct error *err);
/* parse a positive decimal size; accepts K/M/G suffixes (powers of 1024),
 * optionally followed by "i", "B" or "iB" */
int cli_parse_size(const char *s, int64_t *out);
/* number of online CPUs, at least 1 */
int cli_ncpus(void);

#endif
