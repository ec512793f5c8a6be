/* fuzz_reg_ref.c -- hostile registry references
 *
 * The input is a reference string (up to a NUL).  reg_ref_parse must
 * refuse it with a one-line message or give parts that are NUL-terminated
 * in their buffers, hold only URL-safe characters (no '?', '#', '%',
 * space, control characters, or "." / ".." path segments), and assemble
 * into a reference that parses again to the same parts.  reg_ref_looks_remote and
 * reg_host_is_loopback see the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "registry_ref.h"

static void url_safe(const char *part, size_t size, const char *what)
{
    const char *p;

    if (memchr(part, '\0', size) == NULL)
        FAIL("%s is not NUL-terminated inside its buffer", what);
    for (p = part; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || strchr("?#%\\\"'<>", *p) != NULL)
            FAIL("%s holds 0x%02x", what, (unsigned char)*p);
    /* "." or ".." as a whole path segment would move the URL's path */
    for (p = part; *p; p += strcspn(p, "/"), p += *p == '/') {
        size_t seg = strcspn(p, "/");
        if ((seg == 1 && p[0] == '.') || (seg == 2 && p[0] == '.' && p[1] == '.'))
            FAIL("%s holds a \".\" or \"..\" segment", what);
        if (seg == 0)
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), again[1200];
    struct reg_ref r, r2;
    struct error err;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    (void)reg_ref_looks_remote(s);
    (void)reg_host_is_loopback(s);
    err.msg[0] = '\0';
    if (reg_ref_parse(s, &r, &err) != 0) {
        if (err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL)
            FAIL("refused without a one-line message");
    } else {
        url_safe(r.host, sizeof(r.host), "host");
        url_safe(r.repo, sizeof(r.repo), "repo");
        url_safe(r.tag, sizeof(r.tag), "tag");
        url_safe(r.digest, sizeof(r.digest), "digest");
        if (r.repo[0] == '\0' || (r.tag[0] == '\0' && r.digest[0] == '\0'))
            FAIL("parsed without a repository or reference");
        snprintf(again, sizeof(again), "%s/%s%s%s%s%s", r.host, r.repo, r.tag[0] ? ":" : "", r.tag,
                 r.digest[0] ? "@" : "", r.digest);
        if (reg_ref_parse(again, &r2, &err) != 0)
            FAIL("its parts do not parse again: %s: %s", again, err.msg);
        if (memcmp(&r, &r2, sizeof(r)) != 0)
            FAIL("round trip changed a part: %s", again);
    }
    free(s);
    return 0;
}
