/* soci_layers_main.c -- soci-layers: the first stage of the index pipeline
 *
 *   soci-layers [--platform os/arch[/variant]]... [--all-platforms] oci:DIR[:TAG|@DIGEST]
 *
 * Resolves the image and writes one image record and its layer records per
 * platform image to stdout (formats/STREAM.md).  Layer bytes are not read
 * here: local layers are named by path for ztoc-gen to read.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "existing.h"
#include "image_resolve.h"
#include "layers.h"
#include "oci_layout.h"
#include "stream.h"

#define PROG "soci-layers"

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--platform os/arch[/variant]]... [--all-platforms] oci:DIR[:TAG|@sha256:...]\n"
               "Write the image's layers as a record stream (see formats/STREAM.md) for ztoc-gen.\n");
}

static int header_sent;

/* the stream header first, so that ztoc-gen recognises the stream even when
 * it carries nothing but an error (STREAM.md: the header is always first) */
static int emit_header(struct stream_record *rec, struct error *err)
{
    stream_record_init(rec, REC_HEADER);
    if (stream_write(STDOUT_FILENO, rec, err) != 0)
        return -1;
    header_sent = 1;
    return 0;
}

static int emit_error(const char *msg)
{
    struct stream_record rec;
    struct error ignored;

    if (!header_sent && emit_header(&rec, &ignored) != 0)
        return -1;
    stream_record_init(&rec, REC_ERROR);
    snprintf(rec.message, sizeof(rec.message), "%s", msg);
    return stream_write(STDOUT_FILENO, &rec, &ignored);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"platform", required_argument, NULL, 'p'},
        {"all-platforms", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct platform_sel sel;
    struct oci_layout l;
    struct resolved_set set;
    struct existing_set *existing = NULL;
    struct stream_record *rec;
    struct error err;
    char dir[4096], ref[512];
    int c;
    size_t i, k;

    memset(&sel, 0, sizeof(sel));
    while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (platform_sel_add(&sel, optarg, &err) != 0) {
                fprintf(stderr, PROG ": %s\n", err.msg);
                return 2;
            }
            break;
        case 'a':
            sel.all = 1;
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
    if (isatty(STDOUT_FILENO)) {
        fprintf(stderr, PROG ": stdout is a terminal; pipe it into ztoc-gen\n");
        return 2;
    }
    if (layout_ref_parse(argv[optind], dir, sizeof(dir), ref, sizeof(ref)) != 0) {
        fprintf(stderr, PROG ": \"%s\" is not an image reference of the form oci:DIR[:TAG]\n", argv[optind]);
        return 2;
    }
    rec = malloc(sizeof(*rec));
    if (rec == NULL || layout_open(&l, dir, 0, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", rec ? err.msg : "out of memory");
        emit_error(rec ? err.msg : "out of memory");
        free(rec);
        return 1;
    }
    if (image_resolve(&l, ref, &sel, &set, &err) != 0)
        goto fail;
    existing = existing_scan(&l);
    if (emit_header(rec, &err) != 0)
        goto fail_set;
    for (i = 0; i < set.nimages; i++) {
        const struct resolved_image *im = &set.images[i];
        layers_image_record(im, (uint32_t)i, dir, argv[optind], rec);
        if (stream_write(STDOUT_FILENO, rec, &err) != 0)
            goto fail_set;
        for (k = 0; k < im->nlayers; k++) {
            if (layers_layer_record(&l, im, (uint32_t)i, (uint32_t)k, existing, rec, &err) != 0 ||
                stream_write(STDOUT_FILENO, rec, &err) != 0)
                goto fail_set;
        }
        stream_record_init(rec, REC_IMAGE_END);
        rec->image = (uint32_t)i;
        if (stream_write(STDOUT_FILENO, rec, &err) != 0)
            goto fail_set;
    }
    stream_record_init(rec, REC_END);
    if (stream_write(STDOUT_FILENO, rec, &err) != 0)
        goto fail_set;
    existing_free(existing);
    resolved_set_release(&set);
    layout_close(&l);
    free(rec);
    return 0;
fail_set:
    resolved_set_release(&set);
fail:
    fprintf(stderr, PROG ": %s\n", err.msg);
    emit_error(err.msg); /* so the next stages stop without a second message */
    existing_free(existing);
    layout_close(&l);
    free(rec);
    return 1;
}
