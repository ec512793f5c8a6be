#!/bin/sh
# tests/cli/layer_unpack.sh -- lib/layer_unpack against GNU tar
#
# A driver (tests/cli/lib/unpack_layer.c, compiled here) feeds a layer file
# to layer_unpack in pieces of varying size.  One layer (Python's tarfile,
# PAX: dirs, big and empty files, modes with setuid/setgid/sticky, owners,
# nanosecond mtimes, symlinks absolute/relative/dangling/long, a hard link,
# a fifo, char and block devices, user.* and trusted.* xattrs, long and
# UTF-8 names, a name given twice) is unpacked as a plain tar, as one gzip
# member and as three gzip members, and each result is compared by
# tests/cli/lib/treecmp.py with GNU tar's extraction of the same tar (paths,
# types, modes, owners, mtimes, sizes, targets, devices, xattrs, bytes, hard
# links; --tar: directory mtimes from the tar, which GNU tar loses when
# entries return to a directory, and implicit directories 0755 root).  A
# hard link whose header differs from its target's is checked against
# tests/cli/lib/apply_layers.py (containerd's way: the link's owner, mode
# and mtime apply to the shared inode).  A layer with whiteouts, unpacked with overlay conversion, is
# compared the same way (treecmp's `layer` mode applies containerd's
# conversion to GNU tar's tree).  Then the failures, each of which must exit
# 1 with one line naming the cause and leave nothing at dest (an absent dest
# stays absent, an empty one stays empty, no staging directory beside it,
# nothing written outside): a wrong blob digest, a wrong diff_id, a
# truncated gzip stream, corrupted gzip bytes (reported as the blob digest
# mismatch they are), trailing garbage after the gzip stream, a blob
# longer than its size, a zstd blob, ../ and absolute entry names, a file
# written through a symlink (absolute and ..), hard links through a symlink
# or with ../, a non-empty dest.
. "$ROOT/tests/cli/lib/packer.sh"
need tar getfattr cc
[ "$(id -u)" = 0 ] || { echo "skip: needs root (owners, devices, trusted.* xattrs)"; exit 77; }

U=$TMP/unpack_layer
cc -O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$ROOT/formats" -I"$ROOT/lib" -o "$U" \
    "$LIB/unpack_layer.c" "$ROOT/lib/layer_unpack.c" "$ROOT/lib/sha256.c" "$ROOT/lib/fileio.c" \
    "$ROOT/formats/digest.c" "$ROOT/formats/error.c" -larchive -lz -lcrypto || die "cannot compile the driver"
TREECMP="$PY $LIB/treecmp.py"

mkdir -p "$TMP/outside"
echo secret >"$TMP/outside/secret"
"$PY" - "$TMP" "$LIB" <<'EOF' || die "cannot write the layers"
import gzip, os, random, sys
out = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from tarspec import tar_bytes
T = 1700000000
rnd = random.Random(3)

def tar(name, entries):
    raw = tar_bytes(entries)
    open(os.path.join(out, name + ".tar"), "wb").write(raw)
    return raw

long_dir = "deep/" + "d" * 90 + "/" + "e" * 90
raw = tar("layer", [
    ("d", "./", {"mode": 0o755}),
    ("d", "etc"), ("f", "etc/hostname", {"data": b"unpacked\n"}),
    ("f", "etc/big.bin", {"data": rnd.randbytes(1500000), "mtime": T + 0.123456789}),
    ("f", "etc/empty"),
    ("f", "etc/owned", {"data": b"owned\n", "uid": 1000, "gid": 2000, "mode": 0o600}),
    ("d", "bin"), ("f", "bin/su", {"data": b"\x7fELF\n", "mode": 0o4755}),
    ("d", "shared", {"mode": 0o2775, "gid": 50}), ("d", "tmp", {"mode": 0o1777}),
    ("l", "bin/sh", {"to": "su"}), ("l", "etc/abs", {"to": "/etc/hostname"}),
    ("l", "dangling", {"to": "no/such/file"}), ("l", "longlink", {"to": "x" * 150}),
    ("h", "etc/hostname.hard", {"to": "etc/hostname"}),
    ("d", "dev"), ("p", "dev/fifo"), ("c", "dev/null", {"dev": (1, 3)}), ("b", "dev/loop9", {"dev": (7, 9)}),
    ("f", "xattrs", {"data": b"x\n", "pax": {"SCHILY.xattr.user.note": "a note",
                                              "SCHILY.xattr.trusted.t": "trusted value"}}),
    ("d", "deep"), ("d", "deep/" + "d" * 90), ("d", long_dir),
    ("f", long_dir + "/file-with-a-long-name-" + "n" * 80, {"data": b"long\n"}),
    ("f", "caf\u00e9/na\u00efve.txt", {"data": b"utf-8\n"}),
    ("f", "twice", {"data": b"first\n"}), ("f", "twice", {"data": b"second, longer\n"}),
])
gz = gzip.compress(raw, mtime=0)
open(os.path.join(out, "layer.tar.gz"), "wb").write(gz)
cuts = [0, 777, 600000, len(raw)]
multi = b"".join(gzip.compress(raw[a:b], mtime=0) for a, b in zip(cuts, cuts[1:]))
open(os.path.join(out, "multi.tar.gz"), "wb").write(multi)
open(os.path.join(out, "truncated.tar.gz"), "wb").write(gz[:len(gz) // 2])
open(os.path.join(out, "garbage.tar.gz"), "wb").write(gz + b"not gzip")
bad = bytearray(gz)
bad[len(bad) // 2] ^= 0xff
open(os.path.join(out, "corrupt.tar.gz"), "wb").write(bytes(bad))
open(os.path.join(out, "zstd.bin"), "wb").write(b"\x28\xb5\x2f\xfd" + b"\0" * 64)

tar("wh", [
    ("d", "a", {"mtime": T + 5}), ("f", "a/.wh.gone"), ("f", "a/kept", {"data": b"kept\n"}),
    ("f", ".wh.topdir", {"mtime": T + 6}),
    ("d", "op", {"mtime": T + 7}), ("f", "op/.wh..wh..opq"), ("f", "op/new", {"data": b"new\n"}),
    ("f", "implicit/.wh.x"),
])
tar("hardmeta", [
    ("d", "d"), ("f", "d/f", {"data": b"x\n", "mode": 0o600, "uid": 5, "gid": 5}),
    ("h", "d/f.hard", {"to": "d/f", "mode": 0o4750, "uid": 7, "gid": 8, "mtime": T + 9}),
])
outside = os.path.join(out, "outside")
tar("dotdot", [("d", "a"), ("f", "../escaped", {"data": b"x\n"})])
tar("dotdot2", [("d", "a"), ("f", "a/../../escaped", {"data": b"x\n"})])
tar("absolute", [("f", "/abs-escaped", {"data": b"x\n"})])
tar("symlink_abs", [("l", "evil", {"to": outside}), ("f", "evil/pwned", {"data": b"x\n"})])
tar("symlink_up", [("d", "d"), ("l", "d/up", {"to": "../.."}), ("f", "d/up/escaped", {"data": b"x\n"})])
tar("hardlink_symlink", [("l", "evil", {"to": outside}), ("h", "stolen", {"to": "evil/secret"})])
tar("hardlink_dotdot", [("h", "stolen", {"to": "../outside/secret"})])
EOF

digest() { echo "sha256:$(sha256sum "$1" | cut -c1-64)"; }
DIFF=$(digest "$TMP/layer.tar")

# 1. plain, one gzip member, three members: each equal to GNU tar's tree
mkdir "$TMP/ref"
tar -x -f "$TMP/layer.tar" -C "$TMP/ref" --numeric-owner --same-owner -p --xattrs --xattrs-include='*' ||
    die "GNU tar could not extract the layer"
for f in layer.tar layer.tar.gz multi.tar.gz; do
    dest=$TMP/out-$f
    "$U" -s "$(stat -c %s "$TMP/$f")" -d "$DIFF" "$(digest "$TMP/$f")" "$TMP/$f" "$dest" 2>"$TMP/err" ||
        { fail "$f: unpack failed: $(cat "$TMP/err")"; continue; }
    $TREECMP layer "$TMP/ref" "$dest" --tar "$TMP/layer.tar" >"$TMP/cmp" 2>&1 ||
        fail "$f: differs from GNU tar: $(head -n 20 "$TMP/cmp")"
    [ "$(stat -c %a "$dest")" = 755 ] || fail "$f: dest mode $(stat -c %a "$dest")"
done
# an existing empty dest is replaced
mkdir "$TMP/out-empty"
"$U" -d "$DIFF" "$(digest "$TMP/layer.tar.gz")" "$TMP/layer.tar.gz" "$TMP/out-empty" 2>"$TMP/err" ||
    fail "unpack onto an empty dir failed: $(cat "$TMP/err")"
[ "$(cat "$TMP/out-empty/etc/hostname" 2>&1)" = unpacked ] || fail "unpack onto an empty dir: etc/hostname missing"

# 2. overlay whiteouts, against containerd's conversion of GNU tar's tree
mkdir "$TMP/ref-wh"
tar -x -f "$TMP/wh.tar" -C "$TMP/ref-wh" --numeric-owner --same-owner -p --xattrs --xattrs-include='*' ||
    die "GNU tar could not extract wh.tar"
"$U" -w "$(digest "$TMP/wh.tar")" "$TMP/wh.tar" "$TMP/out-wh" 2>"$TMP/err" || fail "whiteouts: $(cat "$TMP/err")"
$TREECMP layer "$TMP/ref-wh" "$TMP/out-wh" --tar "$TMP/wh.tar" >"$TMP/cmp" 2>&1 ||
    fail "whiteouts differ from the converted GNU tar tree: $(head -n 20 "$TMP/cmp")"
[ "$(stat -c '%F %t:%T %a' "$TMP/out-wh/a/gone" 2>&1)" = "character special file 0:0 0" ] ||
    fail "a/gone is not a 0/0 whiteout: $(stat -c '%F %t:%T %a' "$TMP/out-wh/a/gone" 2>&1)"
[ "$(getfattr --absolute-names --only-values -n trusted.overlay.opaque "$TMP/out-wh/op" 2>&1)" = y ] ||
    fail "op/ is not opaque"
[ -z "$(find "$TMP/out-wh" -name '.wh.*')" ] || fail ".wh. names left: $(find "$TMP/out-wh" -name '.wh.*')"
# without conversion the .wh. files are plain files
"$U" "$(digest "$TMP/wh.tar")" "$TMP/wh.tar" "$TMP/out-wh-raw" 2>"$TMP/err" || fail "no conversion: $(cat "$TMP/err")"
[ -f "$TMP/out-wh-raw/op/.wh..wh..opq" ] || fail "without -w, op/.wh..wh..opq is not kept as a file"

# a hard link's header applies to the inode it shares, as containerd's
# applier (and so tests/cli/lib/apply_layers.py) does; GNU tar would not
"$PY" "$LIB/apply_layers.py" "$TMP/ref-hardmeta" "$TMP/hardmeta.tar" || die "apply_layers.py failed"
"$U" "$(digest "$TMP/hardmeta.tar")" "$TMP/hardmeta.tar" "$TMP/out-hardmeta" 2>"$TMP/err" ||
    fail "hardmeta: $(cat "$TMP/err")"
$TREECMP plain "$TMP/ref-hardmeta" "$TMP/out-hardmeta" >"$TMP/cmp" 2>&1 ||
    fail "hard link metadata differs from containerd's way: $(head -n 20 "$TMP/cmp")"
[ "$(stat -c '%a %u %g %Y %h' "$TMP/out-hardmeta/d/f" 2>&1)" = "4750 7 8 1700000009 2" ] ||
    fail "d/f after its hard link: $(stat -c '%a %u %g %Y %h' "$TMP/out-hardmeta/d/f" 2>&1)"

# 3. failures: exit 1, one line with the cause, nothing at dest or beside it
# expect_fail NAME WANT_TEXT [DEST_KIND] -- ARGS...: DEST_KIND absent|empty
expect_fail() {
    name=$1 want=$2 kind=$3
    shift 4
    dest=$TMP/fail/$name
    mkdir -p "$TMP/fail"
    [ "$kind" = empty ] && mkdir "$dest"
    "$U" "$@" "$dest" 2>"$TMP/err"
    rc=$?
    [ $rc = 1 ] || fail "$name: exit $rc, want 1"
    [ "$(wc -l <"$TMP/err")" = 1 ] || fail "$name: $(wc -l <"$TMP/err") lines on stderr, want 1: $(cat "$TMP/err")"
    grep -qF -- "$want" "$TMP/err" || fail "$name: stderr lacks \"$want\": $(cat "$TMP/err")"
    if [ "$kind" = empty ]; then
        [ -d "$dest" ] && [ -z "$(ls -A "$dest")" ] || fail "$name: the empty dest changed: $(ls -lA "$dest" 2>&1)"
        rmdir "$dest"
    else
        [ -e "$dest" ] && fail "$name: dest exists after a failure: $(ls -lA "$dest")"
    fi
    [ -z "$(ls -A "$TMP/fail")" ] || fail "$name: left beside dest: $(ls -A "$TMP/fail")"
    rm -rf "$dest"
    [ -e "$TMP/escaped" ] && fail "$name: wrote $TMP/escaped"
    [ -e "$TMP/abs-escaped" ] || [ -e /abs-escaped ] && fail "$name: wrote abs-escaped"
    [ "$(ls "$TMP/outside")" = secret ] || fail "$name: wrote into $TMP/outside: $(ls "$TMP/outside")"
    [ "$(cat "$TMP/outside/secret")" = secret ] || fail "$name: changed $TMP/outside/secret"
}
G=$TMP/layer.tar.gz
BAD=sha256:0000000000000000000000000000000000000000000000000000000000000000
expect_fail wrong-digest "blob digest mismatch: got $(digest "$G"), want $BAD" absent -- "$BAD" "$G"
expect_fail wrong-digest-empty "blob digest mismatch" empty -- "$BAD" "$G"
expect_fail wrong-diff-id "diff_id mismatch: got $DIFF, want $BAD" empty -- -d "$BAD" "$(digest "$G")" "$G"
expect_fail plain-wrong-diff-id "diff_id mismatch" absent -- -d "$BAD" "$(digest "$TMP/layer.tar")" "$TMP/layer.tar"
expect_fail truncated "gzip stream is truncated" absent -- "$(digest "$TMP/truncated.tar.gz")" "$TMP/truncated.tar.gz"
# bytes that break the gzip stream and are not the blob named: the digest
# is the cause reported, not the inflate error it caused
expect_fail corrupt "blob digest mismatch: got $(digest "$TMP/corrupt.tar.gz"), want $(digest "$G")" absent -- \
    "$(digest "$G")" "$TMP/corrupt.tar.gz"
expect_fail garbage "gzip: incorrect header check" absent -- "$(digest "$TMP/garbage.tar.gz")" "$TMP/garbage.tar.gz"
expect_fail too-long "blob is longer than its size $(($(stat -c %s "$G") - 1))" absent -- \
    -s $(($(stat -c %s "$G") - 1)) "$(digest "$G")" "$G"
expect_fail too-short "is $(stat -c %s "$G") bytes, its size is $(($(stat -c %s "$G") + 1))" absent -- \
    -s $(($(stat -c %s "$G") + 1)) "$(digest "$G")" "$G"
expect_fail zstd "zstd layers cannot be unpacked here" absent -- "$(digest "$TMP/zstd.bin")" "$TMP/zstd.bin"
for t in dotdot dotdot2; do
    expect_fail "$t" ".. leaves the layer" absent -- "$(digest "$TMP/$t.tar")" "$TMP/$t.tar"
done
expect_fail absolute "entry /abs-escaped: absolute name" absent -- "$(digest "$TMP/absolute.tar")" "$TMP/absolute.tar"
expect_fail symlink-abs "through symlink" absent -- "$(digest "$TMP/symlink_abs.tar")" "$TMP/symlink_abs.tar"
expect_fail symlink-up "through symlink" empty -- "$(digest "$TMP/symlink_up.tar")" "$TMP/symlink_up.tar"
expect_fail hardlink-symlink "link target through a symlink" absent -- \
    "$(digest "$TMP/hardlink_symlink.tar")" "$TMP/hardlink_symlink.tar"
expect_fail hardlink-dotdot ".. leaves the layer" absent -- \
    "$(digest "$TMP/hardlink_dotdot.tar")" "$TMP/hardlink_dotdot.tar"
mkdir -p "$TMP/full"
echo x >"$TMP/full/file"
"$U" "$(digest "$G")" "$G" "$TMP/full" 2>"$TMP/err" && fail "unpacked onto a non-empty dir"
grep -q "is not empty" "$TMP/err" || fail "non-empty dest: $(cat "$TMP/err")"
[ "$(ls "$TMP/full")" = file ] || fail "non-empty dest changed: $(ls "$TMP/full")"
finish
