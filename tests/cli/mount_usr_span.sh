#!/bin/sh
# tests/cli/mount_usr_span.sh -- reading one small file of a big lazily
# mounted layer fetches exactly the spans that hold it.
#
# The layer: a sorted prefix of this machine's /usr (about 750 MiB of files,
# more if that gzips to under 200 MB), GNU tar + gzip -6, built in $TMP on
# every run (nothing is cached outside $TMP).  Indexed with `soci create
# --min-layer-size 0` at the default span size (4 MiB), pushed with `soci
# push` to Debian's docker-registry on 127.0.0.1 with its access log on
# (scripts/registry.sh, REGISTRY_ACCESS_LOG=1: one line per request with
# method, path, status and bytes sent), and mounted from the registry with
# --layer --no-background-fetch and a fresh --cache-dir.
#
# The file: a regular file of 1..16 KiB in the middle of the layer, chosen
# from `soci ztoc info` (its start_span/end_span; one that crosses a span
# boundary if there is one).  The span byte ranges come from the ztoc's
# checkpoints read by tests/cli/lib/ztoctool.py (not by the C code).
# Expected fetches: at mount time one request for the gzip header and span
# 0 together (bytes 0 to span 0's end: the ztoc's proof against the blob,
# the header read and checked in the same response); reading the file, one range
# request for spans start_span..end_span (adjacent spans share a request).
# Checked:
#   1. the registry's access log: the GETs of the layer blob are exactly
#      those, all 206 Partial Content, with exactly those byte counts (a
#      whole-blob GET or any other span would show);
#   2. the state file: spansFetched = |{0} + start..end|, rangeRequests = 2,
#      bytesFetched = span 0's end offset + the run's size, verifyFailures = 0;
#   3. the file's bytes equal GNU tar's extraction of it from the blob;
#   4. reading it again fetches nothing more (state file and access log).
. "$ROOT/tests/cli/lib/mount.sh"
need gzip cmp
tar --version 2>/dev/null | grep -q 'GNU tar' || { echo "skip: tar is not GNU tar"; exit 77; }
[ -d /usr/lib ] || { echo "skip: no /usr"; exit 77; }

start=$(date +%s)
# 1. the layer
target=$((750 << 20))
attempt=0
while :; do
    attempt=$((attempt + 1))
    "$PY" - "$target" "$TMP/usr.list" <<'EOF' || die "cannot list /usr"
import os, stat, sys
target, out = int(sys.argv[1]), sys.argv[2]
total, names = 0, []
for dirpath, dirnames, filenames in os.walk("/usr"):
    dirnames.sort()
    names.append(dirpath)
    for n in sorted(filenames):
        p = os.path.join(dirpath, n)
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            total += st.st_size
        names.append(p)
        if total >= target:
            break
    if total >= target:
        break
with open(out, "wb") as f:
    for p in names:
        f.write(os.fsencode(p[1:]) + b"\0")
EOF
    tar -C / --null --no-recursion -T "$TMP/usr.list" -cf - 2>"$TMP/tar.err" | gzip -6 -n >"$TMP/usr.tgz"
    size=$(stat -c %s "$TMP/usr.tgz")
    [ "$size" -ge 200000000 ] && break
    [ $attempt -lt 3 ] || die "the /usr layer is only $size bytes after 3 tries"
    target=$((target * 3 / 2))
done
echo "layer: $size bytes from $(tr -cd '\0' <"$TMP/usr.list" | wc -c) names in $(($(date +%s) - start))s"

$MKLAYOUT "$TMP/img" t "$TMP/usr.tgz" >/dev/null || die "mklayout failed"
"$SOCI" create -q --min-layer-size 0 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 ||
    die "soci create failed: $(cat "$TMP/create.out")"
LD=sha256:$(sha256sum "$TMP/usr.tgz" | cut -c1-64)
IX=$(soci_entries "$TMP/img")
ZD=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' "$(blob "$TMP/img" "$IX")")
"$SOCI" ztoc info --layout "$TMP/img" "$ZD" >"$TMP/info.json" || die "soci ztoc info failed"
"$PY" "$LIB/ztoctool.py" spans "$(blob "$TMP/img" "$ZD")" >"$TMP/spans.json" || die "ztoctool spans failed"
echo "indexed in $(($(date +%s) - start))s"

# the file, and what reading it must fetch: "PATH START END SPAN0 RUN SPANS"
"$PY" - "$TMP/info.json" "$TMP/spans.json" >"$TMP/plan" <<'EOF' || die "no file to read: $(cat "$TMP/plan")"
import json, sys
info = json.load(open(sys.argv[1]))
sp = json.load(open(sys.argv[2]))["spans"]
n = info["num_spans"]
assert n == len(sp) and n >= 20, ("spans", n, len(sp))
small = [f for f in info["files"] if f["type"] == "reg" and 1024 <= f["size"] <= 16384
         and n // 3 <= f["start_span"] <= f["end_span"] < n - 1 and "\n" not in f["filename"]
         and " " not in f["filename"]]
assert small, "no small file in the middle spans"
cross = [f for f in small if f["end_span"] > f["start_span"]]
f = (cross or small)[len(cross or small) // 2]
s, e = f["start_span"], f["end_span"]
# the spans its bytes are in, by offset, must be what `ztoc info` says
ids = [i for i in range(n) if sp[i]["ustart"] < f["offset"] + f["size"]
       and (i + 1 == n or sp[i + 1]["ustart"] > f["offset"])]
assert ids == list(range(s, e + 1)), (ids, s, e)
span0 = sp[0]["cend"]  # from byte 0: the gzip header comes with span 0
run = sp[e]["cend"] - sp[s]["cstart"]
print(f["filename"], s, e, span0, run, e - s + 2)
EOF
read -r FILE S E SPAN0 RUN NSPANS <"$TMP/plan"
echo "file $FILE: spans $S..$E; header and span 0 are $SPAN0 bytes, the run $RUN bytes"

REGISTRY_ACCESS_LOG=1 start_registry "$TMP/reg"
"$SOCI" push --plain-http -q "oci:$TMP/img:t" "$REG/usr:t" >"$TMP/push.out" 2>&1 ||
    die "soci push failed: $(cat "$TMP/push.out")"
echo "pushed in $(($(date +%s) - start))s"

# the layer blob's GETs in the access log: "STATUS BYTES", one a line
blob_gets() {
    grep -F "\"GET /v2/usr/blobs/$LD " "$TMP/reg/log" | sed 's/.*HTTP\/1\.[01]" \([0-9]*\) \([0-9]*\) .*/\1 \2/'
}
# wait_gets N: at most ~10 s for N layer GETs to be logged, then ~0.5 s more
wait_gets() {
    _i=0
    while [ "$(blob_gets | wc -l)" -lt "$1" ] && [ $_i -lt 200 ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
    sleep 0.5
}
[ -z "$(blob_gets)" ] || die "the layer blob was read before the mount: $(blob_gets)"

mkdir -p "$TMP/mp"
mount_fg "$TMP/mp" "$TMP/mount.log" --plain-http --no-background-fetch --cache-dir "$TMP/cache" \
    "$REG/usr:t" --layer "$LD" || die "soci-mount failed"
wait_gets 1
printf '206 %s\n' "$SPAN0" >"$TMP/want.mount"
blob_gets >"$TMP/got.mount"
cmp -s "$TMP/want.mount" "$TMP/got.mount" ||
    fail "mounting: layer GETs (status bytes) $(tr '\n' ' ' <"$TMP/got.mount"), want $(tr '\n' ' ' <"$TMP/want.mount")"
[ "$(state "$TMP/mp" "$LD" spansFetched)" = 1 ] || fail "after mounting: spansFetched $(state "$TMP/mp" "$LD" spansFetched), want 1"

# 2. one small file
cat "$TMP/mp/$FILE" >"$TMP/got.file" || fail "cannot read $FILE through the mount"
wait_gets 2
printf '206 %s\n' "$RUN" >>"$TMP/want.mount"
blob_gets >"$TMP/got.read"
cmp -s "$TMP/want.mount" "$TMP/got.read" ||
    fail "after reading $FILE: layer GETs (status bytes) $(tr '\n' ' ' <"$TMP/got.read"), want $(tr '\n' ' ' <"$TMP/want.mount")"
check_state() { # WHEN
    "$PY" - "$TMP/mp/.soci-snapshotter/$LD.json" "$NSPANS" "$((SPAN0 + RUN))" "$1" <<'EOF' || fail "$1: state file: $(cat "$TMP/mp/.soci-snapshotter/$LD.json")"
import json, sys
d = json.load(open(sys.argv[1]))
want = {"spansFetched": int(sys.argv[2]), "rangeRequests": 2, "bytesFetched": int(sys.argv[3]), "verifyFailures": 0}
bad = {k: (d.get(k), v) for k, v in want.items() if d.get(k) != v}
assert not bad, "%s: (got, want) %s" % (sys.argv[4], bad)
EOF
}
check_state "after one read"

# 3. the bytes, against GNU tar's extraction of that one file
mkdir -p "$TMP/x"
tar -xzf "$TMP/usr.tgz" -C "$TMP/x" "$FILE" || fail "tar cannot extract $FILE"
cmp "$TMP/x/$FILE" "$TMP/got.file" || fail "$FILE read through the mount differs from tar's extraction"

# 4. again: served from memory, nothing fetched
cmp -s "$TMP/mp/$FILE" "$TMP/x/$FILE" || fail "second read of $FILE differs"
# drop the file's pages (POSIX_FADV_DONTNEED) so the next read reaches soci-mount
dd if="$TMP/mp/$FILE" iflag=nocache count=0 status=none 2>/dev/null
cmp -s "$TMP/mp/$FILE" "$TMP/x/$FILE" || fail "third read of $FILE differs"
wait_gets 3
blob_gets >"$TMP/got.again"
cmp -s "$TMP/want.mount" "$TMP/got.again" || fail "reading again fetched more: $(tr '\n' ' ' <"$TMP/got.again")"
check_state "after reading again"

unmount "$TMP/mp" "$MPID" || fail "fusermount3 -u did not end soci-mount"
[ "$urc" = 0 ] || fail "soci-mount exited $urc"
echo "done in $(($(date +%s) - start))s"
finish
