#!/bin/sh
# tests/run.sh BIN_DIR [PATTERN] -- run every test, one line each, then
# "N passed, N failed".
#
# Unit tests are the programs in BIN_DIR/tests/; shell tests are
# tests/cli/*.sh and tests/integration/*.sh, run with BIN (the programs),
# ROOT (the repository) and TMP (a fresh scratch directory) in the
# environment.  A shell test exits 0 to pass, 77 to skip (with a reason on
# its last line of output), anything else to fail.  Each test's output goes
# to tests/out/<name>.log; a failing test's last lines are shown.
set -u
BIN=$(cd "${1:?usage: run.sh BIN_DIR [PATTERN]}" && pwd)
PATTERN=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/tests/out
TIMEOUT=${TEST_TIMEOUT:-900}
mkdir -p "$OUT"
passed=0 failed=0 skipped=0
export BIN ROOT

run_one() {
    name=$1; shift
    case "$name" in *"$PATTERN"*) ;; *) return ;; esac
    log=$OUT/$name.log; mkdir -p "$(dirname "$log")"
    TMP=$(mktemp -d /tmp/soci-test.XXXXXX)
    export TMP
    start=$(date +%s.%N)
    timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    secs=$(awk "BEGIN{printf \"%.1f\", $end-$start}")
    rm -rf "$TMP"
    if [ $rc -eq 0 ]; then
        passed=$((passed+1)); echo "PASS $name (${secs}s)"
    elif [ $rc -eq 77 ]; then
        skipped=$((skipped+1)); echo "SKIP $name: $(tail -n 1 "$log")"
    else
        failed=$((failed+1)); echo "FAIL $name (exit $rc, ${secs}s)"
        tail -n 15 "$log" | sed 's/^/    | /'
    fi
}

for t in "$BIN"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "unit/$(basename "$t")" "$t"
done
for dir in cli integration; do
    for t in "$ROOT"/tests/$dir/*.sh; do
        [ -f "$t" ] || continue
        run_one "$dir/$(basename "$t" .sh)" sh "$t"
    done
done
if [ $skipped -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
