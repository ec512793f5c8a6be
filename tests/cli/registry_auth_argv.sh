#!/bin/sh
# tests/cli/registry_auth_argv.sh -- the password given with --user U:SECRET
# is not visible to other processes while soci works: during a push that has
# already authenticated and uploaded the image config (it is then held up
# reading a layer blob that is a FIFO), neither /proc/PID/cmdline nor
# `ps -ww -o args -p PID` contains SECRET, while both still show --user U:.
# Then the FIFO is opened and closed empty: the push fails with one line on
# stderr that does not contain SECRET either.  Same for soci create REG/...
# (held up by a FIFO as its --layout's index.json).
. "$ROOT/tests/cli/lib/regtest.sh"
need htpasswd ps mkfifo

U=bob
SECRET=Secret-c0ffee42d15ea5e
htpasswd -Bbn -C 4 "$U" "$SECRET" >"$TMP/htpasswd" 2>/dev/null || die "htpasswd failed"
start_registry "$TMP/reg" "$TMP/htpasswd"
sample_indexed "$TMP/img" t
unset SOCI_REGISTRY_PASSWORD DOCKER_CONFIG
export HOME="$TMP"

# the image's largest layer becomes a FIFO in a copy of the layout
cp -a "$TMP/img" "$TMP/slow"
layer=$(layer_digests "$TMP/img" t | tail -n 1)
rm -f "$(blob "$TMP/slow" "$layer")"
mkfifo "$(blob "$TMP/slow" "$layer")" || die "mkfifo failed"
config=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["digest"])' \
    "$(blob "$TMP/img" "$(tagged "$TMP/img" t)")")

# blocked PID: is PID's main thread waiting in open() for a FIFO's writer?
# (the kernel's wait_for_partner; else, sleeping in openat/open)
blocked() {
    _w=$(cat "/proc/$1/wchan" 2>/dev/null)
    [ "$_w" = wait_for_partner ] && return 0
    [ -n "$_w" ] && [ "$_w" != 0 ] && return 1
    case "$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null)" in 257 | 2) ;; *) return 1 ;; esac
    grep -q '^State:[[:space:]]*S' "/proc/$1/status" 2>/dev/null
}

# watch PID WHAT: wait (at most ~10 s) until PID blocks on the FIFO, then
# check its argv as other processes see it
watch() {
    _pid=$1 _what=$2
    _i=0
    while ! blocked "$_pid" && [ $_i -lt 200 ]; do
        kill -0 "$_pid" 2>/dev/null || break
        sleep 0.05
        _i=$((_i + 1))
    done
    blocked "$_pid" || { fail "$_what: never blocked on the FIFO"; return 1; }
    tr '\0' ' ' <"/proc/$_pid/cmdline" >"$TMP/cmdline"
    ps -ww -o args= -p "$_pid" >"$TMP/ps"
    grep -q -- "--user $U:" "$TMP/cmdline" || fail "$_what: /proc/PID/cmdline is not soci's: $(cat "$TMP/cmdline")"
    grep -q -- "--user $U:" "$TMP/ps" || fail "$_what: ps does not show soci's arguments: $(cat "$TMP/ps")"
    grep -qF -- "$SECRET" "$TMP/cmdline" && fail "$_what: the password is in /proc/PID/cmdline: $(cat "$TMP/cmdline")"
    grep -qF -- "$SECRET" "$TMP/ps" && fail "$_what: ps shows the password: $(cat "$TMP/ps")"
    return 0
}

# release PID FIFO: while PID lives (at most ~10 s), each time it waits for
# the FIFO's writer, open the FIFO for writing and close it at once
release() {
    _i=0
    while kill -0 "$1" 2>/dev/null && [ $_i -lt 200 ]; do
        if blocked "$1"; then
            timeout 5 sh -c ': >"$1"' sh "$2" || fail "could not open the FIFO $2 for writing"
        fi
        sleep 0.05
        _i=$((_i + 1))
    done
}

# 1. push, held up on the layer (after the config went up)
"$SOCI" push --user "$U:$SECRET" oci:"$TMP/slow":t "$REG/repo:t" >"$TMP/push.out" 2>"$TMP/push.err" &
pid=$!
watch $pid "push"
release $pid "$(blob "$TMP/slow" "$layer")"
wait_pid $pid 20 || fail "push did not end after the FIFO was released"
[ "$wrc" -ne 0 ] || fail "push of a layout with an empty layer blob: exit 0"
one_line "$TMP/push.err" "push with the layer blob a FIFO" "$layer"
grep -qF -- "$SECRET" "$TMP/push.err" "$TMP/push.out" && fail "push: the password is in its output"
code=$(curl -s -m 20 -o /dev/null -I -w '%{http_code}' -u "$U:$SECRET" "http://$REG/v2/repo/blobs/$config")
[ "$code" = 200 ] || fail "the push was not authenticated before it blocked (config blob: HTTP $code)"

# 2. soci create from the registry, held up on its layout's index.json
skopeo_ok=0
command -v skopeo >/dev/null 2>&1 && skopeo_ok=1
if [ $skopeo_ok -eq 1 ]; then
    skopeo copy -q --dest-creds "$U:$SECRET" --dest-tls-verify=false oci:"$TMP/img":t "docker://$REG/src:t" \
        >"$TMP/skopeo.err" 2>&1 || fail "skopeo copy: $(cat "$TMP/skopeo.err")"
    mkdir -p "$TMP/L/blobs/sha256"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$TMP/L/oci-layout"
    mkfifo "$TMP/L/index.json"
    "$SOCI" create -q --min-layer-size $MIN --layout "$TMP/L" --user "$U:$SECRET" "$REG/src:t" \
        >"$TMP/create.out" 2>"$TMP/create.err" &
    pid=$!
    watch $pid "create"
    release $pid "$TMP/L/index.json"
    wait_pid $pid 20 || fail "create did not end after the FIFO was released"
    grep -qF -- "$SECRET" "$TMP/create.err" "$TMP/create.out" && fail "create: the password is in its output"
else
    echo "note: skopeo is not installed; soci create not checked"
fi
finish
