/* soci_main.c -- soci: the umbrella CLI, with upstream's command names
 *
 *   soci ztoc info|get-file|list ...
 *   soci create|convert|push|index|image rpull ...   (see docs/cli.md)
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "version.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: soci COMMAND [ARGS]\n\n"
            "commands:\n"
            "  create oci:DIR:TAG             build ztocs and a SOCI index into the layout\n"
            "  ztoc info ZTOC                 print a ztoc's summary as JSON\n"
            "  ztoc get-file ZTOC LAYER PATH  write one file of a layer to stdout\n"
            "  version                        print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "ztoc") == 0)
        return cmd_ztoc(argc - 1, argv + 1);
    if (strcmp(argv[1], "create") == 0)
        return cmd_create(argc - 1, argv + 1);
    if (strcmp(argv[1], "index") == 0)
        return cmd_index(argc - 1, argv + 1);
    if (strcmp(argv[1], "convert") == 0)
        return cmd_convert(argc - 1, argv + 1);
    if (strcmp(argv[1], "push") == 0)
        return cmd_push(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("soci (%s) %s\n", SOCI_C_NAME, SOCI_C_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "soci: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
