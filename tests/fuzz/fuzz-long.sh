#!/bin/sh
# tests/fuzz/fuzz-long.sh FUZZ_DIR -- the long fuzz run (`make -C build
# fuzz-long`): every target in FUZZ_DIR, one at a time, until FUZZ_RUNS
# executions (default 10,000,000) or FUZZ_MAX_TIME seconds (default 3600),
# whichever comes first.  Seeds: the minimized corpus kept in the repository
# (tests/fuzz/corpus/<target>/) and make-seeds.sh's.  Fails if any target
# crashes, leaks, hangs or trips ASan/UBSan.
#
#   FUZZ_TARGETS="fuzz_a fuzz_b"  only these targets
#   FUZZ_NICE=19                  run under nice (the machine is shared)
#   FUZZ_TIMEOUT=20               seconds one input may take (a run paused with
#                                 SIGSTOP for longer needs more: the clock is the wall's)
#   FUZZ_MERGE=1                  afterwards, re-minimize tests/fuzz/corpus/<target>/
#                                 (-merge=1) from itself, the seeds and what this run found
#
# One line per target with what bench/results/fuzz.md records: executions,
# exec/s, seconds, corpus size (files, bytes), peak RSS.  New inputs are
# kept in $FUZZ_CORPUS/<target>/ (default tests/out/fuzz/long/), crashing
# ones in $FUZZ_ARTIFACTS (default tests/out/fuzz/); reproduce a crash with
# `FUZZ_DIR/fuzz_x ARTIFACT`.
set -u
FUZZ_DIR=$(cd "${1:?usage: fuzz-long.sh FUZZ_DIR}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/fuzz/fuzz-lib.sh"
RUNS=${FUZZ_RUNS:-10000000}
MAX_TIME=${FUZZ_MAX_TIME:-3600}
NICE=${FUZZ_NICE:-19}
TIMEOUT=${FUZZ_TIMEOUT:-20}
ARTIFACTS=${FUZZ_ARTIFACTS:-$ROOT/tests/out/fuzz}
CORPUS=${FUZZ_CORPUS:-$ROOT/tests/out/fuzz/long}
KEPT=$ROOT/tests/fuzz/corpus
ZTOC_GEN=$(find_ztoc_gen "$FUZZ_DIR" "$ROOT")

WORK=$(mktemp -d /tmp/soci-fuzz-long.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir -p "$ARTIFACTS" "$CORPUS"
sh "$ROOT/tests/fuzz/make-seeds.sh" "$WORK/seeds" "$ZTOC_GEN" >"$WORK/seeds.log" 2>&1 ||
    { echo "make-seeds.sh failed:"; cat "$WORK/seeds.log"; exit 1; }

targets=${FUZZ_TARGETS:-$(cd "$FUZZ_DIR" && ls fuzz_* 2>/dev/null)}
echo "$(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores: up to $RUNS runs or ${MAX_TIME}s per target"
passed=0 failed=0
for name in $targets; do
    bin=$FUZZ_DIR/$name
    [ -x "$bin" ] && [ -f "$bin" ] || { echo "FAIL $name: no such target in $FUZZ_DIR"; failed=$((failed + 1)); continue; }
    found=$CORPUS/$name
    mkdir -p "$found" "$KEPT/$name"
    seeds=$WORK/seeds/$name
    [ -d "$seeds" ] || { mkdir -p "$seeds"; echo "note: make-seeds.sh wrote no seeds for $name"; }
    log=$ARTIFACTS/$name.long.log
    start=$(date +%s)
    # new inputs go to the first directory; the kept corpus is only read
    nice -n "$NICE" "$bin" -runs="$RUNS" -max_total_time="$MAX_TIME" -max_len="$(max_len_of "$name")" \
        -timeout="$TIMEOUT" -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$name-" \
        "$found" "$KEPT/$name" "$seeds" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    if [ $rc -ne 0 ]; then
        failed=$((failed + 1))
        art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        echo "FAIL $name (exit $rc, ${secs}s, ${runs:-?} runs): $(failure_of "$log")${art:+; input saved as $art}"
        continue
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        rm -rf "$WORK/merged" && mkdir "$WORK/merged"
        nice -n "$NICE" "$bin" -merge=1 -max_len="$(max_len_of "$name")" -timeout=20 -rss_limit_mb=2560 \
            "$WORK/merged" "$KEPT/$name" "$seeds" "$found" >"$log.merge" 2>&1 ||
            { echo "FAIL $name: -merge=1 failed (see $log.merge)"; failed=$((failed + 1)); continue; }
        rm -rf "${KEPT:?}/$name" && mv "$WORK/merged" "$KEPT/$name"
    fi
    files=$(find "$KEPT/$name" -type f | wc -l)
    bytes=$(du -sb "$KEPT/$name" | cut -f 1)
    passed=$((passed + 1))
    echo "PASS $name: ${runs:-?} runs, ${eps:-?} exec/s, ${secs}s, cov ${cov:-?}, corpus $files files $bytes bytes, peak RSS ${rss:-?} MB, 0 crashes"
done
echo "$(date -u +%Y-%m-%dT%H:%MZ) $passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
