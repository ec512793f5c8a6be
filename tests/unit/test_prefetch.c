/* test_prefetch.c -- prefetch artifacts: Go's bytes (golden strings written
 * by hand from docs/format.md §4.6: field order, compact, priority omitted
 * when 0), upstream's merge rule, hostile artifacts refused, and the SOCI
 * index carrying a prefetch descriptor after its ztocs (§4.2) */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "prefetch.h"
#include "soci_index.h"

static int decodes(const char *s)
{
    struct prefetch_artifact a;
    struct error err;
    int rc = prefetch_decode((const uint8_t *)s, strlen(s), &a, &err);

    if (rc == 0)
        prefetch_release(&a);
    return rc == 0;
}

static void test_encode(void)
{
    struct prefetch_range r[2] = {{0, 2, 0}, {5, 5, 3}};
    struct prefetch_artifact a;
    struct error err;
    char *out = NULL;
    size_t len;
    static const char golden[] = "{\"version\":\"1.0\",\"prefetch_spans\":[{\"start_span\":0,\"end_span\":2},"
                                 "{\"start_span\":5,\"end_span\":5,\"priority\":3}]}";

    CHECK(prefetch_encode(r, 2, &out, &len, &err) == 0);
    CHECK_MSG(len == strlen(golden) && memcmp(out, golden, len) == 0, "got %s", out);
    CHECK(prefetch_decode((const uint8_t *)out, len, &a, &err) == 0);
    CHECK(a.nranges == 2 && a.ranges[1].start_span == 5 && a.ranges[1].priority == 3 && a.ranges[0].end_span == 2);
    CHECK(prefetch_total_spans(&a) == 4);
    CHECK(prefetch_check_spans(&a, 6, &err) == 0);
    CHECK(prefetch_check_spans(&a, 5, &err) != 0); /* span 5 of a 5-span ztoc */
    prefetch_release(&a);
    free(out);
    CHECK(prefetch_encode(r, 0, &out, &len, &err) != 0);
}

static void test_merge(void)
{
    /* sorted: (0,1) (2,3) (5,6) (7,9) (8,12): 2 <= 1+1 joins, 5 > 3+1 starts
     * anew, 7 <= 6+1 and 8 <= 9+1 join */
    struct prefetch_range r[5] = {{7, 9, 0}, {0, 1, 0}, {2, 3, 0}, {5, 6, 0}, {8, 12, 0}};
    size_t n = 5;
    struct error err;
    char *out = NULL;
    size_t len;
    static const char golden[] =
        "{\"version\":\"1.0\",\"prefetch_spans\":[{\"start_span\":0,\"end_span\":3},{\"start_span\":5,\"end_span\":12}]}";
    struct prefetch_range edge[2] = {{INT32_MAX, INT32_MAX, 0}, {INT32_MAX - 1, INT32_MAX - 1, 0}};
    size_t nedge = 2;

    prefetch_merge(r, &n);
    CHECK(n == 2);
    CHECK(prefetch_encode(r, n, &out, &len, &err) == 0);
    CHECK_MSG(len == strlen(golden) && memcmp(out, golden, len) == 0, "got %s", out);
    free(out);
    prefetch_merge(edge, &nedge);
    CHECK(nedge == 1 && edge[0].start_span == INT32_MAX - 1 && edge[0].end_span == INT32_MAX);
}

static void test_hostile(void)
{
    char *big;
    size_t i, used;

    CHECK(decodes("{\"version\":\"1.0\",\"prefetch_spans\":[{\"start_span\":1,\"end_span\":1}]}"));
    CHECK(!decodes("{\"version\":\"1.1\",\"prefetch_spans\":[{\"start_span\":1,\"end_span\":1}]}"));
    CHECK(!decodes("{\"prefetch_spans\":[{\"start_span\":1,\"end_span\":1}]}"));
    CHECK(!decodes("{\"version\":\"1.0\",\"prefetch_spans\":[]}"));
    CHECK(!decodes("{\"version\":\"1.0\"}"));
    CHECK(!decodes("{\"version\":\"1.0\",\"prefetch_spans\":[{\"start_span\":3,\"end_span\":2}]}"));
    CHECK(!decodes("{\"version\":\"1.0\",\"prefetch_spans\":[{\"start_span\":-1,\"end_span\":2}]}"));
    CHECK(!decodes("{\"version\":\"1.0\",\"prefetch_spans\":[{\"start_span\":0,\"end_span\":2147483648}]}"));
    CHECK(!decodes("{\"version\":\"1.0\",\"prefetch_spans\":[{\"start_span\":\"0\",\"end_span\":1}]}"));
    CHECK(!decodes("{\"version\":\"1.0\",\"prefetch_spans\":[{\"end_span\":1}]}"));
    CHECK(!decodes("{\"version\":\"1.0\",\"prefetch_spans\":[7]}"));
    CHECK(!decodes("{\"version\":\"1.0\",\"prefetch_spans\":[{\"start_span\":0,\"end_span\":1}]"));
    CHECK(!decodes("[]"));
    /* one range more than the bound */
    big = malloc((size_t)(PREFETCH_MAX_RANGES + 1) * 32 + 64);
    CHECK(big != NULL);
    if (big == NULL)
        return;
    used = (size_t)sprintf(big, "{\"version\":\"1.0\",\"prefetch_spans\":[");
    for (i = 0; i <= PREFETCH_MAX_RANGES; i++)
        used += (size_t)sprintf(big + used, "%s{\"start_span\":0,\"end_span\":0}", i ? "," : "");
    strcpy(big + used, "]}");
    CHECK(!decodes(big));
    free(big);
}

static void test_index(void)
{
    struct soci_ztoc_ref z;
    struct soci_prefetch_ref p;
    struct soci_index ix, back;
    struct error err;
    char *out = NULL;
    size_t len;
    static const char golden[] =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
        "\"application/vnd.amazon.soci.index.v1+json\",\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\","
        "\"size\":2},\"layers\":[{\"mediaType\":\"application/octet-stream\",\"digest\":\"sha256:5bdd41b4c5a296436aba9dd35bdb5d05cfd2c4be2649ae4d02e07da810440bf5\","
        "\"size\":265272,\"annotations\":{\"com.amazon.soci.image-layer-digest\":\"sha256:33f2f8ecc1f1fe28f159e2b4cc3503092547ee8d9204074ef3e8d4a80927a1a5\","
        "\"com.amazon.soci.image-layer-mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"com.amazon.soci.span-size\":\"65536\"}},"
        "{\"mediaType\":\"application/vnd.amazon.soci.prefetch.v1+json\",\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\","
        "\"size\":66,\"annotations\":{\"com.amazon.soci.image-layer-digest\":\"sha256:33f2f8ecc1f1fe28f159e2b4cc3503092547ee8d9204074ef3e8d4a80927a1a5\"}}],"
        "\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:c4af559ce63af9bbc3133dac96e8d12c5040956511be20119ce5d32ad1ce8310\","
        "\"size\":404},\"annotations\":{\"com.amazon.soci.build-tool-identifier\":\"AWS SOCI CLI v0.2\"}}";

    memset(&z, 0, sizeof(z));
    strcpy(z.ztoc_digest, "sha256:5bdd41b4c5a296436aba9dd35bdb5d05cfd2c4be2649ae4d02e07da810440bf5");
    z.ztoc_size = 265272;
    strcpy(z.layer_digest, "sha256:33f2f8ecc1f1fe28f159e2b4cc3503092547ee8d9204074ef3e8d4a80927a1a5");
    strcpy(z.layer_media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
    z.span_size = 65536;
    memset(&p, 0, sizeof(p));
    strcpy(p.digest, "sha256:1111111111111111111111111111111111111111111111111111111111111111");
    p.size = 66;
    strcpy(p.layer_digest, z.layer_digest);
    memset(&ix, 0, sizeof(ix));
    ix.version = 1;
    ix.nztocs = 1;
    ix.ztocs = &z;
    ix.nprefetch = 1;
    ix.prefetch = &p;
    strcpy(ix.subject_media_type, "application/vnd.oci.image.manifest.v1+json");
    strcpy(ix.subject_digest, "sha256:c4af559ce63af9bbc3133dac96e8d12c5040956511be20119ce5d32ad1ce8310");
    ix.subject_size = 404;
    strcpy(ix.build_tool, "AWS SOCI CLI v0.2");
    CHECK(soci_index_encode(&ix, &out, &len, &err) == 0);
    CHECK_MSG(len == strlen(golden) && memcmp(out, golden, len) == 0, "bytes differ:\n%s", out);
    /* the reader keeps the ztocs apart from the prefetch descriptors */
    CHECK(soci_index_parse((const uint8_t *)out, len, &back, &err) == 0);
    CHECK(back.nztocs == 1 && back.nprefetch == 1 && back.prefetch[0].size == 66 &&
          strcmp(back.prefetch[0].digest, p.digest) == 0 && strcmp(back.prefetch[0].layer_digest, p.layer_digest) == 0 &&
          strcmp(back.ztocs[0].ztoc_digest, z.ztoc_digest) == 0);
    soci_index_release(&back);
    free(out);
}

int main(void)
{
    test_encode();
    test_merge();
    test_hostile();
    test_index();
    return check_exit();
}
