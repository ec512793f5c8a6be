#!/bin/sh
# tests/cli/mount_forged_ztoc.sh -- a ztoc that lies about the layer never
# makes soci-mount or `soci ztoc get-file` hand out other bytes than the
# layer holds, nor allocate what a ztoc field asks for.
#
# The layer: GNU tar of a.bin (1200 random bytes), b.bin (3 MB) and c.bin
# (3000 bytes, last), gzipped, indexed by `soci create --span-size 1M` (four
# spans: c.bin in the last).  Its ztoc
# rewritten by tests/cli/lib/ztoctool.py (span digests untouched: they
# cover compressed bytes only, so these ztocs pass the digest checks):
#   - checkpoint 0 claims uncompressed offset 512: every TOC offset would
#     then name other bytes.  Refused by the ztoc checks: get-file exits
#     non-zero with one line, soci-mount refuses to mount with one line;
#   - uncompressed_archive_size 16 GiB (the last span would be a 16 GiB
#     buffer), and c.bin's size 2^40: refused the same way, at once;
#   - c.bin's offset moved 512 bytes on (inside the archive, so no static
#     check can tell): the tar header where the TOC says c.bin's is, is
#     not one.  get-file of c.bin fails; the mount comes up (span 0, which
#     it checks, is right), a read of c.bin fails with EIO (never the
#     shifted bytes) and logs one JSON line naming the tar header, while
#     a.bin is still served exactly.
# Checked against the files GNU tar extracts from the same layer.
. "$ROOT/tests/cli/lib/mount.sh"
ZT="$PY $LIB/ztoctool.py"

mkdir -p "$TMP/src"
head -c 1200 /dev/urandom >"$TMP/src/a.bin"
head -c 3000000 /dev/urandom >"$TMP/src/b.bin"
head -c 3000 /dev/urandom >"$TMP/src/c.bin"
tar -C "$TMP/src" -cf "$TMP/layer.tar" a.bin b.bin c.bin || die "tar failed"
span_layout "$TMP/layer.tar"

# the honest ztoc serves every file (the checks must not refuse real layers)
"$SOCI" ztoc get-file -o "$TMP/good.c" "$Z" "$LAYER" c.bin 2>"$TMP/good.err" ||
    fail "get-file with the honest ztoc failed: $(cat "$TMP/good.err")"
cmp -s "$TMP/good.c" "$TMP/ref/c.bin" || fail "get-file with the honest ztoc: c.bin differs"

$ZT set-checkpoint-out "$Z" "$TMP/z.out0" 0 512 || die "set-checkpoint-out failed"
$ZT set-usize "$Z" "$TMP/z.huge" $((16 << 30)) || die "set-usize failed"
$ZT set-entry "$Z" "$TMP/z.bigfile" c.bin size $((1 << 40)) || die "set-entry size failed"
c_off=$("$SOCI" ztoc info "$Z" 2>/dev/null | "$PY" -c '
import json, sys
for f in json.load(sys.stdin)["files"]:
    if f["filename"] == "c.bin":
        print(f["offset"])') || true
[ -n "$c_off" ] || die "no offset for c.bin from soci ztoc info --json"
$ZT set-entry "$Z" "$TMP/z.shift" c.bin offset $((c_off + 512)) || die "set-entry offset failed"

# get_refused WHAT ZTOC FILE TEXT: get-file exits non-zero, one line naming TEXT, no output
get_refused() {
    rm -f "$TMP/got"
    "$SOCI" ztoc get-file -o "$TMP/got" "$2" "$LAYER" "$3" >"$TMP/get.out" 2>"$TMP/get.err"
    rc=$?
    [ $rc -ne 0 ] || fail "$1: get-file exited 0 ($(stat -c %s "$TMP/got" 2>/dev/null || echo no) bytes written)"
    one_line "$TMP/get.err" "$1: get-file" "$4"
    [ -e "$TMP/got" ] && fail "$1: get-file left $TMP/got behind"
    echo "ok: $1: get-file exit $rc: $(cat "$TMP/get.err")"
}
get_refused "checkpoint 0 at offset 512" "$TMP/z.out0" a.bin "span 0"
get_refused "a 16 GiB archive" "$TMP/z.huge" a.bin "cannot come from"
get_refused "a 1 TiB file" "$TMP/z.bigfile" c.bin "ends past"
get_refused "c.bin 512 bytes on" "$TMP/z.shift" c.bin "tar header"

index() { # ZTOC: a fresh index mapping the layer to ZTOC
    $ZT index "$TMP/img" t "$L=$1" || die "ztoctool index $1 failed"
}
mkdir -p "$TMP/mp"
# mount_refused WHAT ZTOC TEXT: soci-mount exits non-zero at once, one line, nothing mounted
mount_refused() {
    ix=$(index "$2")
    t0=$(date +%s)
    "$MOUNT" --no-background-fetch --cache-dir "$TMP/cache" --soci-index-digest "$ix" "oci:$TMP/img:t" \
        --layer "$L" "$TMP/mp" </dev/null >"$TMP/mnt.out" 2>"$TMP/mnt.err"
    rc=$?
    [ $rc -ne 0 ] || fail "$1: soci-mount exited 0"
    one_line "$TMP/mnt.err" "$1: soci-mount" "$3"
    [ $(($(date +%s) - t0)) -le 10 ] || fail "$1: soci-mount took $(($(date +%s) - t0)) s to refuse"
    if is_mounted "$TMP/mp"; then
        fail "$1: $TMP/mp is mounted; a.bin there: $(cmp "$TMP/mp/a.bin" "$TMP/ref/a.bin" 2>&1 || true)"
        p=$(daemon_pid "$TMP/mp")
        [ -n "$p" ] && track "$p"
        fusermount3 -u -z "$TMP/mp"
    fi
    echo "ok: $1: soci-mount exit $rc: $(cat "$TMP/mnt.err")"
}
mount_refused "checkpoint 0 at offset 512" "$TMP/z.out0" "span 0"
mount_refused "a 16 GiB archive" "$TMP/z.huge" "cannot come from"
mount_refused "a 1 TiB file" "$TMP/z.bigfile" "ends past"

# the shifted entry: mounts (span 0 holds a.bin's header at offset 0, which
# is right), but no read of that span serves a byte
ix=$(index "$TMP/z.shift")
mount_fg "$TMP/mp" "$TMP/shift.log" --no-background-fetch --cache-dir "$TMP/cache2" --soci-index-digest "$ix" \
    "oci:$TMP/img:t" --layer "$L" || die "the shifted ztoc does not mount"
if cat "$TMP/mp/c.bin" >"$TMP/c.got" 2>"$TMP/c.err"; then
    fail "c.bin read through the shifted ztoc succeeded ($(cmp -s "$TMP/c.got" "$TMP/ref/c.bin" && echo right || echo wrong) bytes)"
else
    grep -q "Input/output error" "$TMP/c.err" || fail "c.bin: not EIO: $(cat "$TMP/c.err")"
fi
cmp -s "$TMP/mp/a.bin" "$TMP/ref/a.bin" || fail "a.bin (span 0) is not served exactly through the shifted ztoc"
grep '"read failed"' "$TMP/shift.log" | head -n 1 | "$PY" -c '
import json, sys
r = json.loads(sys.stdin.readline())
assert "tar header" in r["error"], r' || fail "no parsable \"read failed\" line naming the tar header: $(tail -n 3 "$TMP/shift.log")"
unmount "$TMP/mp" "$MPID" || fail "fusermount3 -u did not end soci-mount"

# the honest ztoc through the same path serves the layer exactly
ix=$(index "$Z")
mount_fg "$TMP/mp" "$TMP/good.log" --no-background-fetch --cache-dir "$TMP/cache3" --soci-index-digest "$ix" \
    "oci:$TMP/img:t" --layer "$L" || die "the honest ztoc does not mount"
for f in a.bin b.bin c.bin; do
    cmp -s "$TMP/mp/$f" "$TMP/ref/$f" || fail "honest mount: $f differs from GNU tar's"
done
unmount "$TMP/mp" "$MPID" || fail "fusermount3 -u did not end soci-mount (honest)"
finish
