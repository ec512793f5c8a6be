#!/bin/sh
# tests/cli/packer_kill.sh -- `kill -9` of a writer at any point leaves a
# valid layout, and a re-run completes it.
#
# Kill points:
#   - while reading the layer (strace stops the process at its first read
#     of the blob): the layout must be exactly as before;
#   - at every rename(2) of `soci create` -- each blob and index.json is
#     written to a temporary file and renamed into place, so these are all
#     the points where the layout changes -- and at every rename of
#     soci-pack in the pipeline (strace -e inject delivers SIGKILL there).
# After each kill: index.json parses and is either the old or the new one,
# every blob matches its digest (the only extra files are temporaries),
# `skopeo inspect` still reads the image, and a re-run of `soci create`
# succeeds and leaves the layout equal to one never interrupted, temporaries
# left by the killed process removed (it sweeps them once it holds the lock;
# at least one kill point must have left one, or the sweep went untested).
. "$ROOT/tests/cli/lib/packer.sh"

# small layers, all indexed (--min-layer-size 1000): the kill points are the same
need strace
sample "$TMP/base" t --big-mib 3
M="--min-layer-size 1000"
big=$(layer_digests "$TMP/base" t | sed -n 2p)
cp "$(blob "$TMP/base" "$big")" "$TMP/big.blob"
cp -a "$TMP/base" "$TMP/ref"
"$SOCI" create -q $M "oci:$TMP/ref:t" || die "create on the reference copy failed"
have_skopeo=0
command -v skopeo >/dev/null 2>&1 && have_skopeo=1

# valid WHAT DIR: the checks after a kill, then a re-run
valid() {
    what=$1 d=$2
    "$PY" - "$d" "$TMP/base/index.json" "$TMP/ref/index.json" <<'EOF' || fail "$what: the layout is not valid"
import hashlib, json, os, re, sys
d, old, new = sys.argv[1:]
raw = open(d + "/index.json", "rb").read()
json.loads(raw)
if raw not in (open(old, "rb").read(), open(new, "rb").read()):
    sys.exit("index.json is neither the old one nor the new one")
for name in os.listdir(d + "/blobs/sha256"):
    data = open(d + "/blobs/sha256/" + name, "rb").read()
    if re.fullmatch(r"[0-9a-f]{64}", name):
        if hashlib.sha256(data).hexdigest() != name:
            sys.exit("blob %s does not match its name" % name)
    elif not re.fullmatch(r"\.[0-9a-f]{64}\.tmp\.\w+", name):
        sys.exit("unexpected file blobs/sha256/%s" % name)
for name in os.listdir(d):
    if name not in ("blobs", "index.json", "oci-layout") and not re.fullmatch(r"\.index\.json\.tmp\.\w+", name):
        sys.exit("unexpected file %s" % name)
EOF
    if [ $have_skopeo = 1 ]; then
        skopeo inspect "oci:$d:t" >/dev/null 2>"$TMP/sk.err" || fail "$what: skopeo inspect: $(cat "$TMP/sk.err")"
    fi
    if snap "$d" | grep -q '/\.[^/]*\.tmp\.[A-Za-z0-9]*$'; then
        temps_left=$((temps_left + 1))
    fi
    "$SOCI" create $M "oci:$d:t" </dev/null >/dev/null 2>"$TMP/rerun.err" || fail "$what: the re-run failed: $(cat "$TMP/rerun.err")"
    snap "$d" >"$TMP/got"
    cmp -s "$TMP/want" "$TMP/got" || { fail "$what: after the re-run the layout differs (or temporaries remain)"; diff "$TMP/want" "$TMP/got" | head; }
}
snap "$TMP/ref" >"$TMP/want"
temps_left=0

# 1. killed while reading the layer
d=$TMP/kill.read
cp -a "$TMP/base" "$d"
bp=$(blob "$d" "$big")
snap "$d" >"$TMP/before"
stop_at_read "$bp" "$SOCI" create $M "oci:$d:t" </dev/null >/dev/null 2>&1 &
pid=$!
wait_locked "$d" $pid || die "create never took the lock"
sleep 0.5
kill_below $pid
wait_pid $pid 10
[ "$wrc" -eq 137 ] || fail "read: create ended with $wrc before it was killed"
snap "$d" >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || { fail "read: the killed create changed the layout"; diff "$TMP/before" "$TMP/after" | head; }
valid read "$d"

# 2. killed at each rename
if ! command -v strace >/dev/null 2>&1; then
    echo "strace is not installed: kills at each rename not tested"
    finish
fi
TRACE="-e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:signal=KILL:when="
# LeakSanitizer cannot run under ptrace: in a sanitizer build, no leak check here
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export ASAN_OPTIONS
d=$TMP/count
cp -a "$TMP/base" "$d"
n=$(strace -f -qq -e trace=rename,renameat,renameat2 -o "$TMP/strace" "$SOCI" create -q $M "oci:$d:t" && grep -c rename "$TMP/strace")
[ "${n:-0}" -ge 5 ] || die "create made ${n:-no} renames: want 2 ztocs, {}, the index and index.json"
k=1
while [ $k -le "$n" ]; do
    d=$TMP/kill.create.$k
    cp -a "$TMP/base" "$d"
    # shellcheck disable=SC2086
    strace -f -qq -o /dev/null $TRACE$k "$SOCI" create -q $M "oci:$d:t" </dev/null >/dev/null 2>&1
    rc=$?
    [ $rc -eq 137 ] || fail "create rename $k: exit $rc, want 137 (killed)"
    valid "create, killed at rename $k of $n" "$d"
    d=$TMP/kill.pipe.$k
    cp -a "$TMP/base" "$d"
    # shellcheck disable=SC2086
    "$LAYERS" "oci:$d:t" </dev/null | "$ZG" -q $M | strace -f -qq -o /dev/null $TRACE$k "$PACK" "oci:$d:t" >/dev/null 2>&1
    rc=$?
    [ $rc -eq 137 ] || fail "soci-pack rename $k: exit $rc, want 137 (killed)"
    valid "pipeline, soci-pack killed at rename $k of $n" "$d"
    k=$((k + 1))
done
echo "killed at each of $n renames, create and soci-pack; $temps_left kill point(s) left temporaries, swept by the re-run"
[ "$temps_left" -gt 0 ] || fail "no kill point left a temporary file: the sweep on lock was not exercised"
finish
