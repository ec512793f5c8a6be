/* test_soci_index.c -- the SOCI index manifest is Go's canonical JSON:
 * docs/format.md §4.4's example, byte for byte and by digest */
#include <string.h>
#include <stdlib.h>

#include "check.h"
#include "digest.h"
#include "sha256.h"
#include "soci_index.h"

static const char golden[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
    "\"application/vnd.amazon.soci.index.v1+json\",\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\","
    "\"size\":2},\"layers\":[{\"mediaType\":\"application/octet-stream\",\"digest\":\"sha256:5bdd41b4c5a296436aba9dd35bdb5d05cfd2c4be2649ae4d02e07da810440bf5\","
    "\"size\":265272,\"annotations\":{\"com.amazon.soci.image-layer-digest\":\"sha256:33f2f8ecc1f1fe28f159e2b4cc3503092547ee8d9204074ef3e8d4a80927a1a5\","
    "\"com.amazon.soci.image-layer-mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"com.amazon.soci.span-size\":\"65536\"}}],"
    "\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:c4af559ce63af9bbc3133dac96e8d12c5040956511be20119ce5d32ad1ce8310\","
    "\"size\":404},\"annotations\":{\"com.amazon.soci.build-tool-identifier\":\"AWS SOCI CLI v0.2\"}}";

int main(void)
{
    struct soci_ztoc_ref z;
    struct soci_index ix, back;
    struct error err;
    char *out = NULL, hex[DIGEST_STR_SIZE];
    size_t len = 0;
    uint8_t raw[32];

    memset(&z, 0, sizeof(z));
    strcpy(z.ztoc_digest, "sha256:5bdd41b4c5a296436aba9dd35bdb5d05cfd2c4be2649ae4d02e07da810440bf5");
    z.ztoc_size = 265272;
    strcpy(z.layer_digest, "sha256:33f2f8ecc1f1fe28f159e2b4cc3503092547ee8d9204074ef3e8d4a80927a1a5");
    strcpy(z.layer_media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
    z.span_size = 65536;
    memset(&ix, 0, sizeof(ix));
    ix.version = 1;
    ix.nztocs = 1;
    ix.ztocs = &z;
    strcpy(ix.subject_media_type, "application/vnd.oci.image.manifest.v1+json");
    strcpy(ix.subject_digest, "sha256:c4af559ce63af9bbc3133dac96e8d12c5040956511be20119ce5d32ad1ce8310");
    ix.subject_size = 404;
    strcpy(ix.build_tool, "AWS SOCI CLI v0.2");

    CHECK(soci_index_encode(&ix, &out, &len, &err) == 0);
    CHECK_MSG(len == 872, "length %zu", len);
    CHECK_MSG(len == strlen(golden) && memcmp(out, golden, len) == 0, "bytes differ:\n%s", out);
    sha256_buf(out, len, raw);
    digest_format(raw, hex);
    CHECK_MSG(strcmp(hex, "sha256:0eee52db474e204b68021bb276d9e7b09c19b4335b68ced788f4cf4cc130e186") == 0, "%s", hex);

    CHECK(soci_index_parse((const uint8_t *)out, len, &back, &err) == 0);
    CHECK(back.version == 1 && back.nztocs == 1 && back.ztocs[0].span_size == 65536 &&
          strcmp(back.ztocs[0].layer_digest, z.layer_digest) == 0 && back.subject_size == 404 &&
          strcmp(back.build_tool, "AWS SOCI CLI v0.2") == 0);
    soci_index_release(&back);
    free(out);

    /* an index with no ztocs is an error, as upstream's ErrEmptyIndex */
    ix.nztocs = 0;
    CHECK(soci_index_encode(&ix, &out, &len, &err) != 0);
    CHECK(strstr(err.msg, "no ztocs created") != NULL);

    /* v2: no subject */
    ix.nztocs = 1;
    ix.version = 2;
    CHECK(soci_index_encode(&ix, &out, &len, &err) == 0);
    CHECK(strstr(out, "\"subject\"") == NULL && strstr(out, "index.v2+json") != NULL);
    free(out);

    /* unknown config type */
    {
        const char *bad = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}";
        CHECK(soci_index_parse((const uint8_t *)bad, strlen(bad), &back, &err) != 0);
        CHECK(strstr(err.msg, "unknown index version") != NULL);
    }
    return check_exit();
}
