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
#
# A skip is not always allowed: where the machine can run the mounter (root,
# /dev/fuse, fusermount3), a mount test that skips (cli/mount_*, or any test
# sourcing lib/mount.sh) counts as a failure; where it also has containerd and
# runc, so does an integration test that skips.  CI must never be green with
# the mounter untested.  SOCI_TEST_ALLOW_SKIP=1 turns this off;
# SOCI_TEST_DIR runs the shell tests of another tree (the runner's own test).
set -u
BIN=$(cd "${1:?usage: run.sh BIN_DIR [PATTERN]}" && pwd)
PATTERN=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/tests/out
TIMEOUT=${TEST_TIMEOUT:-900}
TESTS=${SOCI_TEST_DIR:-$ROOT/tests}
mkdir -p "$OUT"
passed=0 failed=0 skipped=0
can_mount=0 can_ctr=0
if [ "${SOCI_TEST_ALLOW_SKIP:-0}" != 1 ] && [ "$(id -u)" = 0 ] && [ -c /dev/fuse ] &&
    command -v fusermount3 >/dev/null 2>&1; then
    can_mount=1
    command -v containerd >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 && can_ctr=1
fi

# must_run NAME FILE: may this test not skip here?
must_run() {
    case "$1" in
    cli/mount_*) [ $can_mount = 1 ] ;;
    integration/*) [ $can_ctr = 1 ] ;;
    *) [ $can_mount = 1 ] && [ -f "$2" ] && grep -q 'lib/mount\.sh' "$2" ;;
    esac
}
export BIN ROOT

run_one() {
    name=$1; shift
    file=${2:-}
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
    elif [ $rc -eq 77 ] && must_run "$name" "$file"; then
        failed=$((failed+1))
        echo "FAIL $name (skipped on a machine that can run it: $(tail -n 1 "$log"))"
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
    for t in "$TESTS"/$dir/*.sh; do
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
