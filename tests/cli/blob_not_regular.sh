#!/bin/sh
# tests/cli/blob_not_regular.sh -- a layer blob in a layout that is a FIFO,
# read by the commands that open a layer to serve files from it rather than
# to index it (packer_hostile_files covers the indexers):
#   - `soci ztoc get-file --layout DIR ZTOC-DIGEST PATH` (the layout's blob),
#   - `soci ztoc get-file ZTOC LAYER PATH` (a layer named by the user),
#   - `soci-mount oci:DIR:TAG --layer DIGEST MNT`.
# Opening a FIFO for reading blocks until a writer comes: before they
# checked the file's type, get-file hung and soci-mount hung even through
# SIGTERM.  Each must now exit 1 within 20 s with one line saying the blob
# is not a regular file, write no output file and mount nothing.
. "$ROOT/tests/cli/lib/packer.sh"

sample "$TMP/base" t --big-mib 3
"$SOCI" create --layout "$TMP/base" --min-layer-size 1000 "oci:$TMP/base:t" >/dev/null 2>"$TMP/create.err" ||
    die "soci create on the sample image failed: $(cat "$TMP/create.err")"
# the first layer and its ztoc, as `soci ztoc list` pairs them
"$SOCI" ztoc list --layout "$TMP/base" >"$TMP/list" 2>&1 || die "soci ztoc list failed"
ztoc=$(awk 'NR == 2 { print $1 }' "$TMP/list")
layer=$(awk 'NR == 2 { print $3 }' "$TMP/list")
case "$ztoc$layer" in sha256:*sha256:*) ;; *) die "cannot read a ztoc and its layer from: $(cat "$TMP/list")" ;; esac
"$SOCI" ztoc get-file --layout "$TMP/base" "$ztoc" bin/busybox >"$TMP/busybox" ||
    die "get-file from the intact layout failed"
[ -s "$TMP/busybox" ] || die "get-file from the intact layout gave no bytes"

cp -a "$TMP/base" "$TMP/fifo"
blob=$TMP/fifo/blobs/sha256/${layer#sha256:}
rm "$blob" && mkfifo "$blob" || die "cannot put a FIFO in place of the blob"
cp "$TMP/base/blobs/sha256/${ztoc#sha256:}" "$TMP/ztoc.bin"
mkdir "$TMP/mnt"

# refused WHAT CMD...: exit 1 within 20 s, one line on stderr naming the blob
# as not a regular file
refused() {
    what=$1
    shift
    timeout -k 5 20 "$@" </dev/null >/dev/null 2>"$TMP/err"
    rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        fail "$what: still running after 20 s"
        return
    fi
    [ $rc -eq 1 ] || fail "$what: exit $rc, want 1"
    one_line "$TMP/err" "$what" "$blob: not a regular file"
}

refused "get-file from the layout" "$SOCI" ztoc get-file --layout "$TMP/fifo" -o "$TMP/out1" "$ztoc" bin/busybox
[ ! -e "$TMP/out1" ] || fail "get-file from the layout: left $TMP/out1 behind"
refused "get-file ZTOC LAYER PATH" "$SOCI" ztoc get-file -o "$TMP/out2" "$TMP/ztoc.bin" "$blob" bin/busybox
[ ! -e "$TMP/out2" ] || fail "get-file ZTOC LAYER PATH: left $TMP/out2 behind"
refused "soci-mount --layer" "$BIN/soci-mount" -f --cache-dir "$TMP/cache" "oci:$TMP/fifo:t" --layer "$layer" "$TMP/mnt"
if grep -qF " $TMP/mnt " /proc/self/mounts; then
    fail "soci-mount --layer: $TMP/mnt is mounted"
    fusermount3 -u "$TMP/mnt" 2>/dev/null || umount -l "$TMP/mnt"
fi
finish
