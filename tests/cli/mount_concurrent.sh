#!/bin/sh
# tests/cli/mount_concurrent.sh -- 16 concurrent random readers of a lazily
# mounted layer under a small memory budget: right bytes, no deadlock,
# bounded memory.
#
# The layer: the sample image's data layer with --big-mib 150 (150 MiB of
# generated text in ~540 files, about 70 MB gzipped, 38 spans of 4 MiB
# uncompressed), indexed with `soci create --min-layer-size 0`.  Mounted
# four times with --no-background-fetch (the first three with --cache-disk 0):
#   1. from the OCI layout (oci:DIR:TAG), --cache-mem 64M (at most ~16 of
#      the 38 decompressed spans fit: spans are evicted and fetched again
#      all the time);
#   2. from a docker-registry on 127.0.0.1 after `soci push`, --cache-mem 64M;
#   3. from the layout, --cache-mem 8M (2 spans: every span a reader fetches
#      competes with 15 other readers' fetches for the memory; a reader
#      must still get it), for a third of the time;
#   4. from the layout, --cache-mem 16M and a 48M disk cache (less than the
#      compressed layer): spans evicted from memory go to the decompressed
#      tier, whose files give way to compressed spans, all while the
#      readers race; the tier must serve reads and the cache directory stay
#      within its budget; for a third of the time.
# Each time tests/cli/lib/randread.c (compiled here with cc) runs 16 threads
# for 60 s (10 s with SOCI_TEST_QUICK=1) that read random ranges (random
# file, random offset, random length of 1 byte..1 MiB) through the mount,
# half with O_DIRECT and half through the page cache dropped after each read,
# and compare every byte with GNU tar's extraction of the layer.  Checked:
#   - no read fails and no read returns a wrong byte (or a wrong length);
#   - progress: every few seconds the readers' progress file is checked; no
#     read may be in flight for more than 30 s and the read count must grow
#     at least every 30 s (else: the daemon's thread stacks are shown and
#     the test fails); the readers must finish within their time + 60 s;
#   - memory: the daemon's VmRSS, sampled every 100 ms by the reader, and
#     its VmHWM at the end stay <= the budget + 64 MiB (runs 1 and 2); with
#     the 8M budget, where what is in flight dominates (each of 16 readers
#     may hold a fetched run, compressed, a span being decompressed, and a
#     read buffer: ~7 MiB each), <= 8 MiB + 16 x 7 MiB + 64 MiB (not in a
#     sanitizer build, whose allocator keeps far more);
#   - at rest (the readers done) the memory cache is back within its
#     budget: spansPresent x 4 MiB <= budget (every span but the last holds
#     over 4 MiB; with --cache-disk 0 spansPresent counts the spans in
#     memory);
#   - eviction really happened (spansFetched > spans in the state file),
#     and the mount unmounts cleanly (soci-mount exits 0).
. "$ROOT/tests/cli/lib/mount.sh"
need cc gzip
# ASan's shadow memory and quarantine of freed blocks (256 MB) are no part
# of soci-mount's footprint: the memory bounds hold for the real build, the
# one `make test` runs; `make check` runs the rest of this test
SAN_BUILD=0
grep -qa AddressSanitizer "$BIN/soci-mount" && SAN_BUILD=1
tar --version 2>/dev/null | grep -q 'GNU tar' || { echo "skip: tar is not GNU tar"; exit 77; }

SECS=60
[ "${SOCI_TEST_QUICK:-}" = 1 ] && SECS=10
THREADS=16

cc -O2 -Wall -Wextra -Werror -pthread -o "$TMP/randread" "$LIB/randread.c" || die "cannot compile randread.c"

start=$(date +%s)
sample "$TMP/img" t --big-mib 150
"$SOCI" create -q --min-layer-size 0 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 ||
    die "soci create failed: $(cat "$TMP/create.out")"
LD=$(layer_digests "$TMP/img" t | tail -n 1)
LBLOB=$(blob "$TMP/img" "$LD")
mkdir -p "$TMP/ref"
tar -xzf "$LBLOB" -C "$TMP/ref" || die "GNU tar cannot extract the layer"
(cd "$TMP/ref" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) >"$TMP/list"
echo "layer $LD: $(stat -c %s "$LBLOB") bytes, $(wc -l <"$TMP/list") files, $(du -sm --apparent-size "$TMP/ref" | cut -f1) MiB; ready in $(($(date +%s) - start))s"

# field NAME FILE: the value of NAME=VALUE in a progress line
field() {
    sed -n "s/.*\\b$1=\\([0-9-]*\\).*/\\1/p" "$2" | tail -n 1
}

# stacks PID: the kernel stacks and wait channels of PID's threads (for a stall)
stacks() {
    for _t in /proc/"$1"/task/*; do
        echo "  thread ${_t##*/} $(cat "$_t/comm" 2>/dev/null) wchan=$(cat "$_t/wchan" 2>/dev/null)"
        sed 's/^/      /' "$_t/stack" 2>/dev/null | head -n 12
    done
}

# readers LABEL SOURCE BUDGET_MIB SECS LIMIT_MIB [soci-mount options]:
# mount, read, check (RSS <= LIMIT_MIB), unmount
readers() {
    label=$1 src=$2 budget=$3 secs=$4 limit_kb=$(($5 * 1024)) disk_mib=$6
    shift 6
    mp=$TMP/mp.$label
    mkdir -p "$mp"
    if [ "$disk_mib" = 0 ]; then
        set -- --cache-disk 0 "$@"
    else
        set -- --cache-disk ${disk_mib}M --cache-dir "$TMP/cache.$label" "$@"
    fi
    mount_fg "$mp" "$TMP/mount.$label.log" --cache-mem ${budget}M --no-background-fetch \
        "$@" "$src" --layer "$LD" || { fail "$label: soci-mount failed"; return; }
    nspans=$(state "$mp" "$LD" spans)
    prog=$TMP/progress.$label
    "$TMP/randread" -t $THREADS -d "$secs" -s 7 -p "$prog" -r "$MPID" "$mp" "$TMP/ref" "$TMP/list" \
        >"$TMP/randread.$label.out" 2>"$TMP/randread.$label.err" &
    rpid=$!
    t0=$(date +%s)
    last_reads=-1 last_change=$t0 stalled=""
    while kill -0 "$rpid" 2>/dev/null; do
        sleep 2
        now=$(date +%s)
        [ -s "$prog" ] || { [ $((now - t0)) -lt 30 ] && continue; stalled="no progress file after 30 s"; break; }
        reads=$(field reads "$prog") oldest=$(field oldest_ms "$prog")
        if [ "$reads" != "$last_reads" ]; then
            last_reads=$reads last_change=$now
        fi
        if [ "$oldest" -gt 30000 ]; then
            stalled="a read has been in flight for ${oldest} ms"
        elif [ $((now - last_change)) -ge 30 ] && [ $((now - t0)) -lt "$secs" ]; then
            stalled="no read completed for 30 s (reads=$reads)"
        elif [ $((now - t0)) -gt $((secs + 60)) ]; then
            stalled="the readers did not finish within $((secs + 60)) s"
        fi
        [ -z "$stalled" ] || break
    done
    if [ -n "$stalled" ]; then
        fail "$label: $stalled; progress: $(cat "$prog" 2>/dev/null); soci-mount's threads:"
        stacks "$MPID"
        kill -9 "$rpid" 2>/dev/null
        # readers blocked in FUSE die with SIGKILL; the cleanup trap unmounts
        wait "$rpid" 2>/dev/null
        return
    fi
    wait "$rpid"
    rrc=$?
    hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$MPID/status")
    echo "$label: $(cat "$TMP/randread.$label.out"); VmHWM ${hwm} kB; state: $(cat "$mp/.soci-snapshotter/$LD.json")"
    [ "$rrc" = 0 ] || fail "$label: the readers saw errors or wrong bytes (exit $rrc): $(head -n 20 "$TMP/randread.$label.err")"
    reads=$(field reads "$TMP/randread.$label.out")
    maxrss=$(field maxrss_kb "$TMP/randread.$label.out")
    [ "$reads" -ge $THREADS ] || fail "$label: only $reads reads in $secs s"
    [ -n "$maxrss" ] && [ "$maxrss" -gt 0 ] || fail "$label: no RSS sample of soci-mount"
    if [ "$SAN_BUILD" = 1 ]; then
        echo "$label: RSS $maxrss kB, VmHWM $hwm kB: not checked against $limit_kb kB in a sanitizer build"
    else
        [ "$maxrss" -le $limit_kb ] || fail "$label: soci-mount's RSS reached $maxrss kB, over $limit_kb kB (budget $budget MiB)"
        [ -n "$hwm" ] && [ "$hwm" -le $limit_kb ] || fail "$label: soci-mount's VmHWM is $hwm kB, over $limit_kb kB"
    fi
    fetched=$(state "$mp" "$LD" spansFetched)
    [ "$(state "$mp" "$LD" verifyFailures)" = 0 ] || fail "$label: verifyFailures is not 0"
    if [ "$disk_mib" = 0 ]; then
        [ "$fetched" -gt "$nspans" ] || fail "$label: spansFetched $fetched <= $nspans spans: nothing was evicted and fetched again"
        present=$(state "$mp" "$LD" spansPresent)
        [ $((present * 4)) -le "$budget" ] || fail "$label: $present spans of over 4 MiB still in memory at rest, budget $budget MiB"
    else
        # both disk tiers in play: the decompressed one served reads, and
        # the cache directory stayed within --cache-disk
        dhits=$(state "$mp" "$LD" decompressedCacheHits)
        [ "${dhits:-0}" -gt 0 ] || fail "$label: the decompressed tier served no read"
        used=$(du -sk --apparent-size "$TMP/cache.$label" | cut -f1)
        [ "$used" -le $((disk_mib * 1024 + 64)) ] || fail "$label: the disk cache holds $used KiB, over --cache-disk ${disk_mib}M"
        echo "$label: decompressedCacheHits $dhits, diskCacheHits $(state "$mp" "$LD" diskCacheHits), disk cache $used KiB"
    fi
    u0=$(date +%s.%N)
    unmount "$mp" "$MPID" || {
        fail "$label: fusermount3 -u did not end soci-mount within 40 s; its threads and last log lines:"
        stacks "$MPID"
        tail -n 20 "$TMP/mount.$label.log" | cut -c1-300 | sed 's/^/    | /'
        return
    }
    [ "$urc" = 0 ] || fail "$label: soci-mount exited $urc"
    echo "$label: soci-mount exited $(awk "BEGIN{printf \"%.2f\", $(date +%s.%N)-$u0}") s after fusermount3 -u"
}

# 1. from the layout
readers layout "oci:$TMP/img:t" 64 $SECS $((64 + 64)) 0

# 2. from a registry
start_registry "$TMP/reg"
"$SOCI" push --plain-http -q "oci:$TMP/img:t" "$REG/conc:t" >"$TMP/push.out" 2>&1 ||
    die "soci push failed: $(cat "$TMP/push.out")"
readers registry "$REG/conc:t" 64 $SECS $((64 + 64)) 0 --plain-http

# 3. a budget of two spans
readers tight "oci:$TMP/img:t" 8 $(((SECS + 2) / 3)) $((8 + THREADS * 7 + 64)) 0

# 4. both disk tiers under pressure: 16 MiB of memory and a disk cache
# smaller than the compressed layer, so spans move memory -> decompressed
# files (up to 8 queued for the writer, 32 MiB) -> evicted for compressed
# spans, while 16 readers race them
readers tiers "oci:$TMP/img:t" 16 $(((SECS + 2) / 3)) $((16 + THREADS * 7 + 64 + 32)) 48

echo "done in $(($(date +%s) - start))s"
finish
