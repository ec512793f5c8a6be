#!/bin/sh
# bench/run.sh BIN_DIR [NAME...] -- run the benchmarks, each one side by side
# with its peers, and record the results in bench/results/NAME.md.
#
# `make -C build bench` calls this with the freshly built programs.  Every
# bench/NAME.sh but this one is a benchmark taking BIN_DIR; with names, only
# those run.  Inputs are built once from this machine's own files and cached
# in bench/work/ (not in git).  A benchmark exits 0 when it measured
# everything, even if a target was missed (the results file says so);
# BENCH_STRICT=1 makes a missed target fail too.
set -eu
BIN=$(cd "${1:?usage: bench/run.sh BIN_DIR [NAME...]}" && pwd)
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)

known=""
for f in "$ROOT"/bench/*.sh; do
    name=$(basename "$f" .sh)
    [ "$name" = run ] || known="$known $name"
done
[ $# -gt 0 ] || set -- $known

status=0
for name in "$@"; do
    case " $known " in
    *" $name "*) ;;
    *) echo "bench/run.sh: unknown benchmark \"$name\" (known:$known)" >&2; exit 2 ;;
    esac
    echo "== bench $name"
    script=$ROOT/bench/$name.sh
    if [ -x "$script" ]; then
        "$script" "$BIN" || status=1 # its own #! line (some need bash)
    else
        sh "$script" "$BIN" || status=1
    fi
done
exit $status
