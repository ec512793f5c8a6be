/* gotime.h -- Go's time.Time text form, as the ztoc stores mod_time
 *
 * Upstream stores mod_time as Go's Time.MarshalText(): RFC 3339 with
 * nanoseconds, trailing zeros trimmed, and an empty string for years outside
 * 0..9999 (docs/format.md §3.4).  We always emit UTC ("Z"), which is what the
 * AWS CLI writes when run in UTC, as it is in containers and CI.
 *
 * Ownership: callers pass every buffer; nothing is allocated.  Errors:
 * gotime_parse returns 0, or -1 for text that is not RFC 3339 (no message:
 * callers name the field).  Thread safety: no state; reentrant.
 */
#ifndef SOCI_GOTIME_H
#define SOCI_GOTIME_H

#include <stddef.h>
#include <stdint.h>

#define GOTIME_MAX 40

/* Go's time.Unix(sec, nsec).UTC().MarshalText(); returns the length written
 * to out (0: the year is out of range, Go stores "") */
size_t gotime_format(int64_t sec, int64_t nsec, char out[GOTIME_MAX]);

/* parse RFC 3339 ("2023-11-14T22:13:20.5Z", "...+01:00"); 0 on success */
int gotime_parse(const char *s, size_t len, int64_t *sec, int32_t *nsec);

/* days since 1970-01-01 of a proleptic Gregorian date, and back */
int64_t gotime_days_from_civil(int64_t y, unsigned m, unsigned d);
void gotime_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
