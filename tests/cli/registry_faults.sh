#!/bin/sh
# tests/cli/registry_faults.sh -- soci push and remote soci create through
# tests/cli/fault_proxy.py (in front of Debian's docker-registry), with
# faults that a retry gets past; each run must finish (exit 0) and give what
# a clean run gives:
#   push (each to a fresh repository, then the registry holds the image,
#   the SOCI index, every blob, the fallback tag: registry_check.py pushed):
#     P1 connection resets: before the 3rd request, on two blob PUTs, and
#        after the registry stored a manifest (the answer is lost);
#     P2 500 on the first requests, 503 on blob upload POSTs, 502 on a
#        manifest PUT;
#     P3 429 with Retry-After: 1 on two blob PUTs (the wait is honoured);
#     P4 truncated answers (Content-Length larger than the body, then close);
#     P5 slow answers (1.5 s before each of the first requests);
#     P6 a layer above 64 MiB (chunked PATCH upload): a reset PATCH, a 503
#        PATCH, and a PATCH the registry took but whose answer was lost
#        (the upload starts again);
#   remote create (each into a fresh layout, which must be byte-identical,
#   diff -r, to a clean run's):
#     C1 truncated blob downloads, resumed with Range (206) -- twice;
#     C2 a truncated download whose resumed request is answered 200 with the
#        whole blob (a server that ignores Range);
#     C3 resets on blob GETs, 500 on manifest GETs, 429 on a blob GET;
#     C4 --push with 503s on blob PUTs and a lost manifest PUT answer.
#   keep-alive: K a clean push makes >= 10 requests over at most 4
#     connections.
# Every fault counted in the proxy's log was really injected.  Permanent
# failures are tests/cli/registry_faults_fatal.sh.
. "$ROOT/tests/cli/lib/regfault.sh"
need skopeo

start_registry "$TMP/reg"
start_fault_proxy "$TMP/x" "$REG"
sample_indexed "$TMP/img" t
ix=$(soci_entries "$TMP/img")
skopeo copy -q --dest-tls-verify=false "oci:$TMP/img:t" "docker://$REG/src:t" >"$TMP/skopeo.err" 2>&1 ||
    die "skopeo copy failed: $(cat "$TMP/skopeo.err")"
"$SOCI" create -q --min-layer-size $MIN --layout "$TMP/clean" "$REG/src:t" >"$TMP/clean.out" 2>&1 ||
    die "clean remote create failed: $(cat "$TMP/clean.out")"
[ "$(soci_entries "$TMP/clean")" = "$ix" ] || die "clean remote create made another index than soci create"
echo "setup done after $(elapsed)s"

# K: keep-alive -- a clean push through the proxy makes many requests over
# few connections (one to find that the loopback registry speaks http, not
# https, then one reused; a second when one is closed on an error answer)
: >"$XDIR/log"
c0=$(cat "$XDIR/connections" 2>/dev/null || echo 0)
"$SOCI" push "oci:$TMP/img:t" "$XREG/keep:t" >"$TMP/keep.out" 2>"$TMP/keep.err" || fail "K: push: $(cat "$TMP/keep.err")"
requests=$(grep -c . "$XDIR/log")
conns=$(($(cat "$XDIR/connections") - c0))
echo "K: $requests requests over $conns connections"
[ "$requests" -ge 10 ] || fail "K: only $requests requests: the push did not go through the proxy"
[ "$conns" -le 4 ] || fail "K: $conns connections for $requests requests: connections are not reused"

# push_case NAME RULES MIN_INJECTED [LAYOUT]: push LAYOUT (default the
# sample) to a fresh repository NAME through the proxy with RULES
push_case() {
    _l=${4:-$TMP/img}
    : >"$XDIR/log"
    faults "$2"
    timed "$TMP/$1.out" "$TMP/$1.err" "$SOCI" push "oci:$_l:t" "$XREG/$1:t"
    faults '{}'
    n=$(injected)
    echo "$1: exit $rc after ${secs}s, $n fault(s) injected"
    [ $rc -eq 0 ] || { fail "$1: exit $rc: $(cat "$TMP/$1.err")"; sed 's/^/    | /' "$XDIR/log" | cut -c1-200; }
    [ "$n" -ge "$3" ] || fail "$1: only $n fault(s) injected, want $3"
    $REGCHECK pushed "$REG" "$1" "$_l" t || fail "$1: the registry does not hold the push"
}

# create_case NAME RULES MIN_INJECTED [OPTIONS]: remote create from src (or
# the repository in $SRC) through the proxy into a fresh layout NAME
create_case() {
    : >"$XDIR/log"
    faults "$2"
    _src=${SRC:-src}
    # shellcheck disable=SC2086
    timed "$TMP/$1.out" "$TMP/$1.err" "$SOCI" create -q --min-layer-size $MIN --layout "$TMP/$1" ${4:-} "$XREG/$_src:t"
    faults '{}'
    n=$(injected)
    echo "$1: exit $rc after ${secs}s, $n fault(s) injected"
    [ $rc -eq 0 ] || { fail "$1: exit $rc: $(cat "$TMP/$1.err")"; sed 's/^/    | /' "$XDIR/log" | cut -c1-200; }
    [ "$n" -ge "$3" ] || fail "$1: only $n fault(s) injected, want $3"
    diff -r "$TMP/clean" "$TMP/$1" >"$TMP/$1.diff" 2>&1 || fail "$1: the layout differs from a clean run: $(head -n 5 "$TMP/$1.diff")"
}

push_case p1 '{"rules": [
  {"match": "^PUT /v2/p1/blobs/uploads/", "action": "reset", "count": 2},
  {"match": "^PUT /v2/p1/manifests/sha256:", "action": "reset_after", "count": 1},
  {"match": "", "action": "reset", "after": 2, "count": 1}]}' 4
push_case p2 '{"rules": [
  {"match": "", "action": "status", "status": 500, "count": 2},
  {"match": "^POST /v2/p2/blobs/uploads/", "action": "status", "status": 503, "count": 2},
  {"match": "^PUT /v2/p2/manifests/", "action": "status", "status": 502, "count": 1}]}' 5
push_case p3 '{"rules": [
  {"match": "^PUT /v2/p3/blobs/uploads/", "action": "status", "status": 429, "retry_after": 1, "count": 2}]}' 2
below "$secs" 1.9 && fail "p3: finished in ${secs}s: the two Retry-After: 1 were not waited for"
push_case p4 '{"rules": [
  {"match": "^GET /v2/p4/referrers/", "action": "truncate", "count": 1},
  {"match": "^GET /v2/p4/manifests/", "action": "truncate", "count": 2}]}' 3
push_case p5 '{"rules": [{"match": "", "action": "slow", "delay": 1.5, "count": 3}]}' 0
echo "small pushes done after $(elapsed)s"

# P6: an image with a layer above the 64 MiB chunked-upload threshold
cp -a "$TMP/img" "$TMP/big"
"$PY" - "$TMP/big/index.json" <<'EOF' || die "could not drop the index entry"
import json, sys
ix = json.load(open(sys.argv[1]))
ix["manifests"] = [m for m in ix["manifests"] if "artifactType" not in m]
json.dump(ix, open(sys.argv[1], "w"), separators=(",", ":"))
EOF
$ADD_BIG_LAYER "$TMP/big" t 66 >/dev/null || die "add_big_layer.py failed"
"$SOCI" create -q --min-layer-size $MIN "oci:$TMP/big:t" >"$TMP/cb.out" 2>&1 || die "create big: $(cat "$TMP/cb.out")"
push_case p6 '{"rules": [
  {"match": "^PATCH /v2/p6/", "action": "reset", "after": 1, "count": 1},
  {"match": "^PATCH /v2/p6/", "action": "status", "status": 503, "after": 2, "count": 1},
  {"match": "^PATCH /v2/p6/", "action": "reset_after", "after": 4, "count": 1}]}' 3 "$TMP/big"
grep -q 'PATCH /v2/p6/.* -> upstream 202, RESET instead' "$XDIR/log" || fail "p6: no PATCH answer was lost"
echo "chunked push done after $(elapsed)s"

create_case c1 '{"rules": [{"match": "^GET /v2/src/blobs/", "action": "truncate", "count": 2, "fraction": 0.4}]}' 2
grep -q ' -> 206 TRUNCATED' "$XDIR/log" || fail "c1: the download was not resumed with a range request"
create_case c2 '{"rules": [
  {"match": "^GET /v2/src/blobs/", "action": "truncate", "count": 1, "fraction": 0.3},
  {"match": "^GET /v2/src/blobs/", "action": "norange", "after": 1}]}' 2
create_case c3 '{"rules": [
  {"match": "^GET /v2/src/blobs/", "action": "reset", "count": 2},
  {"match": "^GET /v2/src/manifests/", "action": "status", "status": 500, "count": 2},
  {"match": "^GET /v2/src/blobs/", "action": "status", "status": 429, "retry_after": 1, "after": 2, "count": 1}]}' 5
skopeo copy -q --dest-tls-verify=false "oci:$TMP/img:t" "docker://$REG/src2:t" >"$TMP/skopeo.err" 2>&1 ||
    die "skopeo copy failed: $(cat "$TMP/skopeo.err")"
SRC=src2
create_case c4 '{"rules": [
  {"match": "^PUT /v2/src2/blobs/uploads/", "action": "status", "status": 503, "count": 2},
  {"match": "^PUT /v2/src2/manifests/sha256:", "action": "reset_after", "count": 1}]}' 3 --push
SRC=src
$REGCHECK pushed "$REG" src2 "$TMP/img" t || fail "c4: the registry does not hold the pushed index"
echo "creates done after $(elapsed)s"
$REGCHECK consistent "$REG" "$TMP/reg/storage" || fail "the registry holds a manifest naming what it does not have"
finish
