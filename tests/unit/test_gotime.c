/* test_gotime.c -- Go's Time.MarshalText as the ztoc stores mod_time
 * (docs/format.md §3.4): fractions trimmed, negative times, the 0..9999 year
 * range, and gotime_parse reading back what gotime_format wrote */
#include <string.h>

#include "check.h"
#include "gotime.h"

static void expect(int64_t sec, int64_t nsec, const char *want)
{
    char out[GOTIME_MAX];
    size_t n;

    memset(out, 'x', sizeof(out));
    n = gotime_format(sec, nsec, out);
    CHECK_MSG(n == strlen(want) && strcmp(out, want) == 0, "time.Unix(%lld, %lld): got \"%s\" (%zu), want \"%s\"",
              (long long)sec, (long long)nsec, out, n, want);

    /* and it reads back as the same instant, nsec normalised */
    if (n > 0) {
        int64_t s, ns = nsec % 1000000000, carry = nsec / 1000000000;
        int32_t got_ns;
        if (ns < 0) {
            ns += 1000000000;
            carry--;
        }
        CHECK_MSG(gotime_parse(out, n, &s, &got_ns) == 0 && s == sec + carry && got_ns == ns,
                  "round trip of \"%s\"", out);
    }
}

static void formatting(void)
{
    expect(0, 0, "1970-01-01T00:00:00Z");
    expect(1700000000, 0, "2023-11-14T22:13:20Z");
    expect(951782400, 0, "2000-02-29T00:00:00Z");
    expect(-2203891200LL, 0, "1900-03-01T00:00:00Z");
    expect(-11670955200LL, 0, "1600-02-29T12:00:00Z");

    /* fractional seconds: nanoseconds with trailing zeros trimmed */
    expect(1700000000, 500000000, "2023-11-14T22:13:20.5Z");
    expect(1700000000, 120000000, "2023-11-14T22:13:20.12Z");
    expect(1700000000, 123456789, "2023-11-14T22:13:20.123456789Z");
    expect(1700000000, 1, "2023-11-14T22:13:20.000000001Z");
    expect(1700000000, 10, "2023-11-14T22:13:20.00000001Z");

    /* negative times, and nsec outside [0, 1e9) as time.Unix normalises it */
    expect(-1, 0, "1969-12-31T23:59:59Z");
    expect(-1, 500000000, "1969-12-31T23:59:59.5Z");
    expect(0, -1, "1969-12-31T23:59:59.999999999Z");
    expect(0, -1000000000, "1969-12-31T23:59:59Z");
    expect(0, 1500000000, "1970-01-01T00:00:01.5Z");
    expect(0, INT64_MAX, "2262-04-11T23:47:16.854775807Z");
    expect(-86400, 0, "1969-12-31T00:00:00Z");

    /* Go's zero time, and the ends of the 0..9999 year range */
    expect(-62135596800LL, 0, "0001-01-01T00:00:00Z");
    expect(-62167219200LL, 0, "0000-01-01T00:00:00Z");
    expect(253402300799LL, 0, "9999-12-31T23:59:59Z");
    expect(253402300799LL, 999999999, "9999-12-31T23:59:59.999999999Z");

    /* outside: MarshalText fails, upstream stores "" */
    expect(-62167219201LL, 0, "");
    expect(-62167219200LL, -1, "");
    expect(253402300800LL, 0, "");
    expect(253402300799LL, 1000000000, "");
    expect(INT64_MAX, 0, "");
    expect(INT64_MIN, 0, "");
    expect(INT64_MAX, 1999999999, "");
    expect(INT64_MIN, -1, "");
}

static int parses(const char *s, int64_t *sec, int32_t *nsec)
{
    return gotime_parse(s, strlen(s), sec, nsec) == 0;
}

static void parsing(void)
{
    int64_t sec;
    int32_t nsec;

    /* other zones: the same instant */
    CHECK(parses("2023-11-14T23:13:20+01:00", &sec, &nsec) && sec == 1700000000 && nsec == 0);
    CHECK(parses("2023-11-14T17:43:20-04:30", &sec, &nsec) && sec == 1700000000);
    CHECK(parses("2023-11-14T22:13:20.5+00:00", &sec, &nsec) && sec == 1700000000 && nsec == 500000000);
    /* more than 9 fraction digits: the rest is dropped */
    CHECK(parses("2023-11-14T22:13:20.1234567891Z", &sec, &nsec) && nsec == 123456789);
    CHECK(parses("2024-02-29T00:00:00Z", &sec, &nsec));
    CHECK(parses("2000-02-29T00:00:00Z", &sec, &nsec) && sec == 951782400);

    /* what Go's RFC 3339 text unmarshalling refuses */
    CHECK(!parses("", &sec, &nsec));
    CHECK(!parses("2023-11-14T22:13:20", &sec, &nsec));
    CHECK(!parses("2023-11-14 22:13:20Z", &sec, &nsec));
    CHECK(!parses("2023-11-14t22:13:20Z", &sec, &nsec));
    CHECK(!parses("2023-11-14T22:13:20z", &sec, &nsec));
    CHECK(!parses("2023-13-14T22:13:20Z", &sec, &nsec));
    CHECK(!parses("2023-00-14T22:13:20Z", &sec, &nsec));
    CHECK(!parses("2023-11-00T22:13:20Z", &sec, &nsec));
    CHECK(!parses("2023-11-31T22:13:20Z", &sec, &nsec));
    CHECK(!parses("2023-02-29T00:00:00Z", &sec, &nsec));
    CHECK(!parses("1900-02-29T00:00:00Z", &sec, &nsec));
    CHECK(!parses("2023-11-14T24:13:20Z", &sec, &nsec));
    CHECK(!parses("2023-11-14T22:60:20Z", &sec, &nsec));
    CHECK(!parses("2023-11-14T22:13:60Z", &sec, &nsec));
    CHECK(!parses("2023-11-14T22:13:20.Z", &sec, &nsec));
    CHECK(!parses("2023-11-14T22:13:20+0100", &sec, &nsec));
    CHECK(!parses("2023-11-14T22:13:20+24:00", &sec, &nsec));
    CHECK(!parses("2023-11-14T22:13:20+01:60", &sec, &nsec));
    CHECK(!parses("2023-11-14T22:13:20Zjunk", &sec, &nsec));
    CHECK(!parses("+023-11-14T22:13:20Z", &sec, &nsec));
}

static void civil(void)
{
    int64_t days, y;
    unsigned m, d;

    /* every day across four centuries converts both ways */
    for (days = -800000; days < 800000; days += 7) {
        gotime_civil_from_days(days, &y, &m, &d);
        if (gotime_days_from_civil(y, m, d) != days) {
            CHECK_MSG(0, "day %lld -> %lld-%u-%u", (long long)days, (long long)y, m, d);
            break;
        }
    }
    CHECK(gotime_days_from_civil(1970, 1, 1) == 0);
    CHECK(gotime_days_from_civil(2000, 3, 1) == 11017);
}

int main(void)
{
    formatting();
    parsing();
    civil();
    return check_exit();
}
