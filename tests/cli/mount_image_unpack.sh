#!/bin/sh
# tests/cli/mount_image_unpack.sh -- soci-mount --image on layers without a
# ztoc: unpacked in-process (lib/layer_unpack), verified, and kept mounted.
#
# 1. A one-layer image with no SOCI index (so no ztoc): `soci-mount -f
#    --image` bind-mounts the unpacked layer; it is still mounted and
#    soci-mount still runs 2 s later, and the tree equals GNU tar's
#    extraction of the layer (tests/cli/lib/treecmp.py: paths, types, modes,
#    owners, mtimes, sizes, links, devices, xattrs, bytes).  `umount`
#    MOUNTPOINT ends soci-mount (exit 0) and empties the work dir.
# 2. A two-layer image with no index (gzip, then a plain tar layer with
#    whiteouts and an opaque dir), mounted in the default (daemon) mode: the
#    overlay equals tests/cli/lib/apply_layers.py's tree, stays mounted, and
#    `umount` ends the daemon.
# 3. The layer's blob altered in place in the layout (same file name): the
#    mount fails, exit 1, one "soci-mount: " line naming the blob digest
#    mismatch, nothing mounted, the work dir empty.
# 4. The layer's bytes altered and stored under their new digest, the
#    manifest and index.json pointing at it (the config's diff_ids left
#    alone): the mount fails naming the diff_id mismatch, nothing mounted.
# The log never carries tar's own stderr (there is no tar process).
. "$ROOT/tests/cli/lib/mount.sh"
need getfattr

"$PY" - "$TMP" "$LIB" <<'EOF' || die "cannot write the layers"
import gzip, os, random, sys
out = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from tarspec import tar_bytes
T = 1700000000
rnd = random.Random(11)

tar = tar_bytes

base = tar([
    ("d", "etc", {}), ("f", "etc/hostname", {"data": b"base\n"}), ("f", "etc/gone", {"data": b"x\n"}),
    ("d", "bin", {}), ("f", "bin/su", {"data": b"\x7fELF\n", "mode": 0o4755}), ("l", "bin/sh", {"to": "su"}),
    ("h", "bin/su2", {"to": "bin/su", "mode": 0o4755}), ("d", "dev", {}), ("c", "dev/null", {"mode": 0o666}),
    ("f", "owned", {"data": b"o\n", "uid": 1000, "gid": 1000, "mode": 0o600,
                    "pax": {"SCHILY.xattr.user.note": "kept"}}),
    ("d", "op", {}), ("f", "op/old", {"data": b"hidden later\n"}),
    ("d", "big", {}), ("f", "big/random.bin", {"data": rnd.randbytes(3 << 20)}),
])
top = tar([
    ("d", "etc", {"mtime": T + 10}), ("f", "etc/.wh.gone", {}), ("f", "etc/hostname", {"data": b"top\n"}),
    ("d", "op", {"mtime": T + 11}), ("f", "op/.wh..wh..opq", {}), ("f", "op/new", {"data": b"new\n"}),
])
open(os.path.join(out, "base.tar"), "wb").write(base)
open(os.path.join(out, "base.tgz"), "wb").write(gzip.compress(base, mtime=0))
open(os.path.join(out, "top.tar"), "wb").write(top)
EOF
$MKLAYOUT "$TMP/one" t "$TMP/base.tgz" >/dev/null || die "mklayout (one layer) failed"
$MKLAYOUT "$TMP/two" t "$TMP/base.tgz" "$TMP/top.tar" >/dev/null || die "mklayout (two layers) failed"
extract "$TMP/base.tar" "$TMP/ref-one"
[ -s "$TMP/ref-one.err" ] && die "GNU tar complained: $(cat "$TMP/ref-one.err")"
"$PY" "$LIB/apply_layers.py" "$TMP/ref-two" "$TMP/base.tgz" "$TMP/top.tar" || die "apply_layers.py failed"
mkdir -p "$TMP/mp"

# 1. one layer, foreground: stays mounted, equals GNU tar, umount ends it
mount_fg "$TMP/mp" "$TMP/one.log" --work-dir "$TMP/work1" "oci:$TMP/one:t" --image ||
    die "soci-mount --image (one unpacked layer) failed"
sleep 2
alive "$MPID" || fail "soci-mount exited by itself with every layer unpacked: $(tail -n 3 "$TMP/one.log")"
is_mounted "$TMP/mp" || fail "$TMP/mp is not mounted 2 s after soci-mount said mounted"
$TREECMP layer "$TMP/ref-one" "$TMP/mp" --tar "$TMP/base.tar" >"$TMP/cmp" 2>&1 ||
    fail "the unpacked layer differs from GNU tar's extraction: $(head -n 20 "$TMP/cmp")"
grep -q "has no ztoc: unpacking it whole" "$TMP/one.log" || fail "no log line about unpacking the layer"
grep -v '^{' "$TMP/one.log" | grep -q . && fail "non-JSON lines in the log: $(grep -v '^{' "$TMP/one.log" | head -n 3)"
unmount "$TMP/mp" "$MPID" || fail "umount did not end soci-mount"
[ "$urc" = 0 ] || fail "soci-mount exited $urc after umount"
[ -z "$(mounts_under "$TMP")" ] || fail "still mounted: $(mounts_under "$TMP")"
[ -z "$(ls -A "$TMP/work1")" ] || fail "the work dir keeps $(ls -A "$TMP/work1")"

# 2. two layers, daemon mode: the overlay equals the layers applied in order
"$MOUNT" --work-dir "$TMP/work2" "oci:$TMP/two:t" --image "$TMP/mp" </dev/null >"$TMP/two.out" 2>"$TMP/two.err" ||
    die "soci-mount --image (two unpacked layers) failed: $(cat "$TMP/two.err")"
DPID=$(daemon_pid "$TMP/mp")
[ -n "$DPID" ] || die "no soci-mount daemon for $TMP/mp"
track "$DPID"
sleep 2
alive "$DPID" || fail "the daemon exited by itself with every layer unpacked"
[ "$(fstype "$TMP/mp")" = overlay ] || fail "$TMP/mp is \"$(fstype "$TMP/mp")\", want overlay"
$TREECMP plain "$TMP/ref-two" "$TMP/mp" >"$TMP/cmp" 2>&1 ||
    fail "the overlay differs from the layers applied in order: $(head -n 20 "$TMP/cmp")"
[ "$(cat "$TMP/mp/etc/hostname")" = top ] || fail "etc/hostname: $(cat "$TMP/mp/etc/hostname")"
[ -e "$TMP/mp/etc/gone" ] && fail "etc/gone is not whited out"
[ -e "$TMP/mp/op/old" ] && fail "op/old shows through the opaque op/"
umount "$TMP/mp" || fail "umount of the overlay failed"
i=0
while alive "$DPID" && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
alive "$DPID" && fail "the daemon still runs 10 s after the overlay was unmounted"
[ -z "$(mounts_under "$TMP")" ] || fail "still mounted: $(mounts_under "$TMP")"
[ -z "$(ls -A "$TMP/work2")" ] || fail "the work dir keeps $(ls -A "$TMP/work2")"

# expect_refused NAME WANT LAYOUT: the mount fails in one line naming WANT
expect_refused() {
    "$MOUNT" -f --work-dir "$TMP/work-$1" "oci:$3:t" --image "$TMP/mp" </dev/null >"$TMP/$1.out" 2>"$TMP/$1.err"
    rc=$?
    [ $rc = 1 ] || fail "$1: soci-mount exited $rc, want 1"
    n=$(grep -c '^soci-mount: ' "$TMP/$1.err")
    [ "$n" = 1 ] || fail "$1: $n error lines, want 1: $(cat "$TMP/$1.err")"
    grep '^soci-mount: ' "$TMP/$1.err" | grep -qF "$2" || fail "$1: the error does not say \"$2\": $(cat "$TMP/$1.err")"
    grep -v '^{' "$TMP/$1.err" | grep -v '^soci-mount: ' | grep -q . &&
        fail "$1: stray lines on stderr: $(grep -v '^{' "$TMP/$1.err" | grep -v '^soci-mount: ' | head -n 3)"
    [ -z "$(mounts_under "$TMP")" ] || fail "$1: mounted after a failure: $(mounts_under "$TMP")"
    [ -z "$(ls -A "$TMP/work-$1" 2>/dev/null)" ] || fail "$1: the work dir keeps $(ls -A "$TMP/work-$1")"
}

# 3. the blob's bytes altered in place
cp -a "$TMP/one" "$TMP/altered"
L=sha256:$(sha256sum "$TMP/base.tgz" | cut -c1-64)
"$PY" - "$TMP/altered/blobs/sha256/${L#sha256:}" <<'EOF' || die "cannot alter the blob"
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(bytes(b))
EOF
expect_refused altered "layer $L: blob digest mismatch: got sha256:" "$TMP/altered"

# 4. other bytes under their own digest, the config's diff_id unchanged
cp -a "$TMP/one" "$TMP/rebased"
"$PY" - "$TMP/rebased" "$TMP/base.tar" <<'EOF' >"$TMP/rebased.digest" || die "cannot rebuild the layout"
import gzip, hashlib, json, os, sys
lay, tar = sys.argv[1], sys.argv[2]
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(lay, "blobs", "sha256", d), "wb").write(data)
    return "sha256:" + d, len(data)
raw = bytearray(open(tar, "rb").read())
i = raw.index(b"base\n")                  # etc/hostname's content
raw[i:i + 4] = b"BASE"
layer = put(gzip.compress(bytes(raw), mtime=0))
idx = json.load(open(os.path.join(lay, "index.json")))
mdesc = idx["manifests"][0]
m = json.load(open(os.path.join(lay, "blobs", "sha256", mdesc["digest"][7:])))
m["layers"][0]["digest"], m["layers"][0]["size"] = layer
mdesc["digest"], mdesc["size"] = put(json.dumps(m).encode())
json.dump(idx, open(os.path.join(lay, "index.json"), "w"))
print(layer[0])
EOF
expect_refused rebased "layer $(cat "$TMP/rebased.digest"): diff_id mismatch: got sha256:" "$TMP/rebased"
finish
