# tests/integration/snapshotter_restart.sh -- the daemon restarts under a
# running container, and survives a crash in the middle of a Prepare.
#
# 1. SIGTERM mid-read: a container (rpull'd with --snapshotter soci) reads
#    /big/pad, a lazily loaded file, one MiB at a time in a loop, each MiB's
#    sha256 appended to a file on a bind mount; the daemon gets SIGTERM
#    while the reads go on (upstream: SIGTERM leaves the mounts serving), is
#    started again, and the container must read every MiB with the right
#    digest (the sums of the bytes the image was built from), without an
#    error, before and after; a second container then starts from the same
#    image and reads /big/file right.
# 2. SIGKILL mid-Prepare: an rpull of a second image (a new big layer) runs
#    while the daemon is killed with SIGKILL as soon as the Prepare of that
#    layer has created its snapshot directory; the daemon starts again and
#    the same rpull, repeated, succeeds, and a container from it reads
#    /big/file right.
. "$ROOT/tests/integration/lib/integration.sh"

start_stack
build_image "$TMP/img1" v1 1 8 24
SUMS1=$PAD_SUMS SHA1=$BIG_SHA
index_image "$TMP/img1" v1
REF1=$REG/restart/one:v1
push_image "$TMP/img1" v1 "$REF1"
rpull "$REF1" >"$TMP/rpull1.out" 2>&1 || { cat "$TMP/rpull1.out"; snapd_log_tail 30; die "rpull $REF1 failed"; }
[ -n "$(fuse_mounts)" ] || fail "no FUSE mount after rpull of $REF1: nothing would be lazy"

# -- 1. SIGTERM under a reading container
mkdir -p "$TMP/out"
: >"$TMP/out/sums"
# each pass reads every MiB of /big/pad in order; the first pass is the lazy
# one (the page cache serves the later ones unless the kernel drops pages)
ctrx run -d --snapshotter soci --mount "type=bind,src=$TMP/out,dst=/out,options=rbind:rw" "$REF1" reader \
    /bin/sh -c 'p=0; while [ $p -lt 3 ]; do i=0; while [ $i -lt 24 ]; do
        s=$(dd if=/big/pad bs=1048576 skip=$i count=1 2>/dev/null | sha256sum) || s=ERROR
        echo "$p $i ${s%% *}" >>/out/sums; i=$((i+1)); sleep 0.3; done; p=$((p+1)); done; echo done >>/out/sums' \
    >"$TMP/run-d.out" 2>&1 || { cat "$TMP/run-d.out"; snapd_log_tail 30; die "ctr run -d reader failed"; }
wait_for '[ "$(lines "$TMP/out/sums")" -ge 4 ]' 60 || fail "the reader did not get through 4 MiB in 60 s: $(cat "$TMP/out/sums")"
pid=$(snapd_pid)
echo "SIGTERM to the daemon ($pid) after $(lines "$TMP/out/sums") reads"
kill -TERM "$pid"
wait_for '! alive "$pid"' 30 || fail "the daemon did not exit 30 s after SIGTERM"
at_stop=$(lines "$TMP/out/sums")
sleep 2
during=$(($(lines "$TMP/out/sums") - at_stop))
echo "reads while the daemon was down: $during"
start_snapd
echo "daemon restarted ($(snapd_pid)); FUSE mounts: $(fuse_mounts | wc -l)"
wait_for 'grep -q "^done" "$TMP/out/sums"' 120 || fail "the reader did not finish within 120 s of the restart"
ctrx tasks ls >"$TMP/tasks" 2>&1
# every line: pass, MiB, digest; each must be the MiB's digest from the build
"$PY" - "$TMP/out/sums" "$SUMS1" >"$TMP/verify.out" <<'EOF'
import sys
want = dict(l.split() for l in open(sys.argv[2]))
got, bad = 0, []
for line in open(sys.argv[1]):
    f = line.split()
    if f == ["done"]:
        continue
    got += 1
    if len(f) != 3 or want.get(f[1]) != f[2]:
        bad.append(line.strip())
print(got, len(bad))
for b in bad[:5]:
    print("bad:", b)
EOF
read -r nread nbad <"$TMP/verify.out"
echo "reader: $nread reads, $nbad wrong"
[ "$nread" -eq 72 ] || fail "the reader made $nread reads, want 72 (3 passes of 24 MiB)"
[ "$nbad" -eq 0 ] || fail "reads with the wrong bytes across the restart: $(sed -n 's/^bad: //p' "$TMP/verify.out" | tr '\n' ';')"
ctrx tasks rm -f reader >/dev/null 2>&1
ctrx containers rm reader >/dev/null 2>&1

out=$(ctrx run --rm --snapshotter soci "$REF1" second /bin/sh -c 'sha256sum /big/file' 2>&1) ||
    { snapd_log_tail 30; fail "a second container after the restart failed: $out"; }
echo "$out" | grep -qx "$SHA1  /big/file" || fail "second container: sha256sum /big/file: got '$out', want $SHA1"

# -- 2. SIGKILL in the middle of a Prepare
build_image "$TMP/img2" v2 2 8 24
SHA2=$BIG_SHA
index_image "$TMP/img2" v2
REF2=$REG/restart/two:v2
push_image "$TMP/img2" v2 "$REF2"
ndirs() { ls "$SNAPSHOTS" 2>/dev/null | wc -l; }
before=$(ndirs)
rpull "$REF2" >"$TMP/rpull2a.out" 2>&1 &
rp=$!
pid=$(snapd_pid)
# the busybox and small layers are shared with image one: the first new
# snapshot directory is the big layer's Prepare
if wait_for '[ "$(ndirs)" -gt "$before" ]' 60; then
    kill -9 "$pid"
    echo "SIGKILL to the daemon ($pid) with $(($(ndirs) - before)) new snapshot director(y/ies)"
else
    fail "no Prepare of $REF2's new layer within 60 s; killing the daemon anyway"
    kill -9 "$pid"
fi
wait_for '! alive "$pid"' 10 || fail "the daemon survived SIGKILL"
wait_pid "$rp" 120
echo "the interrupted rpull exited $wrc: $(tail -n 1 "$TMP/rpull2a.out")"
start_snapd
# containerd reconnects to the proxy on its own (backoff of a few seconds)
ok=0
for attempt in 1 2 3 4 5; do
    if rpull "$REF2" >"$TMP/rpull2b.out" 2>&1; then
        ok=1
        break
    fi
    echo "rpull after the restart, attempt $attempt: $(tail -n 1 "$TMP/rpull2b.out")"
    sleep 2
done
[ $ok = 1 ] || { cat "$TMP/rpull2b.out"; snapd_log_tail 30; fail "rpull $REF2 after the restart failed"; }
out=$(ctrx run --rm --snapshotter soci "$REF2" third /bin/sh -c 'sha256sum /big/file' 2>&1) ||
    { snapd_log_tail 30; fail "a container from $REF2 failed: $out"; }
echo "$out" | grep -qx "$SHA2  /big/file" || fail "image two: sha256sum /big/file: got '$out', want $SHA2"
echo "FUSE mounts at the end: $(fuse_mounts | wc -l)"
finish
