#!/bin/sh
# scripts/containerd.sh -- a throwaway containerd (Debian's containerd 1.6
# with runc) of its own, for tests and benchmarks.
#
#   scripts/containerd.sh start DIR [--soci SOCK]
#   scripts/containerd.sh stop DIR
#
# start: writes DIR/config.toml and runs `containerd --config` with root
#   DIR/root, state DIR/state, temp DIR/tmp, gRPC on the unix socket
#   DIR/containerd.sock (ttrpc beside it), no TCP listener at all, and the CRI
#   plugin disabled.  With --soci, a [proxy_plugins.soci] section (type
#   "snapshot", address SOCK) makes our snapshotter usable as
#   `--snapshotter soci`.  Writes DIR/pid and DIR/log, prints the socket path
#   on stdout, and returns once `ctr version` answers through it -- at most
#   about 20 seconds, else it stops containerd and fails.  DIR is created if
#   missing; a containerd still running from DIR/pid is stopped first.
# stop: kills every task of every namespace (ctr tasks kill -s KILL, then
#   rm), TERMs containerd (KILL after ~10 s) and waits until it is gone, ends
#   the runc shims this containerd started (found by their -address
#   argument, stopped by PID), then unmounts whatever is still mounted under
#   DIR (deepest first, lazily).  A no-op when DIR/pid is missing, except for
#   the shims and mounts.  Exit 0 when everything is gone.
#
# Clients: ctr -a DIR/containerd.sock -n NS ...; ctr-remote -a ... i rpull.
# With no soci daemon listening on SOCK, `ctr plugins ls` still shows the
# proxy plugin as ok: only its first call fails.
set -u

usage() {
    echo "usage: containerd.sh start DIR [--soci SOCK] | containerd.sh stop DIR" >&2
    exit 2
}

. "$(dirname "$0")/proc.sh" # alive, wait_gone, stop_pid

# shims SOCK: pids of the containerd-shim-runc-v2 processes serving the
# containerd on SOCK (their command line carries `-address SOCK`)
shims() {
    for p in /proc/[0-9]*; do
        c=$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
        case "$c" in
        *containerd-shim*" -address $1 "*) echo "${p#/proc/}" ;;
        esac
    done
}

# mounts_under DIR: mount points at or below DIR, deepest first
mounts_under() {
    awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print length($2), $2 }' /proc/self/mounts |
        sort -rn | cut -d' ' -f2-
}

# kill_tasks SOCK: every task of every namespace killed and deleted (bounded:
# ctr's own --timeout on each call)
kill_tasks() {
    sock=$1
    for ns in $(ctr -a "$sock" --timeout 5s namespaces ls -q 2>/dev/null); do
        tasks=$(ctr -a "$sock" -n "$ns" --timeout 5s tasks ls -q 2>/dev/null) || continue
        for t in $tasks; do
            ctr -a "$sock" -n "$ns" --timeout 5s tasks kill -a -s KILL "$t" >/dev/null 2>&1
        done
        for t in $tasks; do
            j=0
            while [ $j -lt 50 ]; do
                ctr -a "$sock" -n "$ns" --timeout 5s tasks rm -f "$t" >/dev/null 2>&1 && break
                sleep 0.1
                j=$((j + 1))
            done
        done
    done
}

stop() {
    dir=$1
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    sock=$dir/containerd.sock
    ok=0
    if [ -f "$dir/pid" ]; then
        pid=$(cat "$dir/pid")
        case "$pid" in
        '' | *[!0-9]*) ;;
        *)
            alive "$pid" && [ -S "$sock" ] && kill_tasks "$sock"
            stop_pid "$pid" 100 || { echo "containerd.sh: containerd $pid did not exit" >&2; ok=1; }
            ;;
        esac
        rm -f "$dir/pid"
    fi
    for p in $(shims "$sock"); do
        stop_pid "$p" 30 || { echo "containerd.sh: shim $p did not exit" >&2; ok=1; }
    done
    for m in $(mounts_under "$dir"); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
            { echo "containerd.sh: could not unmount $m" >&2; ok=1; }
    done
    return $ok
}

start() {
    dir=$1 soci=$2
    for t in containerd ctr runc; do
        command -v $t >/dev/null 2>&1 || { echo "containerd.sh: $t is not installed" >&2; return 1; }
    done
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    stop "$dir" || return 1
    mkdir -p "$dir/root" "$dir/state" "$dir/tmp" "$dir/opt" || return 1
    sock=$dir/containerd.sock
    # a unix socket path holds at most 107 bytes
    [ ${#sock} -lt 100 ] || { echo "containerd.sh: $sock is too long for a unix socket" >&2; return 1; }
    {
        echo "version = 2"
        echo "root = \"$dir/root\""
        echo "state = \"$dir/state\""
        echo "temp = \"$dir/tmp\""
        echo "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]"
        echo ""
        echo "[grpc]"
        echo "  address = \"$sock\""
        echo "  tcp_address = \"\""
        echo "[ttrpc]"
        echo "  address = \"$sock.ttrpc\""
        echo "[debug]"
        echo "  address = \"\""
        echo "  level = \"info\""
        echo "[metrics]"
        echo "  address = \"\""
        echo ""
        echo "[plugins.\"io.containerd.internal.v1.opt\"]"
        echo "  path = \"$dir/opt\""
        if [ -n "$soci" ]; then
            echo ""
            echo "[proxy_plugins.soci]"
            echo "  type = \"snapshot\""
            echo "  address = \"$soci\""
        fi
    } >"$dir/config.toml"
    containerd --config "$dir/config.toml" </dev/null >"$dir/log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    i=0
    while [ $i -lt 200 ] && alive "$pid"; do
        if [ -S "$sock" ] && ctr -a "$sock" --timeout 2s version >/dev/null 2>&1; then
            echo "$sock"
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "containerd.sh: containerd did not answer on $sock; last log lines:" >&2
    tail -n 5 "$dir/log" >&2
    stop "$dir"
    return 1
}

[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
case "$cmd" in
start)
    soci=""
    while [ $# -gt 0 ]; do
        case "$1" in
        --soci) [ $# -ge 2 ] || usage; soci=$2; shift 2 ;;
        *) usage ;;
        esac
    done
    start "$dir" "$soci"
    ;;
stop)
    [ $# -eq 0 ] || usage
    stop "$dir"
    ;;
*) usage ;;
esac
