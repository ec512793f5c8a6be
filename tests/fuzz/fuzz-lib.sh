# tests/fuzz/fuzz-lib.sh -- what run-fuzz.sh and fuzz-long.sh share (sourced).

# input size limits: tar streams and layers of a few dozen blocks; ztocs
# big enough for two 32 KiB checkpoint windows
max_len_of() {
    case "$1" in
    fuzz_ztoc_decode) echo 70000 ;;
    fuzz_layer_index) echo 65536 ;;
    *) echo 32768 ;;
    esac
}

# UBSan reports must stop the run, not scroll past
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

# find_ztoc_gen FUZZ_DIR ROOT: a built ztoc-gen for real ztoc seeds, or ""
find_ztoc_gen() {
    [ -n "${ZTOC_GEN:-}" ] && { echo "$ZTOC_GEN"; return; }
    for c in "$1/../bin/ztoc-gen" "$2/build/bin/ztoc-gen" "$2/build/san/bin/ztoc-gen"; do
        [ -x "$c" ] && { echo "$c"; return; }
    done
}

# failure_of LOG: the first line saying why a run failed
failure_of() {
    grep -m 1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|.*deadly signal|.*-timeout|.*out-of-memory)' "$1"
}
