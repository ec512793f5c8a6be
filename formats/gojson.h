/* gojson.h -- a JSON writer that emits the bytes Go's encoding/json emits
 *
 * SOCI index digests are sha256 of JSON text, and the Go snapshotter
 * re-marshals what it downloads and insists the bytes match
 * (docs/format.md §4.3).  So we write JSON the way Go does: compact, no
 * trailing newline, fields in the order the caller gives (Go's struct
 * order), Go's string escaping (HTML-safe <>&, U+2028/2029, \ufffd for
 * invalid UTF-8).  Indented mode reproduces json.MarshalIndent(v, "", ind).
 *
 * Errors: the writers never fail one call at a time; an allocation failure
 * or misuse (depth past GOJSON_MAX_DEPTH) sets j->failed and later calls do
 * nothing, and gojson_result() reports it as -1 with one line in err;
 * gojson_reindent() returns 0, or -1 with one line for invalid input.
 * Ownership: j owns its buffer until gojson_free().  Thread safety: one
 * writer per thread; no shared state.
 */
#ifndef SOCI_GOJSON_H
#define SOCI_GOJSON_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define GOJSON_MAX_DEPTH 64

struct gojson {
    char *buf;
    size_t len, cap;
    int indent;                       /* spaces per level; 0 = compact */
    int depth;
    int count[GOJSON_MAX_DEPTH];      /* values written at each level */
    int after_key;
    int failed;
};

void gojson_init(struct gojson *j, int indent);
void gojson_free(struct gojson *j);

void gojson_begin_object(struct gojson *j);
void gojson_end_object(struct gojson *j);
void gojson_begin_array(struct gojson *j);
void gojson_end_array(struct gojson *j);
void gojson_key(struct gojson *j, const char *key);
void gojson_string(struct gojson *j, const char *s, size_t n);
void gojson_cstr(struct gojson *j, const char *s);
void gojson_int(struct gojson *j, int64_t v);
void gojson_bool(struct gojson *j, int v);
void gojson_null(struct gojson *j);
/* an already-encoded JSON value, copied verbatim */
void gojson_raw(struct gojson *j, const char *json, size_t n);

/* the text so far (NUL-terminated), or an error if anything failed; the
 * buffer stays owned by j */
int gojson_result(struct gojson *j, const char **out, size_t *len, struct error *err);

/* append s as a Go-escaped JSON string (with quotes) to j's buffer */
void gojson_escape(struct gojson *j, const char *s, size_t n);

/* json.Indent(dst, src, "", indent): re-indent valid compact or indented
 * JSON, keeping key order; output is NUL-terminated and malloc'd */
int gojson_reindent(const char *src, size_t n, int indent, char **out, size_t *out_len,
                    struct error *err);

#endif
