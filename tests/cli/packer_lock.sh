#!/bin/sh
# tests/cli/packer_lock.sh -- two writers of one layout: the second fails at
# once with the lock message, the first finishes.
#
# The first writer is held in the middle of its run, with the layout
# locked: strace stops the process reading the big layer's blob at its
# first read, until the test sends SIGCONT.  That is deterministic where a
# merely big layer would be a race against the machine's speed.  (A FIFO
# as the blob no longer works: layer blobs must be regular files.)
#   1. `soci create` holds the lock; a second `soci create`, `soci-pack`
#      (the pipeline's writing stage) and `soci index rm` each fail within
#      seconds with exactly one line, the lock message, and change nothing;
#   2. the reader is let go on: the first create succeeds, and with the real blob
#      back the layout equals one indexed without a race;
#   3. the same with the pipeline as the first writer and `soci create`
#      as the second.
. "$ROOT/tests/cli/lib/packer.sh"

# small layers, all indexed (--min-layer-size 1000): strace does the holding
need strace
# LeakSanitizer cannot run under ptrace: in a sanitizer build, no leak check here
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export ASAN_OPTIONS
sample "$TMP/base" t --big-mib 3
M="--min-layer-size 1000"
big=$(layer_digests "$TMP/base" t | sed -n 2p)
cp "$(blob "$TMP/base" "$big")" "$TMP/big.blob"
cp -a "$TMP/base" "$TMP/ref"
"$SOCI" create -q $M "oci:$TMP/ref:t" || die "create on the reference copy failed"

# second_writers DIR: run the writers that must be refused while DIR is locked
second_writers() {
    d=$1
    snap "$d" >"$TMP/before"
    for w in create soci-pack index-rm; do
        start=$(date +%s)
        case $w in
        create) timeout 20 "$SOCI" create "oci:$d:t" </dev/null >/dev/null 2>"$TMP/err" ;;
        soci-pack) timeout 20 "$PACK" "oci:$d:t" </dev/null >/dev/null 2>"$TMP/err" ;;
        index-rm) timeout 20 "$SOCI" index rm --layout "$d" --ref t </dev/null >/dev/null 2>"$TMP/err" ;;
        esac
        rc=$?
        took=$(($(date +%s) - start))
        [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "second $w: exit $rc, want a failure (124: it waited)"
        [ $took -le 5 ] || fail "second $w took ${took}s: it should fail at once"
        one_line "$TMP/err" "second $w" "locked by another soci process" && echo "second $w: $(cat "$TMP/err")"
    done
    snap "$d" >"$TMP/after"
    cmp -s "$TMP/before" "$TMP/after" || fail "the refused writers changed the layout"
}

for first in create pipeline; do
    d=$TMP/race.$first
    cp -a "$TMP/base" "$d"
    bp=$(blob "$d" "$big")
    if [ $first = create ]; then
        stop_at_read "$bp" "$SOCI" create $M "oci:$d:t" </dev/null >"$TMP/first.out" 2>"$TMP/first.err" &
    else
        sh -c '"$1" "oci:$4:t" </dev/null | strace -f -qq -o /dev/null -P "$6" -e trace=read \
            -e inject=read:signal=STOP:when=1 "$2" -q $5 | "$3" "oci:$4:t"' sh "$LAYERS" "$ZG" "$PACK" "$d" "$M" "$bp" \
            >"$TMP/first.out" 2>"$TMP/first.err" &
    fi
    pid=$!
    wait_locked "$d" $pid || die "$first: the first writer never took the lock: $(cat "$TMP/first.err")"
    second_writers "$d"
    # let the first one go on
    cont_below $pid
    wait_pid $pid 30 || fail "$first: the first writer did not finish"
    [ "$wrc" -eq 0 ] || fail "$first: the first writer failed ($wrc): $(cat "$TMP/first.err")"
    [ -s "$TMP/first.err" ] && fail "$first: the first writer wrote to stderr: $(cat "$TMP/first.err")"
    grep -q "^layer sha256:${big#sha256:} -> ztoc " "$TMP/first.out" || fail "$first: no ztoc line: $(cat "$TMP/first.out")"
    diff -r "$TMP/ref" "$d" >"$TMP/diff" || { fail "$first: the layout differs from an unraced one"; head "$TMP/diff"; }
    locked "$d" && fail "$first: the layout is still locked"
done
finish
