#!/bin/sh
# tests/cli/mount_hardlink_dir.sh -- a hard link to a directory makes no
# directory cycle in a mount: the layer is refused, as unpacking it is.
#
# Layers written with Python's tarfile (GNU tar cannot make them):
#   - loop.tgz: d/, d/f, and d/loop a hard link to d (a cycle);
#   - alias.tgz: d/, d/f, and e a hard link to d (a second name).
# The real counterpart: GNU tar, extracting either, cannot make the link
# (link(2) on a directory is EPERM) and exits non-zero -- and neither could
# containerd's unpacker.  soci-mount must exit non-zero with one line naming
# the hard link, and mount nothing.  A control layer with a hard link to a
# file mounts, and serves the file under both names with nlink 2, as GNU
# tar extracts it.
. "$ROOT/tests/cli/lib/mount.sh"

"$PY" - "$TMP" <<'EOF' || die "cannot write the layers"
import gzip, io, os, sys, tarfile
def layer(path, links):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        d = tarfile.TarInfo("d")
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 1700000000
        tf.addfile(d)
        f = tarfile.TarInfo("d/f")
        f.size, f.mtime = 5, 1700000000
        tf.addfile(f, io.BytesIO(b"hello"))
        for name, target in links:
            h = tarfile.TarInfo(name)
            h.type, h.linkname, h.mtime = tarfile.LNKTYPE, target, 1700000000
            tf.addfile(h)
    open(path, "wb").write(gzip.compress(buf.getvalue(), mtime=0))
layer(os.path.join(sys.argv[1], "loop.tgz"), [("d/loop", "d")])
layer(os.path.join(sys.argv[1], "alias.tgz"), [("e", "d")])
layer(os.path.join(sys.argv[1], "file.tgz"), [("g", "d/f")])
EOF

for case in loop alias file; do
    $MKLAYOUT "$TMP/$case" t "$TMP/$case.tgz" >/dev/null || die "mklayout $case failed"
    "$SOCI" create -q --min-layer-size 0 "oci:$TMP/$case:t" >"$TMP/create.$case" 2>&1 ||
        die "soci create ($case) failed: $(cat "$TMP/create.$case")"
done

# the counterpart refuses the directory links
for case in loop alias; do
    mkdir -p "$TMP/x.$case"
    if tar -xzf "$TMP/$case.tgz" -C "$TMP/x.$case" 2>"$TMP/tar.$case"; then
        fail "$case: GNU tar extracted a hard link to a directory"
    fi
    echo "GNU tar ($case): $(head -n 1 "$TMP/tar.$case")"
done

mkdir -p "$TMP/mp"
for case in loop alias; do
    L=$(layer_digests "$TMP/$case" t)
    "$MOUNT" --no-background-fetch --cache-dir "$TMP/cache" "oci:$TMP/$case:t" --layer "$L" "$TMP/mp" \
        </dev/null >"$TMP/out.$case" 2>"$TMP/err.$case"
    rc=$?
    [ $rc -ne 0 ] || fail "$case: soci-mount exited 0"
    one_line "$TMP/err.$case" "$case" "hard link"
    if is_mounted "$TMP/mp"; then
        fail "$case: mounted; ls -R: $(ls -R "$TMP/mp" 2>&1 | grep -c . ) lines, $(ls -R "$TMP/mp" 2>&1 | grep -m 1 -i loop)"
        p=$(daemon_pid "$TMP/mp")
        [ -n "$p" ] && track "$p"
        fusermount3 -u -z "$TMP/mp"
    fi
    echo "ok: $case: exit $rc: $(cat "$TMP/err.$case")"
done

# a hard link to a file: one node, two names
L=$(layer_digests "$TMP/file" t)
mount_fg "$TMP/mp" "$TMP/file.log" --no-background-fetch --cache-dir "$TMP/cache" "oci:$TMP/file:t" --layer "$L" ||
    die "the file hard link layer does not mount"
extract "$TMP/file.tgz" "$TMP/x.file"
for n in d/f g; do
    cmp -s "$TMP/mp/$n" "$TMP/x.file/$n" || fail "file link: $n differs from GNU tar's"
    [ "$(stat -c %h "$TMP/mp/$n")" = "$(stat -c %h "$TMP/x.file/$n")" ] ||
        fail "file link: $n has $(stat -c %h "$TMP/mp/$n") links, GNU tar's $(stat -c %h "$TMP/x.file/$n")"
done
[ "$(stat -c %i "$TMP/mp/d/f")" = "$(stat -c %i "$TMP/mp/g")" ] || fail "file link: d/f and g are not one inode"
unmount "$TMP/mp" "$MPID" || fail "fusermount3 -u did not end soci-mount"
finish
