#!/bin/sh
# tests/cli/prefetch_create.sh -- soci create --prefetch-files writes
# upstream's prefetch artifacts, and soci prefetch list/info show them.
#
# Two gzip layers made by GNU tar + gzip from random files (so every span
# holds distinct bytes), indexed at --span-size 64 KiB.  The prefetch list
# names files in both layers, a path written "/a/./b/../f5" (cleaned to
# a/f5), a path both layers hold (the top layer must win) and a path no
# layer holds; --prefetch-file adds one more.  The expected artifacts are
# computed here, not by the C code: each file's data offset from Python's
# tarfile reading the layer, the span starts from the ztoc's checkpoints
# (lib/ztoctool.py), span_of(x) = the last span starting at or before x,
# the range [span_of(off), span_of(off + size)], ranges merged when
# start <= previous end + 1, Go's JSON bytes.  Checked:
#   1. exit 0, exactly one warning line on stderr, naming the missing path;
#   2. each artifact's bytes and digest; the index lists them after the
#      ztocs, in layer order, mediaType prefetch.v1+json, annotated with the
#      layer digest; "Created prefetch artifact for layer L: D" per layer;
#   3. soci prefetch list (table and --json: TotalSpans = sum of
#      end-start+1) and info (text and --json = the artifact indented);
#   4. without the option the index has no prefetch descriptor.
. "$ROOT/tests/cli/lib/packer.sh"
need tar cmp
tar --version 2>/dev/null | grep -q 'GNU tar' || { echo "skip: tar is not GNU tar"; exit 77; }
MKLAYOUT="$PY $ROOT/tests/cli/lib/mklayout.py"

mkdir -p "$TMP/r1/a/b" "$TMP/r2"
for i in 1 2 3 4 5 6; do
    head -c $((300000 + i * 1000)) /dev/urandom >"$TMP/r1/a/f$i"
done
head -c 5000 /dev/urandom >"$TMP/r1/a/b/small"
head -c 70000 /dev/urandom >"$TMP/r1/shared"
echo top >"$TMP/r2/top.txt"
head -c 200000 /dev/urandom >"$TMP/r2/big"
head -c 90000 /dev/urandom >"$TMP/r2/shared"
tar -C "$TMP/r1" -cf - a shared | gzip -n >"$TMP/l1.tgz"
tar -C "$TMP/r2" -cf - big top.txt shared | gzip -n >"$TMP/l2.tgz"
$MKLAYOUT "$TMP/img" t "$TMP/l1.tgz" "$TMP/l2.tgz" >/dev/null || die "mklayout failed"
cp -a "$TMP/img" "$TMP/plain"
L1=sha256:$(sha256sum "$TMP/l1.tgz" | cut -c1-64)
L2=sha256:$(sha256sum "$TMP/l2.tgz" | cut -c1-64)
printf '/a/f2\na/b/small\n\n//a/./b/../f5\nnope/missing\ntop.txt\nshared\n' >"$TMP/list"

"$SOCI" create --min-layer-size 0 --span-size 65536 --prefetch-files "$TMP/list" --prefetch-file a/f1 \
    "oci:$TMP/img:t" >"$TMP/out" 2>"$TMP/err"
rc=$?
# 1. a missing path warns once and does not fail
[ "$rc" = 0 ] || die "soci create exited $rc: $(cat "$TMP/err")"
[ "$(lines "$TMP/err")" = 1 ] || fail "stderr has $(lines "$TMP/err") lines, want 1: $(cat "$TMP/err")"
grep -q 'warning.*nope/missing' "$TMP/err" || fail "no warning naming nope/missing: $(cat "$TMP/err")"

# 2. the artifacts, computed independently
IX=$(soci_entries "$TMP/img")
[ "$(echo "$IX" | wc -l)" = 1 ] || die "want one SOCI index, got: $IX"
"$PY" - "$TMP" "$IX" "$L1" "$L2" "$LIB" <<'EOF' || fail "prefetch artifacts differ from the rules"
import gzip, hashlib, json, subprocess, sys, tarfile
tmp, ix, l1, l2, lib = sys.argv[1:6]
def blob(d):
    return open("%s/img/blobs/sha256/%s" % (tmp, d[7:]), "rb").read()
index = json.loads(blob(ix))
descs = index["layers"]
ztocs = [d for d in descs if d["mediaType"] == "application/octet-stream"]
pf = [d for d in descs if d["mediaType"] == "application/vnd.amazon.soci.prefetch.v1+json"]
assert len(ztocs) == 2 and len(pf) == 2, descs
assert descs == ztocs + pf, "prefetch descriptors must follow the ztocs"
paths = ["a/f2", "a/b/small", "a/f5", "nope/missing", "top.txt", "shared", "a/f1"]
layers = [(l1, "l1.tgz"), (l2, "l2.tgz")]
# offsets by tarfile, span starts by ztoctool: neither is the C code
toc, starts = {}, {}
for ld, f in layers:
    with tarfile.open("%s/%s" % (tmp, f), "r:gz") as tf:
        toc[ld] = {m.name: (m.offset_data, m.size) for m in tf.getmembers()}
    z = [d for d in ztocs if d["annotations"]["com.amazon.soci.image-layer-digest"] == ld][0]
    out = subprocess.run([sys.executable, lib + "/ztoctool.py", "spans",
                          "%s/img/blobs/sha256/%s" % (tmp, z["digest"][7:])], capture_output=True, check=True)
    starts[ld] = [s["ustart"] for s in json.loads(out.stdout)["spans"]]
def span_of(ld, x):
    return max(i for i, s in enumerate(starts[ld]) if s <= x)
ranges = {l1: [], l2: []}
for p in paths:
    for ld, _ in reversed(layers):  # the top layer first
        if p in toc[ld]:
            off, size = toc[ld][p]
            ranges[ld].append((span_of(ld, off), span_of(ld, off + size)))
            break
want = {}
for ld, _ in layers:
    rs = sorted(ranges[ld])
    merged = []
    for s, e in rs:
        if merged and s <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    want[ld] = json.dumps({"version": "1.0", "prefetch_spans": [{"start_span": s, "end_span": e} for s, e in merged]},
                          separators=(",", ":")).encode()
assert len(ranges[l1]) == 4 and len(ranges[l2]) == 2, ranges  # shared went to the top layer only
for (ld, _), d in zip(layers, pf):
    assert d["annotations"] == {"com.amazon.soci.image-layer-digest": ld}, d
    got = blob(d["digest"])
    assert got == want[ld], (ld, got, want[ld])
    assert d["digest"] == "sha256:" + hashlib.sha256(got).hexdigest() and d["size"] == len(got), d
    print("layer %s: %s" % (ld, got.decode()))
with open(tmp + "/want.lines", "w") as f:
    for (ld, _), d in zip(layers, pf):
        f.write("Created prefetch artifact for layer %s: %s\n" % (ld, d["digest"]))
    for (ld, _), d in zip(layers, pf):
        spans = sum(r["end_span"] - r["start_span"] + 1 for r in json.loads(want[ld])["prefetch_spans"])
        f.write("%s %s %d\n" % (d["digest"], ld, spans))
EOF
head -n 2 "$TMP/want.lines" >"$TMP/want.created"
grep '^Created prefetch' "$TMP/out" >"$TMP/got.created"
cmp -s "$TMP/want.created" "$TMP/got.created" ||
    fail "create's lines: $(cat "$TMP/got.created"), want $(cat "$TMP/want.created")"

# 3. soci prefetch list / info
tail -n 2 "$TMP/want.lines" >"$TMP/want.list"
"$SOCI" prefetch list --layout "$TMP/img" >"$TMP/list.out" || fail "soci prefetch list failed"
head -n 1 "$TMP/list.out" | grep -q '^DIGEST  *LAYER DIGEST  *SPANS  *CREATED' || fail "list header: $(head -n 1 "$TMP/list.out")"
tail -n +2 "$TMP/list.out" | awk '{ print $1, $2, $3 }' >"$TMP/got.list"
cmp -s "$TMP/want.list" "$TMP/got.list" || fail "prefetch list: $(cat "$TMP/got.list"), want $(cat "$TMP/want.list")"
SOCI_LAYOUT="$TMP/img" "$SOCI" prefetch list --json >"$TMP/list.json" || fail "soci prefetch list --json failed"
"$PY" - "$TMP/list.json" "$TMP/want.list" <<'EOF' || fail "prefetch list --json: $(cat "$TMP/list.json")"
import json, sys
got = json.load(open(sys.argv[1]))
want = [l.split() for l in open(sys.argv[2])]
assert [[g["Digest"], g["LayerDigest"], str(g["TotalSpans"])] for g in got] == want, (got, want)
assert all(g["CreatedAt"].endswith("Z") for g in got)
EOF
PF=$(awk 'NR == 1 { print $1 }' "$TMP/want.list")
"$SOCI" prefetch info --json "oci:$TMP/img" "$PF" >"$TMP/info.json" || fail "soci prefetch info --json failed"
"$PY" -c 'import json, sys; a, b = sys.argv[1:3]; assert json.load(open(a)) == json.load(open(b)), "differ"' \
    "$TMP/info.json" "$(blob "$TMP/img" "$PF")" || fail "info --json is not the artifact"
grep -q '^  "prefetch_spans": \[' "$TMP/info.json" || fail "info --json is not indented: $(cat "$TMP/info.json")"
"$SOCI" prefetch info --layout "$TMP/img" "$PF" >"$TMP/info.txt" || fail "soci prefetch info failed"
grep -q "^Digest: $PF\$" "$TMP/info.txt" && grep -q "^Layer Digest: $L1\$" "$TMP/info.txt" &&
    grep -q '^Version: 1.0$' "$TMP/info.txt" || fail "info text: $(cat "$TMP/info.txt")"
"$SOCI" prefetch info --layout "$TMP/img" sha256:0000000000000000000000000000000000000000000000000000000000000000 \
    >/dev/null 2>"$TMP/info.err" && fail "info of an unknown digest succeeded"
[ "$(lines "$TMP/info.err")" = 1 ] || fail "info of an unknown digest: $(cat "$TMP/info.err")"

# 4. no option, no prefetch descriptor
"$SOCI" create -q --min-layer-size 0 --span-size 65536 "oci:$TMP/plain:t" || fail "plain create failed"
grep -q prefetch "$(blob "$TMP/plain" "$(soci_entries "$TMP/plain")")" &&
    fail "an index without --prefetch-files names a prefetch artifact"
finish
