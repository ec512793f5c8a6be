#!/bin/sh
# tests/cli/mount_log_json.sh -- soci-mount's log records stay valid JSON
# whatever text an error carries, and a failed refetch keeps the cause.
#
# The sample image pushed to a docker-registry, mounted (-f) through
# tests/cli/fault_proxy.py.  Once mounted, the proxy corrupts the first
# range GET of the layer (one byte flipped: the span fails its digest) and
# answers every later one 404 with a registry error whose message holds
# quotes, a backslash, a newline and a forged record
# ('"quoted" \ line1\n{"level":"forged"}').  A read of a file outside span
# 0 then:
#   - fails with EIO (never the corrupted bytes);
#   - logs records each of which is one line that Python's json.loads
#     parses, none with level "forged";
#   - the "read failed" record of the read that met the corrupted span
#     keeps the first cause (the span does not match its digest) and the
#     refetch's (the registry's message, decoded back to the text the
#     registry sent, but for its newline: an error is one line);
#   - the layer's state file (.soci-snapshotter/DIGEST.json) parses, its
#     "error" holding that message.  fault_proxy.py's "code" and "message" make the 404.
. "$ROOT/tests/cli/lib/mount.sh"
. "$ROOT/tests/cli/lib/regfault.sh"
trap '_srv_cleanup; _mount_cleanup' EXIT

sample "$TMP/img" t --big-mib 12
"$SOCI" create -q --min-layer-size 0 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 ||
    die "soci create failed: $(cat "$TMP/create.out")"
LD=$(layer_digests "$TMP/img" t | tail -n 1)
ZD=$("$SOCI" ztoc list --layout "$TMP/img" | awk -v l="$LD" '$3 == l { print $1 }')
[ -n "$ZD" ] || die "no ztoc for the data layer"
# a file outside span 0 (span 0 is fetched at mount)
F=$("$SOCI" ztoc info --layout "$TMP/img" "$ZD" | "$PY" -c '
import json, sys
print(next(f["filename"] for f in json.load(sys.stdin)["files"]
           if f["type"] == "reg" and f["start_span"] >= 1 and f["size"] >= 10000 and " " not in f["filename"]))')
[ -n "$F" ] || die "no file outside span 0"

start_registry "$TMP/reg"
"$SOCI" push --plain-http -q "oci:$TMP/img:t" "$REG/f:t" >"$TMP/push.out" 2>&1 ||
    die "soci push failed: $(cat "$TMP/push.out")"
start_fault_proxy "$TMP/x" "$REG"
mkdir -p "$TMP/mp"
mount_fg "$TMP/mp" "$TMP/mount.log" --plain-http --cache-disk 0 --no-background-fetch --fetch-retries 0 \
    "$XREG/f:t" --layer "$LD" || die "soci-mount from the proxy failed"

MSG='"quoted" \ line1
{"level":"forged"}'
"$PY" - "$XDIR/faults" "^GET /v2/f/blobs/$LD" "$MSG" <<'EOF' || die "cannot write the fault rules"
import json, sys
rules = [{"match": sys.argv[2], "action": "corrupt", "count": 1},
         {"match": sys.argv[2], "action": "status", "after": 1, "count": -1, "status": 404,
          "code": "BLOB_UNKNOWN", "message": sys.argv[3]}]
json.dump({"rules": rules}, open(sys.argv[1] + ".tmp", "w"))
EOF
mv "$XDIR/faults.tmp" "$XDIR/faults"

if cat "$TMP/mp/$F" >"$TMP/got" 2>"$TMP/cat.err"; then
    fail "reading $F through a corrupting registry succeeded"
else
    grep -q "Input/output error" "$TMP/cat.err" || fail "reading $F: not EIO: $(cat "$TMP/cat.err")"
fi
"$PY" - "$TMP/mp/.soci-snapshotter/$LD.json" <<'EOF' || fail "the state file is not JSON keeping the last error (above)"
import json, sys
e = json.load(open(sys.argv[1])).get("error", "")
print("state file error:", repr(e))
sys.exit(0 if '"quoted"' in e else 1)
EOF
unmount "$TMP/mp" "$MPID" || fail "fusermount3 -u did not end soci-mount"

"$PY" - "$TMP/mount.log" "$MSG" <<'EOF' || fail "the log is not one JSON record a line (above)"
import json, sys
msg = sys.argv[2]
bad, failed = 0, []
for n, line in enumerate(open(sys.argv[1], encoding="utf-8", errors="replace"), 1):
    try:
        r = json.loads(line)
    except ValueError as e:
        print("line %d is not JSON (%s): %r" % (n, e, line[:200]))
        bad += 1
        continue
    if not isinstance(r, dict) or r.get("level") not in ("debug", "info", "warn", "error"):
        print("line %d: not a record of ours: %r" % (n, line[:200]))
        bad += 1
    elif r.get("msg") == "read failed":
        failed.append(r)
if not failed:
    print("no \"read failed\" record")
    bad += 1
# the read that met the corrupted span: both causes (later reads fetch
# again and meet the 404 alone)
# (an error is one line: its newline may come back as another character)
def both(e):
    return "does not match its digest" in e and all(part in e for part in msg.split("\n"))
if failed and not any(both(r.get("error", "")) for r in failed):
    print("no \"read failed\" error has both the digest mismatch and the registry's message:")
    for r in failed:
        print("    %r" % r.get("error"))
    bad += 1
print("%d records checked" % n)
sys.exit(1 if bad else 0)
EOF
finish
