# tests/cli/lib/mount.sh -- helpers for the tests/cli/mount_*.sh tests
#
# Sourced (tests/run.sh runs tests/cli/*.sh only); needs BIN, ROOT and TMP.
# Sources lib/regtest.sh (and so lib/packer.sh): fail, die, need, finish,
# start_registry, stop_pid...  Every mount a test makes is under $TMP; on
# exit (normal, failure, or SIGTERM from the runner's timeout) every
# soci-mount started here is stopped by its PID (TERM, then KILL, bounded
# waits) and whatever is still mounted under $TMP is unmounted (lazily,
# deepest first), then the registries are stopped.
. "$ROOT/tests/cli/lib/regtest.sh"

MOUNT=$BIN/soci-mount
MKLAYOUT="$PY $ROOT/tests/cli/lib/mklayout.py"
TREECMP="$PY $ROOT/tests/cli/lib/treecmp.py"
_mnt_pids=""

[ "$(id -u)" = 0 ] || { echo "skip: soci-mount needs root (FUSE)"; exit 77; }
[ -c /dev/fuse ] || { echo "skip: no /dev/fuse"; exit 77; }
need fusermount3 tar
[ -x "$MOUNT" ] || die "soci-mount missing from $BIN"

# mounts_under DIR: mount points at or below DIR (from /proc/self/mounts),
# deepest first
mounts_under() {
    awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | awk '{ print length($0), $0 }' |
        sort -rn | cut -d' ' -f2-
}

# is_mounted DIR: DIR is a mount point now
is_mounted() {
    awk -v d="$1" '$2 == d { f = 1 } END { exit !f }' /proc/self/mounts
}

# fstype DIR: the filesystem type mounted on DIR (last mount wins)
fstype() {
    awk -v d="$1" '$2 == d { t = $3 } END { print t }' /proc/self/mounts
}

# alive PID: the process exists and is not a zombie.  A status that cannot
# be read means gone: the shell may reap a zombie child while it forks the
# command substitution, between kill -0 and the read
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    _st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    [ -n "$_st" ] && [ "$_st" != Z ]
}

_mount_cleanup() {
    for _p in $_mnt_pids; do
        stop_pid "$_p"
    done
    _mnt_pids=""
    for _m in $(mounts_under "$TMP"); do
        fusermount3 -u -z "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null ||
            echo "warning: could not unmount $_m"
    done
    _cleanup
}
trap _mount_cleanup EXIT

# track PID: stop this process when the test ends
track() {
    _mnt_pids="$_mnt_pids $1"
}

# mount_fg MP LOG ARGS...: soci-mount -f ARGS... MP in the background (the
# caller passes SOURCE and --layer/--image); waits (at most ~60 s) until MP
# is mounted.  Sets MPID.  Returns 1 (with LOG's tail shown) if soci-mount
# exits first or the mount does not appear.
mount_fg() {
    _mp=$1 _log=$2
    shift 2
    "$MOUNT" -f "$@" "$_mp" </dev/null >"$_log" 2>&1 &
    MPID=$!
    track "$MPID"
    _i=0
    while [ $_i -lt 1200 ]; do
        is_mounted "$_mp" && grep -q '"msg":"mounted"' "$_log" && return 0
        alive "$MPID" || break
        sleep 0.05
        _i=$((_i + 1))
    done
    echo "soci-mount $* $_mp did not mount; its log:"
    tail -n 5 "$_log" | sed 's/^/    | /'
    return 1
}

# unmount MP PID: fusermount3 -u MP (umount for overlay/bind), then wait (at
# most ~40 s) for PID (a child of this shell) to exit, its status in $urc;
# returns 1 if either fails.  soci-mount exits once its FUSE workers have
# answered what they were serving: a read whose fetch is in flight (the
# kernel's own readahead can still be one after the readers are gone) may
# take up to ~21 s with the default --fetch-timeout and --fetch-retries
unmount() {
    urc=""
    _fs=$(fstype "$1")
    case "$_fs" in
    fuse*) fusermount3 -u "$1" || { echo "unmount: fusermount3 -u $1 exited $? (pid ${2:-none})"; return 1; } ;;
    "") ;;
    *) umount "$1" || { echo "unmount: umount $1 ($_fs) exited $?"; return 1; } ;;
    esac
    _i=0
    while alive "$2" && [ $_i -lt 800 ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
    if alive "$2"; then
        echo "unmount: pid $2 still runs $((_i / 20)) s after unmounting $1 (it was ${_fs:-not mounted})"
        return 1
    fi
    wait "$2" 2>/dev/null
    urc=$?
    return 0
}

# daemon_pid MP: the pid of the soci-mount process serving MP (found by its
# command line ending in MP), or nothing
daemon_pid() {
    for _p in $(pgrep -x soci-mount); do
        _c=$( { tr '\0' '\n' <"/proc/$_p/cmdline"; } 2>/dev/null) || continue
        [ "$(printf '%s\n' "$_c" | tail -n 1)" = "$1" ] && alive "$_p" && echo "$_p"
    done
}

# state MP DIGEST KEY: a number from the layer's state file
state() {
    "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$1/.soci-snapshotter/$2.json" "$3"
}

# extract LAYER DIR: GNU tar's extraction, as root, with xattrs, numeric
# ids and permissions; tar's complaints in DIR.err, and the paths it could
# not create (one a line) in DIR.skip
extract() {
    mkdir -p "$2"
    tar -x --xattrs --xattrs-include='*' --numeric-owner -p -f "$1" -C "$2" 2>"$2.err"
    sed -n 's/^tar: \(.*\): Cannot .*/\1/p' "$2.err" >"$2.skip"
}

# span_layout TAR: TAR, gzipped (-n), as the one layer of an OCI layout in
# $TMP/img (tag t) indexed by `soci create --span-size 1M`, and GNU tar's
# extraction of it in $TMP/ref.  Sets L (the layer's digest), Z (its ztoc's
# blob file) and LAYER (the layer's blob file)
span_layout() {
    gzip -n -c "$1" >"$TMP/layer.tgz" || die "gzip failed"
    $MKLAYOUT "$TMP/img" t "$TMP/layer.tgz" >/dev/null || die "mklayout failed"
    "$SOCI" create -q --min-layer-size 0 --span-size 1048576 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 ||
        die "soci create failed: $(cat "$TMP/create.out")"
    extract "$1" "$TMP/ref"
    L=$(layer_digests "$TMP/img" t)
    Z=$(blob "$TMP/img" "$("$SOCI" ztoc list --layout "$TMP/img" | awk -v l="$L" '$3 == l { print $1 }')")
    [ -f "$Z" ] || die "no ztoc for the layer"
    LAYER=$(blob "$TMP/img" "$L")
}

# blob_gets LOG REPO DIGEST: the GETs of a blob in docker-registry's access
# log (REGISTRY_ACCESS_LOG=1), "STATUS BYTES" one a line
blob_gets() {
    grep -F "\"GET /v2/$2/blobs/$3 " "$1" | sed 's/.*HTTP\/1\.[01]" \([0-9]*\) \([0-9]*\) .*/\1 \2/'
}

# wait_gets LOG REPO DIGEST N: at most ~10 s for N such GETs to be logged,
# then ~0.5 s more (the registry writes its log line after the response)
wait_gets() {
    _i=0
    while [ "$(blob_gets "$1" "$2" "$3" | wc -l)" -lt "$4" ] && [ $_i -lt 200 ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
    sleep 0.5
}
