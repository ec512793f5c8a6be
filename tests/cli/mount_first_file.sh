#!/bin/sh
# tests/cli/mount_first_file.sh -- what soci-mount does before it answers,
# from a local layout, and what it leaves for the first read (issue 12):
#   - it loads neither libcurl nor libarchive (no registry, no unpacking):
#     the daemon's /proc/PID/maps names neither;
#   - span 0 is fetched and checked against its digest (a byte changed in
#     it still refuses the mount, in one line, nothing mounted) but not
#     decompressed: the state file counts 1 span fetched and 0 present;
#   - reading the last file decompresses its span only, reading a file of
#     span 0 then decompresses span 0, and both read as GNU tar extracts
#     them;
#   - span 0's tar headers are still checked before its bytes are served:
#     with a ztoc that moves an entry whose header is in span 0 by 512 bytes
#     the mount comes up, reads of span 0 fail with EIO, the last file
#     reads right.
# The layer: GNU tar of a few text files (span 0), 2.5 MB of random bytes
# and last.txt, gzip -n, `soci create --span-size 1M`.
. "$ROOT/tests/cli/lib/mount.sh"
ZT="$PY $LIB/ztoctool.py"

mkdir -p "$TMP/src/etc" "$TMP/mp"
for i in 1 2 3 4 5 6; do
    seq "$i" 7 40000 >"$TMP/src/etc/f$i.txt"
done
head -c 2500000 /dev/urandom >"$TMP/src/mid.bin"
seq 1 50000 | tac >"$TMP/src/last.txt"
tar -C "$TMP/src" -cf "$TMP/layer.tar" etc mid.bin last.txt || die "tar failed"
span_layout "$TMP/layer.tar"
nspans=$("$SOCI" ztoc info "$Z" 2>/dev/null | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["num_spans"])') ||
    die "soci ztoc info gave no spans"
[ "$nspans" -ge 3 ] || die "the layer has $nspans spans, the test needs 3 or more"

# mount_bg CACHE [ARGS...]: soci-mount as users start it (it goes to the
# background once mounted); sets DPID to the daemon
mount_bg() {
    _c=$1
    shift
    "$MOUNT" --no-background-fetch --cache-dir "$_c" "$@" "oci:$TMP/img:t" --layer "$L" "$TMP/mp" \
        </dev/null >"$TMP/bg.out" 2>&1 || return 1
    DPID=$(daemon_pid "$TMP/mp")
    [ -n "$DPID" ] && track "$DPID"
    is_mounted "$TMP/mp"
}
st() { state "$TMP/mp" "$L" "$1"; }

mount_bg "$TMP/cache1" || die "soci-mount failed: $(cat "$TMP/bg.out")"
[ -n "$DPID" ] || die "no soci-mount daemon serves $TMP/mp"
libs=$(grep -oE 'lib(curl|archive)[^ ]*' "/proc/$DPID/maps" | sort -u | tr '\n' ' ')
[ -z "$libs" ] || fail "a local mount loaded $libs"
[ "$(st spansFetched)" = 1 ] || fail "spans fetched at mount: $(st spansFetched), not 1 (span 0)"
[ "$(st spansPresent)" = 0 ] || fail "spans present after the mount: $(st spansPresent), not 0 (span 0 kept)"
cmp -s "$TMP/mp/last.txt" "$TMP/ref/last.txt" || fail "last.txt differs from GNU tar's"
[ "$(st spansPresent)" = 1 ] || fail "spans present after reading last.txt: $(st spansPresent), not 1"
for i in 1 2 3 4 5 6; do
    cmp -s "$TMP/mp/etc/f$i.txt" "$TMP/ref/etc/f$i.txt" || fail "etc/f$i.txt differs from GNU tar's"
done
[ "$(st spansPresent)" = 2 ] || fail "spans present after reading span 0's files: $(st spansPresent), not 2"
[ "$(st verifyFailures)" = 0 ] || fail "$(st verifyFailures) digest mismatches on an honest layer"
unmount "$TMP/mp" "$DPID" || fail "fusermount3 -u failed"
echo "ok: mounted with neither libcurl nor libarchive loaded, span 0 checked, not decompressed"

# span 0's tar headers: mid.bin (its header in span 0) moved 512 bytes on
# and 512 bytes shorter, so that it ends where it did (no static check can
# tell): where the TOC puts its header is random data
mid_off=$("$SOCI" ztoc info "$Z" 2>/dev/null | "$PY" -c '
import json, sys
for f in json.load(sys.stdin)["files"]:
    if f["filename"] == "mid.bin":
        print(f["offset"], f["size"])') || true
[ -n "$mid_off" ] || die "no offset for mid.bin from soci ztoc info"
set -- $mid_off
$ZT set-entry "$Z" "$TMP/z.short" mid.bin size $(($2 - 512)) || die "set-entry size failed"
$ZT set-entry "$TMP/z.short" "$TMP/z.shift" mid.bin offset $(($1 + 512)) || die "set-entry offset failed"
ix=$($ZT index "$TMP/img" t "$L=$TMP/z.shift") || die "ztoctool index failed"
mount_bg "$TMP/cache2" --soci-index-digest "$ix" || fail "the shifted ztoc does not mount: $(cat "$TMP/bg.out")"
# span 0 holds the false header: none of its bytes is served
for f in etc/f1.txt mid.bin; do
    if head -c 4096 "$TMP/mp/$f" >"$TMP/got" 2>"$TMP/got.err"; then
        fail "$f read through the shifted ztoc succeeded"
    else
        grep -q "Input/output error" "$TMP/got.err" || fail "$f: not EIO: $(cat "$TMP/got.err")"
    fi
done
cmp -s "$TMP/mp/last.txt" "$TMP/ref/last.txt" || fail "last.txt differs through the shifted ztoc"
unmount "$TMP/mp" "$DPID" || fail "fusermount3 -u failed (shifted)"
echo "ok: a TOC entry moved inside span 0 fails the reads of span 0 with EIO"

# a byte of span 0 changed in the blob: refused at mount, one line
ix=$($ZT index "$TMP/img" t "$L=$Z") || die "ztoctool index failed"
printf 'X' | dd of="$LAYER" bs=1 seek=200 conv=notrunc 2>/dev/null || die "dd failed"
if mount_bg "$TMP/cache3" --soci-index-digest "$ix" 2>/dev/null; then
    fail "a blob whose span 0 was changed mounted"
    fusermount3 -u -z "$TMP/mp"
fi
one_line "$TMP/bg.out" "changed span 0: soci-mount" "does not fit"
echo "ok: $(cat "$TMP/bg.out")"
finish
