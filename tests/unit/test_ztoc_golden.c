/* test_ztoc_golden.c -- upstream's golden ztoc vector (docs/format.md §1.4),
 * built through the same encoder ztoc-gen uses, then decoded again */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "digest.h"
#include "sha256.h"
#include "zinfo.h"
#include "ztoc.h"

static struct strv sv(const char *s)
{
    struct strv v = {s, strlen(s)};
    return v;
}

int main(void)
{
    struct ztoc z, d;
    struct ztoc_entry entries[2];
    uint8_t *checkpoints = calloc(1, 65536), *out = NULL;
    size_t out_len = 0, i;
    uint8_t raw[32];
    char hex[DIGEST_STR_SIZE];
    struct error err;

    memset(&z, 0, sizeof(z));
    memset(entries, 0, sizeof(entries));
    for (i = 0; i < 2; i++) {
        entries[i].name = entries[i].type = entries[i].linkname = sv("");
        entries[i].uname = entries[i].gname = sv("");
        entries[i].mod_time = sv("0001-01-01T00:00:00Z"); /* Go's zero time */
    }
    z.version = sv("0.9");
    z.build_tool = sv("AWS SOCI CLI");
    z.compressed_size = 2000000;
    z.uncompressed_size = 2500000;
    z.entries = entries;
    z.nentries = 2;
    z.algorithm = ZTOC_GZIP; /* upstream's "" and "gzip" both omit the field */
    z.max_span_id = 3;
    z.checkpoints.ptr = (const char *)checkpoints;
    z.checkpoints.len = 65536;

    CHECK(ztoc_encode(&z, &out, &out_len, &err) == 0);
    CHECK_MSG(out_len == 65928, "size %zu", out_len);
    sha256_buf(out, out_len, raw);
    digest_format(raw, hex);
    CHECK_MSG(strcmp(hex, "sha256:eba28fdf50b1b57543f57dd051b2468c1d4f57b64d2006c75aa4de1d03e6c7ec") == 0,
              "digest %s", hex);

    /* and it reads back */
    CHECK(ztoc_decode(out, out_len, &d, &err) == 0);
    CHECK(d.nentries == 2 && d.max_span_id == 3 && d.compressed_size == 2000000 &&
          d.uncompressed_size == 2500000 && d.checkpoints.len == 65536 && d.algorithm == ZTOC_GZIP);
    CHECK(d.version.len == 3 && memcmp(d.version.ptr, "0.9", 3) == 0);
    CHECK(d.entries[0].mod_time.len == 20);
    ztoc_release(&d);

    /* the same call sequence with a tar layer writes the algorithm field */
    {
        uint8_t tz[128];
        size_t tzl;
        static const uint8_t want[48] = {
            0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0x1c, 0, 0x18, 0, 0x0c, 0, 0x04, 0,
            0x0a, 0, 0, 0, 0, 0x60, 0x09, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 2, 0, 0, 0};
        CHECK(zinfo_tar_encode(65536, 614400, tz, sizeof(tz), &tzl, &err) == 0);
        CHECK_MSG(tzl == 48 && memcmp(tz, want, 48) == 0, "tar zinfo bytes differ (len %zu)", tzl);
    }
    free(out);
    free(checkpoints);
    return check_exit();
}
