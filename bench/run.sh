#!/bin/sh
# bench/run.sh BIN_DIR [NAME...] -- run the benchmarks, each one side by side
# with its peers, and record the results in bench/results/NAME.md.
#
# `make -C build bench` calls this with the freshly built programs.  With
# names, only those benchmarks run.  Inputs are built once from this
# machine's own files and cached in bench/work/ (not in git).  A benchmark
# exits 0 when it measured everything, even if a target was missed (the
# results file says so); BENCH_STRICT=1 makes a missed target fail too.
set -eu
BIN=$(cd "${1:?usage: bench/run.sh BIN_DIR [NAME...]}" && pwd)
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KNOWN="ztoc-gen"
[ $# -gt 0 ] || set -- $KNOWN

status=0
for name in "$@"; do
    case " $KNOWN " in
    *" $name "*) ;;
    *) echo "bench/run.sh: unknown benchmark \"$name\" (known: $KNOWN)" >&2; exit 2 ;;
    esac
    echo "== bench $name"
    sh "$ROOT/bench/$name.sh" "$BIN" || status=1
done
exit $status
