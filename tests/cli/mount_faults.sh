#!/bin/sh
# tests/cli/mount_faults.sh -- soci-mount reading from a faulty registry.
#
# The sample image (--big-mib 24: a data layer of ~11 MB gzipped, 7 spans),
# indexed with `soci create --min-layer-size 0`, pushed with `soci push` to
# Debian's docker-registry on 127.0.0.1, and mounted (-f, --cache-disk 0,
# --no-background-fetch, default --fetch-timeout/--fetch-retries) from
# tests/cli/fault_proxy.py in front of it.  The file read: the largest
# regular file outside span 0 (span 0 is fetched at mount time), compared
# with GNU tar's extraction.  Each case mounts afresh (faults only once the
# mount is up) and sets the proxy's faults for the layer blob's GETs:
#   1. transient faults that the client's retries get past: connection
#      resets before and after the registry answered, a truncated body
#      (resumed with Range), then 500, 503 and 429 (Retry-After: 1) -- 3
#      faults in a row, as many as the default --fetch-retries; the read
#      returns the right bytes and each fault shows in the proxy's log;
#   2. flipped bytes in a range answer ("corrupt"): once -- the span is
#      fetched again and the read is right (verifyFailures 1); always --
#      the read fails with EIO, what it returned before is a prefix of the
#      file (never a wrong byte), the state file shows verifyFailures > 0
#      and an "error"; once the fault is gone, a read of the same file
#      returns the right bytes;
#   3. the registry stops answering (the proxy holds every request): 4
#      concurrent readers of the file (2 buffered cat, 2 dd with O_DIRECT)
#      all fail with EIO within 60 s (the measured times are printed; the
#      readers share the failing fetch rather than fetching in turn), the
#      state file names the timeout; once the proxy answers again (and the
#      failure is over 2 s old) the read is right;
#   3b. the registry trickles every blob answer at 2 KiB/s (faster than
#      curl's customary 1 KiB/s floor, far slower than --fetch-min-rate's
#      32 KiB/s): the read fails with EIO within 60 s, then reads right
#      once the trickle stops;
#   4. SIGKILL of soci-mount while a read waits for the stalled registry:
#      the reader returns (with an error) within 10 s, the dead mount stays
#      until `fusermount3 -u` removes it, then the mountpoint is an empty
#      directory again, mounts again and serves the right bytes;
#   5. the registry goes away mid-read (killed while the proxy holds the
#      request): the read fails with EIO within 60 s (measured).
. "$ROOT/tests/cli/lib/mount.sh"
. "$ROOT/tests/cli/lib/regfault.sh"
# regfault.sh replaced mount.sh's exit trap: stop the mounts, then the servers
trap '_srv_cleanup; _mount_cleanup' EXIT
need gzip cmp dd
tar --version 2>/dev/null | grep -q 'GNU tar' || { echo "skip: tar is not GNU tar"; exit 77; }

LIMIT=60   # seconds: a read of a dead registry must fail sooner

sample "$TMP/img" t --big-mib 24
"$SOCI" create -q --min-layer-size 0 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 ||
    die "soci create failed: $(cat "$TMP/create.out")"
LD=$(layer_digests "$TMP/img" t | tail -n 1)
IX=$(soci_entries "$TMP/img")
ZD=$("$PY" - "$(blob "$TMP/img" "$IX")" "$LD" <<'EOF'
import json, sys
for l in json.load(open(sys.argv[1]))["layers"]:
    if l["annotations"]["com.amazon.soci.image-layer-digest"] == sys.argv[2]:
        print(l["digest"])
EOF
)
[ -n "$ZD" ] || die "no ztoc for the data layer"
"$SOCI" ztoc info --layout "$TMP/img" "$ZD" >"$TMP/info.json" || die "soci ztoc info failed"
F=$("$PY" - "$TMP/info.json" <<'EOF'
import json, sys
info = json.load(open(sys.argv[1]))
files = [f for f in info["files"] if f["type"] == "reg" and f["start_span"] >= 1 and f["size"] >= 100000
         and " " not in f["filename"]]
print(max(files, key=lambda f: (f["size"], f["filename"]))["filename"])
EOF
)
[ -n "$F" ] || die "no file outside span 0"
mkdir -p "$TMP/ref"
tar -xzf "$(blob "$TMP/img" "$LD")" -C "$TMP/ref" "$F" || die "GNU tar cannot extract $F"
REF=$TMP/ref/$F
echo "file $F: $(stat -c %s "$REF") bytes; spans $(sed -n 's/.*"num_spans": *\([0-9]*\).*/\1/p' "$TMP/info.json")"

start_registry "$TMP/reg"
"$SOCI" push --plain-http -q "oci:$TMP/img:t" "$REG/f:t" >"$TMP/push.out" 2>&1 ||
    die "soci push failed: $(cat "$TMP/push.out")"
start_fault_proxy "$TMP/x" "$REG"
BLOB_GET="^GET /v2/f/blobs/$LD"
echo "setup done after $(elapsed)s"

# mnt NAME: a fresh mount of the layer from the proxy (no faults while it
# mounts) on $TMP/mp.NAME; sets MP, MPID and MNAME
mnt() {
    faults '{}'
    MNAME=$1
    MP=$TMP/mp.$1
    mkdir -p "$MP"
    mount_fg "$MP" "$TMP/mount.$1.log" --plain-http --cache-disk 0 --no-background-fetch "$XREG/f:t" --layer "$LD" ||
        die "$1: soci-mount from the proxy failed"
}

# umnt NAME: unmount $MP, soci-mount must exit 0 (fusermount3 -u is tried
# a second time, 1 s later, if it fails while the mount is still up: a
# process of another test walking /tmp can make it busy for a moment)
umnt() {
    unmount "$MP" "$MPID" || {
        is_mounted "$MP" && alive "$MPID" && echo "note: $1: fusermount3 -u failed; again in 1 s" && sleep 1 &&
            unmount "$MP" "$MPID"
    } || {
        fail "$1: fusermount3 -u did not end soci-mount (mount: $(fstype "$MP"), daemon alive: $(alive "$MPID" && echo yes || echo no)); its log:"
        tail -n 5 "$TMP/mount.$MNAME.log" | sed 's/^/    | /'
        return
    }
    [ "$urc" = 0 ] || fail "$1: soci-mount exited $urc"
}

# reader OUT CMD...: start CMD (stdout to OUT, stderr to OUT.err, its start
# time to OUT.t0) in the background; sets RPID.  reader_end PID OUT waits
# (at most 120 s) and sets rrc and secs (since the start)
reader() {
    _out=$1
    shift
    date +%s.%N >"$_out.t0"
    "$@" >"$_out" 2>"$_out.err" &
    RPID=$!
}
reader_end() {
    wait_pid "$1" 120 || echo "reader $1 killed after 120 s"
    rrc=$wrc
    secs=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N)-$(cat "$2.t0")}")
}

# right WHAT FILE: FILE holds exactly the file's bytes
right() {
    cmp -s "$2" "$REF" || fail "$1: the bytes read differ from tar's extraction ($(stat -c %s "$2") of $(stat -c %s "$REF") bytes)"
}

# prefix WHAT FILE: FILE is a (proper) prefix of the file: no wrong byte
prefix() {
    _n=$(stat -c %s "$2")
    [ "$_n" -lt "$(stat -c %s "$REF")" ] || fail "$1: the failed read returned the whole file"
    cmp -s -n "$_n" "$2" "$REF" || fail "$1: the failed read returned wrong bytes"
}

# failed_eio WHAT OUT: the reader that wrote OUT (rrc and secs from
# reader_end) failed with EIO within $LIMIT s, having returned no wrong byte
failed_eio() {
    [ "$rrc" != 0 ] || fail "$1: the read succeeded"
    grep -q "Input/output error" "$2.err" || fail "$1: want EIO, got: $(cat "$2.err")"
    below "$secs" $LIMIT || fail "$1: the read took ${secs}s, limit ${LIMIT}s"
    prefix "$1" "$2"
}

# recovers WHAT OUT: with the faults gone (and the failure over 2 s old: a
# span whose fetch failed fails at once for 2 s, against the kernel's own
# retries) the file reads right
recovers() {
    faults '{}'
    sleep 2.5
    cat "$MP/$F" >"$2" 2>"$2.err" || fail "$1: the read failed: $(cat "$2.err")"
    right "$1" "$2"
}

# faulted PATTERN: how many layer GETs the proxy's log shows with PATTERN
faulted() {
    grep -F "GET /v2/f/blobs/$LD" "$XDIR/log" | grep -c -E "$1" || true
}

# 1. transient faults
mnt transient
: >"$XDIR/log"
faults '{"rules": [
  {"match": "'"$BLOB_GET"'", "action": "reset", "count": 1},
  {"match": "'"$BLOB_GET"'", "action": "reset_after", "after": 1, "count": 1},
  {"match": "'"$BLOB_GET"'", "action": "truncate", "after": 2, "count": 1, "fraction": 0.4}]}'
cat "$MP/$F" >"$TMP/t1.out" 2>"$TMP/t1.err" || fail "resets: the read failed: $(cat "$TMP/t1.err")"
right "resets and a truncated answer" "$TMP/t1.out"
[ "$(faulted 'RESET')" -ge 2 ] || fail "resets: the proxy did not reset twice: $(grep -F "$LD" "$XDIR/log")"
[ "$(faulted 'TRUNCATED')" = 1 ] || fail "resets: no truncated answer: $(grep -F "$LD" "$XDIR/log")"
umnt resets

mnt statuses
: >"$XDIR/log"
faults '{"rules": [
  {"match": "'"$BLOB_GET"'", "action": "status", "status": 500, "count": 1},
  {"match": "'"$BLOB_GET"'", "action": "status", "status": 503, "after": 1, "count": 1},
  {"match": "'"$BLOB_GET"'", "action": "status", "status": 429, "retry_after": 1, "after": 2, "count": 1}]}'
cat "$MP/$F" >"$TMP/t2.out" 2>"$TMP/t2.err" || fail "500/503/429: the read failed: $(cat "$TMP/t2.err")"
right "500, 503, 429" "$TMP/t2.out"
for s in 500 503 429; do
    [ "$(faulted "STATUS $s")" = 1 ] || fail "500/503/429: the proxy did not answer $s once: $(grep -F "$LD" "$XDIR/log")"
done
[ "$(state "$MP" "$LD" verifyFailures)" = 0 ] || fail "500/503/429: verifyFailures is not 0"
umnt statuses
echo "ok: resets, truncation, 500, 503, 429 retried ($(elapsed)s)"

# 2. flipped bytes
mnt corrupt-once
: >"$XDIR/log"
faults '{"rules": [{"match": "'"$BLOB_GET"'", "action": "corrupt", "count": 1, "flip": 3}]}'
cat "$MP/$F" >"$TMP/c1.out" 2>"$TMP/c1.err" || fail "corrupt once: the read failed: $(cat "$TMP/c1.err")"
right "corrupt once" "$TMP/c1.out"
[ "$(faulted 'CORRUPTED')" = 1 ] || fail "corrupt once: nothing was corrupted: $(grep -F "$LD" "$XDIR/log")"
[ "$(state "$MP" "$LD" verifyFailures)" = 1 ] || fail "corrupt once: verifyFailures $(state "$MP" "$LD" verifyFailures), want 1"
umnt corrupt-once

mnt corrupt
: >"$XDIR/log"
faults '{"rules": [{"match": "'"$BLOB_GET"'", "action": "corrupt", "flip": 3}]}'
if cat "$MP/$F" >"$TMP/c2.out" 2>"$TMP/c2.err"; then
    fail "corrupt: the read succeeded although every answer was corrupted"
else
    grep -q "Input/output error" "$TMP/c2.err" || fail "corrupt: want EIO, got: $(cat "$TMP/c2.err")"
fi
prefix "corrupt" "$TMP/c2.out"
[ "$(faulted 'CORRUPTED')" -ge 2 ] || fail "corrupt: fewer than 2 corrupted answers (first fetch and refetch)"
"$PY" - "$MP/.soci-snapshotter/$LD.json" <<'EOF' || fail "corrupt: state file: $(cat "$MP/.soci-snapshotter/$LD.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verifyFailures"] >= 2, d["verifyFailures"]
assert "digest" in d.get("error", ""), d.get("error")
EOF
grep -q '"span digest mismatch"' "$TMP/mount.corrupt.log" || fail "corrupt: no digest mismatch in soci-mount's log"
faults '{}'
cat "$MP/$F" >"$TMP/c3.out" 2>"$TMP/c3.err" || fail "corrupt, fault gone: the read failed: $(cat "$TMP/c3.err")"
right "corrupt, fault gone" "$TMP/c3.out"
umnt corrupt
echo "ok: corrupted spans refetched once, then EIO, never wrong bytes ($(elapsed)s)"

# 3. the registry stops answering
mnt stall
faults '{"rules": [{"match": "'"$BLOB_GET"'", "action": "stall", "delay": 900}]}'
pids=""
for i in 1 2 3 4; do
    if [ $((i % 2)) = 1 ]; then
        reader "$TMP/s$i.out" cat "$MP/$F"
    else
        reader "$TMP/s$i.out" dd if="$MP/$F" iflag=direct bs=1M status=none
    fi
    pids="$pids $RPID"
done
i=0 worst=0
for p in $pids; do
    i=$((i + 1))
    reader_end "$p" "$TMP/s$i.out"
    echo "stalled registry: reader $i ($([ $((i % 2)) = 1 ] && echo cat || echo 'dd iflag=direct')) ended after ${secs}s, exit $rrc: $(head -c 200 "$TMP/s$i.out.err")"
    failed_eio "stalled registry, reader $i" "$TMP/s$i.out"
    worst=$secs
done
grep -q '"error":"[^"]*Timeout' "$MP/.soci-snapshotter/$LD.json" ||
    fail "stalled registry: the state file does not name the timeout: $(cat "$MP/.soci-snapshotter/$LD.json")"
recovers "stall over" "$TMP/s5.out"
umnt stall
echo "ok: a stalled registry gives EIO (last reader after ${worst}s) ($(elapsed)s)"

# 3b. the registry trickles (2 KiB/s: above curl's usual 1 KiB/s floor)
mnt trickle
faults '{"rules": [{"match": "'"$BLOB_GET"'", "action": "trickle", "rate": 2048}]}'
reader "$TMP/t1.out" cat "$MP/$F"
reader_end "$RPID" "$TMP/t1.out"
echo "trickling registry: the reader ended after ${secs}s, exit $rrc: $(head -c 200 "$TMP/t1.out.err")"
failed_eio "trickling registry" "$TMP/t1.out"
[ "$(injected)" -ge 1 ] || fail "trickling registry: no answer was trickled"
recovers "trickle over" "$TMP/t2.out"
umnt trickle
echo "ok: a trickling registry gives EIO within ${LIMIT}s ($(elapsed)s)"

# 4. SIGKILL while a read waits
mnt kill
faults '{"rules": [{"match": "'"$BLOB_GET"'", "action": "stall", "delay": 900}]}'
reader "$TMP/k.out" cat "$MP/$F"
kpid=$RPID
sleep 1
kill -KILL "$MPID"
wait_pid "$MPID" 10 || fail "SIGKILL: soci-mount still runs 10 s later"
reader_end "$kpid" "$TMP/k.out"
echo "SIGKILL: the waiting reader ended ${secs}s after it started (exit $rrc: $(cat "$TMP/k.out.err"))"
[ "$rrc" != 0 ] || fail "SIGKILL: the waiting read succeeded"
below "$secs" 12 || fail "SIGKILL: the waiting reader needed ${secs}s to end"
is_mounted "$MP" || fail "SIGKILL: the mount went away by itself (expected a dead mount)"
err=$(stat "$MP" 2>&1) && fail "SIGKILL: stat of the dead mount succeeds"
case "$err" in *"not connected"*) ;; *) fail "SIGKILL: stat says \"$err\", want ENOTCONN" ;; esac
fusermount3 -u "$MP" || fail "SIGKILL: fusermount3 -u failed"
is_mounted "$MP" && fail "SIGKILL: still mounted after fusermount3 -u"
[ -d "$MP" ] && [ -z "$(ls -A "$MP")" ] || fail "SIGKILL: the mountpoint is not an empty directory after fusermount3 -u"
mnt kill
cat "$MP/$F" >"$TMP/k2.out" 2>"$TMP/k2.err" || fail "SIGKILL: the read after remounting failed: $(cat "$TMP/k2.err")"
right "remounted after SIGKILL" "$TMP/k2.out"
umnt kill-remount
echo "ok: SIGKILL mid-read, fusermount3 -u, mount again ($(elapsed)s)"

# 5. the registry goes away mid-read (last: the registry is gone for good)
mnt gone
faults '{"rules": [{"match": "'"$BLOB_GET"'", "action": "slow", "delay": 2, "count": 1}]}'
reader "$TMP/g.out" cat "$MP/$F"
gpid=$RPID
sleep 0.5
sh "$REGSH" stop "$TMP/reg" || fail "cannot stop the registry"
reader_end "$gpid" "$TMP/g.out"
echo "registry gone: the read ended after ${secs}s, exit $rrc: $(cat "$TMP/g.out.err")"
failed_eio "registry gone" "$TMP/g.out"
umnt gone
echo "ok: the registry going away gives EIO ($(elapsed)s)"
finish
