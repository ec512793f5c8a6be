/* index_opts.c -- index-shaping options (see index_opts.h) */
#include "index_opts.h"

#include <string.h>

#include "cli.h"
#include "version.h"

void index_opts_init(struct index_params *p, int *jobs)
{
    p->span_size = INDEX_DEFAULT_SPAN_SIZE;
    p->build_tool = SOCI_C_BUILD_TOOL;
    p->min_layer_size = DEFAULT_MIN_LAYER_SIZE;
    p->threaded_hash = 1;
    if (jobs)
        *jobs = cli_ncpus();
}

int index_opts_option(int c, const char *arg, struct index_params *p, int *jobs, struct error *err)
{
    int64_t v;

    switch (c) {
    case INDEX_OPT_SPAN_SIZE:
        RETURN_ERROR_IF(cli_parse_size(arg, &p->span_size) != 0, err,
                        "invalid --span-size \"%s\": want a positive byte count (e.g. 4194304, 4MiB)", arg);
        return 1;
    case INDEX_OPT_MIN_LAYER_SIZE:
        if (strcmp(arg, "0") == 0) {
            p->min_layer_size = 0;
            return 1;
        }
        RETURN_ERROR_IF(cli_parse_size(arg, &p->min_layer_size) != 0, err,
                        "invalid --min-layer-size \"%s\": want a byte count (e.g. 10485760, 10MiB, 0)", arg);
        return 1;
    case INDEX_OPT_BUILD_TOOL:
        RETURN_ERROR_IF(arg[0] == '\0' || strlen(arg) >= 256, err,
                        "invalid --build-tool-identifier: want 1 to 255 characters");
        p->build_tool = arg;
        return 1;
    case INDEX_OPT_JOBS:
        if (jobs == NULL)
            return 0;
        RETURN_ERROR_IF(cli_parse_size(arg, &v) != 0 || v > INDEX_MAX_JOBS, err,
                        "invalid --jobs \"%s\": want 1..%d", arg, INDEX_MAX_JOBS);
        *jobs = (int)v;
        return 1;
    default:
        return 0;
    }
}
