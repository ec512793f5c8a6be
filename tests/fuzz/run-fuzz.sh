#!/bin/sh
# tests/fuzz/run-fuzz.sh FUZZ_DIR SECONDS -- run every fuzz target in FUZZ_DIR
# for SECONDS each, seeded by make-seeds.sh, one line per target; fails if
# any target crashes, leaks, hangs or trips ASan/UBSan.
#
# Crashing inputs are kept in $FUZZ_ARTIFACTS (default tests/out/fuzz/);
# reproduce one with `FUZZ_DIR/fuzz_x ARTIFACT`.  Seeds are generated afresh
# each run (with real ztocs when a ztoc-gen is found: $ZTOC_GEN, or the
# build's bin/); a corpus grown by earlier runs in $FUZZ_CORPUS (default
# tests/out/fuzz/corpus/) is reused and extended.
set -u
FUZZ_DIR=$(cd "${1:?usage: run-fuzz.sh FUZZ_DIR SECONDS}" && pwd)
SECONDS_EACH=${2:?usage: run-fuzz.sh FUZZ_DIR SECONDS}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ARTIFACTS=${FUZZ_ARTIFACTS:-$ROOT/tests/out/fuzz}
CORPUS=${FUZZ_CORPUS:-$ROOT/tests/out/fuzz/corpus}
ZTOC_GEN=${ZTOC_GEN:-}
[ -n "$ZTOC_GEN" ] || for c in "$FUZZ_DIR/../bin/ztoc-gen" "$ROOT/build/bin/ztoc-gen" "$ROOT/build/san/bin/ztoc-gen"; do
    [ -x "$c" ] && { ZTOC_GEN=$c; break; }
done

# input size limits: tar streams and layers of a few dozen blocks; ztocs
# big enough for two 32 KiB checkpoint windows
max_len_of() {
    case "$1" in
    fuzz_ztoc_decode) echo 70000 ;;
    fuzz_layer_index) echo 65536 ;;
    *) echo 32768 ;;
    esac
}

WORK=$(mktemp -d /tmp/soci-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir -p "$ARTIFACTS" "$CORPUS"
sh "$ROOT/tests/fuzz/make-seeds.sh" "$WORK/seeds" "$ZTOC_GEN" >"$WORK/seeds.log" 2>&1 ||
    { echo "make-seeds.sh failed:"; cat "$WORK/seeds.log"; exit 1; }

# UBSan reports must stop the run, not scroll past
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

passed=0 failed=0
for bin in "$FUZZ_DIR"/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    name=$(basename "$bin")
    corpus=$CORPUS/$name
    mkdir -p "$corpus"
    seeds=$WORK/seeds/$name
    [ -d "$seeds" ] || seeds=
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
        what=$(grep -m 1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|.*deadly signal|.*-timeout|.*out-of-memory)' "$log")
        art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        echo "FAIL $name (exit $rc): ${what:-see $log}${art:+; input saved as $art}"
    fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
