/* test_log.c -- every log record is one line of valid JSON (lib/log.h),
 * whatever its message and fields hold; read back with jansson, an
 * independent parser */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"

#define NASTY "say \"hi\"\\ \n{\"level\":\"forged\"}\r\t\x01 caf\xc3\xa9 \xff"

/* the records written to f since it was empty, one per line */
static json_t *records(FILE *f, size_t *nlines)
{
    json_t *all = json_array();
    char *line = NULL;
    size_t cap = 0;

    *nlines = 0;
    rewind(f);
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *r = json_loads(line, JSON_REJECT_DUPLICATES, &je);
        (*nlines)++;
        CHECK_MSG(r != NULL && json_is_object(r), "line %zu is not a JSON object: %s (%s)", *nlines, line, je.text);
        if (r)
            json_array_append_new(all, r);
    }
    free(line);
    return all;
}

static const char *str(json_t *r, const char *key) { return json_string_value(json_object_get(r, key)); }

int main(void)
{
    FILE *f = tmpfile();
    json_t *all, *r;
    size_t n;

    CHECK(f != NULL);
    log_set_output(f);
    log_set_level("debug");
    log_kv("error", NASTY, LOG_STR("error", NASTY), LOG_INT("span", -3), LOG_STR("none", NULL));
    log_msg("warn", "%s", NASTY);
    /* the older form: members pasted from unescaped text cannot break a record */
    log_event("info", "pasted", "\"error\":\"a \"quoted\" word\"");
    log_event("info", "members", "\"span\":3,\"layer\":\"sha256:ab\",\"msg\":\"not ours\"");
    log_event("info", "nothing", NULL);
    log_set_level("warn");
    log_msg("info", "below the level");
    log_set_output(NULL);

    all = records(f, &n);
    CHECK_MSG(n == 5 && json_array_size(all) == 5, "%zu lines, %zu records", n, json_array_size(all));
    if (json_array_size(all) == 5) {
        r = json_array_get(all, 0);
        CHECK(strcmp(str(r, "level"), "error") == 0);
        /* invalid UTF-8 comes back as U+FFFD, as Go writes it; the rest exactly */
        CHECK(strstr(str(r, "msg"), "say \"hi\"\\ \n{\"level\":\"forged\"}\r\t\x01 caf\xc3\xa9 ") == str(r, "msg"));
        CHECK(strcmp(str(r, "msg"), str(r, "error")) == 0);
        CHECK(json_integer_value(json_object_get(r, "span")) == -3);
        CHECK(strcmp(str(r, "none"), "") == 0);
        CHECK(str(r, "time") != NULL && strlen(str(r, "time")) == 24);
        r = json_array_get(all, 1);
        CHECK(strcmp(str(r, "level"), "warn") == 0 && strncmp(str(r, "msg"), "say \"hi\"", 8) == 0);
        r = json_array_get(all, 2);
        CHECK(strcmp(str(r, "msg"), "pasted") == 0 && strcmp(str(r, "fields"), "\"error\":\"a \"quoted\" word\"") == 0);
        r = json_array_get(all, 3);
        CHECK(json_integer_value(json_object_get(r, "span")) == 3 && strcmp(str(r, "layer"), "sha256:ab") == 0);
        CHECK(strcmp(str(r, "msg"), "members") == 0);
        r = json_array_get(all, 4);
        CHECK(strcmp(str(r, "msg"), "nothing") == 0 && json_object_size(r) == 3);
    }
    json_decref(all);
    fclose(f);
    return check_exit();
}
