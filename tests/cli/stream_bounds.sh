#!/bin/sh
# tests/cli/stream_bounds.sh -- ztoc-gen's record-stream mode on hostile
# streams: each ends in bounded time, with one line on stderr and exit 1,
# and never allocates what a header merely declares.
#   - an inline layer whose job fails at once (its media type is not a
#     layer's) while chunks keep coming: the job is not freed under the
#     reader (run 8 times: the race showed in about half the runs under ASan);
#   - more inline layers in flight than ztoc-gen keeps: an error, no hang;
#   - a record declaring 2^32-1 array or map entries, or nesting 100000 deep:
#     refused before anything is allocated for it;
#   - records written with the widest msgpack forms (map32, str32) are a
#     stream like any other, passed on byte for byte.
. "$ROOT/tests/cli/lib/packer.sh"
MK="$PY $LIB/mkstream.py"
DIG=sha256:$(printf 'ab%.0s' $(seq 32))

# expect NAME STREAM_FILE LINE: ztoc-gen exits 1 within 60 s with exactly LINE on stderr
expect() {
    timeout -k 5 60 "$ZG" -q -j 2 <"$2" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        fail "$1: ztoc-gen still running after 60 s"
        return
    fi
    [ "$rc" -eq 1 ] || fail "$1: exit $rc, want 1"
    if [ "$(cat "$TMP/err")" != "$3" ]; then
        fail "$1: stderr is not the one expected line:"
        sed 's/^/    | /' "$TMP/err"
        echo "    want: $3"
    fi
}

$MK notlayer-inline 24 >"$TMP/notlayer" || die "mkstream failed"
i=0
while [ $i -lt 8 ]; do
    expect "not-a-layer inline (run $i)" "$TMP/notlayer" \
        "ztoc-gen: layer $DIG has media type \"application/vnd.oci.image.config.v1+json\", which is not an image layer type"
    i=$((i + 1))
done

$MK inline-flood 300 >"$TMP/flood" || die "mkstream failed"
expect "300 inline layers" "$TMP/flood" \
    "ztoc-gen: record stream: more than 256 inline layers in flight (layer 256 of image 0)"

$MK huge-array >"$TMP/array" || die "mkstream failed"
expect "2^32-1 array entries" "$TMP/array" \
    "ztoc-gen: record stream: record 2 declares an array of 4294967295 entries; a record holds at most 65536"
$MK huge-map >"$TMP/map" || die "mkstream failed"
expect "2^32-1 map entries" "$TMP/map" \
    "ztoc-gen: record stream: record 2 declares a map of 4294967295 entries; a record holds at most 65536"
$MK deep >"$TMP/deep" || die "mkstream failed"
expect "nested 100000 deep" "$TMP/deep" \
    "ztoc-gen: record stream: record 2 nests deeper than 16 levels"

# the widest encodings: recognised as a stream, passed on unchanged
WIDE=1 $MK empty-image >"$TMP/wide" || die "mkstream failed"
timeout -k 5 60 "$ZG" -q <"$TMP/wide" >"$TMP/wide.out" 2>"$TMP/wide.err"
rc=$?
[ "$rc" -eq 0 ] || fail "map32 records: exit $rc: $(cat "$TMP/wide.err")"
cmp -s "$TMP/wide" "$TMP/wide.out" || fail "map32 records: not passed on byte for byte"

finish
