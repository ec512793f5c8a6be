#!/bin/sh
# tests/cli/mount_lifecycle.sh -- how a soci-mount ends.
#
# The sample image's busybox layer, indexed, mounted from the layout with
# --layer in the default (daemon) mode: soci-mount returns 0 only once the
# mount is up (it is in /proc/mounts and serves bin/busybox right away)
# and leaves a daemon (another process, found by its command line) behind.
#   1. SIGTERM to the daemon: within 10 s the mount is gone from
#      /proc/mounts and the daemon has exited;
#   2. fusermount3 -u MOUNTPOINT: the daemon exits within 10 s;
#   3. SIGKILL to the daemon: the mount stays, dead (stat fails with
#      ENOTCONN, or ECONNABORTED); fusermount3 -u removes it,
#      and the same mountpoint can be mounted again and serves the file;
#   4. -f (foreground) and SIGINT: exit status 0 within 10 s, unmounted.
. "$ROOT/tests/cli/lib/mount.sh"

sample "$TMP/img" t --big-mib 1
"$SOCI" create -q --min-layer-size 0 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 ||
    die "soci create failed: $(cat "$TMP/create.out")"
A=$(layer_digests "$TMP/img" t | head -n 1)
MP=$TMP/mp
mkdir -p "$MP"

# daemon: mount in the default mode; sets DPID
daemon() {
    "$MOUNT" --no-background-fetch --cache-dir "$TMP/cache" "oci:$TMP/img:t" --layer "$A" "$MP" \
        </dev/null >"$TMP/daemon.out" 2>"$TMP/daemon.err" &
    lpid=$!
    wait_pid "$lpid" 60 || die "soci-mount did not return within 60 s"
    [ "$wrc" = 0 ] || die "soci-mount exited $wrc: $(cat "$TMP/daemon.err")"
    is_mounted "$MP" || die "soci-mount returned 0 but $MP is not mounted"
    DPID=$(daemon_pid "$MP")
    [ -n "$DPID" ] || die "no soci-mount daemon serves $MP"
    [ "$(echo "$DPID" | wc -w)" = 1 ] || die "several soci-mount processes serve $MP: $DPID"
    track "$DPID"
    [ "$DPID" != "$lpid" ] || fail "the daemon is the process that was started"
    cmp -s "$MP/bin/busybox" /bin/busybox || fail "the mount does not serve bin/busybox"
}

# gone WHAT SECONDS: the daemon exits and the mount goes within SECONDS
gone() {
    i=0
    while { alive "$DPID" || is_mounted "$MP"; } && [ $i -lt $(($2 * 20)) ]; do
        sleep 0.05
        i=$((i + 1))
    done
    alive "$DPID" && fail "$1: the daemon $DPID still runs after $2 s"
    is_mounted "$MP" && fail "$1: $MP is still mounted after $2 s"
    return 0
}

# 1. SIGTERM
daemon
kill -TERM "$DPID"
gone "SIGTERM" 10
echo "ok: SIGTERM"

# 2. fusermount3 -u
daemon
fusermount3 -u "$MP" || fail "fusermount3 -u failed"
gone "fusermount3 -u" 10
echo "ok: fusermount3 -u"

# 3. SIGKILL: a dead mount that fusermount3 -u removes
daemon
kill -KILL "$DPID"
i=0
while alive "$DPID" && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
alive "$DPID" && die "the daemon survives SIGKILL"
is_mounted "$MP" || fail "SIGKILL: the mount went away by itself (expected a dead mount)"
err=$(stat "$MP" 2>&1) && fail "SIGKILL: stat of the dead mount succeeds: $err"
# ENOTCONN, or ECONNABORTED when the kernel aborted the connection with a
# request in flight
case "$err" in *"not connected"* | *"connection abort"*) ;; *) fail "SIGKILL: stat says \"$err\", want ENOTCONN" ;; esac
fusermount3 -u "$MP" || fail "fusermount3 -u of the dead mount failed"
is_mounted "$MP" && fail "the dead mount is still there after fusermount3 -u"
daemon
fusermount3 -u "$MP" || fail "fusermount3 -u (remount) failed"
gone "remount after SIGKILL" 10
echo "ok: SIGKILL, fusermount3 -u, mount again"

# 4. -f and SIGINT
mount_fg "$MP" "$TMP/fg.log" --no-background-fetch --cache-dir "$TMP/cache" "oci:$TMP/img:t" --layer "$A" ||
    die "soci-mount -f failed"
kill -INT "$MPID"
wait_pid "$MPID" 10 || fail "soci-mount -f still runs 10 s after SIGINT"
[ "$wrc" = 0 ] || fail "soci-mount -f exited $wrc after SIGINT"
is_mounted "$MP" && fail "SIGINT: $MP is still mounted"
echo "ok: -f and SIGINT"
finish
