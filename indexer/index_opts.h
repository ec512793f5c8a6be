/* index_opts.h -- the options that shape an index, parsed in one place
 *
 * ztoc-gen, soci-layers, `soci create` and `soci convert` take the same
 * --span-size, --min-layer-size, --build-tool-identifier and -j/--jobs, with
 * the same defaults, value syntax (cli_parse_size: 4M, 4MiB, 4MB...) and
 * error lines.  A program puts INDEX_LONG_OPTIONS in its getopt_long table
 * and hands every option to index_opts_option first.  No state: thread-safe.
 *
 * Ownership: p->build_tool may point at the option's argument (argv), which
 * outlives the run.
 */
#ifndef SOCI_INDEX_OPTS_H
#define SOCI_INDEX_OPTS_H

#include <getopt.h>

#include "error.h"
#include "layer_job.h"

/* getopt values, clear of ASCII and of reg_cli's */
enum {
    INDEX_OPT_SPAN_SIZE = 0x2000,
    INDEX_OPT_MIN_LAYER_SIZE,
    INDEX_OPT_BUILD_TOOL,
    INDEX_OPT_JOBS = 'j',
};

#define INDEX_LONG_OPTIONS                                                     \
    {"span-size", required_argument, NULL, INDEX_OPT_SPAN_SIZE},               \
    {"min-layer-size", required_argument, NULL, INDEX_OPT_MIN_LAYER_SIZE},     \
    {"build-tool-identifier", required_argument, NULL, INDEX_OPT_BUILD_TOOL},  \
    {"jobs", required_argument, NULL, INDEX_OPT_JOBS}

#define INDEX_DEFAULT_SPAN_SIZE (4 * 1024 * 1024)
#define INDEX_MAX_JOBS 256

/* upstream's defaults; *jobs: the number of CPUs */
void index_opts_init(struct index_params *p, int *jobs);
/* 1: c was an index option, applied; 0: it is not one; -1: its value is
 * wrong (one line in err, the caller exits 2) */
int index_opts_option(int c, const char *arg, struct index_params *p, int *jobs, struct error *err);

#endif
