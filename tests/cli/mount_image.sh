#!/bin/sh
# tests/cli/mount_image.sh -- soci-mount --image: the layers merged by
# overlayfs give exactly the tree that applying them in order gives.
#
# A three-layer image (gzip layers, written by Python's tarfile):
#   1. base (indexed, served by FUSE): dirs, files, a hard link, a symlink,
#      a setuid file, a char device, a user.* xattr (SCHILY), a file to be
#      deleted, a file to be replaced, dirs to be made opaque or deleted;
#   2. small (under --min-layer-size: no ztoc, so soci-mount unpacks it
#      whole): new files, a whiteout of a base file, an opaque dir with a
#      new file in it;
#   3. top (indexed): a whiteout of a base file (a/.wh.gone) and of a whole
#      base directory (.wh.w), an opaque dir (op/.wh..wh..opq) with new
#      entries including a subdir, a replaced file, new files.
# Indexed with `soci create --min-layer-size 100000` (layers 1 and 3 have
# ztocs, layer 2 does not), mounted with `soci-mount -f --image` from the
# layout, and checked:
#   1. tests/cli/lib/treecmp.py plain: the merged mount against
#      tests/cli/lib/apply_layers.py's reference (tarfile, layers applied in
#      order with whiteout and opaque-dir handling): same paths, types,
#      modes, owners, mtimes, sizes, link targets, devices, xattrs, bytes,
#      hard links;
#   2. explicitly: deleted files and dirs are gone (whiteouts from a FUSE
#      layer and from the unpacked layer), opaque dirs hide the lower
#      entries and keep their own, the replaced file has the top content,
#      the no-ztoc layer's files show, no whiteout or .wh. name shows;
#   3. the mounts: an overlay on MOUNTPOINT and two FUSE layer mounts under
#      --work-dir, and a log line saying the small layer is unpacked;
#   4. SIGTERM to soci-mount: it exits 0 within 20 s and nothing is left
#      mounted (overlay and FUSE layers), the work dir is emptied;
#   5. mounted again in the default (daemon) mode, `fusermount3 -u
#      MOUNTPOINT` (which removes only the overlay) makes the daemon end its
#      FUSE layers and exit within 10 s, and the unpacked layer is removed.
. "$ROOT/tests/cli/lib/mount.sh"
need getfattr

"$PY" - "$TMP/layers" <<'EOF' || die "cannot write the layers"
import io, os, random, sys, tarfile
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
T = 1700000000

def layer(name, entries):
    with tarfile.open(os.path.join(out, name), "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            kind, path = e[0], e[1]
            ti = tarfile.TarInfo(path)
            ti.mtime = e[3] if len(e) > 3 else T
            ti.uname = ti.gname = ""
            data = None
            if kind == "d":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "f":
                data = e[2]
                ti.size, ti.mode = len(data), 0o644
            elif kind == "x":                          # file with options
                data, opts = e[2], e[4]
                ti.size, ti.mode = len(data), opts.get("mode", 0o644)
                ti.uid, ti.gid = opts.get("uid", 0), opts.get("gid", 0)
                ti.pax_headers = opts.get("pax", {})
            elif kind == "l":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, e[2], 0o777
            elif kind == "h":
                ti.type, ti.linkname, ti.mode = tarfile.LNKTYPE, e[2], 0o644
            elif kind == "c":
                ti.type, ti.mode, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 0o666, 1, 3
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)

rnd = random.Random(7)
layer("1-base.tgz", [
    ("d", "a"), ("d", "bin"), ("d", "dev"), ("d", "etc"), ("d", "op"), ("d", "op/sub"), ("d", "d"),
    ("d", "w"), ("d", "w/inner"), ("d", "big"),
    ("f", "a/keep", b"keep me\n"), ("f", "a/gone", b"deleted by layer 3\n"),
    ("f", "a/replaced", b"version 1\n", T + 1), ("h", "a/keep_link", "a/keep"), ("l", "a/sym", "keep"),
    ("x", "bin/su", b"\x7fELF fake\n", T + 2, {"mode": 0o4755}),
    ("x", "a/owned", b"owned\n", T + 3, {"uid": 1234, "gid": 5678, "mode": 0o2750,
                                        "pax": {"SCHILY.xattr.user.note": "from the base"}}),
    ("c", "dev/null"),
    ("f", "etc/hostname", b"base\n"), ("f", "etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
    ("f", "op/old1", b"hidden by the opaque op/\n"), ("f", "op/sub/old2", b"hidden too\n"),
    ("f", "d/keepme", b"hidden by layer 2's opaque d/\n"),
    ("f", "w/inner/f", b"in a deleted dir\n"), ("f", "w/g", b"also\n"),
    ("f", "big/random.bin", rnd.randbytes(300000)),
])
layer("2-small.tgz", [
    ("d", "l2"), ("f", "l2/file", b"from the unpacked layer\n", T + 20),
    ("d", "etc", None, T + 21), ("f", "etc/.wh.hostname", b""),
    ("d", "d", None, T + 22), ("f", "d/.wh..wh..opq", b""), ("f", "d/new2", b"new in opaque d/\n"),
])
layer("3-top.tgz", [
    ("d", "a", None, T + 30), ("f", "a/.wh.gone", b""), ("f", "a/replaced", b"version 3, longer\n", T + 31),
    ("f", ".wh.w", b""),
    ("d", "op", None, T + 32), ("f", "op/.wh..wh..opq", b""), ("f", "op/new", b"new in opaque op/\n"),
    ("d", "op/sub", None, T + 33), ("f", "op/sub/new3", b"a new subdir's file\n"),
    ("d", "l3"), ("f", "l3/random.bin", rnd.randbytes(300000)),
])
EOF
L="$TMP/layers/1-base.tgz $TMP/layers/2-small.tgz $TMP/layers/3-top.tgz"
# shellcheck disable=SC2086
$MKLAYOUT "$TMP/img" t $L >/dev/null || die "mklayout failed"
"$SOCI" create -q --min-layer-size 100000 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 ||
    die "soci create failed: $(cat "$TMP/create.out")"
small=sha256:$(sha256sum "$TMP/layers/2-small.tgz" | cut -c1-64)
nz=$("$PY" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["layers"]))' "$(blob "$TMP/img" "$(soci_entries "$TMP/img")")")
[ "$nz" = 2 ] || die "the SOCI index has $nz ztocs, want 2 (layer 2 under the minimum size)"
# shellcheck disable=SC2086
"$PY" "$LIB/apply_layers.py" "$TMP/ref" $L || die "apply_layers.py failed"

mkdir -p "$TMP/mp"
mount_fg "$TMP/mp" "$TMP/mount.log" --no-background-fetch --cache-dir "$TMP/cache" --work-dir "$TMP/work" \
    "oci:$TMP/img:t" --image || die "soci-mount --image failed"

# 1. the merged tree
$TREECMP plain "$TMP/ref" "$TMP/mp" || fail "the merged mount differs from the layers applied in order"

# 2. explicitly
mp=$TMP/mp
for gone in a/gone op/old1 op/sub/old2 d/keepme w etc/hostname; do
    [ -e "$mp/$gone" ] || [ -L "$mp/$gone" ] && fail "$gone should be deleted but is there: $(ls -ld "$mp/$gone")"
done
for there in a/keep a/keep_link a/sym bin/su op/new op/sub/new3 d/new2 l2/file l3/random.bin etc/passwd dev/null; do
    [ -e "$mp/$there" ] || [ -L "$mp/$there" ] || fail "$there is missing"
done
[ "$(cat "$mp/a/replaced")" = "version 3, longer" ] || fail "a/replaced: $(cat "$mp/a/replaced")"
[ "$(cat "$mp/l2/file")" = "from the unpacked layer" ] || fail "l2/file: $(cat "$mp/l2/file")"
# shellcheck disable=SC2012 # what ls lists is the point
[ "$(ls "$mp/op" | tr '\n' ' ')" = "new sub " ] || fail "opaque op/ lists: $(ls "$mp/op" | tr '\n' ' ')"
# shellcheck disable=SC2012
[ "$(ls "$mp/d" | tr '\n' ' ')" = "new2 " ] || fail "opaque d/ lists: $(ls "$mp/d" | tr '\n' ' ')"
[ -z "$(find "$mp" -name '.wh.*' -o -type c ! -path "$mp/dev/null" | head -n 3)" ] ||
    fail "whiteouts show: $(find "$mp" -name '.wh.*' -o -type c ! -path "$mp/dev/null")"
[ "$(stat -c '%i %h' "$mp/a/keep")" = "$(stat -c '%i %h' "$mp/a/keep_link")" ] || fail "a/keep_link is not a hard link of a/keep"
[ "$(stat -c %a "$mp/bin/su")" = 4755 ] || fail "bin/su mode $(stat -c %a "$mp/bin/su")"
[ "$(getfattr --absolute-names --only-values -n user.note "$mp/a/owned" 2>&1)" = "from the base" ] || fail "a/owned: xattr user.note missing"

# 3. the mounts
[ "$(fstype "$mp")" = overlay ] || fail "$mp is mounted as \"$(fstype "$mp")\", want overlay"
nf=$(mounts_under "$TMP/work" | while read -r m; do fstype "$m"; done | grep -c '^fuse')
[ "$nf" = 2 ] || fail "$nf FUSE layer mounts under the work dir, want 2: $(mounts_under "$TMP/work")"
grep -q "layer $small has no ztoc: unpacking it whole" "$TMP/mount.log" || fail "no log line about unpacking layer 2"

# 4. SIGTERM
kill -TERM "$MPID"
i=0
while alive "$MPID" && [ $i -lt 400 ]; do
    sleep 0.05
    i=$((i + 1))
done
if alive "$MPID"; then
    fail "soci-mount --image still runs 20 s after SIGTERM"
else
    wait "$MPID"
    rc=$?
    [ $rc = 0 ] || fail "soci-mount --image exited $rc after SIGTERM"
fi
[ -z "$(mounts_under "$TMP")" ] || fail "still mounted after SIGTERM: $(mounts_under "$TMP")"
[ -z "$(ls -A "$TMP/work")" ] || fail "the work dir keeps $(ls -A "$TMP/work") after SIGTERM"

# 5. the default (daemon) mode, ended by fusermount3 -u MOUNTPOINT: the
# daemon ends its layers too, and removes the unpacked layer
"$MOUNT" --no-background-fetch --cache-dir "$TMP/cache" --work-dir "$TMP/work2" "oci:$TMP/img:t" --image "$mp" \
    </dev/null >"$TMP/daemon.out" 2>"$TMP/daemon.err" || die "soci-mount --image (daemon) failed: $(cat "$TMP/daemon.err")"
DPID=$(daemon_pid "$mp")
[ -n "$DPID" ] || die "no soci-mount daemon for $mp"
track "$DPID"
[ "$(cat "$mp/l2/file" 2>&1)" = "from the unpacked layer" ] || fail "daemon mode: l2/file: $(cat "$mp/l2/file" 2>&1)"
[ -n "$(ls -A "$TMP/work2")" ] || fail "daemon mode: nothing in the work dir"
fusermount3 -u "$mp" || fail "fusermount3 -u $mp failed"
i=0
while { alive "$DPID" || [ -n "$(mounts_under "$TMP")" ]; } && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
alive "$DPID" && fail "fusermount3 -u of the overlay: the daemon still runs after 10 s"
[ -z "$(mounts_under "$TMP")" ] || fail "fusermount3 -u of the overlay leaves mounted: $(mounts_under "$TMP")"
[ -z "$(ls -A "$TMP/work2")" ] || fail "the work dir keeps $(ls -A "$TMP/work2") after the daemon ends"
finish
