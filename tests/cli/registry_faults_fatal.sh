#!/bin/sh
# tests/cli/registry_faults_fatal.sh -- permanent registry failures, through
# tests/cli/fault_proxy.py in front of Debian's docker-registry: soci push
# and remote soci create must give up after their bounded retries -- exit
# non-zero, exactly one line on stderr naming the failing request and the
# reason, in well under 60 s (each time is measured) -- and whatever a failed
# push left behind must still be consistent:
#   F1 push: every blob upload PUT answers 503;
#   F2 push: every manifest PUT loses its connection (RST);
#   F3 push: the fallback tag PUT answers 503 (the index itself went up);
#   F4 remote create: every blob GET answers 503;
#   F5 remote create: every blob GET is truncated (each resume too);
#   F6 remote create --push: every manifest PUT answers 500;
#   F7 push: every request is reset (nothing gets through).
# Then a push without faults to F1's repository completes (the debris of a
# failed push is no obstacle), and registry_check.py consistent: every
# manifest the registry holds -- tags, fallback tags, untagged revisions --
# names only blobs and manifests the repository has.
. "$ROOT/tests/cli/lib/regfault.sh"
need skopeo
LIMIT=60

start_registry "$TMP/reg"
start_fault_proxy "$TMP/x" "$REG"
sample_indexed "$TMP/img" t
skopeo copy -q --dest-tls-verify=false "oci:$TMP/img:t" "docker://$REG/src:t" >"$TMP/skopeo.err" 2>&1 ||
    die "skopeo copy failed: $(cat "$TMP/skopeo.err")"
echo "setup done after $(elapsed)s"

# fatal NAME RULES TEXT CMD...: CMD fails under RULES with one stderr line
# containing TEXT, in less than LIMIT seconds
fatal() {
    _n=$1 _r=$2 _want=$3
    shift 3
    : >"$XDIR/log"
    faults "$_r"
    timed "$TMP/$_n.out" "$TMP/$_n.err" "$@"
    faults '{}'
    echo "$_n: exit $rc after ${secs}s, $(injected) fault(s) injected: $(head -c 300 "$TMP/$_n.err")"
    [ $rc -ne 0 ] || fail "$_n: exit 0 under a permanent failure"
    [ $rc -lt 128 ] || fail "$_n: killed by a signal (exit $rc)"
    one_line "$TMP/$_n.err" "$_n" "$_want"
    grep -q '^soci: ' "$TMP/$_n.err" || fail "$_n: the error line does not start with \"soci: \""
    below "$secs" $LIMIT || fail "$_n: gave up only after ${secs}s (limit ${LIMIT}s)"
    [ "$(injected)" -ge 1 ] || fail "$_n: no fault was injected"
}

fatal f1 '{"rules": [{"match": "^PUT /v2/f1/blobs/uploads/", "action": "status", "status": 503}]}' \
    "PUT /v2/f1/blobs/uploads/" "$SOCI" push "oci:$TMP/img:t" "$XREG/f1:t"
grep -q 'uploading blob sha256:.*: 503' "$TMP/f1.err" || fail "f1: the line does not name the blob and the 503"
grep -q '_state=' "$TMP/f1.err" && fail "f1: the line carries the upload URL's query"
fatal f2 '{"rules": [{"match": "^PUT /v2/f2/manifests/", "action": "reset"}]}' \
    "PUT /v2/f2/manifests/" "$SOCI" push "oci:$TMP/img:t" "$XREG/f2:t"
grep -q 'after [0-9]* attempts' "$TMP/f2.err" || fail "f2: the line does not say how often it tried"
fatal f3 '{"rules": [{"match": "^PUT /v2/f3/manifests/sha256-", "action": "status", "status": 503}]}' \
    "PUT /v2/f3/manifests/sha256-" "$SOCI" push "oci:$TMP/img:t" "$XREG/f3:t"
fatal f4 '{"rules": [{"match": "^GET /v2/src/blobs/", "action": "status", "status": 503}]}' \
    "GET /v2/src/blobs/" "$SOCI" create -q --min-layer-size $MIN --layout "$TMP/f4" "$XREG/src:t"
fatal f5 '{"rules": [{"match": "^GET /v2/src/blobs/", "action": "truncate", "fraction": 0.3}]}' \
    "GET /v2/src/blobs/" "$SOCI" create -q --min-layer-size $MIN --layout "$TMP/f5" "$XREG/src:t"
fatal f6 '{"rules": [{"match": "^PUT /v2/src/manifests/", "action": "status", "status": 500}]}' \
    "PUT /v2/src/manifests/" "$SOCI" create -q --min-layer-size $MIN --layout "$TMP/f6" --push "$XREG/src:t"
fatal f7 '{"rules": [{"match": "", "action": "reset"}]}' \
    "GET /v2/" "$SOCI" push "oci:$TMP/img:t" "$XREG/f7:t"
echo "failures done after $(elapsed)s"

# the debris of a failed push is no obstacle to the next one
"$SOCI" push "oci:$TMP/img:t" "$XREG/f1:t" >"$TMP/again.out" 2>"$TMP/again.err" ||
    fail "push after the failed one: exit $?: $(cat "$TMP/again.err")"
$REGCHECK pushed "$REG" f1 "$TMP/img" t || fail "push after the failed one: the registry does not hold it"
$REGCHECK consistent "$REG" "$TMP/reg/storage" || fail "the registry holds a manifest naming what it does not have"
finish
