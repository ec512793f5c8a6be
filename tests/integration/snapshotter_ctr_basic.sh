# tests/integration/snapshotter_ctr_basic.sh -- soci-snapshotter-grpc as
# containerd 1.6's proxy snapshotter, driven by `ctr snapshots`.
#
# The daemon's command line first (help, bad flags, a socket in a missing
# directory, config default/dump), then containerd with [proxy_plugins.soci]
# on our socket: `ctr plugin ls` lists soci ok; prepare / mounts / commit /
# view / ls / info / label / usage / rm through containerd give the mounts,
# kinds, parents, labels and sizes expected, and the errors containerd maps
# from our gRPC codes (AlreadyExists, NotFound); containerd's garbage
# collector removes what `ctr snapshots rm` dropped through our List,
# Remove and Cleanup; a second daemon on the same socket is refused while
# the first goes on serving; SIGTERM ends the daemon cleanly and removes
# its socket; a stale socket file does not keep it from starting again,
# and SIGINT ends it with status 0.
. "$ROOT/tests/integration/lib/integration.sh"

failures=0

# ---- the command line -------------------------------------------------------

"$SNAPD" --help >"$TMP/help" 2>&1 || fail "--help exited non-zero"
grep -q -- '--address SOCK' "$TMP/help" || fail "--help does not show --address"
"$SNAPD" --no-such-flag >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 2 ] || fail "unknown flag: exit $rc, want 2"
[ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q 'see --help' "$TMP/err" ||
    fail "unknown flag: want one line naming --help, got: $(cat "$TMP/err")"
"$SNAPD" --log-level loud >/dev/null 2>"$TMP/err"
[ $? -eq 2 ] || fail "unknown log level: want exit 2"

# a socket in a missing directory: one line, exit 1, nothing created
"$SNAPD" --address "$TMP/nodir/sub/s.sock" --root "$TMP/r0" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 1 ] || fail "missing socket directory: exit $rc, want 1"
[ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "$TMP/nodir/sub" "$TMP/err" ||
    fail "missing socket directory: want one line naming it, got: $(cat "$TMP/err")"
[ ! -e "$TMP/nodir" ] || fail "missing socket directory: it was created"
[ ! -e "$TMP/r0" ] || fail "missing socket directory: the root was created anyway"

# config default / dump
"$SNAPD" config default >"$TMP/default.toml" 2>"$TMP/err" || fail "config default failed: $(cat "$TMP/err")"
grep -q 'mount_timeout_sec' "$TMP/default.toml" || fail "config default lacks mount_timeout_sec"
printf 'mount_timeout_sec = 7\n' >"$TMP/c.toml"
"$SNAPD" --config "$TMP/c.toml" config dump >"$TMP/dump.toml" 2>"$TMP/err" || fail "config dump failed: $(cat "$TMP/err")"
grep -q '^mount_timeout_sec = 7' "$TMP/dump.toml" || fail "config dump does not show the file's value"
"$SNAPD" --config "$TMP/missing.toml" config dump >/dev/null 2>"$TMP/err" && fail "config dump of a missing --config succeeded"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "config dump of a missing file: want one line, got: $(cat "$TMP/err")"

# ---- serving containerd -----------------------------------------------------

start_snapd
start_containerd --soci "$SOCK"
grep -q '"msg":"serving"' "$SNAP_DIR/log" || fail "no \"serving\" log line"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode $(stat -c %a "$SOCK"), want 660"

ctrx plugin ls >"$TMP/plugins" 2>&1 || fail "ctr plugin ls failed"
grep -E -q '^io\.containerd\.snapshotter\.v1[[:space:]]+soci[[:space:]].*[[:space:]]ok[[:space:]]*$' "$TMP/plugins" ||
    fail "ctr plugin ls does not list soci as ok: $(grep soci "$TMP/plugins")"

snaps() {
    ctrx snapshots --snapshotter soci "$@"
}

# expect_fail WHAT PATTERN CMD...: CMD fails and says PATTERN
expect_fail() {
    _what=$1 _pat=$2
    shift 2
    if "$@" >"$TMP/ef.out" 2>&1; then
        fail "$_what succeeded"
    elif ! grep -q "$_pat" "$TMP/ef.out"; then
        fail "$_what: want \"$_pat\", got: $(cat "$TMP/ef.out")"
    fi
}

# mounts_line KEY: the mount command ctr prints for KEY's mounts
mounts_line() {
    snaps mounts "$TMP/mnt" "$1"
}

mkdir -p "$TMP/mnt"
snaps prepare k1 || fail "prepare k1 failed"
m=$(mounts_line k1) || fail "mounts k1 failed"
case "$m" in
"mount -t bind $SNAPSHOTS/"*"/fs $TMP/mnt -o rw,rbind") ;;
*) fail "mounts k1: $m" ;;
esac
# write through the mount containerd would make
sh -c "$m" || fail "mounting k1 failed: $m"
echo "layer one" >"$TMP/mnt/one" && dd if=/dev/zero of="$TMP/mnt/zeros" bs=64k count=4 2>/dev/null
umount "$TMP/mnt" || fail "umount k1 failed"
k1_fs=$(echo "$m" | sed 's/^mount -t bind \([^ ]*\) .*/\1/')
[ "$(cat "$k1_fs/one")" = "layer one" ] || fail "the file written is not in k1's fs"

expect_fail "a second prepare k1" 'already exists$' snaps prepare k1
snaps commit c1 k1 || fail "commit c1 k1 failed"
expect_fail "mounts of the committed key k1" 'not found' mounts_line k1

snaps view v1 c1 || fail "view v1 c1 failed"
m=$(mounts_line v1)
[ "$m" = "mount -t bind $k1_fs $TMP/mnt -o ro,rbind" ] || fail "mounts v1: $m"
snaps prepare k2 c1 || fail "prepare k2 c1 failed"
m=$(mounts_line k2)
case "$m" in
"mount -t overlay overlay $TMP/mnt -o "*"upperdir=$SNAPSHOTS/"*"/fs"*"lowerdir=$k1_fs"*) ;;
*) fail "mounts k2: $m" ;;
esac
expect_fail "prepare with a missing parent" 'not found$' snaps prepare k3 nosuchparent

snaps ls >"$TMP/ls" || fail "ls failed"
grep -E -q '^c1[[:space:]]+Committed' "$TMP/ls" || fail "ls: c1 not committed: $(cat "$TMP/ls")"
grep -E -q '^k2[[:space:]]+c1[[:space:]]+Active' "$TMP/ls" || fail "ls: k2 not active on c1: $(cat "$TMP/ls")"
grep -E -q '^v1[[:space:]]+c1[[:space:]]+View' "$TMP/ls" || fail "ls: v1 not a view of c1: $(cat "$TMP/ls")"

snaps label c1 color=blue >/dev/null || fail "label c1 failed"
snaps info c1 >"$TMP/info" || fail "info c1 failed"
grep -q '"Kind": "Committed"' "$TMP/info" || fail "info c1: not Committed"
grep -q '"color": "blue"' "$TMP/info" || fail "info c1: label missing: $(cat "$TMP/info")"
snaps label c1 color= >/dev/null || fail "removing the label failed"
snaps info c1 | grep -q color && fail "label color still there after removing it"

# usage of c1: the file and 256 KiB of zeros (du counts blocks)
snaps usage c1 >"$TMP/usage" || fail "usage c1 failed"
size=$(awk '$1 == "c1" { print $2, $3 }' "$TMP/usage")
case "$size" in
"260.0 KiB"* | "264.0 KiB"* | "268.0 KiB"*) ;;
*) fail "usage c1: $size (want about 260 KiB): $(cat "$TMP/usage")" ;;
esac

expect_fail "rm of a snapshot with children" 'precondition' snaps rm c1
snaps rm k2 v1 c1 || fail "rm k2 v1 c1 failed"
expect_fail "rm of an unknown key" 'not found$' snaps rm nosuchkey
[ -z "$(snaps ls | tail -n +2)" ] || fail "ls not empty after rm: $(snaps ls)"

# containerd's garbage collector removes them from our store: List,
# Remove, Cleanup, and the directories go
wait_for '[ -z "$(ls "$SNAPSHOTS")" ]' 20 || fail "snapshot directories left after GC: $(ls "$SNAPSHOTS")"
for method in List Remove Cleanup; do
    grep -q "\"method\":\"$method\",\"code\":\"OK\"" "$SNAP_DIR/log" || fail "no successful $method in the log"
done

# ---- a second daemon on the same socket ------------------------------------

"$SNAPD" --address "$SOCK" --root "$TMP/other" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 1 ] || fail "second daemon: exit $rc, want 1"
grep -q 'another server is listening' "$TMP/err" || fail "second daemon: $(cat "$TMP/err")"
[ ! -e "$TMP/other" ] || fail "second daemon created its root"
snaps prepare after-second || fail "the first daemon stopped serving after the second was refused"
snaps rm after-second || fail "rm after-second failed"

# ---- SIGTERM ----------------------------------------------------------------

sh "$SNAPSH" stop "$SNAP_DIR" || fail "the daemon did not exit on SIGTERM by itself"
_snapd_started=0
[ ! -e "$SOCK" ] || fail "socket $SOCK left after SIGTERM"
grep -q '"msg":"stopped"' "$SNAP_DIR/log" || fail "no \"stopped\" log line"

# ---- a stale socket file, then SIGINT ---------------------------------------

# what a killed daemon leaves: a socket file nobody listens on
/usr/bin/python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
[ -S "$SOCK" ] || fail "could not make a stale socket file"
"$SNAPD" --address "$SOCK" --root "$SNAP_ROOT" >"$TMP/again.log" 2>&1 &
again=$!
wait_for 'grep -q "\"msg\":\"serving\"" "$TMP/again.log"' 30 ||
    fail "the daemon did not start over a stale socket file: $(tail -n 3 "$TMP/again.log")"
# containerd's gRPC client reconnects with a backoff: allow it a few seconds
wait_for 'snaps prepare after-restart >"$TMP/pr.out" 2>&1' 15 ||
    fail "containerd could not use the restarted daemon: $(cat "$TMP/pr.out")"
snaps rm after-restart || fail "rm after-restart failed"
kill -INT $again
wait_for '! alive $again' 30 || { fail "the daemon did not exit on SIGINT"; kill -9 $again; }
wait $again
rc=$?
[ $rc -eq 0 ] || fail "exit status $rc after SIGINT"
[ ! -e "$SOCK" ] || fail "socket $SOCK left after SIGINT"

[ $failures -eq 0 ] || { echo "daemon log:"; snapd_log_tail 15; }
finish
