#!/bin/sh
# scripts/snapshotter.sh -- our containerd proxy snapshotter
# (soci-snapshotter-grpc) as a throwaway daemon, for tests and benchmarks.
#
#   scripts/snapshotter.sh start DIR [--config FILE] [--bin PATH]
#   scripts/snapshotter.sh stop DIR [--int]
#
# start: runs `soci-snapshotter-grpc --address DIR/soci.sock --root DIR/root
#   --log-level debug [--config FILE]` with its output in DIR/log (appended:
#   a restart keeps the earlier run's lines), writes DIR/pid, prints the
#   socket path on stdout, and returns once the socket accepts a connection
#   -- at most about 30 seconds, else it stops the daemon and fails.  The
#   program is PATH (--bin), else $SOCI_SNAPSHOTTER, else
#   build/bin/soci-snapshotter-grpc of this repository.  DIR is created if
#   missing; a daemon still running from DIR/pid is stopped (TERM) first.
#   It listens on the unix socket only.
# stop: TERM (the daemon exits and leaves its lazily mounted layers
#   serving, for the next start to take over) or, with --int, INT (it
#   unmounts every layer and cleans up first); waits up to ~30 s, then KILLs
#   it and says so on stderr.  A no-op when DIR/pid is missing.  Exit 0 when
#   the daemon ended by itself on the signal, 1 when it had to be killed.
#   The mount processes and mounts it leaves are not touched here: the
#   caller decides (tests/integration/lib/integration.sh cleans them up).
set -u

usage() {
    echo "usage: snapshotter.sh start DIR [--config FILE] [--bin PATH] | snapshotter.sh stop DIR [--int]" >&2
    exit 2
}

. "$(dirname "$0")/proc.sh" # alive, wait_gone

# accepts SOCK: a unix stream connection to SOCK succeeds now
accepts() {
    /usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)' "$1"
}

stop() {
    dir=$1 sig=$2
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    case "$pid" in '' | *[!0-9]*) rm -f "$dir/pid"; return 0 ;; esac
    alive "$pid" || { rm -f "$dir/pid"; return 0; }
    kill -"$sig" "$pid" 2>/dev/null
    rc=0
    if ! wait_gone "$pid" 300; then
        echo "snapshotter.sh: soci-snapshotter-grpc $pid did not exit 30 s after SIG$sig; killing it" >&2
        kill -9 "$pid" 2>/dev/null
        wait_gone "$pid" 50 || return 1
        rc=1
    fi
    rm -f "$dir/pid"
    return $rc
}

start() {
    dir=$1 config=$2 bin=$3
    [ -x "$bin" ] || { echo "snapshotter.sh: $bin is missing (make -C build all)" >&2; return 1; }
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    stop "$dir" TERM
    sock=$dir/soci.sock
    [ ${#sock} -lt 100 ] || { echo "snapshotter.sh: $sock is too long for a unix socket" >&2; return 1; }
    rm -f "$sock"
    set -- --address "$sock" --root "$dir/root" --log-level debug
    [ -z "$config" ] || set -- "$@" --config "$config"
    echo "== $(date -u +%H:%M:%S.%N) snapshotter.sh start: $bin $*" >>"$dir/log"
    "$bin" "$@" </dev/null >>"$dir/log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    i=0
    while [ $i -lt 300 ] && alive "$pid"; do
        if [ -S "$sock" ] && accepts "$sock"; then
            echo "$sock"
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    if alive "$pid"; then
        echo "snapshotter.sh: $sock does not accept connections after 30 s; last log lines:" >&2
    else
        wait "$pid" 2>/dev/null
        echo "snapshotter.sh: soci-snapshotter-grpc exited with status $? before listening; last log lines:" >&2
    fi
    tail -n 5 "$dir/log" >&2
    stop "$dir" TERM
    return 1
}

[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
case "$cmd" in
start)
    config="" bin=${SOCI_SNAPSHOTTER:-$(cd "$(dirname "$0")/.." && pwd)/build/bin/soci-snapshotter-grpc}
    while [ $# -gt 0 ]; do
        case "$1" in
        --config) [ $# -ge 2 ] || usage; config=$2; shift 2 ;;
        --bin) [ $# -ge 2 ] || usage; bin=$2; shift 2 ;;
        *) usage ;;
        esac
    done
    start "$dir" "$config" "$bin"
    ;;
stop)
    sig=TERM
    case "${1:-}" in
    --int) sig=INT; shift ;;
    esac
    [ $# -eq 0 ] || usage
    stop "$dir" "$sig"
    ;;
*) usage ;;
esac
