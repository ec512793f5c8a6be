/* test_registry_range.c -- Content-Range values and multipart/byteranges
 * bodies: what Debian's docker-registry (distribution 2.8.2, Go's
 * net/http) really sends is read right, and hostile numbers or lengths are
 * refused without a byte copied (ASan/UBSan builds catch any overrun) */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "registry_range.h"

/* captured from docker-registry: GET of a 300-byte blob whose byte i is
 * 'A' + i % 26, with "Range: bytes=290-299,0-9,100-119" */
#define GO_BOUNDARY "8b1c5070c38683f5a635b2769b8f9094e0e919bd01a3519b444f332290ff"
static const char GO_CONTENT_TYPE[] = "multipart/byteranges; boundary=" GO_BOUNDARY;
static const char GO_BODY[] =
    "--" GO_BOUNDARY "\r\nContent-Range: bytes 290-299/300\r\nContent-Type: application/octet-stream\r\n\r\n"
    "EFGHIJKLMN\r\n"
    "--" GO_BOUNDARY "\r\nContent-Range: bytes 0-9/300\r\nContent-Type: application/octet-stream\r\n\r\n"
    "ABCDEFGHIJ\r\n"
    "--" GO_BOUNDARY "\r\nContent-Range: bytes 100-119/300\r\nContent-Type: application/octet-stream\r\n\r\n"
    "WXYZABCDEFGHIJKLMNOP\r\n"
    "--" GO_BOUNDARY "--\r\n";

static void content_range(void)
{
    static const struct {
        const char *v;
        int64_t first, last, complete;
    } good[] = {
        {"bytes 0-99/1000", 0, 99, 1000},
        {"bytes 5-5/*", 5, 5, -1},
        {" bytes 10-19/20\r\n", 10, 19, 20},
        {"BYTES 0-0/1", 0, 0, 1},
        {"bytes 9007199254740990-9007199254740991/9007199254740992", 9007199254740990LL, 9007199254740991LL,
         9007199254740992LL},
    };
    static const char *const bad[] = {
        "", "bytes", "bytes ", "bytes 0-1", "bytes 0-1/", "items 0-1/2", "bytes=0-1/2", "bytes -5-10/100",
        "bytes 10-5/100", "bytes 0-99/50", "bytes 0-99/99", "bytes +1-2/3", "bytes 1 -2/3", "bytes 1- 2/3",
        "bytes 0-1/2x", "bytes 0-1/2 3", "bytes */300",
        "bytes 0-9223372036854775807/9223372036854775807",
        "bytes 99999999999999999999-1/2",
        "bytes -9223372036854775808-0/1",
        "bytes 0-9007199254740993/*", /* above REG_RANGE_MAX */
    };
    size_t i;
    int64_t a, b, t;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        a = b = t = -7;
        CHECK_MSG(reg_content_range_parse(good[i].v, &a, &b, &t) == 0, "\"%s\" parses", good[i].v);
        CHECK_MSG(a == good[i].first && b == good[i].last && t == good[i].complete, "\"%s\": %lld-%lld/%lld",
                  good[i].v, (long long)a, (long long)b, (long long)t);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(reg_content_range_parse(bad[i], &a, &b, &t) != 0, "\"%s\" is refused", bad[i]);
}

static void boundary(void)
{
    char b[REG_BOUNDARY_MAX + 1];

    CHECK(reg_multipart_boundary(GO_CONTENT_TYPE, b) == 0 && strcmp(b, GO_BOUNDARY) == 0);
    CHECK(reg_multipart_boundary("multipart/byteranges; boundary=\"a b\"", b) == 0 && strcmp(b, "a b") == 0);
    CHECK(reg_multipart_boundary("Multipart/ByteRanges;boundary=xyz; charset=x", b) == 0 && strcmp(b, "xyz") == 0);
    CHECK(reg_multipart_boundary("application/octet-stream; boundary=x", b) != 0);
    CHECK(reg_multipart_boundary("multipart/byteranges", b) != 0);
    CHECK(reg_multipart_boundary("multipart/byteranges; boundary=", b) != 0);
    CHECK(reg_multipart_boundary("multipart/byteranges; boundary=\"open", b) != 0);
    CHECK(reg_multipart_boundary("multipart/byteranges; boundary="
                                 "01234567890123456789012345678901234567890123456789012345678901234567890",
                                 b) != 0); /* 71 characters */
}

/* the three ranges asked for, in another order than the answer's */
static void setup(struct reg_range r[3], uint8_t bufs[3][32])
{
    memset(bufs, '.', 3 * 32);
    r[0] = (struct reg_range){0, 10, bufs[0]};
    r[1] = (struct reg_range){100, 20, bufs[1]};
    r[2] = (struct reg_range){290, 10, bufs[2]};
}

static int parse(const char *body, size_t len, struct reg_range *r, size_t n)
{
    return reg_multipart_parse((const uint8_t *)body, len, GO_BOUNDARY, r, n);
}

static void go_answer(void)
{
    struct reg_range r[3];
    uint8_t bufs[3][32];

    setup(r, bufs);
    CHECK(parse(GO_BODY, sizeof(GO_BODY) - 1, r, 3) == 0);
    CHECK(memcmp(bufs[0], "ABCDEFGHIJ..", 12) == 0);
    CHECK(memcmp(bufs[1], "WXYZABCDEFGHIJKLMNOP..", 22) == 0);
    CHECK(memcmp(bufs[2], "EFGHIJKLMN..", 12) == 0);
    /* a range the answer lacks: not all filled */
    r[1].off = 101;
    CHECK(parse(GO_BODY, sizeof(GO_BODY) - 1, r, 3) != 0);
    /* every truncation of the answer before its last part's data ends fails cleanly */
    {
        size_t cut, last_data = (size_t)(strstr(GO_BODY, "WXYZ") - GO_BODY) + 20;
        for (cut = 0; cut < last_data; cut++) {
            setup(r, bufs);
            CHECK_MSG(parse(GO_BODY, cut, r, 3) != 0, "cut at %zu", cut);
        }
    }
}

static void hostile(void)
{
    static const char *const parts[] = {
        /* lengths that would overflow or point before the buffer */
        "--" GO_BOUNDARY "\r\nContent-Range: bytes -9223372036854775808-0/1\r\n\r\nABCDEFGHIJ\r\n",
        "--" GO_BOUNDARY "\r\nContent-Range: bytes 0-9223372036854775807/9223372036854775807\r\n\r\nABCDEFGHIJ\r\n",
        "--" GO_BOUNDARY "\r\nContent-Range: bytes 9-0/10\r\n\r\nABCDEFGHIJ\r\n",
        /* longer than the body holds */
        "--" GO_BOUNDARY "\r\nContent-Range: bytes 0-10/300\r\n\r\nABCDEFGHIJ",
        "--" GO_BOUNDARY "\r\nContent-Range: bytes 0-4000000000/4000000001\r\n\r\nABCDEFGHIJ\r\n",
        /* no Content-Range, a header block that never ends, no boundary */
        "--" GO_BOUNDARY "\r\nContent-Type: application/octet-stream\r\n\r\nABCDEFGHIJ\r\n",
        "--" GO_BOUNDARY "\r\nContent-Range: bytes 0-9/300\r\nABCDEFGHIJ\r\n",
        ("--" GO_BOUNDARY),
        "",
    };
    struct reg_range r[1];
    uint8_t buf[32];
    size_t i;

    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        memset(buf, '.', sizeof(buf));
        r[0] = (struct reg_range){0, 10, buf};
        CHECK_MSG(parse(parts[i], strlen(parts[i]), r, 1) != 0, "hostile part %zu is refused", i);
        CHECK_MSG(buf[0] == '.', "hostile part %zu copied nothing", i);
    }
    memset(buf, '.', sizeof(buf));
    r[0] = (struct reg_range){0, 10, buf};
    CHECK(reg_multipart_parse((const uint8_t *)"", 0, "", r, 1) != 0);
    CHECK(reg_multipart_parse((const uint8_t *)GO_BODY, sizeof(GO_BODY) - 1, GO_BOUNDARY, r, 0) != 0);
}

int main(void)
{
    content_range();
    boundary();
    go_answer();
    hostile();
    return check_exit();
}
