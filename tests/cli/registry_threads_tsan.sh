#!/bin/sh
# tests/cli/registry_threads_tsan.sh -- the registry client under
# ThreadSanitizer: tests/unit/test_registry_threads.c (threads sharing one
# client while the registry challenges for Basic auth) built with
# clang -fsanitize=thread over the registry modules and what they use, run;
# it must pass its own checks and TSan must report nothing (any report
# makes the run exit non-zero: halt_on_error).
set -u
command -v clang >/dev/null 2>&1 || { echo "skip: clang is not installed"; exit 77; }
SRC="tests/unit/test_registry_threads.c lib/registry.c lib/registry_http.c lib/registry_auth.c
     lib/registry_ref.c lib/registry_range.c lib/sha256.c lib/fileio.c formats/error.c formats/strutil.c
     formats/digest.c"
cd "$ROOT" || exit 1
# shellcheck disable=SC2086
clang -O1 -g -fsanitize=thread -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread \
    -Iformats -Ilib $SRC -lcrypto -ljansson -lcurl -o "$TMP/threads_tsan" >"$TMP/build.log" 2>&1 || {
    echo "FAIL: the TSan build failed:"
    cat "$TMP/build.log"
    exit 1
}
TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" "$TMP/threads_tsan" >"$TMP/run.log" 2>&1
rc=$?
cat "$TMP/run.log"
if [ $rc -ne 0 ]; then
    grep -q "WARNING: ThreadSanitizer" "$TMP/run.log" && echo "FAIL: ThreadSanitizer reported a race (exit $rc)"
    echo "FAIL: test_registry_threads under TSan exited $rc"
    exit 1
fi
grep -q "ThreadSanitizer" "$TMP/run.log" && { echo "FAIL: ThreadSanitizer said something"; exit 1; }
echo "all checks passed (clean under ThreadSanitizer)"
