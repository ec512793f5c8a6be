#!/bin/sh
# tests/cli/prefetch_mount.sh -- soci-mount fetches the spans of the layer's
# prefetch artifact before the mount answers: files it names are then read
# with zero range requests.
#
# A gzip layer (GNU tar + gzip) of random files, indexed with soci create
# --span-size 64 KiB --prefetch-file a/f2 --prefetch-file a/f4, pushed with
# soci push to Debian's docker-registry with its access log on (one line
# per request: method, path, status, bytes sent: the independent count).
# soci-mount --layer from the registry, --no-background-fetch, memory cache
# only (--cache-disk 0: no sequential readahead, which would fetch spans
# past a file being read):
#   1. when the mount answers, the layer's GETs are span 0 (with the gzip
#      header) and one ranged GET per artifact range, whose bytes are those ranges'
#      compressed spans (span offsets from the ztoc's checkpoints read by
#      lib/ztoctool.py, not by the C code); the state file says the same;
#   2. reading a/f2 and a/f4 makes no request at all, and their bytes equal
#      GNU tar's extraction;
#   3. control: the same mount with --no-prefetch-artifact makes a request
#      to read a/f4 (so the count above would catch a missing prefetch);
#   4. a forged --prefetch-artifact naming spans the ztoc does not have
#      fails the mount with one line, nothing mounted.
. "$ROOT/tests/cli/lib/mount.sh"
need gzip cmp
tar --version 2>/dev/null | grep -q 'GNU tar' || { echo "skip: tar is not GNU tar"; exit 77; }

mkdir -p "$TMP/r/a"
for i in 1 2 3 4 5 6; do
    head -c $((300000 + i * 1000)) /dev/urandom >"$TMP/r/a/f$i"
done
tar -C "$TMP/r" -cf - a | gzip -n >"$TMP/l.tgz"
$MKLAYOUT "$TMP/img" t "$TMP/l.tgz" >/dev/null || die "mklayout failed"
LD=sha256:$(sha256sum "$TMP/l.tgz" | cut -c1-64)
"$SOCI" create -q --min-layer-size 0 --span-size 65536 --prefetch-file a/f2 --prefetch-file /a/f4 "oci:$TMP/img:t" \
    >"$TMP/create.out" 2>&1 || die "soci create failed: $(cat "$TMP/create.out")"
IX=$(soci_entries "$TMP/img")
# ZTOC PF: the index's ztoc and prefetch artifact
set -- $("$PY" -c '
import json, sys
ls = json.load(open(sys.argv[1]))["layers"]
print(ls[0]["digest"], [l for l in ls if l["mediaType"].endswith("prefetch.v1+json")][0]["digest"])' "$(blob "$TMP/img" "$IX")") ||
    die "no prefetch artifact in the index"
ZD=$1 PF=$2
"$PY" "$LIB/ztoctool.py" spans "$(blob "$TMP/img" "$ZD")" >"$TMP/spans.json" || die "ztoctool spans failed"
# the expected GETs at mount time, "STATUS BYTES" a line: span 0 (read from
# byte 0: the gzip header is checked in the same request), one per range
"$PY" - "$TMP/spans.json" "$(blob "$TMP/img" "$PF")" >"$TMP/want.mount" <<'EOF' || die "cannot plan: $(cat "$TMP/want.mount")"
import json, sys
sp = json.load(open(sys.argv[1]))["spans"]
ranges = json.load(open(sys.argv[2]))["prefetch_spans"]
assert len(ranges) == 2 and all(r["start_span"] > 0 for r in ranges), ranges
print("206 %d" % sp[0]["cend"])  # span 0 with the gzip header before it
for r in ranges:
    print("206 %d" % (sp[r["end_span"]]["cend"] - sp[r["start_span"]]["cstart"]))
print("SPANS", 1 + sum(r["end_span"] - r["start_span"] + 1 for r in ranges))
EOF
NSPANS=$(sed -n 's/^SPANS //p' "$TMP/want.mount")
sed -i '/^SPANS /d' "$TMP/want.mount"

REGISTRY_ACCESS_LOG=1 start_registry "$TMP/reg"
"$SOCI" push --plain-http -q "oci:$TMP/img:t" "$REG/pf:t" >"$TMP/push.out" 2>&1 ||
    die "soci push failed: $(cat "$TMP/push.out")"
gets() { blob_gets "$TMP/reg/log" pf "$LD"; }
settle() { wait_gets "$TMP/reg/log" pf "$LD" "$1"; }
[ -z "$(gets)" ] || die "the layer blob was read before the mount: $(gets)"

# 1. the mount answers with the artifact's spans fetched
mkdir -p "$TMP/mp" "$TMP/x"
mount_fg "$TMP/mp" "$TMP/mount.log" --plain-http --no-background-fetch --cache-disk 0 \
    "$REG/pf:t" --layer "$LD" || die "soci-mount failed"
# at once, before any wait: the spans were fetched before the mount answered
[ "$(state "$TMP/mp" "$LD" spansFetched)" = "$NSPANS" ] ||
    fail "when the mount answered: spansFetched $(state "$TMP/mp" "$LD" spansFetched), want $NSPANS"
settle "$(lines "$TMP/want.mount")"
gets >"$TMP/got.mount"
cmp -s "$TMP/want.mount" "$TMP/got.mount" ||
    fail "mounting: layer GETs (status bytes) $(tr '\n' ' ' <"$TMP/got.mount"), want $(tr '\n' ' ' <"$TMP/want.mount")"
grep -q '"msg":"prefetched"' "$TMP/mount.log" || fail "no prefetched record in the log"

# 2. the named files: zero requests, tar's bytes
tar -xzf "$TMP/l.tgz" -C "$TMP/x" a/f2 a/f4 || die "tar cannot extract"
for f in a/f2 a/f4; do
    cmp "$TMP/x/$f" "$TMP/mp/$f" || fail "$f read through the mount differs from tar's extraction"
done
settle 99 # nothing more is coming: settle
gets >"$TMP/got.read"
cmp -s "$TMP/want.mount" "$TMP/got.read" ||
    fail "reading the prefetched files made requests: $(tr '\n' ' ' <"$TMP/got.read")"
unmount "$TMP/mp" "$MPID" || fail "fusermount3 -u did not end soci-mount"

# 3. control: without the artifact, reading a/f4 goes to the registry
before=$(gets | wc -l)
mkdir -p "$TMP/mp2"
mount_fg "$TMP/mp2" "$TMP/mount2.log" --plain-http --no-background-fetch --cache-disk 0 \
    --no-prefetch-artifact "$REG/pf:t" --layer "$LD" || die "soci-mount --no-prefetch-artifact failed"
cmp "$TMP/x/a/f4" "$TMP/mp2/a/f4" || fail "a/f4 differs without prefetch"
settle $((before + 2))
[ "$(gets | wc -l)" -ge $((before + 2)) ] ||
    fail "control: mount + read without the artifact made $(($(gets | wc -l) - before)) GETs, want >= 2"
unmount "$TMP/mp2" "$MPID" || fail "fusermount3 -u did not end the second soci-mount"

# 4. a forged artifact: spans the ztoc does not have
printf '{"version":"1.0","prefetch_spans":[{"start_span":1,"end_span":99999}]}' >"$TMP/forged.json"
mkdir -p "$TMP/mp3"
timeout 60 "$MOUNT" -f --plain-http --cache-dir "$TMP/cache3" --prefetch-artifact "$TMP/forged.json" "$REG/pf:t" \
    --layer "$LD" "$TMP/mp3" </dev/null >"$TMP/forged.out" 2>"$TMP/forged.err" &&
    fail "a forged prefetch artifact was accepted"
is_mounted "$TMP/mp3" && fail "the forged artifact's mount is up"
grep -q 'span 99999' "$TMP/forged.err" || fail "forged artifact: $(cat "$TMP/forged.err")"
finish
