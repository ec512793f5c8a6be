#!/bin/sh
# tests/cli/tsan_threads.sh -- the project's threaded code under
# ThreadSanitizer (`make -C build tsan` runs it; so does the normal suite).
#
# Builds the programs and test_registry_threads with clang -fsanitize=thread
# into build/tsan (persistent: later runs rebuild only what changed; one
# builder at a time under flock), then, with every TSan report written to
# $TMP/tsan/ (log_path) and halt_on_error set:
#   1. ztoc-gen's hasher thread: a 1 MiB-span ztoc of the sample image's
#      gzip data layer (20 spans) equals the --no-threads one, byte for byte;
#   2. the pipeline with parallel layer jobs: soci-layers | ztoc-gen -j 4
#      --min-layer-size 0 | soci-pack writes the same layout as `soci create`
#      (diff -r), both TSan builds;
#   3. the registry client shared by 6 threads under Basic auth
#      (tests/unit/test_registry_threads.c, its own checks);
#   4. a lazy mount read concurrently: soci-mount with an 8 MiB memory cache
#      (about 2 spans: spans are evicted and fetched again all the time), the
#      decompressed disk tier on, and the background fetcher started after
#      200 ms, read by 8 threads of tests/cli/lib/randread.c for 15 s
#      (every byte compared with GNU tar's extraction), then unmounted.
# Fails if any step fails or if TSan reported anything; skips step 4 (with
# a note) without root and /dev/fuse.  ~1 min once build/tsan is built.
set -u
command -v clang >/dev/null 2>&1 || { echo "skip: clang is not installed"; exit 77; }
TSAN_DIR=$ROOT/build/tsan
mkdir -p "$TSAN_DIR" "$TMP/tsan"
start=$(date +%s)
if ! flock "$TSAN_DIR/.lock" make -C "$ROOT/build" TSAN=1 -j2 programs \
    "$TSAN_DIR/bin/tests/test_registry_threads" >"$TMP/build.log" 2>&1; then
    echo "FAIL: the TSan build failed:"
    tail -n 20 "$TMP/build.log"
    exit 1
fi
echo "build/tsan ready in $(($(date +%s) - start))s"
BIN=$TSAN_DIR/bin
export BIN
TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 log_path=$TMP/tsan/report"
export TSAN_OPTIONS
CAN_MOUNT=0
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1; then
    CAN_MOUNT=1
    . "$ROOT/tests/cli/lib/mount.sh"   # and packer.sh
else
    . "$ROOT/tests/cli/lib/packer.sh"
fi
grep -qa ThreadSanitizer "$ZG" || die "$ZG is not a TSan build"

# reports: fail (with the first report's head) if TSan wrote any
reports() {
    _r=$(ls "$TMP/tsan" 2>/dev/null | head -n 1)
    [ -z "$_r" ] && return 0
    fail "$1: ThreadSanitizer reported (in $(ls "$TMP/tsan" | wc -l) process(es)):"
    head -n 40 "$TMP/tsan/$_r"
    mkdir -p "$TMP/tsan.seen" && mv "$TMP/tsan"/* "$TMP/tsan.seen/"
}

# 1. ztoc-gen: the hasher thread
sample "$TMP/img" t --big-mib 20
LD=$(layer_digests "$TMP/img" t | tail -n 1)
LBLOB=$(blob "$TMP/img" "$LD")
"$ZG" --span-size 1048576 -o "$TMP/threaded.ztoc" "$LBLOB" || fail "ztoc-gen (hasher thread) exited $?"
"$ZG" --no-threads --span-size 1048576 -o "$TMP/plain.ztoc" "$LBLOB" || fail "ztoc-gen --no-threads exited $?"
cmp -s "$TMP/threaded.ztoc" "$TMP/plain.ztoc" || fail "the hasher thread's ztoc differs from --no-threads'"
reports "ztoc-gen's hasher"
echo "1. hasher: $(stat -c %s "$TMP/threaded.ztoc")-byte ztoc, same both ways"

# 2. the pipeline's parallel layer jobs
cp -a "$TMP/img" "$TMP/img2"
ZG_OPTS="-j 4 --min-layer-size 0"
pipeline "oci:$TMP/img:t" || fail "soci-layers | ztoc-gen -j 4 | soci-pack failed ($rc1 $rc2 $rc3): $(tail -n 3 "$TMP/p.err")"
"$SOCI" create -q --min-layer-size 0 "oci:$TMP/img2:t" >"$TMP/create.out" 2>&1 ||
    fail "soci create failed: $(cat "$TMP/create.out")"
diff -r "$TMP/img" "$TMP/img2" >"$TMP/diff.out" 2>&1 || fail "the pipeline (-j 4) and soci create wrote different layouts: $(head -n 5 "$TMP/diff.out")"
reports "the -j 4 pipeline"
echo "2. pipeline -j 4: layout identical to soci create's"

# 3. the registry client's threads
"$BIN/tests/test_registry_threads" >"$TMP/threads.log" 2>&1 ||
    fail "test_registry_threads exited $?: $(tail -n 5 "$TMP/threads.log")"
reports "the registry client's threads"
echo "3. registry threads: all checks passed"

# 4. concurrent reads of a lazy mount
if [ $CAN_MOUNT = 0 ]; then
    echo "4. skipped: soci-mount needs root, /dev/fuse and fusermount3"
    finish
fi
need cc
cc -O2 -Wall -Wextra -Werror -pthread -o "$TMP/randread" "$LIB/randread.c" || die "cannot compile randread.c"
mkdir -p "$TMP/ref" "$TMP/mp"
tar -xzf "$LBLOB" -C "$TMP/ref" || die "GNU tar cannot extract the layer"
(cd "$TMP/ref" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) >"$TMP/list"
# the index written by soci create above (4 MiB spans)
mount_fg "$TMP/mp" "$TMP/mount.log" --cache-mem 8M --cache-disk 64M --cache-dir "$TMP/cache" \
    --bg-quiet-ms 200 --bg-period-ms 50 "oci:$TMP/img2:t" --layer "$LD" || die "soci-mount (TSan) did not mount"
"$TMP/randread" -t 8 -d 15 -s 11 -m 262144 -r "$MPID" "$TMP/mp" "$TMP/ref" "$TMP/list" \
    >"$TMP/randread.out" 2>"$TMP/randread.err"
rrc=$?
[ $rrc = 0 ] || fail "the readers saw errors or wrong bytes (exit $rrc): $(head -n 10 "$TMP/randread.err")"
fetched=$(state "$TMP/mp" "$LD" spansFetched)
dhits=$(state "$TMP/mp" "$LD" decompressedCacheHits)
# 8 MiB hold ~2 of the 5 spans: reads must have come back from the disk tier
[ "${dhits:-0}" -gt 0 ] || fail "no read came from the decompressed tier: nothing was evicted from memory"
unmount "$TMP/mp" "$MPID" || fail "unmount failed"
[ "${urc:-1}" = 0 ] || fail "soci-mount exited $urc (66: a TSan report): $(tail -n 3 "$TMP/mount.log")"
reports "soci-mount under concurrent reads"
echo "4. mount: $(cat "$TMP/randread.out"); spansFetched $fetched, decompressedCacheHits $dhits"
finish
