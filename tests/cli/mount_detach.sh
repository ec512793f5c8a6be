#!/bin/sh
# tests/cli/mount_detach.sh -- soci-mount in the background lets go of the
# caller's stdout and stderr once mounted; --log-file keeps its records.
#
#   - `soci-mount SOURCE --layer L MP 2>&1 | cat`: the pipe ends (cat
#     exits) within 10 s while the mount stays up -- the output of a
#     daemon must not hold a pipeline until it is unmounted;
#   - with --log-file FILE: after the pipe form and an unmount, FILE holds
#     the "mounted" and "unmounted" records, each a line of JSON, and
#     nothing came through the pipe after the mount;
#   - --log-file in a directory that does not exist: exit non-zero, one
#     line naming it, nothing mounted.
. "$ROOT/tests/cli/lib/mount.sh"

sample "$TMP/img" t --big-mib 1
"$SOCI" create -q --min-layer-size 0 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 ||
    die "soci create failed: $(cat "$TMP/create.out")"
L=$(layer_digests "$TMP/img" t | sed -n 1p)
mkdir -p "$TMP/mp"

# piped NAME [OPTIONS]: soci-mount OPTIONS ... 2>&1 | cat in the background;
# waits at most 10 s for the pipe to end
piped() {
    name=$1
    shift
    rm -f "$TMP/$name.done"
    { "$MOUNT" --no-background-fetch --cache-dir "$TMP/cache" "$@" "oci:$TMP/img:t" --layer "$L" "$TMP/mp" \
        </dev/null 2>&1 | cat >"$TMP/$name.out"; echo done >"$TMP/$name.done"; } &
    i=0
    while [ ! -e "$TMP/$name.done" ] && [ $i -lt 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    p=$(daemon_pid "$TMP/mp")
    [ -n "$p" ] && track "$p"
    is_mounted "$TMP/mp" || fail "$name: not mounted: $(cat "$TMP/$name.out")"
    [ -e "$TMP/$name.done" ] || fail "$name: the pipe from soci-mount is still open 10 s after it started (mounted: $(is_mounted "$TMP/mp" && echo yes || echo no))"
    cmp -s "$TMP/mp/bin/busybox" /bin/busybox || fail "$name: the mount does not serve bin/busybox"
    fusermount3 -u "$TMP/mp" || fail "$name: cannot unmount"
    i=0
    while [ -n "$p" ] && alive "$p" && [ $i -lt 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    wait
    echo "ok: $name: the pipe ended after $((i / 20)) s or less; it got: $(head -c 300 "$TMP/$name.out")"
}

piped plain
piped logfile --log-file "$TMP/mount.log"
[ -s "$TMP/mount.log" ] || fail "--log-file: nothing in the file"
"$PY" - "$TMP/mount.log" <<'EOF' || fail "--log-file: the file is not the records expected (above)"
import json, sys
msgs = [json.loads(line)["msg"] for line in open(sys.argv[1])]
print("records:", msgs)
sys.exit(0 if "mounted" in msgs and any(m.startswith("unmounted") for m in msgs) else 1)
EOF
grep -q unmounted "$TMP/logfile.out" && fail "--log-file: the unmount record came through the pipe"

"$MOUNT" --log-file "$TMP/nothere/x.log" "oci:$TMP/img:t" --layer "$L" "$TMP/mp" </dev/null >"$TMP/bad.out" 2>"$TMP/bad.err"
rc=$?
[ $rc -ne 0 ] || fail "an impossible --log-file: exit 0"
one_line "$TMP/bad.err" "an impossible --log-file" "nothere"
is_mounted "$TMP/mp" && { fail "an impossible --log-file: mounted"; fusermount3 -u -z "$TMP/mp"; }
finish
