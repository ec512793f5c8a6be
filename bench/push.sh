#!/bin/bash
# bench/push.sh BIN_DIR -- soci push and remote soci create against skopeo,
# on a multi-layer image of >= 500 MB of gzip'd layers and the local
# registry (Debian's docker-registry, scripts/registry.sh), side by side:
#
#   push-soci      `soci push --plain-http oci:DIR:TAG 127.0.0.1:PORT/bench/push:t`
#                  (the image and its SOCI index) into an empty registry
#   push-skopeo    `skopeo copy --dest-tls-verify=false oci:DIR:TAG docker://...`
#                  (the image only) into an empty registry
#   push-index     `soci push` again into the registry skopeo filled: the image
#                  is there, only the SOCI index goes up (for reference)
#   create-remote  `soci create --layout NEW 127.0.0.1:PORT/bench/push:t`: the
#                  layers stream from the registry into the indexer
#   copy+create    `skopeo copy --src-tls-verify=false docker://... oci:NEW:t`
#                  then `soci create oci:NEW:t` (the two steps also reported
#                  alone as copy and create-local)
#
# Each runs REPS times (default 3), interleaved; every push starts from an
# empty registry (fresh storage); the table gives medians, the client's CPU
# and peak RSS (/usr/bin/time), and the registry's CPU during the run.
# Targets (the issue): push-soci / push-skopeo <= 1 and
# create-remote / copy+create < 1.  Writes bench/results/push.md.
#
# The image: bench/work/create/image (made by bench/create.sh) when it is
# there and big enough, hard-linked into bench/work/push/image (never
# modified); else one is built the same way (6 layers cut from a sorted walk
# of /usr, GNU tar, gzip -6 -n) in bench/work/push/own/.  Everything this
# script starts (the registry) is stopped on exit; only 127.0.0.1 is used.
#
# Environment: REPS (3), BENCH_STRICT=1 (exit 1 when a target is missed),
# IDLE_PCT / IDLE_WAIT (wait up to IDLE_WAIT s for a 1 s sample >= IDLE_PCT%
# idle before each run; 90 / 20).
set -euo pipefail

BIN=$(cd "${1:?usage: bench/push.sh BIN_DIR}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/bench/work/push
SHARED=$ROOT/bench/work/create
IMG=$WORK/image
TAG=bench
RUNS=$WORK/runs
REG=$WORK/registry
OUT=${OUT_MD:-$ROOT/bench/results/push.md}
REPS=${REPS:-3}
MIN_TOTAL=$((500 * 1000 * 1000))
REPO=bench/push

for b in soci; do
    [ -x "$BIN/$b" ] || { echo "push.sh: $BIN/$b missing (make programs)" >&2; exit 1; }
done
for t in /usr/bin/time /usr/bin/python3 skopeo docker-registry curl gzip tar sha256sum; do
    command -v "$t" >/dev/null || { echo "push.sh: $t missing (apt-get install time skopeo docker-registry)" >&2; exit 1; }
done
mkdir -p "$WORK" "$(dirname "$OUT")"

cleanup() {
    "$ROOT/scripts/registry.sh" stop "$REG" >/dev/null 2>&1 || true
    rm -rf "$REG/storage" "$RUNS"/remote "$RUNS"/copy
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the image -------------------------------------------------------------

# image_total DIR: compressed bytes of the layers of DIR's $TAG image (0 if none)
image_total() {
    /usr/bin/python3 - "$1" "$TAG" <<'EOF' 2>/dev/null || echo 0
import json, os, sys
img, tag = sys.argv[1], sys.argv[2]
idx = json.load(open(os.path.join(img, "index.json")))
d = [m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]["digest"]
man = json.load(open(os.path.join(img, "blobs", "sha256", d[7:])))
print(sum(os.path.getsize(os.path.join(img, "blobs", "sha256", l["digest"][7:])) for l in man["layers"]))
EOF
}

# build_own DIR: NLAYERS layers of about LAYER_MB MB of tar each, cut from a
# sorted walk of /usr (as bench/create.sh does), gzip -6 -n, as an OCI layout
build_own() {
    local dir=$1 build=$1.build n i
    rm -rf "$dir" "$build"
    mkdir -p "$dir/blobs/sha256" "$build"
    echo "push.sh: building a test image in $dir (once)" >&2
    /usr/bin/python3 - "$build" "${NLAYERS:-6}" "$((${LAYER_MB:-350} * 1000 * 1000))" <<'EOF'
import os, stat, sys
out, n, cap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
skip = {"usr/lib/google-cloud-sdk", "usr/lib/node_modules"}
layer, size, cur = 0, 0, []
def flush():
    global layer, size, cur
    open(os.path.join(out, "%d.list" % layer), "wb").write(b"".join(os.fsencode(p) + b"\0" for p in cur))
    layer, size, cur = layer + 1, 0, []
def walk(rel):
    global size
    if rel in skip or layer == n:
        return
    st = os.lstat("/" + rel)
    if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
        cur.append(rel)
        if stat.S_ISREG(st.st_mode):
            size += 512 + (st.st_size + 511) // 512 * 512
        if size >= cap:
            flush()
    if stat.S_ISDIR(st.st_mode):
        for e in sorted(os.listdir("/" + rel)):
            walk(rel + "/" + e)
walk("usr")
if layer < n and cur:
    flush()
EOF
    n=$(ls "$build"/*.list | wc -l)
    for i in $(seq 0 $((n - 1))); do
        tar -C / -cf - --null --no-recursion -T "$build/$i.list" --mtime=@1700000000 --owner=0 --group=0 \
            --numeric-owner --format=pax --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
            --warning=no-file-ignored | tee >(sha256sum | cut -d' ' -f1 >"$build/$i.diffid") |
            gzip -6 -n >"$build/$i.gz"
    done
    /usr/bin/python3 - "$dir" "$build" "$n" "$TAG" <<'EOF'
import hashlib, json, os, sys
img, build, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(img, "blobs", "sha256", d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
layers = []
for i in range(n):
    p = os.path.join(build, "%d.gz" % i)
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    os.rename(p, os.path.join(img, "blobs", "sha256", h.hexdigest()))
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + h.hexdigest(),
                   "size": os.path.getsize(os.path.join(img, "blobs", "sha256", h.hexdigest()))})
diff = ["sha256:" + open(os.path.join(build, "%d.diffid" % i)).read().strip() for i in range(n)]
cfg = {"architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
       "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": diff}}
c = put(json.dumps(cfg, separators=(",", ":")).encode())
man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
       "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **c), "layers": layers}
m = put(json.dumps(man, separators=(",", ":")).encode())
idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
       "manifests": [dict(mediaType="application/vnd.oci.image.manifest.v1+json", **m,
                          annotations={"org.opencontainers.image.ref.name": tag},
                          platform={"architecture": "amd64", "os": "linux"})]}
json.dump(idx, open(os.path.join(img, "index.json"), "w"), separators=(",", ":"))
open(os.path.join(img, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
EOF
    rm -rf "$build"
    touch "$dir.ok"
}

# the source: bench/create.sh's image if it is there, else our own
SOURCE=""
if [ -f "$SHARED/image.ok" ] && [ "$(image_total "$SHARED/image")" -ge "$MIN_TOTAL" ]; then
    SOURCE=$SHARED/image
else
    [ -f "$WORK/own.ok" ] && [ "$(image_total "$WORK/own")" -ge "$MIN_TOTAL" ] || build_own "$WORK/own"
    SOURCE=$WORK/own
fi
# our copy: hard-linked blobs (never written), our own index.json; soci
# create adds the ztocs and the SOCI index once
SRC_SUM=$(cat "$SOURCE/index.json" | sha256sum | cut -c1-16)
if [ ! -f "$IMG.ok" ] || [ "$(cat "$IMG.ok")" != "$SOURCE $SRC_SUM" ]; then
    rm -rf "$IMG" "$IMG.ok"
    cp -al "$SOURCE" "$IMG"
    rm -f "$IMG/index.json"
    cp "$SOURCE/index.json" "$IMG/index.json"
    "$BIN/soci" create -q "oci:$IMG:$TAG" >/dev/null
    echo "$SOURCE $SRC_SUM" >"$IMG.ok"
fi
TOTAL=$(image_total "$IMG")
[ "$TOTAL" -ge "$MIN_TOTAL" ] || { echo "push.sh: the image has only $TOTAL compressed bytes (want >= $MIN_TOTAL)" >&2; exit 1; }

# the SOCI index of the layout: "INDEX_DIGEST IMAGE_MANIFEST_DIGEST"
soci_index_of() {
    /usr/bin/python3 - "$1" <<'EOF'
import json, os, sys
idx = json.load(open(os.path.join(sys.argv[1], "index.json")))
for m in idx["manifests"]:
    a = m.get("annotations", {})
    if "com.amazon.soci.image-manifest-digest" in a:
        print(m["digest"], a["com.amazon.soci.image-manifest-digest"])
        break
else:
    print("none none")
EOF
}
read -r INDEX_DIGEST IMAGE_DIGEST < <(soci_index_of "$IMG")
ARTIFACT_BYTES=$(du -sb --apparent-size "$IMG/blobs" | cut -f1)
ARTIFACT_BYTES=$((ARTIFACT_BYTES - $(du -sb --apparent-size "$SOURCE/blobs" | cut -f1)))

# ---- measuring ---------------------------------------------------------------

rm -rf "$RUNS"
mkdir -p "$RUNS" "$REG"
TIMES=$RUNS/times     # variant rep wall user sys maxrss_kb registry_cpu_s other_cpu_s quiet

PORT="" RPID=""
# fresh_registry: an empty registry (new storage)
fresh_registry() {
    "$ROOT/scripts/registry.sh" stop "$REG" >/dev/null
    rm -rf "$REG/storage"
    PORT=$("$ROOT/scripts/registry.sh" start "$REG")
    RPID=$(cat "$REG/pid")
}

jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)
IDLE_PCT=${IDLE_PCT:-90}
IDLE_WAIT=${IDLE_WAIT:-20}
wait_idle() {
    local t0=$SECONDS a b busy idle
    while :; do
        a=($(jiffies)); sleep 1; b=($(jiffies))
        busy=$((b[0] - a[0])); idle=$((b[1] - a[1]))
        [ $((100 * idle / (busy + idle + 1))) -ge "$IDLE_PCT" ] && return 0
        [ $((SECONDS - t0)) -lt "$IDLE_WAIT" ] || return 1
    done
}

# timed VARIANT REP CMD...: CMD under /usr/bin/time; appends a line to $TIMES
timed() {
    local v=$1 r=$2 tf=$RUNS/time.out quiet=1 a b ra rb
    shift 2
    sync
    wait_idle || quiet=0
    a=($(jiffies))
    ra=$(proc_cpu "$RPID")
    /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$RUNS/last.out" 2>"$RUNS/last.err" || {
        echo "push.sh: $v failed:" >&2; cat "$RUNS/last.err" >&2; exit 1; }
    rb=$(proc_cpu "$RPID")
    b=($(jiffies))
    read -r wall user sys rss <"$tf"
    echo "$v $r $wall $user $sys $rss $(awk -v x=$((rb - ra)) -v hz="$HZ" 'BEGIN{printf "%.2f", x / hz}') $(awk \
        -v j=$((b[0] - a[0])) -v hz="$HZ" -v u="$user" -v s="$sys" -v rg=$((rb - ra)) \
        'BEGIN{x = (j - rg) / hz - u - s; printf "%.2f", x < 0 ? 0 : x}') $quiet" >>"$TIMES"
    echo "  $v #$r: ${wall} s" >&2
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CHECKS=""
check() { CHECKS="$CHECKS$1"$'\n'; }
cat "$IMG"/blobs/sha256/* >/dev/null   # page cache warm for every run

for rep in $(seq 1 "$REPS"); do
    echo "push.sh: repetition $rep of $REPS" >&2
    # (1) pushes, each into an empty registry; the order alternates
    if [ $((rep % 2)) -eq 1 ]; then order="soci skopeo"; else order="skopeo soci"; fi
    for who in $order; do
        fresh_registry
        if [ "$who" = soci ]; then
            timed push-soci "$rep" "$BIN/soci" push -q --plain-http "oci:$IMG:$TAG" "127.0.0.1:$PORT/$REPO:t"
            if [ "$rep" -eq 1 ]; then
                code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.index.v1+json' \
                    "http://127.0.0.1:$PORT/v2/$REPO/manifests/sha256-${IMAGE_DIGEST#sha256:}")
                [ "$code" = 200 ] && check "soci push: the referrers fallback tag lists the index: ok" ||
                    check "soci push: the referrers fallback tag: FAILED ($code)"
            fi
        else
            timed push-skopeo "$rep" skopeo copy -q --dest-tls-verify=false "oci:$IMG:$TAG" "docker://127.0.0.1:$PORT/$REPO:t"
        fi
    done
    # the registry skopeo filled: (2) the index alone, (3) remote create vs copy + create
    fresh_registry
    skopeo copy -q --dest-tls-verify=false "oci:$IMG:$TAG" "docker://127.0.0.1:$PORT/$REPO:t"
    timed push-index "$rep" "$BIN/soci" push -q --plain-http "oci:$IMG:$TAG" "127.0.0.1:$PORT/$REPO:t"
    rm -rf "$RUNS/remote" "$RUNS/copy"
    timed create-remote "$rep" "$BIN/soci" create -q --layout "$RUNS/remote" "127.0.0.1:$PORT/$REPO:t"
    timed copy "$rep" skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$PORT/$REPO:t" "oci:$RUNS/copy:t"
    timed create-local "$rep" "$BIN/soci" create -q "oci:$RUNS/copy:t"
    if [ "$rep" -eq 1 ]; then
        read -r d1 _ < <(soci_index_of "$RUNS/remote")
        read -r d2 _ < <(soci_index_of "$RUNS/copy")
        [ "$d1" = "$INDEX_DIGEST" ] && [ "$d2" = "$INDEX_DIGEST" ] &&
            check "same SOCI index ($INDEX_DIGEST) from create on the layout, remote create and copy + create: ok" ||
            check "SOCI index digests differ: FAILED (layout $INDEX_DIGEST, remote $d1, copy+create $d2)"
        REMOTE_BYTES=$(du -sb --apparent-size "$RUNS/remote" | cut -f1)
        COPY_BYTES=$(du -sb --apparent-size "$RUNS/copy" | cut -f1)
    fi
    rm -rf "$RUNS/remote" "$RUNS/copy"
done
"$ROOT/scripts/registry.sh" stop "$REG" >/dev/null
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report ----------------------------------------------------------------

NLAYERS=$(/usr/bin/python3 -c 'import json,sys; i=json.load(open(sys.argv[1]+"/index.json")); m=[x for x in i["manifests"] if x.get("annotations",{}).get("org.opencontainers.image.ref.name")==sys.argv[2]][0]; print(len(json.load(open(sys.argv[1]+"/blobs/sha256/"+m["digest"][7:]))["layers"]))' "$IMG" "$TAG")
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
DIRTY=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | head -c1)
[ -z "$DIRTY" ] || DIRTY=" + uncommitted changes"
SOURCE_REL=${SOURCE#$ROOT/}
/usr/bin/python3 - "$TIMES" "$OUT" "$REPS" "$TOTAL" "$NLAYERS" "$ARTIFACT_BYTES" "${REMOTE_BYTES:-0}" "${COPY_BYTES:-0}" <<EOF
import statistics as st, sys, collections, platform, time
times, out, reps, total, nlayers, art, rbytes, cbytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
rows = collections.defaultdict(dict)
for line in open(times):
    v, r, wall, u, s, rss, reg, bg, quiet = line.split()
    rows[v][int(r)] = (float(wall), float(u) + float(s), int(rss), float(reg), float(bg), int(quiet))
for r in range(1, reps + 1):   # copy + create, per repetition
    a, b = rows["copy"][r], rows["create-local"][r]
    rows["copy+create"][r] = (a[0] + b[0], a[1] + b[1], max(a[2], b[2]), a[3] + b[3], a[4] + b[4], min(a[5], b[5]))
med = {v: st.median(x[0] for x in rows[v].values()) for v in rows}
mn = {v: min(x[0] for x in rows[v].values()) for v in rows}
cpu = {v: st.median(x[1] for x in rows[v].values()) for v in rows}
rss = {v: max(x[2] for x in rows[v].values()) for v in rows}
reg = {v: st.median(x[3] for x in rows[v].values()) for v in rows}
bgc = {v: sum(x[4] for x in rows[v].values()) / sum(x[0] for x in rows[v].values()) for v in rows}
base = [v for v in rows if v != "copy+create"]
nquiet = sum(x[5] for v in base for x in rows[v].values())
nruns = sum(1 for v in base for x in rows[v].values())
cpuinfo = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
mb = total / 1e6
o = []
o.append("# soci push and remote soci create against skopeo\n")
o.append("Written by \`bench/push.sh BIN_DIR\` (do not edit by hand) on %s, commit $COMMIT$DIRTY. "
         "Machine: %d x %s, Debian %s, kernel %s. Numbers on this noisy 2-core VM are for ratios, not absolute speed. "
         "Load average (1, 5, 15 min) before: $LOAD_BEFORE; after: $LOAD_AFTER.\n"
         % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), len(cpuinfo), cpuinfo[0] if cpuinfo else "?",
            open("/etc/debian_version").read().strip(), platform.release()))
o.append("Image: \`$SOURCE_REL\` (hard-linked into bench/work/push/image and indexed there once with \`soci create\`): "
         "%d gzip'd tar layers of /usr, %.1f MB compressed; the SOCI index and ztocs add %.1f MB. "
         "Registry: Debian docker-registry 2.8 on 127.0.0.1 (scripts/registry.sh), its storage on the same ext4 disk.\n"
         % (nlayers, mb, art / 1e6))
o.append("## Results\n")
o.append("%d repetitions, interleaved (the two pushes alternate which goes first). Every push starts from an empty registry "
         "(new storage); push-index, create-remote and copy+create use a registry filled by skopeo. Layout blobs are in "
         "the page cache. Wall = median seconds; client CPU = median user+sys of the command (for copy+create: both steps); "
         "registry CPU = the registry's user+sys during the run (median); peak RSS = \`/usr/bin/time\` %%M, largest run; "
         "other load = CPU used by other processes during the runs, in cores (0 = quiet machine). "
         "Before each run the script waits up to $IDLE_WAIT s for a 1 s sample at >= $IDLE_PCT%% idle: "
         "%d of %d runs started on a quiet machine.\n" % (reps, nquiet, nruns))
busy = max(bgc[v] for v in rows)
if busy > 0.1:
    o.append("**Warning: other processes used up to %.2f cores during these runs (a shared machine): wall times are "
             "inflated and the ratios less trustworthy than on a quiet machine.**\n" % busy)
o.append("| variant | what | wall s (median) | wall s (min) | runs | MB/s | client CPU s | registry CPU s | peak RSS MiB | other load |")
o.append("|---|---|---:|---:|---|---:|---:|---:|---:|---:|")
what = {
    "push-soci": "\`soci push --plain-http oci:DIR:bench 127.0.0.1:PORT/$REPO:t\` (image + SOCI index)",
    "push-skopeo": "\`skopeo copy --dest-tls-verify=false oci:DIR:bench docker://...\` (image)",
    "push-index": "\`soci push\` when the registry has the image (SOCI index only)",
    "create-remote": "\`soci create --layout NEW 127.0.0.1:PORT/$REPO:t\` (layers streamed)",
    "copy+create": "the two steps below, one after the other",
    "copy": "\`skopeo copy --src-tls-verify=false docker://... oci:NEW:t\`",
    "create-local": "\`soci create oci:NEW:t\`",
}
for v in ("push-soci", "push-skopeo", "push-index", "create-remote", "copy+create", "copy", "create-local"):
    w = [rows[v][r][0] for r in sorted(rows[v])]
    o.append("| %s | %s | %.2f | %.2f | %s | %s | %.2f | %.2f | %.1f | %.2f |" % (
        v, what[v], med[v], mn[v], " / ".join("%.2f" % x for x in w),
        "%.0f" % (mb / med[v]) if v not in ("push-index",) else "-", cpu[v], reg[v], rss[v] / 1024, bgc[v]))
o.append("")
o.append("Bytes written to the local disk by the client: remote create %.1f MB (the ztocs and the SOCI index), "
         "copy + create %.1f MB (the whole image, then the same artifacts).\n" % (rbytes / 1e6, cbytes / 1e6))
def ratio(a, b):
    return med[a] / med[b], mn[a] / mn[b]
strict = []
o.append("## Ratios and targets\n")
o.append("| ratio | of medians | of minimums | target | |")
o.append("|---|---:|---:|---|---|")
r, rm = ratio("push-soci", "push-skopeo")
ok = r <= 1.0
strict.append(ok)
o.append("| push: soci push / skopeo copy | %.3f | %.3f | <= 1 (soci also pushes the index) | %s |" % (r, rm, "met" if ok else "**MISSED**"))
r, rm = ratio("create-remote", "copy+create")
ok = r < 1.0
strict.append(ok)
o.append("| remote create / (skopeo copy + create) | %.3f (%.2fx faster) | %.3f | < 1 | %s |" % (r, 1 / r, rm, "met" if ok else "**MISSED**"))
r, rm = ratio("create-remote", "create-local")
o.append("| remote create / local create | %.3f | %.3f | | |" % (r, rm))
r, rm = ratio("push-index", "push-soci")
o.append("| push of the index alone / whole push | %.3f | %.3f | | |" % (r, rm))
o.append("")
o.append("Checks:\n")
for c in """$CHECKS""".strip().split("\n"):
    o.append("- " + c)
o.append("")
open(out, "w").write("\n".join(o))
print("\n".join(o))
open(out + ".status", "w").write("ok\n" if all(strict) else "missed\n")
EOF
status=$(cat "$OUT.status"); rm -f "$OUT.status"
case "$CHECKS" in *FAILED*) exit 1 ;; esac
[ "${BENCH_STRICT:-0}" = 1 ] && [ "$status" != ok ] && exit 1
exit 0
