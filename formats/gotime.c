/* gotime.c -- Go time text formatting and parsing (see gotime.h) */
#include "gotime.h"

#include <stdio.h>
#include <string.h>

/* civil-date conversions by eras of 400 years (146097 days), which keeps
 * every intermediate non-negative */
int64_t gotime_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void gotime_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

#define MIN_SEC (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define MAX_SEC 253402300799LL   /* 9999-12-31T23:59:59Z */

size_t gotime_format(int64_t sec, int64_t nsec, char out[GOTIME_MAX])
{
    int64_t days, rem, y;
    unsigned m, d;
    int n;

    /* normalise like time.Unix: nsec into [0, 1e9) */
    if (nsec < 0 || nsec >= 1000000000) {
        int64_t carry = nsec / 1000000000;
        nsec -= carry * 1000000000;
        if (nsec < 0) {
            nsec += 1000000000;
            carry--;
        }
        if ((carry > 0 && sec > INT64_MAX - carry) || (carry < 0 && sec < INT64_MIN - carry)) {
            out[0] = '\0';
            return 0;
        }
        sec += carry;
    }
    if (sec < MIN_SEC || sec > MAX_SEC) {
        out[0] = '\0';
        return 0;
    }
    days = sec / 86400;
    rem = sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    gotime_civil_from_days(days, &y, &m, &d);
    n = snprintf(out, GOTIME_MAX, "%04d-%02u-%02uT%02d:%02d:%02d", (int)y, m, d,
                 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    if (nsec) {
        char frac[24];
        int k = 9;
        snprintf(frac, sizeof(frac), "%09lld", (long long)nsec);
        while (k > 0 && frac[k - 1] == '0')
            k--;
        frac[k] = '\0';
        n += snprintf(out + n, GOTIME_MAX - n, ".%s", frac);
    }
    n += snprintf(out + n, GOTIME_MAX - n, "Z");
    return (size_t)n;
}

static int digits(const char *s, size_t n, int64_t *v)
{
    size_t i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        return 29;
    return days[m - 1];
}

int gotime_parse(const char *s, size_t len, int64_t *sec, int32_t *nsec)
{
    int64_t y, mo, d, h, mi, se, frac = 0, tzh = 0, tzm = 0;
    size_t p = 19;
    int sign = 0;

    /* Go accepts only upper-case 'T' and 'Z' (its layout literals) */
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return -1;
    /* Go's parseRFC3339 ranges: the day within its month, no leap second */
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (int)mo) || h > 23 || mi > 59 ||
        se > 59)
        return -1;
    if (s[p] == '.') {
        int nd = 0;
        p++;
        while (p < len && s[p] >= '0' && s[p] <= '9') {
            if (nd < 9) {
                frac = frac * 10 + (s[p] - '0');
                nd++;
            }
            p++;
        }
        if (nd == 0)
            return -1;
        while (nd++ < 9)
            frac *= 10;
    }
    if (p < len && s[p] == 'Z' && p + 1 == len) {
        sign = 0;
    } else if (p + 6 == len && (s[p] == '+' || s[p] == '-') && s[p + 3] == ':') {
        sign = s[p] == '+' ? 1 : -1;
        if (digits(s + p + 1, 2, &tzh) || digits(s + p + 4, 2, &tzm) || tzh > 23 || tzm > 59)
            return -1;
    } else {
        return -1;
    }
    *sec = gotime_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se -
           sign * (tzh * 3600 + tzm * 60);
    *nsec = (int32_t)frac;
    return 0;
}
