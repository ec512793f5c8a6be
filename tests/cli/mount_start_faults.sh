#!/bin/sh
# tests/cli/mount_start_faults.sh -- soci-mount's first fetch (span 0, read
# and digest-checked before the mount answers) against a faulty registry:
# the one line it fails with says what went wrong.
#
# The sample image, indexed and pushed to Debian's docker-registry, mounted
# with --layer through tests/cli/fault_proxy.py:
#   1. every GET of the layer blob stalls (the proxy holds it 30 s, then
#      closes): soci-mount -f --fetch-timeout 2 --fetch-retries 1 exits 1
#      within 30 s with one line that names the registry failure and does
#      not blame the ztoc ("does not fit this layer" is for a digest
#      mismatch, and a timeout is none);
#   2. every GET of the layer blob answered with flipped bytes: exit 1 with
#      one line that does say the ztoc does not fit this layer (span 0's
#      digest cannot match);
# in both, nothing is left mounted.  Then, without faults, the same command
# mounts (the faults were the only cause).
. "$ROOT/tests/cli/lib/mount.sh"
. "$ROOT/tests/cli/lib/regfault.sh"
trap '_srv_cleanup; _mount_cleanup' EXIT

sample_indexed "$TMP/img" t
LD=$(layer_digests "$TMP/img" t | tail -n 1)
start_registry "$TMP/reg"
"$SOCI" push --plain-http -q "oci:$TMP/img:t" "$REG/f:t" >"$TMP/push.out" 2>&1 ||
    die "soci push failed: $(cat "$TMP/push.out")"
start_fault_proxy "$TMP/x" "$REG"
mkdir -p "$TMP/mp"

# start NAME: soci-mount -f of the layer from the proxy, bounded by 30 s;
# its exit status in rc, its stderr in $TMP/NAME.err
start() {
    timeout -k 5 30 "$MOUNT" -f --plain-http --cache-disk 0 --no-background-fetch --fetch-timeout 2 \
        --fetch-retries 1 "$XREG/f:t" --layer "$LD" "$TMP/mp" </dev/null >/dev/null 2>"$TMP/$1.err"
    rc=$?
    if is_mounted "$TMP/mp"; then
        fail "$1: $TMP/mp is mounted"
        fusermount3 -u "$TMP/mp" 2>/dev/null || umount -l "$TMP/mp"
    fi
}

faults "{\"rules\": [{\"match\": \"^GET /v2/f/blobs/$LD\", \"action\": \"stall\", \"delay\": 30, \"count\": -1}]}"
start stall
echo "stall: exit $rc: $(cat "$TMP/stall.err")"
[ $rc -eq 1 ] || fail "stall: exit $rc, want 1 (124/137: still running after 30 s)"
one_line "$TMP/stall.err" stall "soci-mount: "
! grep -q "does not fit" "$TMP/stall.err" || fail "stall: a registry timeout is blamed on the ztoc"
grep -qF "GET /v2/f/blobs/$LD" "$TMP/stall.err" || fail "stall: the line does not name the request that timed out"

faults "{\"rules\": [{\"match\": \"^GET /v2/f/blobs/$LD\", \"action\": \"corrupt\", \"count\": -1}]}"
start corrupt
echo "corrupt: exit $rc: $(cat "$TMP/corrupt.err")"
[ $rc -eq 1 ] || fail "corrupt: exit $rc, want 1"
one_line "$TMP/corrupt.err" corrupt "does not fit this layer"

faults '{}'
mount_fg "$TMP/mp" "$TMP/ok.log" --plain-http --cache-disk 0 --no-background-fetch "$XREG/f:t" --layer "$LD" ||
    fail "no faults: soci-mount did not mount"
unmount "$TMP/mp" "$MPID" || fail "no faults: fusermount3 -u did not end soci-mount"
finish
