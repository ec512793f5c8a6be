#!/bin/sh
# tests/cli/registry_upload_refused.sh -- a registry that refuses an upload
# step for good (tests/cli/fault_proxy.py in front of Debian's
# docker-registry, answering one kind of request with a 4xx and a
# registry-style error body {"errors":[{"code":"DENIED","message":...}]}):
# soci push of an image with a layer above the 64 MiB chunked-upload
# threshold must
#   - exit non-zero with exactly one line on stderr that carries the
#     registry's status, code and message ("403: DENIED: <message>") and
#     names the refused request, as a refused manifest GET does;
#   - send the refused request once: a 4xx cannot succeed when sent again
#     (the proxy's log counts what reached it);
# for each step in turn: the upload POST, a chunk PATCH, the closing blob
# PUT, the manifest PUT (403 each), and a blob PUT answered 400 and 404.
. "$ROOT/tests/cli/lib/regfault.sh"

start_registry "$TMP/reg"
start_fault_proxy "$TMP/x" "$REG"
sample "$TMP/img" t --big-mib 1
$ADD_BIG_LAYER "$TMP/img" t 66 >/dev/null || die "add_big_layer.py failed"
MSG="refused by registry_upload_refused.sh"

# refused NAME STEP_REGEX STATUS CODE WHAT: push to repository NAME while
# requests matching ^STEP_REGEX answer STATUS CODE; WHAT names the request
# the one stderr line must name
refused() {
    _n=$1 _re=$2 _st=$3 _code=$4 _what=$5
    : >"$XDIR/log"
    faults "{\"rules\": [{\"match\": \"^$_re\", \"action\": \"status\", \"status\": $_st,
        \"code\": \"$_code\", \"message\": \"$MSG\"}]}"
    timed "$TMP/$_n.out" "$TMP/$_n.err" "$SOCI" push "oci:$TMP/img:t" "$XREG/$_n:t"
    faults '{}'
    sent=$(grep -c -E " $_re" "$XDIR/log")
    echo "$_n: exit $rc after ${secs}s, the refused request sent $sent time(s): $(head -c 300 "$TMP/$_n.err")"
    [ $rc -ne 0 ] || fail "$_n: exit 0 although the registry refused"
    [ $rc -lt 128 ] || fail "$_n: killed by a signal (exit $rc)"
    one_line "$TMP/$_n.err" "$_n" "$_st: $_code: $MSG"
    grep -qF -- "$_what" "$TMP/$_n.err" || fail "$_n: the line does not name \"$_what\""
    [ "$sent" -eq 1 ] || {
        fail "$_n: the refused request was sent $sent times, want once"
        sed 's/^/    | /' "$XDIR/log" | cut -c1-160
    }
}

refused post "POST /v2/post/blobs/uploads/" 403 DENIED "POST /v2/post/blobs/uploads/"
refused patch "PATCH /v2/patch/blobs/uploads/" 403 DENIED "PATCH /v2/patch/blobs/uploads/"
grep -q "PATCH /v2/patch/blobs/uploads/" "$XDIR/log" || fail "patch: the big layer went up without PATCH"
refused put "PUT /v2/put/blobs/uploads/" 403 DENIED "PUT /v2/put/blobs/uploads/"
refused manifest "PUT /v2/manifest/manifests/" 403 DENIED "PUT /v2/manifest/manifests/sha256:"
refused put400 "PUT /v2/put400/blobs/uploads/" 400 DIGEST_INVALID "PUT /v2/put400/blobs/uploads/"
refused put404 "PUT /v2/put404/blobs/uploads/" 404 BLOB_UPLOAD_UNKNOWN "PUT /v2/put404/blobs/uploads/"
finish
