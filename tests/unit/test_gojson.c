/* test_gojson.c -- the bytes Go's encoding/json writes (docs/format.md §4.3):
 * string escaping, compact and MarshalIndent layouts, and json.Indent */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gojson.h"

/* s (n bytes) as a Go-marshalled JSON string */
static void expect_escape(const char *s, size_t n, const char *want)
{
    struct gojson j;
    const char *out;
    size_t len;
    struct error err;

    gojson_init(&j, 0);
    gojson_string(&j, s, n);
    CHECK(gojson_result(&j, &out, &len, &err) == 0);
    CHECK_MSG(len == strlen(want) && memcmp(out, want, len) == 0, "got %s, want %s", out, want);
    gojson_free(&j);
}

#define ESC(lit, want) expect_escape(lit, sizeof(lit) - 1, want)

static void escaping(void)
{
    ESC("", "\"\"");
    ESC("plain text 123 ~!@#$%^*()_+{}|:?", "\"plain text 123 ~!@#$%^*()_+{}|:?\"");
    ESC("\"\\/", "\"\\\"\\\\/\"");
    /* HTML-safe: <, >, & */
    ESC("<a href=\"x\">&</a>", "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\"");
    /* short forms */
    ESC("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
    /* other control characters: \u00XX with lower-case hex; DEL is raw */
    ESC("\x01\x1f\x0b\x1b\x7f", "\"\\u0001\\u001f\\u000b\\u001b\x7f\"");
    expect_escape("a\0b", 3, "\"a\\u0000b\"");
    /* valid multi-byte UTF-8 passes raw */
    ESC("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd", "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd\"");
    ESC("\xc2\x80\xdf\xbf\xe0\xa0\x80\xf4\x8f\xbf\xbf", "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xf4\x8f\xbf\xbf\"");
    /* U+2028 and U+2029 are escaped */
    ESC("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c", "\"a\\u2028b\\u2029c\"");
    /* invalid UTF-8: each bad byte becomes \ufffd */
    ESC("\xff", "\"\\ufffd\"");
    ESC("a\x80z", "\"a\\ufffdz\"");
    ESC("\xc3", "\"\\ufffd\"");                       /* truncated */
    ESC("\xe2\x82", "\"\\ufffd\\ufffd\"");            /* truncated 3-byte */
    ESC("\xc0\xaf", "\"\\ufffd\\ufffd\"");            /* overlong */
    ESC("\xe0\x80\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong */
    ESC("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
    ESC("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    ESC("\xf8\x88\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
    ESC("\xc3\xa9\xc3", "\"\xc3\xa9\\ufffd\"");
}

static void expect_doc(struct gojson *j, const char *want)
{
    const char *out;
    size_t len;
    struct error err;

    CHECK(gojson_result(j, &out, &len, &err) == 0);
    CHECK_MSG(len == strlen(want) && memcmp(out, want, len) == 0, "got\n%s\nwant\n%s", out, want);
    gojson_free(j);
}

/* {"a":1,"b":[true,null,"x"],"c":{},"d":[],"e":{"f":-5}} */
static void sample(struct gojson *j)
{
    gojson_begin_object(j);
    gojson_key(j, "a");
    gojson_int(j, 1);
    gojson_key(j, "b");
    gojson_begin_array(j);
    gojson_bool(j, 1);
    gojson_null(j);
    gojson_cstr(j, "x");
    gojson_end_array(j);
    gojson_key(j, "c");
    gojson_begin_object(j);
    gojson_end_object(j);
    gojson_key(j, "d");
    gojson_begin_array(j);
    gojson_end_array(j);
    gojson_key(j, "e");
    gojson_begin_object(j);
    gojson_key(j, "f<");
    gojson_int(j, -5);
    gojson_end_object(j);
    gojson_end_object(j);
}

static const char compact[] = "{\"a\":1,\"b\":[true,null,\"x\"],\"c\":{},\"d\":[],\"e\":{\"f\\u003c\":-5}}";
static const char indented2[] =
    "{\n"
    "  \"a\": 1,\n"
    "  \"b\": [\n"
    "    true,\n"
    "    null,\n"
    "    \"x\"\n"
    "  ],\n"
    "  \"c\": {},\n"
    "  \"d\": [],\n"
    "  \"e\": {\n"
    "    \"f\\u003c\": -5\n"
    "  }\n"
    "}";

static void layouts(void)
{
    struct gojson j;

    gojson_init(&j, 0);
    sample(&j);
    expect_doc(&j, compact);

    gojson_init(&j, 2);
    sample(&j);
    expect_doc(&j, indented2);

    /* empty top-level containers and scalars */
    gojson_init(&j, 3);
    gojson_begin_object(&j);
    gojson_end_object(&j);
    expect_doc(&j, "{}");
    gojson_init(&j, 2);
    gojson_begin_array(&j);
    gojson_end_array(&j);
    expect_doc(&j, "[]");
    gojson_init(&j, 2);
    gojson_int(&j, INT64_MIN);
    expect_doc(&j, "-9223372036854775808");

    /* arrays of objects, indented by 3 */
    gojson_init(&j, 3);
    gojson_begin_array(&j);
    gojson_begin_object(&j);
    gojson_key(&j, "k");
    gojson_begin_array(&j);
    gojson_int(&j, 1);
    gojson_end_array(&j);
    gojson_end_object(&j);
    gojson_begin_object(&j);
    gojson_end_object(&j);
    gojson_end_array(&j);
    expect_doc(&j, "[\n   {\n      \"k\": [\n         1\n      ]\n   },\n   {}\n]");

    /* raw values are copied verbatim (compact documents) */
    gojson_init(&j, 0);
    gojson_begin_array(&j);
    gojson_raw(&j, "{\"x\":[1,2]}", 11);
    gojson_cstr(&j, "y");
    gojson_end_array(&j);
    expect_doc(&j, "[{\"x\":[1,2]},\"y\"]");

    /* unbalanced and too deep documents are refused */
    {
        const char *out;
        size_t len;
        struct error err;
        int i;

        gojson_init(&j, 0);
        gojson_begin_object(&j);
        CHECK(gojson_result(&j, &out, &len, &err) != 0);
        gojson_free(&j);
        gojson_init(&j, 0);
        gojson_end_array(&j);
        CHECK(gojson_result(&j, &out, &len, &err) != 0);
        gojson_free(&j);
        gojson_init(&j, 0);
        for (i = 0; i < GOJSON_MAX_DEPTH + 5; i++)
            gojson_begin_array(&j);
        for (i = 0; i < GOJSON_MAX_DEPTH + 5; i++)
            gojson_end_array(&j);
        CHECK(gojson_result(&j, &out, &len, &err) != 0);
        gojson_free(&j);
    }
}

static void expect_reindent(const char *src, int indent, const char *want)
{
    char *out = NULL;
    size_t len = 0;
    struct error err;

    CHECK_MSG(gojson_reindent(src, strlen(src), indent, &out, &len, &err) == 0, "%s", err.msg);
    CHECK_MSG(out && len == strlen(want) && strcmp(out, want) == 0, "json.Indent(%s): got\n%s\nwant\n%s",
              src, out ? out : "(null)", want);
    free(out);
}

static void reindent(void)
{
    char *out;
    size_t len;
    struct error err;

    /* MarshalIndent == Marshal + Indent */
    expect_reindent(compact, 2, indented2);
    /* already indented input, re-indented; whitespace in strings kept */
    expect_reindent(indented2, 2, indented2);
    expect_reindent(" { \"a b\" :\t[ 1 ,\n 2 ] , \"c\" : { } , \"d\":[ ]}", 1,
                    "{\n \"a b\": [\n  1,\n  2\n ],\n \"c\": {},\n \"d\": []\n}");
    /* escapes inside strings, including an escaped quote and backslash */
    expect_reindent("[\"x\\\"]\\\\\",{}]", 2, "[\n  \"x\\\"]\\\\\",\n  {}\n]");
    /* leading space is dropped, trailing space after the value is kept */
    expect_reindent("  {}\n", 4, "{}\n");
    expect_reindent("\t[1] \n", 2, "[\n  1\n] \n");
    expect_reindent("\"s\"", 2, "\"s\"");
    /* refused */
    CHECK(gojson_reindent("{\"a\":1", 6, 2, &out, &len, &err) != 0);
    CHECK(gojson_reindent("\"abc", 4, 2, &out, &len, &err) != 0);
    CHECK(gojson_reindent("]", 1, 2, &out, &len, &err) != 0);
    CHECK(gojson_reindent("[", 1, 2, &out, &len, &err) != 0);
    CHECK(gojson_reindent("{\"a\":{}", 7, 2, &out, &len, &err) != 0);
}

int main(void)
{
    escaping();
    layouts();
    reindent();
    return check_exit();
}
