#!/bin/sh
# tests/cli/registry_multirange.sh -- reg_blob_get_ranges against Debian's
# docker-registry (Go's net/http answers several ranges as
# multipart/byteranges): a blob of 3 MiB of random bytes, uploaded with
# curl, read as 6 ranges (first byte, last byte, adjacent, overlapping,
# one across the middle) by the driver tests/cli/lib/multirange.c
# (linked against the build's lib archive):
#   1. every range equals the same bytes of the file, fetched in ONE range
#      request (multipart);
#   2. through tests/cli/fault_proxy.py forwarding without the Range header
#      (the registry answers 200 with the whole blob, as a server without
#      ranges does): the bytes are still right, read one range at a time.
. "$ROOT/tests/cli/lib/regfault.sh"

OBJ=$BIN/../obj
[ -f "$OBJ/liblib.a" ] && [ -f "$OBJ/libformats.a" ] || die "no lib archives in $OBJ"
CC=cc SANFLAGS=
if nm "$OBJ/liblib.a" 2>/dev/null | grep -q __asan; then
    CC=clang SANFLAGS="-fsanitize=address,undefined"
fi
# shellcheck disable=SC2086
$CC -O1 -g $SANFLAGS -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -I"$ROOT/formats" -I"$ROOT/lib" \
    "$ROOT/tests/cli/lib/multirange.c" "$OBJ/liblib.a" "$OBJ/libformats.a" \
    -lcrypto -ljansson -lcurl -lz -larchive -o "$TMP/multirange" >"$TMP/cc.log" 2>&1 ||
    die "building multirange.c failed: $(cat "$TMP/cc.log")"

start_registry "$TMP/reg"
head -c 3145728 /dev/urandom >"$TMP/blob"
D=sha256:$(sha256sum "$TMP/blob" | cut -c1-64)
loc=$(curl -s -m 20 -D - -o /dev/null -X POST "http://$REG/v2/r/blobs/uploads/" | sed -n 's/^[Ll]ocation: //p' | tr -d '\r')
[ -n "$loc" ] || die "POST upload: no Location"
case $loc in /*) loc="http://$REG$loc" ;; esac
code=$(curl -s -m 60 -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
    --data-binary @"$TMP/blob" "$loc&digest=$D")
[ "$code" = 201 ] || die "PUT upload: HTTP $code"
RANGES="0:1 3145727:1 1000:500 1500:500 1200:1000 1500000:200000"

# 1. one multipart request
"$TMP/multirange" "$REG" r "$D" "$TMP/blob" $RANGES >"$TMP/m1.out" 2>"$TMP/m1.err" ||
    fail "multi-range read: $(cat "$TMP/m1.err")"
echo "direct: $(cat "$TMP/m1.out")"
grep -q '^ok requests=1 range_requests=1$' "$TMP/m1.out" ||
    fail "the 6 ranges were not read in one multipart request: $(cat "$TMP/m1.out")"

# 2. a server that ignores Range
start_fault_proxy "$TMP/x" "$REG"
faults '{"rules": [{"match": "^GET /v2/r/blobs/", "action": "norange"}]}'
"$TMP/multirange" "$XREG" r "$D" "$TMP/blob" $RANGES >"$TMP/m2.out" 2>"$TMP/m2.err" ||
    fail "multi-range read without ranges: $(cat "$TMP/m2.err")"
echo "no ranges: $(cat "$TMP/m2.out")"
grep -q '^ok requests=7 range_requests=6$' "$TMP/m2.out" ||
    fail "without range support: want 1 refused multipart request, then 6 single ones: $(cat "$TMP/m2.out")"
finish
