/* soci_main.c -- soci: the umbrella CLI, with upstream's command names
 *
 *   soci ztoc info|get-file|list ...
 *   soci create|convert|push|index|image rpull ...   (see docs/cli.md)
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "store.h"
#include "version.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: soci [--root DIR] COMMAND [ARGS]\n\n"
            "commands:\n"
            "  create IMAGE                   build ztocs and a SOCI index (oci:DIR[:TAG] or REGISTRY/REPO:TAG)\n"
            "  convert oci:SRC oci:DST:TAG    a SOCI index v2 image: the image with its index attached\n"
            "  push [oci:DIR:TAG] REGISTRY/REPO  push the SOCI indexes of an image and their ztocs\n"
            "  index list|info|rm             the SOCI indexes of a layout or of the store (--remote: a registry)\n"
            "  ztoc list|info|get-file        the ztocs of a layout or of the store; one ztoc's summary; one file\n"
            "  prefetch list|info             the prefetch artifacts of a layout (create --prefetch-files)\n"
            "  image rpull REF                pull into containerd, indexed layers lazily\n"
            "  version                        print the version\n\n"
            "global options (before COMMAND):\n"
            "  --root DIR                     the store (default $SOCI_ROOT, else /var/lib/soci-c for\n"
            "                                 root, else $XDG_DATA_HOME/soci-c or ~/.local/share/soci-c)\n\n"
            "'soci COMMAND --help' for a command's options.  Commands that take --layout DIR\n"
            "default to $SOCI_LAYOUT, and without either work on the store: create REGISTRY/REPO:TAG\n"
            "writes to the repository's layout there, push REGISTRY/REPO:TAG pushes from it, and\n"
            "index and ztoc find their digests in any of its layouts.\n");
}

/* soci's own options, before the command: --root DIR / --root=DIR.
 * Returns how many arguments they took, or -1 after saying what is wrong. */
static int global_options(int argc, char **argv)
{
    int i = 1;

    while (i < argc && strncmp(argv[i], "--root", 6) == 0) {
        const char *dir;
        if (argv[i][6] == '=') {
            dir = argv[i] + 7;
            i++;
        } else if (argv[i][6] == '\0' && i + 1 < argc) {
            dir = argv[i + 1];
            i += 2;
        } else if (argv[i][6] == '\0') {
            fprintf(stderr, "soci: option --root needs a value; see 'soci --help'\n");
            return -1;
        } else {
            break;
        }
        if (dir[0] == '\0') {
            fprintf(stderr, "soci: --root wants a directory; see 'soci --help'\n");
            return -1;
        }
        store_set_root(dir);
    }
    return i - 1;
}

int main(int argc, char **argv)
{
    int skip = global_options(argc, argv);

    if (skip < 0)
        return 2;
    argc -= skip;
    argv += skip;
    if (argc < 2) {
        fprintf(stderr, "soci: want a command; see 'soci --help'\n");
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
    if (strcmp(argv[1], "image") == 0)
        return cmd_image(argc - 1, argv + 1);
    if (strcmp(argv[1], "prefetch") == 0)
        return cmd_prefetch(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("soci (%s) %s\n", SOCI_C_NAME, SOCI_C_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "soci: unknown command \"%s\"; see 'soci --help'\n", argv[1]);
    return 2;
}
