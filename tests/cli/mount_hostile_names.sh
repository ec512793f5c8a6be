#!/bin/sh
# tests/cli/mount_hostile_names.sh -- a layer whose entry names try to leave
# the mount ("../../x", "/abs/x", "a/../../x", "./d/./x") is indexed and
# mounted, and every entry resolves inside the mount under the name
# upstream gives it (Go's path.Clean("/" + name) without the leading "/"):
#   - each file is found at its cleaned path with its own bytes, and the
#     mount's listing is exactly the set of cleaned paths (no entry is lost,
#     none lands anywhere else: a canary beside the mount point is untouched
#     and no file of these names appears outside the mount);
#   - a hard link whose target is "../../escape.txt" is the cleaned file
#     (same inode, same bytes);
#   - a symlink's target is kept verbatim (readlink), as tar stores it.
. "$ROOT/tests/cli/lib/mount.sh"
need gzip

"$PY" - "$TMP/layer.tgz" <<'EOF' || die "could not write the layer"
import gzip, io, sys, tarfile
buf = io.BytesIO()
tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
def add(name, data=None, kind=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mtime, ti.mode = kind, link, 1700000000, 0o644
    if data is not None:
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    else:
        tf.addfile(ti)
add("../../escape.txt", b"escape\n")
add("/abs/file.txt", b"absolute\n")
add("a/../../b.txt", b"dotdot in the middle\n")
add("./dot/./x.txt", b"dots\n")
add("d1/../d2/y.txt", b"sideways\n")
add("../../../../../../../../etc/soci-hostile-canary", b"deep\n")
add("lnk", kind=tarfile.LNKTYPE, link="../../escape.txt")
add("sym", kind=tarfile.SYMTYPE, link="../../../etc/passwd")
tf.close()
tar = buf.getvalue()
# tarfile must have kept the hostile names as given (the point of the test)
assert b"../../escape.txt" in tar and b"/abs/file.txt" in tar, "tarfile rewrote the names"
open(sys.argv[1], "wb").write(gzip.compress(tar, mtime=0))
EOF
$MKLAYOUT "$TMP/img" t "$TMP/layer.tgz" >/dev/null || die "mklayout failed"
"$SOCI" create -q --min-layer-size 0 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 || die "soci create: $(cat "$TMP/create.out")"
LD=$(layer_digests "$TMP/img" t | tail -n 1)

mkdir -p "$TMP/box/mp"
echo canary >"$TMP/box/canary"
mount_fg "$TMP/box/mp" "$TMP/mount.log" --cache-disk 0 "oci:$TMP/img:t" --layer "$LD" || die "soci-mount failed"
MP=$TMP/box/mp

# want PATH BYTES: PATH (cleaned) under the mount holds BYTES
want() {
    got=$(cat "$MP/$1" 2>&1)
    [ "$got" = "$2" ] || fail "$1: got \"$got\", want \"$2\""
}
want escape.txt escape
want abs/file.txt absolute
want b.txt "dotdot in the middle"
want dot/x.txt dots
want d2/y.txt sideways
want etc/soci-hostile-canary deep
want lnk escape
[ "$(stat -c %i "$MP/lnk")" = "$(stat -c %i "$MP/escape.txt")" ] || fail "the hard link to ../../escape.txt is not escape.txt's inode"
[ "$(readlink "$MP/sym")" = "../../../etc/passwd" ] || fail "sym: readlink gives \"$(readlink "$MP/sym")\""

(cd "$MP" && find . -mindepth 1 | LC_ALL=C sort) >"$TMP/listing"
# only the cleaned names and their parents: "a" and "d1", which the raw
# names pass through, are not directories of the tree
printf '%s\n' ./abs ./abs/file.txt ./b.txt ./d2 ./d2/y.txt ./dot ./dot/x.txt ./escape.txt ./etc \
    ./etc/soci-hostile-canary ./lnk ./sym | LC_ALL=C sort >"$TMP/want"
cmp -s "$TMP/want" "$TMP/listing" || { fail "the mount's entries are not the cleaned names:"; diff "$TMP/want" "$TMP/listing"; }

[ "$(cat "$TMP/box/canary")" = canary ] || fail "the file beside the mount point changed"
[ "$(ls "$TMP/box")" = "$(printf 'canary\nmp')" ] || fail "something appeared beside the mount point: $(ls "$TMP/box")"
[ ! -e /etc/soci-hostile-canary ] || fail "an entry escaped to /etc/soci-hostile-canary"
[ ! -e "$TMP/escape.txt" ] && [ ! -e "$TMP/box/escape.txt" ] || fail "escape.txt appeared outside the mount"

unmount "$MP" "$MPID" || fail "unmount failed"
finish
