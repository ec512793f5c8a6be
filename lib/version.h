/* version.h -- the project's name and version, as tools report them
 *
 * Constants only: nothing is owned, nothing fails, nothing is shared.
 */
#ifndef SOCI_VERSION_H
#define SOCI_VERSION_H

#define SOCI_C_NAME "soci-c"
#define SOCI_C_VERSION "0.1.0"
/* the default build_tool_identifier of the ztocs and indexes we write */
#define SOCI_C_BUILD_TOOL SOCI_C_NAME " v" SOCI_C_VERSION

#endif
