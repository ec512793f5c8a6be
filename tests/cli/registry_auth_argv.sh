#!/bin/sh
# tests/cli/registry_auth_argv.sh -- the password given with --user U:SECRET
# is not visible to other processes while soci works.  soci talks to the
# registry through tests/cli/fault_proxy.py, which holds one request back
# for a few seconds ("slow"), so the process is caught mid-work after it has
# authenticated: then neither /proc/PID/cmdline nor `ps -ww -o args -p PID`
# contains SECRET, while both still show --user U:.  The work then ends
# normally and nothing soci prints contains SECRET.
#   1. soci push, held at its manifest PUT (after every blob went up with
#      the credentials: the proxy's log shows the config blob's requests);
#   2. remote soci create, held at its first layer GET (after the manifest
#      GET, which needs the credentials).
# (soci refuses FIFOs and other non-regular files as blobs, so a FIFO can
# no longer hold it up; a slow registry can.)
. "$ROOT/tests/cli/lib/regfault.sh"
need htpasswd ps

U=bob
SECRET=Secret-c0ffee42d15ea5e
HOLD=6
htpasswd -Bbn -C 4 "$U" "$SECRET" >"$TMP/htpasswd" 2>/dev/null || die "htpasswd failed"
start_registry "$TMP/reg" "$TMP/htpasswd"
start_fault_proxy "$TMP/x" "$REG"
sample_indexed "$TMP/img" t
unset SOCI_REGISTRY_PASSWORD DOCKER_CONFIG
export HOME="$TMP"
config=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["digest"])' \
    "$(blob "$TMP/img" "$(tagged "$TMP/img" t)")")

# watch PID WHAT PATTERN: wait (at most ~20 s) until the proxy has logged a
# request matching PATTERN (so PID has authenticated) while PID still runs,
# held by the slow rule; then check PID's argv as other processes see it
watch() {
    _pid=$1 _what=$2
    _i=0
    while ! grep -qE -- "$3" "$XDIR/log" 2>/dev/null && [ $_i -lt 400 ]; do
        kill -0 "$_pid" 2>/dev/null || break
        sleep 0.05
        _i=$((_i + 1))
    done
    grep -qE -- "$3" "$XDIR/log" 2>/dev/null || { fail "$_what: no request matching $3 reached the registry"; return 1; }
    kill -0 "$_pid" 2>/dev/null || { fail "$_what: ended before it could be watched (the slow rule did not hold it)"; return 1; }
    tr '\0' ' ' <"/proc/$_pid/cmdline" >"$TMP/cmdline"
    ps -ww -o args= -p "$_pid" >"$TMP/ps"
    grep -q -- "--user $U:" "$TMP/cmdline" || fail "$_what: /proc/PID/cmdline is not soci's: $(cat "$TMP/cmdline")"
    grep -q -- "--user $U:" "$TMP/ps" || fail "$_what: ps does not show soci's arguments: $(cat "$TMP/ps")"
    grep -qF -- "$SECRET" "$TMP/cmdline" && fail "$_what: the password is in /proc/PID/cmdline: $(cat "$TMP/cmdline")"
    grep -qF -- "$SECRET" "$TMP/ps" && fail "$_what: ps shows the password: $(cat "$TMP/ps")"
    return 0
}

# 1. push, held at the manifest PUT
faults "{\"rules\": [{\"match\": \"^PUT /v2/repo/manifests/\", \"action\": \"slow\", \"delay\": $HOLD, \"count\": 1}]}"
"$SOCI" push --user "$U:$SECRET" oci:"$TMP/img":t "$XREG/repo:t" >"$TMP/push.out" 2>"$TMP/push.err" &
pid=$!
watch $pid "push" "/v2/repo/blobs/.*$config"
wait_pid $pid $((HOLD + 30)) || fail "push did not end"
[ "$wrc" = 0 ] || fail "push through the slow proxy: exit $wrc: $(cat "$TMP/push.err")"
grep -qF -- "$SECRET" "$TMP/push.err" "$TMP/push.out" && fail "push: the password is in its output"
grep -q "PUT /v2/repo/manifests/" "$XDIR/log" || fail "push: the proxy saw no manifest PUT (the hold was never used)"
code=$(curl -s -m 20 -o /dev/null -I -w '%{http_code}' -u "$U:$SECRET" "http://$REG/v2/repo/blobs/$config")
[ "$code" = 200 ] || fail "the push did not store the config blob (HTTP $code)"

# 2. soci create from the registry, held at its first layer GET
faults "{\"rules\": [{\"match\": \"^GET /v2/repo/blobs/\", \"action\": \"slow\", \"delay\": $HOLD, \"count\": 1}]}"
: >"$XDIR/log"
"$SOCI" create -q --min-layer-size $MIN --layout "$TMP/L" --user "$U:$SECRET" "$XREG/repo:t" \
    >"$TMP/create.out" 2>"$TMP/create.err" &
pid=$!
watch $pid "create" "GET /v2/repo/manifests/"
wait_pid $pid $((HOLD + 60)) || fail "create did not end"
[ "$wrc" = 0 ] || fail "create through the slow proxy: exit $wrc: $(cat "$TMP/create.err")"
grep -qF -- "$SECRET" "$TMP/create.err" "$TMP/create.out" && fail "create: the password is in its output"
grep -rqF -- "$SECRET" "$TMP/L" && fail "create: the password is in the layout it wrote"
finish
