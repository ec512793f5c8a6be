/* prefetch.h -- the SOCI prefetch artifact (docs/format.md §4.1, §4.6)
 *
 * A small JSON blob, one per layer, listing span ranges a mounter fetches
 * before the mount answers:
 *
 *   {"version":"1.0","prefetch_spans":[{"start_span":N,"end_span":M[,"priority":P]}]}
 *
 * mediaType PREFETCH_MEDIA_TYPE, referenced from the SOCI index after the
 * ztoc descriptors, annotated with the layer digest.  prefetch_encode()
 * writes Go's bytes (field order, compact, "priority" omitted when 0);
 * prefetch_decode() takes hostile bytes: version must be "1.0", spans
 * non-empty and at most PREFETCH_MAX_RANGES, each 0 <= start <= end <=
 * INT32_MAX; prefetch_check_spans() bounds them by a ztoc's span count at
 * use.  prefetch_merge() applies upstream's merging rule.
 *
 * Pure functions over caller memory; no shared state: thread safe.
 * Errors: -1 with one line in err.
 */
#ifndef SOCI_PREFETCH_H
#define SOCI_PREFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PREFETCH_MEDIA_TYPE "application/vnd.amazon.soci.prefetch.v1+json"
#define PREFETCH_VERSION "1.0"
/* far more ranges than any layer has spans worth naming; bounds decode */
#define PREFETCH_MAX_RANGES 65536
/* a blob larger than this is not a prefetch artifact we read */
#define PREFETCH_MAX_BYTES ((size_t)4 << 20)

struct prefetch_range {
    int32_t start_span;
    int32_t end_span;           /* inclusive */
    int32_t priority;           /* 0: none (not written) */
};

struct prefetch_artifact {
    size_t nranges;
    struct prefetch_range *ranges;  /* malloc'd by prefetch_decode */
};

/* Go-canonical bytes of ranges[0..n); *out malloc'd, NUL-terminated (not
 * counted in *len); n must be >= 1 */
int prefetch_encode(const struct prefetch_range *ranges, size_t n, char **out, size_t *len, struct error *err);

/* parse and bound an artifact; release with prefetch_release() */
int prefetch_decode(const uint8_t *bytes, size_t len, struct prefetch_artifact *a, struct error *err);
void prefetch_release(struct prefetch_artifact *a);

/* every range names spans of a ztoc with nspans spans */
int prefetch_check_spans(const struct prefetch_artifact *a, int32_t nspans, struct error *err);

/* sort ranges[0..*n) by start and merge those that overlap or touch
 * (start <= previous end + 1), in place; priorities are dropped */
void prefetch_merge(struct prefetch_range *ranges, size_t *n);

/* spans named, counting each range's end-start+1 (upstream's TotalSpans) */
int64_t prefetch_total_spans(const struct prefetch_artifact *a);

#endif
