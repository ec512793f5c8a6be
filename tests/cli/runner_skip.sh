#!/bin/sh
# tests/cli/runner_skip.sh -- tests/run.sh does not let a mount or container
# test skip where the machine can run it.
#
# A fake tree (SOCI_TEST_DIR) holds four tests that all exit 77: a
# cli/mount_* test, a cli test sourcing lib/mount.sh, an integration test
# and a plain cli test.  With root, /dev/fuse and fusermount3 the first two
# must be reported FAIL (and the run exit non-zero), the integration one FAIL
# too when containerd and runc are installed, the plain one SKIP; with
# SOCI_TEST_ALLOW_SKIP=1 all four are SKIP and the run passes.
set -u
F=$TMP/tree
mkdir -p "$F/cli" "$F/integration" "$TMP/bin/tests"
for t in cli/mount_fake cli/plain_fake integration/ctr_fake; do
    printf 'echo "skip: pretending to lack something"\nexit 77\n' >"$F/$t.sh"
done
printf '# . "$ROOT/tests/cli/lib/mount.sh"\necho "skip: no FUSE here"\nexit 77\n' >"$F/cli/uses_mount_lib.sh"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# line OUT NAME: the runner's verdict word for NAME
verdict() { sed -n "s|^\([A-Z]*\) $2\b.*|\1|p" "$1"; }

SOCI_TEST_DIR=$F sh "$ROOT/tests/run.sh" "$TMP/bin" _fake >"$TMP/strict.out" 2>&1
strict_rc=$?
SOCI_TEST_DIR=$F sh "$ROOT/tests/run.sh" "$TMP/bin" uses_mount_lib >>"$TMP/strict.out" 2>&1
lib_rc=$?
SOCI_TEST_ALLOW_SKIP=1 SOCI_TEST_DIR=$F sh "$ROOT/tests/run.sh" "$TMP/bin" >"$TMP/lax.out" 2>&1
lax_rc=$?
cat "$TMP/strict.out" "$TMP/lax.out"

if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1; then
    [ "$(verdict "$TMP/strict.out" cli/mount_fake)" = FAIL ] || fail "a skipping cli/mount_* test was not a failure"
    [ "$(verdict "$TMP/strict.out" cli/uses_mount_lib)" = FAIL ] || fail "a skipping test sourcing lib/mount.sh was not a failure"
    [ $strict_rc != 0 ] && [ $lib_rc != 0 ] || fail "the run passed with the mounter untested"
    if command -v containerd >/dev/null 2>&1 && command -v runc >/dev/null 2>&1; then
        [ "$(verdict "$TMP/strict.out" integration/ctr_fake)" = FAIL ] || fail "a skipping integration test was not a failure"
    fi
else
    echo "note: no root/FUSE here: mount tests may skip"
    [ "$(verdict "$TMP/strict.out" cli/mount_fake)" = SKIP ] || fail "a mount test could not skip without FUSE"
fi
[ "$(verdict "$TMP/strict.out" cli/plain_fake)" = SKIP ] || fail "a plain test could not skip"
for t in cli/mount_fake cli/uses_mount_lib integration/ctr_fake cli/plain_fake; do
    [ "$(verdict "$TMP/lax.out" $t)" = SKIP ] || fail "with SOCI_TEST_ALLOW_SKIP=1, $t was not SKIP"
done
[ $lax_rc = 0 ] || fail "with SOCI_TEST_ALLOW_SKIP=1 the run failed (exit $lax_rc)"
[ $failures = 0 ] || exit 1
echo "all checks passed"
