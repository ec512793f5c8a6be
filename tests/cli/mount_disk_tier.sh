#!/bin/sh
# tests/cli/mount_disk_tier.sh -- spans evicted from soci-mount's memory
# cache are served again from the decompressed tier of its disk cache, not
# decompressed again; a damaged tier falls back to the compressed spans.
#
# The layer: 24 files of 512 KiB of seeded pseudo-random words (gzip about
# 3:1), GNU tar + gzip -6, in an OCI layout indexed with `soci create
# --min-layer-size 0 --span-size 262144` (about 48 spans).  Mounted from the
# layout with --cache-mem 512K (two spans: nearly every span is evicted
# while a pass reads the tree), a fresh --cache-dir and
# --no-background-fetch.  Between passes every file's pages are dropped
# from the kernel's page cache (POSIX_FADV_DONTNEED through dd
# iflag=nocache), so that each pass reaches soci-mount.  Checked:
#   1. pass 1: every file equals GNU tar's extraction; afterwards the state
#      file's decompressedSpans (the writer is given up to 10 s) covers all
#      but the spans still in memory, and their files (u<span>) are in the
#      cache directory;
#   2. pass 2: every file equal again; decompressedCacheHits grew, and
#      diskCacheHits (compressed spans loaded and decompressed) grew by no
#      more than the spans that were not in the decompressed tier -- without
#      the tier every span would be decompressed again;
#   3. damage: half of the tier's files truncated, the others deleted; pass
#      3 reads every file equal (the compressed path), diskCacheHits grows;
#   4. on unmount the tier's files are deleted (the compressed spans stay);
#      a stale tier file of the right size but wrong bytes left in the
#      directory is not trusted by the next mount (deleted at start): the
#      file it would serve reads equal;
#   5. --cache-disk bounds both tiers: with a budget of the compressed
#      layer plus 1 MiB, the cache directory stays within it after a pass;
#   6. a --prefetch of every file, bigger than --cache-mem, keeps what it
#      evicts in the decompressed tier too: the tier's writer runs during
#      the prefetch, before the mount is up (the cache's other threads may
#      wait until it is).
. "$ROOT/tests/cli/lib/mount.sh"
need gzip cmp du
tar --version 2>/dev/null | grep -q 'GNU tar' || { echo "skip: tar is not GNU tar"; exit 77; }

mkdir -p "$TMP/tree/d"
"$PY" - "$TMP/tree/d" <<'EOF' || die "cannot write the tree"
import os, random, sys
rnd = random.Random(7)
words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9))) for _ in range(4000)]
for i in range(24):
    out, n = [], 0
    while n < 512 * 1024:
        w = rnd.choice(words) + (" " if rnd.random() < 0.9 else "\n")
        out.append(w)
        n += len(w)
    open(os.path.join(sys.argv[1], "f%02d" % i), "w").write("".join(out)[:512 * 1024])
EOF
tar -C "$TMP/tree" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1700000000 -cf - d | gzip -6 -n >"$TMP/layer.tgz"
$MKLAYOUT "$TMP/img" t "$TMP/layer.tgz" >/dev/null || die "mklayout failed"
"$SOCI" create -q --min-layer-size 0 --span-size 262144 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 ||
    die "soci create failed: $(cat "$TMP/create.out")"
LD=sha256:$(sha256sum "$TMP/layer.tgz" | cut -c1-64)
CSIZE=$(stat -c %s "$TMP/layer.tgz")
mkdir -p "$TMP/x"
tar -xzf "$TMP/layer.tgz" -C "$TMP/x" || die "tar cannot extract the layer"

# drop MP's pages, then read every file and compare: PASS-NAME
drop_pages() {
    for f in "$MP"/d/*; do dd if="$f" iflag=nocache count=0 status=none 2>/dev/null; done
}
read_all() {
    for f in "$TMP"/x/d/*; do
        cmp -s "$f" "$MP/d/${f##*/}" || fail "$1: d/${f##*/} differs from tar's extraction"
    done
}
st() { state "$MP" "$LD" "$1"; }
# wait_dec N: up to 10 s for decompressedSpans >= N
wait_dec() {
    _i=0
    while [ "$(st decompressedSpans)" -lt "$1" ] && [ $_i -lt 200 ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
}

MP=$TMP/mp
mkdir -p "$MP"
mount_fg "$MP" "$TMP/mount.log" --no-background-fetch --cache-mem 512K --cache-dir "$TMP/cache" \
    "oci:$TMP/img:t" --layer "$LD" || die "soci-mount failed"
NSPANS=$(st spans)
[ "$NSPANS" -ge 30 ] || die "the layer has only $NSPANS spans"

# 1. pass 1
read_all "pass 1"
wait_dec $((NSPANS - 4))
DEC=$(st decompressedSpans)
[ "$DEC" -ge $((NSPANS - 4)) ] || fail "after pass 1: decompressedSpans $DEC of $NSPANS spans"
nfiles=$(find "$TMP/cache" -name 'u*' ! -name '*.tmp' | wc -l)
[ "$nfiles" = "$DEC" ] || fail "after pass 1: $nfiles tier files in the cache directory, decompressedSpans $DEC"
echo "pass 1: $NSPANS spans, $DEC in the decompressed tier"

# 2. pass 2: from the tier
drop_pages
h0=$(st decompressedCacheHits) d0=$(st diskCacheHits)
read_all "pass 2"
h1=$(st decompressedCacheHits) d1=$(st diskCacheHits)
echo "pass 2: decompressedCacheHits +$((h1 - h0)), diskCacheHits +$((d1 - d0))"
[ $((h1 - h0)) -ge $((DEC / 2)) ] || fail "pass 2: decompressedCacheHits grew by $((h1 - h0)), want >= $((DEC / 2))"
[ $((d1 - d0)) -le $((NSPANS - DEC)) ] ||
    fail "pass 2: diskCacheHits grew by $((d1 - d0)): spans were decompressed again (at most $((NSPANS - DEC)) expected)"

# 3. a damaged tier: the compressed path serves
wait_dec "$DEC"
k=0
for f in $(find "$TMP/cache" -name 'u*' ! -name '*.tmp'); do
    if [ $((k % 2)) = 0 ]; then truncate -s 1000 "$f"; else rm -f "$f"; fi
    k=$((k + 1))
done
drop_pages
d0=$(st diskCacheHits)
read_all "pass 3 (damaged tier)"
d1=$(st diskCacheHits)
echo "pass 3: diskCacheHits +$((d1 - d0)) after damaging $k tier files"
[ $((d1 - d0)) -ge $((k / 2)) ] || fail "pass 3: diskCacheHits grew by $((d1 - d0)) only, with $k tier files damaged"
grep -q '"level":"error"' "$TMP/mount.log" && fail "pass 3: soci-mount logged an error: $(grep '"level":"error"' "$TMP/mount.log" | head -n 1)"

# 4. unmount: the tier goes, the compressed spans stay
unmount "$MP" "$MPID" || fail "fusermount3 -u did not end soci-mount"
[ "$urc" = 0 ] || fail "soci-mount exited $urc"
left=$(find "$TMP/cache" -name 'u*' | wc -l)
[ "$left" = 0 ] || fail "after unmount: $left tier files left in the cache directory"
ncomp=$(find "$TMP/cache" -type f ! -name 'u*' | wc -l)
[ "$ncomp" = "$NSPANS" ] || fail "after unmount: $ncomp compressed spans on disk, want $NSPANS"
# a stale tier file for span 1 (the first file's bytes): right size, wrong bytes
dir=$(dirname "$(find "$TMP/cache" -type f -name 1)")
head -c 262144 /dev/zero >"$dir/u1"
mount_fg "$MP" "$TMP/mount2.log" --no-background-fetch --cache-mem 512K --cache-dir "$TMP/cache" \
    "oci:$TMP/img:t" --layer "$LD" || die "soci-mount failed (second mount)"
[ -e "$dir/u1" ] && fail "second mount: the stale tier file u1 was kept"
cmp -s "$TMP/x/d/f00" "$MP/d/f00" || fail "second mount: d/f00 differs from tar's extraction"
unmount "$MP" "$MPID" || fail "fusermount3 -u did not end soci-mount (second mount)"

# 5. the budget covers both tiers
BUDGET=$((CSIZE + (1 << 20)))
mount_fg "$MP" "$TMP/mount3.log" --no-background-fetch --cache-mem 512K --cache-dir "$TMP/cache3" \
    --cache-disk "$BUDGET" "oci:$TMP/img:t" --layer "$LD" || die "soci-mount failed (third mount)"
read_all "budget pass 1"
drop_pages
read_all "budget pass 2"
sleep 1
used=$(find "$TMP/cache3" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
dec=$(st decompressedSpans)
echo "budget $BUDGET: $used bytes on disk, $dec spans in the decompressed tier"
[ "$used" -le "$BUDGET" ] || fail "the cache directory holds $used bytes, over --cache-disk $BUDGET"
[ "$dec" -ge 1 ] || fail "with room for 1 MiB of it, the decompressed tier is empty"
unmount "$MP" "$MPID" || fail "fusermount3 -u did not end soci-mount (third mount)"

# 6. a prefetch bigger than the memory cache
(cd "$TMP/x" && find d -type f | sort) >"$TMP/prefetch.list"
mount_fg "$MP" "$TMP/mount4.log" --no-background-fetch --cache-mem 512K --cache-dir "$TMP/cache4" \
    --prefetch "$TMP/prefetch.list" "oci:$TMP/img:t" --layer "$LD" || die "soci-mount failed (prefetch mount)"
wait_dec $((NSPANS - 4))
dec=$(st decompressedSpans)
echo "prefetch of every file: $dec of $NSPANS spans in the decompressed tier"
[ "$dec" -ge $((NSPANS - 4)) ] || fail "after a prefetch of every file: decompressedSpans $dec of $NSPANS spans"
read_all "after the prefetch"
unmount "$MP" "$MPID" || fail "fusermount3 -u did not end soci-mount (prefetch mount)"
finish
