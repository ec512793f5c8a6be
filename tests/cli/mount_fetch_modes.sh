#!/bin/sh
# tests/cli/mount_fetch_modes.sh -- what soci-mount fetches without being
# asked, counted in its state file (spansFetched, spansPresent, cacheHits):
#   1. --no-background-fetch: after mounting only span 0 (the check that
#      the ztoc belongs to the blob) is fetched, and still only that after
#      a quiet while;
#   2. --prefetch FILE: the spans of the listed files (two files in two
#      other spans, plus a path the layer lacks, which is logged as a
#      warning) are fetched before the mount returns; reading those files
#      then fetches nothing, while reading a file of another span does;
#      a --prefetch file that does not exist fails the mount (one line,
#      nothing mounted);
#   3. the background fetcher (--bg-quiet-ms 300 --bg-period-ms 20, disk
#      cache on): with no reads at all, every span ends up present (within
#      a bounded wait), and the files then read back equal to GNU tar's
#      extraction without any further fetch;
#   4. statfs: `stat -f` and `df` work on the mount.
. "$ROOT/tests/cli/lib/mount.sh"
need gzip cmp df

sample "$TMP/img" t --big-mib 40
"$SOCI" create -q --min-layer-size 0 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 || die "soci create: $(cat "$TMP/create.out")"
LD=$(layer_digests "$TMP/img" t | tail -n 1)
mkdir -p "$TMP/ref"
tar -C "$TMP/ref" -xzf "$(blob "$TMP/img" "$LD")" || die "GNU tar could not extract the layer"
# the layer's regular files with their spans: PATH START_SPAN END_SPAN
"$PY" - "$TMP/img" "$LD" "$SOCI" >"$TMP/spans" <<'EOF' || die "could not read the ztoc"
import json, subprocess, sys
layout, layer, soci = sys.argv[1:]
zs = json.loads(subprocess.check_output([soci, "ztoc", "list", "--layout", layout, "--json"]))
z = [x["digest"] for x in zs if x["layerDigest"] == layer][0]
info = json.loads(subprocess.check_output([soci, "ztoc", "info", "--layout", layout, z]))
for f in info["files"]:
    if f["type"] == "reg" and f["size"] > 0:
        print(f["filename"], f["start_span"], f["end_span"])
EOF
NSPANS=$(awk '{ if ($3 > m) m = $3 } END { print m + 1 }' "$TMP/spans")
[ "$NSPANS" -ge 6 ] || die "the layer has only $NSPANS spans"
# one file wholly inside each of spans 2, 4 and NSPANS-2
pick() { awk -v s="$1" '$2 == s && $3 == s { print $1; exit }' "$TMP/spans"; }
F2=$(pick 2) F4=$(pick 4) FX=$(pick $((NSPANS - 2)))
[ -n "$F2" ] && [ -n "$F4" ] && [ -n "$FX" ] || die "no single-span files in spans 2, 4, $((NSPANS - 2)): $(head "$TMP/spans")"
SRC="oci:$TMP/img:t"

# 1. nothing but span 0
mkdir -p "$TMP/m1"
mount_fg "$TMP/m1" "$TMP/m1.log" --cache-disk 0 --no-background-fetch "$SRC" --layer "$LD" || die "mount 1 failed"
[ "$(state "$TMP/m1" "$LD" spansFetched)" = 1 ] || fail "mount: spansFetched $(state "$TMP/m1" "$LD" spansFetched), want 1 (span 0)"
sleep 2
[ "$(state "$TMP/m1" "$LD" spansFetched)" = 1 ] || fail "--no-background-fetch: something was fetched while idle"
# 4. statfs
stat -f "$TMP/m1" >"$TMP/statfs" 2>&1 || fail "stat -f on the mount: $(cat "$TMP/statfs")"
grep -q "Block size: 4096" "$TMP/statfs" || fail "stat -f: no 4096-byte blocks: $(cat "$TMP/statfs")"
df "$TMP/m1" >"$TMP/df" 2>&1 || fail "df on the mount: $(cat "$TMP/df")"
unmount "$TMP/m1" "$MPID" || fail "unmount 1"

# 2. --prefetch
printf '%s\n%s\n/not/in/the/layer\n\n' "$F2" "$F4" >"$TMP/prefetch"
mkdir -p "$TMP/m2"
mount_fg "$TMP/m2" "$TMP/m2.log" --cache-disk 0 --no-background-fetch --prefetch "$TMP/prefetch" "$SRC" --layer "$LD" ||
    die "mount 2 failed"
after_mount=$(state "$TMP/m2" "$LD" spansFetched)
[ "$after_mount" = 3 ] || fail "--prefetch: spansFetched $after_mount after mounting, want 3 (span 0, 2 and 4)"
grep '"level":"warn"' "$TMP/m2.log" | grep -q 'not/in/the/layer' || fail "--prefetch: no warning for a path not in the layer"
cmp -s "$TMP/ref/$F2" "$TMP/m2/$F2" && cmp -s "$TMP/ref/$F4" "$TMP/m2/$F4" || fail "--prefetch: the prefetched files read wrong"
[ "$(state "$TMP/m2" "$LD" spansFetched)" = "$after_mount" ] || fail "--prefetch: reading the prefetched files fetched more"
cmp -s "$TMP/ref/$FX" "$TMP/m2/$FX" || fail "reading $FX: wrong bytes"
[ "$(state "$TMP/m2" "$LD" spansFetched)" -gt "$after_mount" ] || fail "reading a file of another span fetched nothing (the count is not live)"
unmount "$TMP/m2" "$MPID" || fail "unmount 2"
mkdir -p "$TMP/m2b"
"$MOUNT" -f --prefetch "$TMP/nonexistent" "$SRC" --layer "$LD" "$TMP/m2b" </dev/null >"$TMP/m2b.out" 2>"$TMP/m2b.err"
rc=$?
[ $rc -ne 0 ] || fail "--prefetch of a missing file: exit 0"
grep -c . "$TMP/m2b.err" | grep -qx 1 || fail "--prefetch of a missing file: want one line on stderr, got: $(cat "$TMP/m2b.err")"
grep -q "nonexistent" "$TMP/m2b.err" || fail "--prefetch of a missing file: the error does not name it: $(cat "$TMP/m2b.err")"
is_mounted "$TMP/m2b" && fail "--prefetch of a missing file: something is mounted"

# 3. the background fetcher, no reads
mkdir -p "$TMP/m3"
mount_fg "$TMP/m3" "$TMP/m3.log" --cache-dir "$TMP/cache3" --bg-quiet-ms 300 --bg-period-ms 20 "$SRC" --layer "$LD" ||
    die "mount 3 failed"
i=0
while [ "$(state "$TMP/m3" "$LD" spansPresent)" != "$NSPANS" ] && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
present=$(state "$TMP/m3" "$LD" spansPresent)
[ "$present" = "$NSPANS" ] || fail "background fetch: $present of $NSPANS spans present after 30 s without reads"
echo "background fetch: $present of $NSPANS spans present after about $((i / 10)) s"
fetched=$(state "$TMP/m3" "$LD" spansFetched)
(cd "$TMP/ref" && find . -type f) | while read -r f; do
    cmp -s "$TMP/ref/$f" "$TMP/m3/$f" || echo "$f" >>"$TMP/m3.bad"
done
[ ! -s "$TMP/m3.bad" ] || fail "background fetch: files read wrong: $(head -n 3 "$TMP/m3.bad")"
[ "$(state "$TMP/m3" "$LD" spansFetched)" = "$fetched" ] || fail "reading after the background fetch fetched again"
unmount "$TMP/m3" "$MPID" || fail "unmount 3"

finish
