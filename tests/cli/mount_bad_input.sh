#!/bin/sh
# tests/cli/mount_bad_input.sh -- soci-mount refuses bad inputs cleanly.
#
# The sample image (busybox layer A, data layer B) indexed with `soci create
# --min-layer-size 0`; bad ztocs come from tests/cli/lib/ztoctool.py, which
# rewrites a ztoc in place and writes a fresh SOCI index (descriptor sizes
# and digests matching the blobs, so the layout is valid and only the ztoc
# is wrong) mapping a layer to it, used with --soci-index-digest.  Cases:
#   - a ztoc of random bytes, and a real ztoc cut in half (FlatBuffers
#     verification);
#   - a real ztoc whose span 0 digest is altered (the span 0 check against
#     the blob);
#   - offsets past the layer: compressed_archive_size raised by 1 MB, and
#     the last checkpoint's "in" moved past the end of the blob;
#   - a ztoc for a different layer: A mapped to B's ztoc, A mapped to B's
#     ztoc rewritten to claim A's size, and (in a second layout) a layer
#     mapped to the ztoc of another layer of exactly the same compressed
#     size (only the span 0 proof against the blob can tell);
#   - a missing mountpoint, a non-empty mountpoint, a mountpoint that is a
#     file, a layer that is not in the image.
# Each (in the default daemon mode, and some also with -f): exit status
# not 0, exactly one line on stderr (naming the problem), nothing mounted
# on the mountpoint (/proc/mounts), no soci-mount process left; and then a
# good mount of the same layer still works.
. "$ROOT/tests/cli/lib/mount.sh"
ZT="$PY $LIB/ztoctool.py"

sample "$TMP/img" t --big-mib 4
"$SOCI" create -q --min-layer-size 0 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 ||
    die "soci create failed: $(cat "$TMP/create.out")"
A=$(layer_digests "$TMP/img" t | sed -n 1p)
B=$(layer_digests "$TMP/img" t | sed -n 2p)
IX=$(soci_entries "$TMP/img")
ztoc_of() { # LAYER: the path of its ztoc in the layout
    "$PY" - "$(blob "$TMP/img" "$IX")" "$1" "$TMP/img" <<'EOF'
import json, sys
for l in json.load(open(sys.argv[1]))["layers"]:
    if l["annotations"]["com.amazon.soci.image-layer-digest"] == sys.argv[2]:
        print(sys.argv[3] + "/blobs/sha256/" + l["digest"][7:])
EOF
}
ZA=$(ztoc_of "$A")
ZB=$(ztoc_of "$B")
[ -f "$ZA" ] && [ -f "$ZB" ] || die "no ztocs for both layers"
SIZE_A=$(stat -c %s "$(blob "$TMP/img" "$A")")

# the bad ztocs
head -c 70000 /dev/urandom >"$TMP/z.garbage"
head -c $(($(stat -c %s "$ZA") / 2)) "$ZA" >"$TMP/z.half"
$ZT spans "$ZA" >"$TMP/spans.a" || die "ztoctool spans failed"
d0=$("$PY" - "$TMP/spans.a" "$(blob "$TMP/img" "$A")" <<'EOF'
import hashlib, json, sys
sp = json.load(open(sys.argv[1]))["spans"][0]
print("sha256:" + hashlib.sha256(open(sys.argv[2], "rb").read()[sp["cstart"]:sp["cend"]]).hexdigest())
EOF
) || die "cannot compute span 0's digest"
h=${d0#sha256:}
case "$h" in 0*) bad0=sha256:1${h#?} ;; *) bad0=sha256:0${h#?} ;; esac
$ZT replace "$ZA" "$TMP/z.span0" "$d0" "$bad0" || die "the span 0 digest is not in A's ztoc"
$ZT set-size "$ZA" "$TMP/z.bigsize" $((SIZE_A + 1000000)) || die "set-size failed"
last=$(($("$PY" "$LIB/ztoctool.py" spans "$ZB" | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)["spans"]))') - 1))
[ "$last" -ge 1 ] || die "B's ztoc has a single span"
$ZT set-checkpoint-in "$ZB" "$TMP/z.pastend" "$last" $(($(stat -c %s "$(blob "$TMP/img" "$B")") + 4096)) ||
    die "set-checkpoint-in failed"
$ZT set-size "$ZB" "$TMP/z.b-as-a" "$SIZE_A" || die "set-size failed"
# two layers of exactly the same compressed size (equal-length tars, stored
# deflate), so that only the span 0 proof can tell one's ztoc from the other's
"$PY" - "$TMP/twins" <<'EOF' || die "cannot write the twin layers"
import gzip, io, os, random, sys, tarfile
os.makedirs(sys.argv[1], exist_ok=True)
for name, seed in (("x.tgz", 1), ("y.tgz", 2)):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        data = random.Random(seed).randbytes(300000)
        ti = tarfile.TarInfo("f")
        ti.size, ti.mtime = len(data), 1700000000
        tf.addfile(ti, io.BytesIO(data))
    open(os.path.join(sys.argv[1], name), "wb").write(gzip.compress(buf.getvalue(), compresslevel=0, mtime=0))
EOF
[ "$(stat -c %s "$TMP/twins/x.tgz")" = "$(stat -c %s "$TMP/twins/y.tgz")" ] || die "the twin layers differ in size"
$MKLAYOUT "$TMP/twin" t "$TMP/twins/x.tgz" "$TMP/twins/y.tgz" >/dev/null || die "mklayout failed"
"$SOCI" create -q --min-layer-size 0 "oci:$TMP/twin:t" >"$TMP/create.twin" 2>&1 ||
    die "soci create (twins) failed: $(cat "$TMP/create.twin")"
X=sha256:$(sha256sum "$TMP/twins/x.tgz" | cut -c1-64)
Y=sha256:$(sha256sum "$TMP/twins/y.tgz" | cut -c1-64)
ZY=$("$PY" - "$(blob "$TMP/twin" "$(soci_entries "$TMP/twin")")" "$Y" "$TMP/twin" <<'EOF'
import json, sys
for l in json.load(open(sys.argv[1]))["layers"]:
    if l["annotations"]["com.amazon.soci.image-layer-digest"] == sys.argv[2]:
        print(sys.argv[3] + "/blobs/sha256/" + l["digest"][7:])
EOF
)
[ -f "$ZY" ] || die "no ztoc for the twin layer y"
I_TWIN=$($ZT index "$TMP/twin" t "$X=$ZY") || die "ztoctool index (twins) failed"

index() { # LAYER ZTOC: a fresh index mapping LAYER to ZTOC
    $ZT index "$TMP/img" t "$1=$2" || die "ztoctool index $1=$2 failed"
}
I_GARBAGE=$(index "$A" "$TMP/z.garbage")
I_HALF=$(index "$A" "$TMP/z.half")
I_SPAN0=$(index "$A" "$TMP/z.span0")
I_BIGSIZE=$(index "$A" "$TMP/z.bigsize")
I_PASTEND=$(index "$B" "$TMP/z.pastend")
I_OTHER=$(index "$A" "$ZB")
I_BASA=$(index "$A" "$TMP/z.b-as-a")
I_GOOD=$(index "$A" "$ZA")

n=0
# refuse WHAT WANT_TEXT MP [-f] ARGS...: soci-mount ARGS MP must fail cleanly
refuse() {
    what=$1 text=$2 mp=$3
    shift 3
    n=$((n + 1))
    "$MOUNT" --no-background-fetch --cache-dir "$TMP/cache" "$@" "$mp" </dev/null >"$TMP/out.$n" 2>"$TMP/err.$n"
    rc=$?
    [ $rc -ne 0 ] || fail "$what: exit 0"
    one_line "$TMP/err.$n" "$what" "$text"
    [ -s "$TMP/out.$n" ] && fail "$what: wrote to stdout: $(cat "$TMP/out.$n")"
    if is_mounted "$mp"; then
        fail "$what: $mp is mounted"
        fusermount3 -u -z "$mp" 2>/dev/null
    fi
    i=0
    while [ -n "$(daemon_pid "$mp")" ] && [ $i -lt 100 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    p=$(daemon_pid "$mp")
    [ -z "$p" ] || { fail "$what: soci-mount $p still runs"; track "$p"; }
    echo "ok: $what: exit $rc: $(cat "$TMP/err.$n")"
}
mkdir -p "$TMP/mp"
S="oci:$TMP/img:t"
refuse "random bytes as a ztoc" "ztoc" "$TMP/mp" --soci-index-digest "$I_GARBAGE" "$S" --layer "$A"
refuse "random bytes as a ztoc (-f)" "ztoc" "$TMP/mp" -f --soci-index-digest "$I_GARBAGE" "$S" --layer "$A"
refuse "a ztoc cut in half" "ztoc" "$TMP/mp" --soci-index-digest "$I_HALF" "$S" --layer "$A"
refuse "span 0's digest altered" "span 0" "$TMP/mp" --soci-index-digest "$I_SPAN0" "$S" --layer "$A"
refuse "compressed_archive_size past the layer" "ztoc" "$TMP/mp" --soci-index-digest "$I_BIGSIZE" "$S" --layer "$A"
refuse "a checkpoint past the layer" "outside" "$TMP/mp" --soci-index-digest "$I_PASTEND" "$S" --layer "$B"
refuse "a checkpoint past the layer (-f)" "outside" "$TMP/mp" -f --soci-index-digest "$I_PASTEND" "$S" --layer "$B"
refuse "the ztoc of another layer" "ztoc" "$TMP/mp" --soci-index-digest "$I_OTHER" "$S" --layer "$A"
refuse "another layer's ztoc claiming this size" "outside the archive" "$TMP/mp" --soci-index-digest "$I_BASA" "$S" --layer "$A"
refuse "the ztoc of a layer of the same size" "does not fit this layer" "$TMP/mp" --soci-index-digest "$I_TWIN" "oci:$TMP/twin:t" --layer "$X"
refuse "the ztoc of a layer of the same size (-f)" "does not fit this layer" "$TMP/mp" -f --soci-index-digest "$I_TWIN" "oci:$TMP/twin:t" --layer "$X"
refuse "a missing mountpoint" "No such file" "$TMP/nothere" "$S" --layer "$A"
[ -e "$TMP/nothere" ] && fail "a missing mountpoint: soci-mount created it"
mkdir -p "$TMP/full"
echo x >"$TMP/full/file"
refuse "a non-empty mountpoint" "not empty" "$TMP/full" "$S" --layer "$A"
refuse "a non-empty mountpoint (-f)" "not empty" "$TMP/full" -f "$S" --layer "$A"
[ "$(ls "$TMP/full")" = file ] || fail "the non-empty mountpoint changed: $(ls "$TMP/full")"
echo x >"$TMP/afile"
refuse "a file as mountpoint" "not a directory" "$TMP/afile" "$S" --layer "$A"
refuse "a layer not in the image" "not a layer" "$TMP/mp" "$S" --layer "sha256:$(printf %064d 0)"
refuse "an index that is not there" "no SOCI index" "$TMP/mp" --soci-index-digest "sha256:$(printf %064d 1)" "$S" --layer "$A"

# the good index through the same path mounts (the bad ones were refused for their ztocs)
"$MOUNT" --no-background-fetch --cache-dir "$TMP/cache" --soci-index-digest "$I_GOOD" "$S" --layer "$A" "$TMP/mp" \
    2>"$TMP/good.err" || fail "the hand-made good index does not mount: $(cat "$TMP/good.err")"
p=$(daemon_pid "$TMP/mp")
[ -n "$p" ] && track "$p"
cmp -s "$TMP/mp/bin/busybox" /bin/busybox || fail "the good mount does not serve bin/busybox"
fusermount3 -u "$TMP/mp" || fail "cannot unmount the good mount"
finish
