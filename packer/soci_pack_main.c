/* soci_pack_main.c -- soci-pack: the last stage of the index pipeline
 *
 *   soci-layers oci:DIR:TAG | ztoc-gen | soci-pack [--quiet] [--optimizations xattr] oci:DIR[:TAG]
 *
 * Writes the ztocs and SOCI index of each image in the stream into the
 * layout, and prints upstream's per-layer lines on stdout.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci_layout.h"
#include "pack.h"
#include "stream_io.h"

#define PROG "soci-pack"

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--quiet] [--optimizations xattr] oci:DIR[:TAG]\n"
               "Write the ztocs and SOCI indexes of a record stream (from ztoc-gen) into an OCI layout.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"optimizations", required_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct pack_opts po = {0, 1, stdout, NULL, NULL, NULL};
    struct oci_layout l;
    struct stream_reader *r;
    struct stream_record *rec;
    struct packer *pk;
    struct error err, err2;
    char dir[4096], ref[512], marker[4200];
    char remote_ref[sizeof(rec->image.ref)] = "";   /* a registry image of the stream */
    int c, rc, quiet = 0, saw_end = 0, silent = 0;

    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = 1;
            break;
        case 'O':
            if (strcmp(optarg, "xattr") != 0) {
                fprintf(stderr, PROG ": unknown optimization \"%s\" (known: xattr)\n", optarg);
                return 2;
            }
            po.disable_xattrs_opt = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return 2;
    }
    if (layout_ref_parse(argv[optind], dir, sizeof(dir), ref, sizeof(ref)) != 0) {
        fprintf(stderr, PROG ": \"%s\" is not of the form oci:DIR[:TAG]\n", argv[optind]);
        return 2;
    }
    if (ref[0] && strncmp(ref, "sha256:", 7) != 0)
        po.tag = ref;
    if (quiet)
        po.lines = NULL;
    else if (isatty(STDERR_FILENO))
        po.notes = stderr;
    signal(SIGPIPE, SIG_IGN);
    rec = malloc(sizeof(*rec));
    r = stream_reader_new(STDIN_FILENO, NULL, 0);
    if (rec == NULL || r == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    /* a directory without an oci-layout file becomes a new layout; an
     * existing layout must be whole, and is not touched before the stream
     * has ended well */
    snprintf(marker, sizeof(marker), "%s/oci-layout", dir);
    if (layout_open(&l, dir, access(marker, F_OK) != 0, &err) != 0) {
        /* soci-layers read the same layout and, when it is broken, said so
         * and sent an error record right after the header: stay quiet then */
        while ((rc = stream_read(r, rec, &err2)) == 1 && rec->type == REC_HEADER)
            ;
        if (rc != 1 || rec->type != REC_ERROR)
            fprintf(stderr, PROG ": %s\n", err.msg);
        stream_reader_free(r);
        free(rec);
        return 1;
    }
    if (layout_lock(&l, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        layout_close(&l);
        stream_reader_free(r);
        free(rec);
        return 1;
    }
    pk = packer_new(&l, &po);
    while ((rc = stream_read(r, rec, &err)) == 1) {
        if (rec->type == REC_ERROR) {
            silent = 1; /* the stage that failed has said why */
            rc = -1;
            break;
        }
        if (rec->type == REC_END) {
            saw_end = 1;
            rc = 0;
            break;
        }
        if (rec->type == REC_IMAGE && rec->image.manifest_data && !remote_ref[0])
            snprintf(remote_ref, sizeof(remote_ref), "%s", rec->image.ref);
        if (packer_record(pk, rec, &err) != 0) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && !saw_end) {
        error_set(&err, "the record stream ended early (an earlier stage failed)");
        rc = -1;
    }
    if (rc == 0 && saw_end && packer_finish(pk, &err) != 0)
        rc = -1;
    if (rc < 0 && !silent)
        fprintf(stderr, PROG ": %s\n", err.msg);
    /* the stream carries a registry image's manifest, never its config or
     * layers, and soci push needs them in the layout: say so now rather
     * than let push fail later on a missing blob */
    if (rc == 0 && remote_ref[0])
        fprintf(stderr,
                PROG ": note: %s holds the manifest of %s but not its config or layers, so soci push cannot "
                     "push this index from it; 'soci create %s --push' indexes and pushes a registry image\n",
                dir, remote_ref, remote_ref);
    packer_free(pk);
    layout_close(&l);
    stream_reader_free(r);
    free(rec);
    return rc < 0 ? 1 : 0;
}
