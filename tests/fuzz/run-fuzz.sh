#!/bin/sh
# tests/fuzz/run-fuzz.sh FUZZ_DIR SECONDS -- run every fuzz target in FUZZ_DIR
# for SECONDS each, seeded by make-seeds.sh, one line per target; fails if
# any target crashes, leaks, hangs or trips ASan/UBSan.
#
# Crashing inputs are kept in $FUZZ_ARTIFACTS (default tests/out/fuzz/);
# reproduce one with `FUZZ_DIR/fuzz_x ARTIFACT`.  Seeds are generated afresh
# each run (with real ztocs when a ztoc-gen is found: $ZTOC_GEN, or the
# build's bin/) and joined by the minimized corpus in tests/fuzz/corpus/; a corpus grown by earlier runs in $FUZZ_CORPUS (default
# tests/out/fuzz/corpus/) is reused and extended.
set -u
FUZZ_DIR=$(cd "${1:?usage: run-fuzz.sh FUZZ_DIR SECONDS}" && pwd)
SECONDS_EACH=${2:?usage: run-fuzz.sh FUZZ_DIR SECONDS}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ARTIFACTS=${FUZZ_ARTIFACTS:-$ROOT/tests/out/fuzz}
CORPUS=${FUZZ_CORPUS:-$ROOT/tests/out/fuzz/corpus}
. "$ROOT/tests/fuzz/fuzz-lib.sh"
ZTOC_GEN=$(find_ztoc_gen "$FUZZ_DIR" "$ROOT")

WORK=$(mktemp -d /tmp/soci-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir -p "$ARTIFACTS" "$CORPUS"
sh "$ROOT/tests/fuzz/make-seeds.sh" "$WORK/seeds" "$ZTOC_GEN" >"$WORK/seeds.log" 2>&1 ||
    { echo "make-seeds.sh failed:"; cat "$WORK/seeds.log"; exit 1; }

passed=0 failed=0
for bin in "$FUZZ_DIR"/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    name=$(basename "$bin")
    corpus=$CORPUS/$name
    mkdir -p "$corpus"
    seeds=$WORK/seeds/$name
    [ -d "$seeds" ] || seeds=
    # the minimized corpus kept in the repository (tests/fuzz/corpus/)
    [ -d "$ROOT/tests/fuzz/corpus/$name" ] && seeds="$seeds $ROOT/tests/fuzz/corpus/$name"
    log=$ARTIFACTS/$name.log
    "$bin" -max_total_time="$SECONDS_EACH" -max_len="$(max_len_of "$name")" -timeout=20 \
        -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$name-" \
        "$corpus" $seeds >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name (${SECONDS_EACH}s, ${runs:-?} runs, cov ${cov:-?})"
    else
        failed=$((failed + 1))
        what=$(failure_of "$log")
        art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        echo "FAIL $name (exit $rc): ${what:-see $log}${art:+; input saved as $art}"
    fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
