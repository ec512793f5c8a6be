#!/bin/sh
# scripts/registry.sh -- a throwaway OCI registry (Debian's docker-registry,
# distribution 2.8.2) on 127.0.0.1, for tests and benchmarks.
#
#   scripts/registry.sh start DIR [--htpasswd FILE] [--tls CERT KEY]
#   scripts/registry.sh stop DIR
#
# start: serves plain HTTP on 127.0.0.1 at a free port, storage under
#   DIR/storage, deletes enabled; with --htpasswd, Basic auth against FILE
#   (bcrypt entries: `htpasswd -Bbn USER PASS >FILE`); with --tls, HTTPS with
#   that PEM certificate and key instead of plain HTTP.  Writes DIR/config.yml,
#   DIR/port (the port), DIR/pid (the server's pid) and DIR/log, prints the
#   port on stdout, and returns once `GET http://127.0.0.1:PORT/v2/` answers
#   (200, or 401 with auth) -- at most about 10 seconds, else it stops the
#   server and fails.  DIR is created if missing.  With REGISTRY_ACCESS_LOG=1
#   in the environment, DIR/log also gets the info-level log and one access
#   log line per request (combined log format: method, path, status, bytes).
# stop: kills the server named by DIR/pid and waits (bounded) until it is
#   gone; a no-op when DIR/pid is missing.  Exit 0 on success.
#
# Clients: skopeo copy ... docker://127.0.0.1:PORT/REPO:TAG --dest-tls-verify=false
# (and --src-tls-verify=false); curl http://127.0.0.1:PORT/v2/...  The
# registry answers a manifest GET/HEAD without an OCI Accept header with 404,
# and has no referrers API (so pushes use the fallback tag, docs/format.md §4.8).
set -u

usage() {
    echo "usage: registry.sh start DIR [--htpasswd FILE] [--tls CERT KEY] | registry.sh stop DIR" >&2
    exit 2
}

. "$(dirname "$0")/proc.sh" # alive, stop_pid

stop() {
    dir=$1
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    case "$pid" in '' | *[!0-9]*) rm -f "$dir/pid"; return 0 ;; esac
    stop_pid "$pid" 50
    rm -f "$dir/pid"
    ! alive "$pid"
}

free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

start() {
    dir=$1
    htpasswd=${2:-}
    cert=${3:-} key=${4:-}
    proto=http
    command -v docker-registry >/dev/null 2>&1 || { echo "registry.sh: docker-registry is not installed" >&2; return 1; }
    mkdir -p "$dir/storage" || return 1
    dir=$(cd "$dir" && pwd)
    if [ -n "$htpasswd" ]; then
        [ -r "$htpasswd" ] || { echo "registry.sh: cannot read $htpasswd" >&2; return 1; }
        htpasswd=$(cd "$(dirname "$htpasswd")" && pwd)/$(basename "$htpasswd")
    fi
    if [ -n "$cert" ]; then
        [ -r "$cert" ] && [ -r "$key" ] || { echo "registry.sh: cannot read $cert or $key" >&2; return 1; }
        cert=$(cd "$(dirname "$cert")" && pwd)/$(basename "$cert")
        key=$(cd "$(dirname "$key")" && pwd)/$(basename "$key")
        proto=https
    fi
    stop "$dir"
    attempt=0
    while [ $attempt -lt 3 ]; do
        attempt=$((attempt + 1))
        port=$(free_port) || return 1
        {
            echo "version: 0.1"
            echo "log:"
            if [ "${REGISTRY_ACCESS_LOG:-0}" = 1 ]; then
                echo "  level: info"
                echo "  accesslog:"
                echo "    disabled: false"
            else
                echo "  level: error"
                echo "  accesslog:"
                echo "    disabled: true"
            fi
            echo "storage:"
            echo "  filesystem:"
            echo "    rootdirectory: $dir/storage"
            echo "  delete:"
            echo "    enabled: true"
            echo "http:"
            echo "  addr: 127.0.0.1:$port"
            if [ -n "$cert" ]; then
                echo "  tls:"
                echo "    certificate: $cert"
                echo "    key: $key"
            fi
            if [ -n "$htpasswd" ]; then
                echo "auth:"
                echo "  htpasswd:"
                echo "    realm: soci-test"
                echo "    path: $htpasswd"
            fi
        } >"$dir/config.yml"
        docker-registry serve "$dir/config.yml" </dev/null >"$dir/log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/pid"
        echo "$port" >"$dir/port"
        i=0
        while [ $i -lt 100 ] && alive "$pid"; do
            code=$(curl -k -s -o /dev/null -m 2 -w '%{http_code}' "$proto://127.0.0.1:$port/v2/" 2>/dev/null)
            case "$code" in
            200 | 401)
                echo "$port"
                return 0
                ;;
            esac
            sleep 0.1
            i=$((i + 1))
        done
        stop "$dir"   # did not come up (port taken in between?): try another port
    done
    echo "registry.sh: docker-registry did not start; last log lines:" >&2
    tail -n 5 "$dir/log" >&2
    return 1
}

[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
case "$cmd" in
start)
    hp="" cert="" key=""
    while [ $# -gt 0 ]; do
        case "$1" in
        --htpasswd) [ $# -ge 2 ] || usage; hp=$2; shift 2 ;;
        --tls) [ $# -ge 3 ] || usage; cert=$2 key=$3; shift 3 ;;
        *) usage ;;
        esac
    done
    start "$dir" "$hp" "$cert" "$key"
    ;;
stop)
    [ $# -eq 0 ] || usage
    stop "$dir"
    ;;
*) usage ;;
esac
