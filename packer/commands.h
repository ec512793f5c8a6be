/* commands.h -- the soci CLI's subcommands, one function each
 *
 * Ownership: argv stays main's.  Errors: none returned beyond the exit
 * status.  Thread safety: each command is called once, from main.
 */
#ifndef SOCI_COMMANDS_H
#define SOCI_COMMANDS_H

#include "error.h"

/* each returns the process exit status; errors are printed once by the
 * command as "soci: <message>" */
int cmd_ztoc(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_prefetch(int argc, char **argv);

/* max size of a ztoc we agree to load */
#define SOCI_MAX_ZTOC_SIZE ((size_t)1 << 30)

#endif
