/* cli.h -- small helpers shared by the command-line programs
 *
 * Ownership: nothing is allocated; strings are the caller's.  Errors:
 * cli_parse_size returns 0, or -1 for a value it refuses (the caller words
 * the message); the cli_bad_* helpers print their line and return 2.
 * Thread safety: main's; they write stderr and read getopt's globals.
 */
#ifndef SOCI_CLI_H
#define SOCI_CLI_H

#include <stdint.h>

#include "error.h"

/* "prog: message" on stderr, one line */
void cli_report(const char *prog, const struct error *err);
/* parse a positive decimal size; accepts K/M/G suffixes (powers of 1024),
 * optionally followed by "i", "B" or "iB" */
int cli_parse_size(const char *s, int64_t *out);
/* the one line for an option getopt_long rejected (c is '?', or ':' when
 * the optstring starts with ':' and a value is missing; set opterr = 0 so
 * getopt says nothing itself): "CMD: unknown option --x; see 'CMD --help'".
 * Returns 2, the exit status for usage errors. */
int cli_bad_option(const char *cmd, int c, char **argv, int optind_now);
/* "CMD: WHAT; see 'CMD --help'" for wrong arguments; returns 2 */
int cli_bad_args(const char *cmd, const char *what);
/* number of online CPUs, at least 1 */
int cli_ncpus(void);

#endif
