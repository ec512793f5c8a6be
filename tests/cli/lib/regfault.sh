# tests/cli/lib/regfault.sh -- helpers for registry_bearer.sh,
# registry_referrers_api.sh and registry_faults.sh
#
# Sourced (POSIX sh).  Builds on tests/cli/lib/regtest.sh (registries through
# scripts/registry.sh, the sample image, stop_pid).  Adds the test-only
# servers of tests/cli/ -- token_server.py, referrers_proxy.py,
# fault_proxy.py -- and a docker-registry with token auth, all on 127.0.0.1,
# each on a free port it writes to a file; every one is stopped by its PID
# (bounded waits) when the test exits, before regtest.sh's registries.
. "$ROOT/tests/cli/lib/regtest.sh"

TOKEN_SERVER=$ROOT/tests/cli/token_server.py
FAULT_PROXY=$ROOT/tests/cli/fault_proxy.py
REFERRERS_PROXY=$ROOT/tests/cli/referrers_proxy.py
REGCHECK="$PY $LIB/registry_check.py"
ADD_BIG_LAYER="$PY $LIB/add_big_layer.py"

_srv_pids=""
_srv_cleanup() {
    for _p in $_srv_pids; do
        stop_pid "$_p"
    done
    _srv_pids=""
}
trap '_srv_cleanup; _cleanup' EXIT

# start_bg PORTFILE CMD...: run CMD (a server that writes its port to
# PORTFILE once it listens) in the background, its output in PORTFILE.log;
# wait at most 10 s for the port; sets BG_PORT and BG_PID
start_bg() {
    _pf=$1
    shift
    rm -f "$_pf"
    "$@" </dev/null >"$_pf.log" 2>&1 &
    BG_PID=$!
    _srv_pids="$_srv_pids $BG_PID"
    _i=0
    while [ ! -s "$_pf" ] && [ $_i -lt 200 ]; do
        kill -0 "$BG_PID" 2>/dev/null || die "$(basename "$2") died: $(tail -n 5 "$_pf.log")"
        sleep 0.05
        _i=$((_i + 1))
    done
    [ -s "$_pf" ] || die "$(basename "$2") did not start within 10 s"
    BG_PORT=$(cat "$_pf")
}

# start_fault_proxy DIR UPSTREAM: fault_proxy.py in front of UPSTREAM
# (127.0.0.1:PORT), control file DIR/faults (no faults yet), log DIR/log,
# DIR/connections the number of client connections so far; sets XREG
# (127.0.0.1:PORT of the proxy) and XDIR
start_fault_proxy() {
    mkdir -p "$1"
    XDIR=$1
    echo '{}' >"$XDIR/faults"
    start_bg "$XDIR/port" "$PY" "$FAULT_PROXY" --upstream "$2" --port-file "$XDIR/port" \
        --control "$XDIR/faults" --log "$XDIR/log" --connections "$XDIR/connections"
    XREG=127.0.0.1:$BG_PORT
}

# faults JSON [DIR]: the rules of the fault proxy started last (or of the
# one started with DIR) from now on (counters start again)
faults() {
    _fd=${2:-$XDIR}
    printf '%s\n' "$1" >"$_fd/faults.tmp" && mv "$_fd/faults.tmp" "$_fd/faults"
}

# injected: how many requests the fault proxy faulted since its log was last
# emptied (lines that are not "pass")
injected() {
    grep -c -v -e ' pass$' -e 'pass (nothing to truncate)$' -e 'pass (nothing to corrupt)$' \
        -e 'pass (nothing to trickle)$' "$XDIR/log" 2>/dev/null || true
}

# free_port: a port nothing listens on right now
free_port() {
    "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# start_token_registry DIR REALM CERT: docker-registry with token auth
# (service test-registry, issuer test-issuer, rootcertbundle CERT), storage
# under DIR; waits (at most 10 s) until GET /v2/ answers 401; sets REG, PORT
start_token_registry() {
    _d=$1
    mkdir -p "$_d/storage"
    _try=0
    while [ $_try -lt 3 ]; do
        _try=$((_try + 1))
        PORT=$(free_port)
        cat >"$_d/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $_d/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
auth:
  token:
    realm: $2
    service: test-registry
    issuer: test-issuer
    rootcertbundle: $3
EOF
        docker-registry serve "$_d/config.yml" </dev/null >"$_d/log" 2>&1 &
        _pid=$!
        _srv_pids="$_srv_pids $_pid"
        _i=0
        while [ $_i -lt 200 ] && kill -0 "$_pid" 2>/dev/null; do
            code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PORT/v2/" 2>/dev/null)
            if [ "$code" = 401 ]; then
                REG=127.0.0.1:$PORT
                return 0
            fi
            sleep 0.05
            _i=$((_i + 1))
        done
        stop_pid "$_pid"
    done
    die "docker-registry with token auth did not start: $(tail -n 5 "$_d/log")"
}

# timed OUT ERR CMD...: run CMD with stdout in OUT, stderr in ERR; sets rc
# and secs (wall time, one decimal)
timed() {
    _o=$1 _e=$2
    shift 2
    _t0=$(date +%s.%N)
    "$@" >"$_o" 2>"$_e"
    rc=$?
    _t1=$(date +%s.%N)
    secs=$(awk "BEGIN{printf \"%.1f\", $_t1-$_t0}")
}

# elapsed: seconds since this file was sourced (for the log)
_t_start=$(date +%s.%N)
elapsed() {
    awk "BEGIN{printf \"%.1f\", $(date +%s.%N)-$_t_start}"
}

# below SECS LIMIT: SECS < LIMIT (decimals allowed)
below() {
    awk "BEGIN{exit !($1 < $2)}"
}
