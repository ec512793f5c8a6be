# tests/integration/snapshotter_prefetch.sh -- prefetch artifacts through
# containerd: `soci create --prefetch-files`, `soci push`, our daemon with
# [prefetch] enable, `soci image rpull --soci-index-digest`, then
# `ctr run --snapshotter soci` reading the files.
#
# Two images of the same shape (different random bytes, so different layer
# digests and no shared cache): a busybox layer and one indexed layer (1 MiB
# spans, ~25 spans) of, in tar order,
#   a/lazy.bin                    2 MiB, in no prefetch list
#   m/pad.bin                     14 MiB
#   z/deep/nested/prefetched.bin  3 MiB + 123 bytes, in the prefetch list
#   zz/tail.bin                   6 MiB, in no prefetch list
# and the list also names /no/such/file.  Spans follow the prefetched file
# on purpose: the daemon always grants soci-mount a disk cache, so a
# sequential reader triggers readahead of the spans after what it reads.
# Reading a prefetched file must not: those spans are the list at work, not
# a reader heading on (before the span cache knew prefetched spans, reading
# the file drew 2 ranged GETs of the spans after it here, which the zero
# below counts).
#
# Asserted against the counterparts:
# - soci create: exit 0, one warning line on stderr for the missing path,
#   and an artifact whose one range is the file's spans, from the file's
#   offset GNU tar reports (--block-number) and the span starts the ztoc's
#   checkpoints give (lib/ztoctool.py, not the C code);
# - [prefetch] enable = true: when rpull returns, the layer is a FUSE mount
#   (/proc/self/mounts) and the registry's access log shows, for the layer
#   blob, span 0 and one ranged GET whose byte count is the range's
#   compressed size; `cat` of the prefetched file in a container gives GNU
#   tar's bytes with ZERO more GETs of the layer; `cat` of a/lazy.bin
#   (not prefetched) then needs at least one (so the zero is not a count
#   that cannot move);
# - [prefetch] enable = false (the daemon restarted with that config): at
#   mount time only span 0 is fetched, and reading the prefetched file
#   needs GETs (tar's bytes again).
# Background fetch is off in both configs: it would fetch spans on its own.
. "$ROOT/tests/integration/lib/integration.sh"
tar --version 2>/dev/null | grep -q 'GNU tar' || { echo "skip: tar is not GNU tar"; exit 77; }
need cmp

PF_FILE=z/deep/nested/prefetched.bin
LAZY_FILE=a/lazy.bin

# snapd_config FILE ON: a daemon config with [prefetch] enable = ON
snapd_config() {
    cat >"$1" <<EOF
[prefetch]
enable = $2

[background_fetch]
disable = true
EOF
}

# make_image NAME SEED: layout $TMP/NAME (tag v1), indexed with 1 MiB spans
# and the prefetch list; sets LAYER (the indexed layer's digest), TGZ (its
# file) and IDX (the SOCI index); writes $TMP/NAME.spans (ztoctool's spans),
# $TMP/NAME.want ("STATUS BYTES" of the GETs a mount with the artifact
# makes) and GNU tar's extraction of the two files into $TMP/NAME.x
make_image() {
    _n=$1 _seed=$2 _w=$TMP/src-$1
    rm -rf "$_w"
    mkdir -p "$_w/l2/a" "$_w/l2/m" "$_w/l2/z/deep/nested" "$_w/l2/zz"
    $MKLAYER busybox "$_w/l1" || die "could not make the busybox layer"
    $MKLAYER random "$_w/l2/$LAZY_FILE" $((2 << 20)) $((_seed * 3)) || die "could not write $LAZY_FILE"
    $MKLAYER random "$_w/l2/m/pad.bin" $((14 << 20)) $((_seed * 3 + 1)) || die "could not write m/pad.bin"
    $MKLAYER random "$_w/l2/$PF_FILE" $(((3 << 20) + 123)) $((_seed * 3 + 2)) || die "could not write $PF_FILE"
    $MKLAYER random "$_w/l2/zz/tail.bin" $((6 << 20)) $((_seed + 1000)) || die "could not write zz/tail.bin"
    $MKLAYER tar "$_w/l1" "$_w/l1.tgz" || die "could not tar layer 1"
    $MKLAYER tar "$_w/l2" "$_w/l2.tgz" || die "could not tar layer 2"
    TGZ=$_w/l2.tgz
    LAYER=sha256:$(sha256sum <"$TGZ" | cut -c1-64)
    "$PY" "$MKLAYOUT_PY" "$TMP/$_n" v1 "$_w/l1.tgz" "$TGZ" >/dev/null || die "mklayout.py failed"
    rm -rf "$_w/l1" "$_w/l2"

    printf '/%s\n/no/such/file\n' "$PF_FILE" >"$TMP/prefetch.list"
    "$SOCI" create --span-size 1048576 --prefetch-files "$TMP/prefetch.list" "oci:$TMP/$_n:v1" \
        >"$TMP/$_n.create.out" 2>"$TMP/$_n.create.err" ||
        die "soci create --prefetch-files failed: $(cat "$TMP/$_n.create.out" "$TMP/$_n.create.err")"
    if [ "$(lines "$TMP/$_n.create.err")" -ne 1 ] || ! grep -q 'no/such/file' "$TMP/$_n.create.err"; then
        fail "$_n: soci create: want one warning line naming no/such/file on stderr, got: $(cat "$TMP/$_n.create.err")"
    fi
    grep -q "^Created prefetch artifact for layer $LAYER: sha256:[0-9a-f]\{64\}$" "$TMP/$_n.create.out" ||
        fail "$_n: soci create did not report the artifact of $LAYER: $(cat "$TMP/$_n.create.out")"
    IDX=$(soci_entries "$TMP/$_n")
    [ -n "$IDX" ] || die "$_n: no SOCI index in the layout"

    # the file's data offset, as GNU tar numbers it: the header's 512-byte
    # block, data in the next (a short name: no extended header)
    _blk=$(tar --block-number -tzvf "$TGZ" | sed -n "s|^block \([0-9]*\): .* $PF_FILE\$|\1|p")
    [ -n "$_blk" ] || die "$_n: GNU tar does not list $PF_FILE"
    # the index's ztoc and prefetch artifact for the layer (by its annotation)
    _zp=$("$PY" -c '
import json, sys
ls = [l for l in json.load(open(sys.argv[1]))["layers"]
      if l.get("annotations", {}).get("com.amazon.soci.image-layer-digest") == sys.argv[2]]
z = [l["digest"] for l in ls if l["mediaType"] == "application/octet-stream"]
p = [l["digest"] for l in ls if l["mediaType"] == "application/vnd.amazon.soci.prefetch.v1+json"]
if len(z) == 1 and len(p) == 1:
    print(z[0], p[0])' "$(blob "$TMP/$_n" "$IDX")" "$LAYER")
    [ -n "$_zp" ] || die "$_n: the index names no single ztoc and prefetch artifact for $LAYER"
    # shellcheck disable=SC2086 # two digests
    set -- $_zp
    _ztoc=$1 _pf=$2
    "$PY" "$LIB/ztoctool.py" spans "$(blob "$TMP/$_n" "$_ztoc")" >"$TMP/$_n.spans" || die "ztoctool spans failed"
    # the range the artifact must hold, the mount's GETs it implies, and
    # the artifact's own range: "WANT_START WANT_END NSPANS GOT_START GOT_END"
    "$PY" - "$TMP/$_n.spans" "$(blob "$TMP/$_n" "$_pf")" $(((_blk + 1) * 512)) $(((3 << 20) + 123)) \
        >"$TMP/$_n.plan" 2>&1 <<'EOF' || die "$_n: cannot plan: $(cat "$TMP/$_n.plan")"
import json, sys
sp = json.load(open(sys.argv[1]))["spans"]
art = json.load(open(sys.argv[2]))["prefetch_spans"]
off, size = int(sys.argv[3]), int(sys.argv[4])
def span_of(u):
    return max(i for i, s in enumerate(sp) if s["ustart"] <= u)
a, b = span_of(off), span_of(off + size)
print(a, b, len(sp), " ".join("%d %d" % (r["start_span"], r["end_span"]) for r in art))
EOF
    # shellcheck disable=SC2046 # numbers
    set -- $(cat "$TMP/$_n.plan")
    echo "$_n: layer $LAYER, $3 spans; $PF_FILE at byte $(((_blk + 1) * 512)): spans $1-$2; artifact ranges: $4 $5 ${6:-}"
    if [ $# -ne 5 ] || [ "$4" != "$1" ] || [ "$5" != "$2" ]; then
        fail "$_n: the prefetch artifact holds '$4 $5 ${6:-}', want the one range $1 $2"
    fi
    [ "$1" -gt 0 ] || die "$_n: $PF_FILE starts in span 0: not deep in the layer"
    [ "$2" -le $(($3 - 5)) ] || die "$_n: fewer than 4 spans follow $PF_FILE's last: readahead would not show"
    [ "$3" -ge 10 ] || die "$_n: only $3 spans"
    "$PY" -c '
import json, sys
sp = json.load(open(sys.argv[1]))["spans"]
a, b = int(sys.argv[2]), int(sys.argv[3])
print("206 %d" % sp[0]["cend"])  # span 0, from byte 0 with the gzip header
print("206 %d" % (sp[b]["cend"] - sp[a]["cstart"]))' "$TMP/$_n.spans" "$1" "$2" >"$TMP/$_n.want"
    mkdir -p "$TMP/$_n.x"
    tar -xzf "$TGZ" -C "$TMP/$_n.x" "$PF_FILE" "$LAZY_FILE" || die "GNU tar cannot extract from $TGZ"
}

# gets REPO DIGEST: the layer's GETs the registry answered with data,
# "STATUS BYTES" a line (a 401 is the Basic-auth challenge: no bytes)
gets() {
    blob_gets "$REG_DIR/log" "$1" "$2" | grep -v '^401 '
}

# settle REPO DIGEST N: wait for N such GETs (the log line follows the answer)
settle() {
    _i=0
    while [ "$(gets "$1" "$2" | wc -l)" -lt "$3" ] && [ $_i -lt 100 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    sleep 1
}

# pull NAME REPO: soci image rpull of $REG/REPO:v1 with --soci-index-digest
# $IDX; the mount holding $PF_FILE in MP
pull() {
    timeout -k 5 "$CTR_TIMEOUT" "$SOCI" image rpull --address "$CTD" --namespace "$NS" --plain-http \
        --user "$REG_USER:$REG_PASS" --soci-index-digest "$IDX" "$REG/$2:v1" >"$TMP/$1.rpull.out" 2>&1 || {
        cat "$TMP/$1.rpull.out"
        snapd_log_tail 30
        die "$1: soci image rpull failed"
    }
    MP=""
    for _m in $(fuse_mounts); do
        [ -f "$_m/$PF_FILE" ] && MP=$_m
    done
    [ -n "$MP" ] || die "$1: no FUSE mount under $SNAP_ROOT holds $PF_FILE: $(fuse_mounts | tr '\n' ' ')"
    echo "$1: rpull done; $PF_FILE is on the FUSE mount $MP ($(fstype "$MP"))"
}

# mount_gets NAME REPO DIGEST WANT WHAT: the layer's GETs when rpull has
# returned (the mount answered) are exactly WANT's lines
mount_gets() {
    settle "$2" "$3" "$(lines "$4")"
    gets "$2" "$3" >"$TMP/$1.mount"
    echo "$1: layer GETs at mount time: $(tr '\n' ' ' <"$TMP/$1.mount")(want $(tr '\n' ' ' <"$4"))"
    cmp -s "$4" "$TMP/$1.mount" ||
        fail "$1: the mount's GETs (status bytes) are $(tr '\n' ' ' <"$TMP/$1.mount"), want $5: $(tr '\n' ' ' <"$4")"
}

# read_gets NAME REPO DIGEST FILE MORE: a container cats /FILE, whose bytes
# must be GNU tar's; NEW = the layer GETs it made (MORE=1: wait for one)
read_gets() {
    _before=$(gets "$2" "$3" | wc -l)
    _c=$1-$(echo "$4" | tr -c 'a-z0-9\n' -)
    ctrx run --rm --snapshotter soci "$REG/$2:v1" "$_c" /bin/cat "/$4" >"$TMP/$_c.out" 2>"$TMP/$_c.err" || {
        cat "$TMP/$_c.err"
        snapd_log_tail 20
        fail "$1: ctr run --snapshotter soci cat /$4 failed"
    }
    cmp "$TMP/$1.x/$4" "$TMP/$_c.out" || fail "$1: /$4 in the container differs from GNU tar's extraction"
    if [ "$5" = 1 ]; then
        settle "$2" "$3" $((_before + 1))
    else
        sleep 1
    fi
    NEW=$(($(gets "$2" "$3" | wc -l) - _before))
    echo "$1: reading /$4 ($(stat -c %s "$TMP/$_c.out") bytes) made $NEW GETs of the layer"
}

start_auth_registry
snapd_config "$TMP/on.toml" true
snapd_config "$TMP/off.toml" false
start_snapd --config "$TMP/on.toml"
start_containerd --soci "$SOCK"

make_image on 21
ON_LAYER=$LAYER ON_IDX=$IDX
push_image "$TMP/on" v1 "$REG/prefetch/on:v1"
make_image off 22
OFF_LAYER=$LAYER OFF_IDX=$IDX
push_image "$TMP/off" v1 "$REG/prefetch/off:v1"
[ -z "$(gets prefetch/on "$ON_LAYER")$(gets prefetch/off "$OFF_LAYER")" ] || die "a layer was read before any pull"

# ---- [prefetch] enable = true
IDX=$ON_IDX
pull on prefetch/on
mount_gets on prefetch/on "$ON_LAYER" "$TMP/on.want" "span 0 and the artifact's range"
read_gets on prefetch/on "$ON_LAYER" "$PF_FILE" 0
[ "$NEW" -eq 0 ] ||
    fail "on: reading the prefetched file made $NEW GETs of the layer, want 0: $(gets prefetch/on "$ON_LAYER" | tail -n "$NEW" | tr '\n' ' ')"
read_gets on prefetch/on "$ON_LAYER" "$LAZY_FILE" 1
[ "$NEW" -gt 0 ] || fail "on: reading /$LAZY_FILE (not in the list) made no GET: the zero above proves nothing"

# ---- [prefetch] enable = false: the daemon restarted with it (SIGTERM: the
# mounts above keep serving)
sh "$SNAPSH" stop "$SNAP_DIR" || fail "the daemon did not stop on SIGTERM"
start_snapd --config "$TMP/off.toml"
IDX=$OFF_IDX
pull off prefetch/off
head -n 1 "$TMP/off.want" >"$TMP/off.want0"
mount_gets off prefetch/off "$OFF_LAYER" "$TMP/off.want0" "span 0 alone"
read_gets off prefetch/off "$OFF_LAYER" "$PF_FILE" 1
[ "$NEW" -gt 0 ] || fail "off: reading /$PF_FILE made no GET with prefetch disabled"
finish
