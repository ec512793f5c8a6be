#!/bin/bash
# bench/create.sh BIN_DIR -- `soci create` on a multi-layer image of >= 500 MB
# of gzip'd layers, side by side with what it is made of:
#
#   ztoc-gen   the sum over layers of `ztoc-gen -o /dev/null LAYER`
#   create-j1  `soci create -j1 --force` on a fresh copy of the layout
#   create-j2  `soci create -j2 --force` on a fresh copy of the layout
#   pipe-j1/2  `soci-layers | ztoc-gen -j N | soci-pack` on a fresh copy
#   gzip -dc   of all layers, one process, to /dev/null
#   pigz -dc   of all layers, one process, to /dev/null (reference)
#
# Each variant runs REPS times (default 3), interleaved, and the median wall
# time is reported; user+sys CPU and peak RSS come from /usr/bin/time, and the
# CPU other processes used meanwhile from /proc/stat. Checks that every way
# gives the same ztocs. Writes bench/results/create.md (or $OUT_MD).
#
# The image (NLAYERS=6 layers of about LAYER_MB=350 MB of tar, cut from a
# sorted walk of this machine's /usr; GNU tar pax, fixed mtime/owners,
# gzip -6 -n) is built once and cached in bench/work/create/ (gitignored);
# delete that directory to rebuild it.
#
# On a shared machine: IDLE_WAIT=S (default 20) and IDLE_PCT=P (default 90)
# wait before each run for an idle 1 s sample; PRIO=-20 runs the measurement
# with this session's scheduler autogroup at nice -20 (others slow down
# meanwhile); REPORT_ONLY=1 rewrites the report from the last run's files.
# Exits 0 when everything was measured and the ztocs agree, even if a target
# was missed (the report says so); BENCH_STRICT=1 makes a missed target fail.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # bench/run.sh runs us with sh
set -euo pipefail

BIN=$(cd "${1:?usage: bench/create.sh BIN_DIR}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/bench/work/create
IMG=$WORK/image
TAG=bench
RUNS=$WORK/runs
OUT=${OUT_MD:-$ROOT/bench/results/create.md}
REPS=${REPS:-3}
IDLE_WAIT=${IDLE_WAIT:-20}
IDLE_PCT=${IDLE_PCT:-90}
MIN_TOTAL=$((500 * 1000 * 1000))

for b in soci soci-layers soci-pack ztoc-gen; do
    [ -x "$BIN/$b" ] || { echo "create.sh: $BIN/$b missing (make programs)" >&2; exit 1; }
done
for t in /usr/bin/time /usr/bin/python3 gzip pigz tar sha256sum; do
    command -v "$t" >/dev/null || { echo "create.sh: $t missing (apt-get install time pigz)" >&2; exit 1; }
done

# ---- the image -------------------------------------------------------------

# NLAYERS layers of about LAYER_MB MB of tar each, cut from a sorted walk of
# these trees (directories, regular files and symlinks; each file in one layer)
NLAYERS=${NLAYERS:-6}
LAYER_MB=${LAYER_MB:-350}
TREES="usr/bin usr/include usr/lib usr/libexec usr/sbin usr/share"
# not from Debian packages on this VM image: left out so other machines build a similar image
SKIP="usr/lib/google-cloud-sdk usr/lib/node_modules"

# split_trees: $WORK/build/N.list (NUL-separated paths relative to /) and N.what
split_trees() {
    /usr/bin/python3 - "$WORK/build" "$NLAYERS" "$((LAYER_MB * 1000 * 1000))" "$SKIP" $TREES <<'EOF'
import os, stat, sys
out, n, cap, skip, trees = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), set(sys.argv[4].split()), sys.argv[5:]
layer, size, cur, first = 0, 0, [], None
def flush():
    global layer, size, cur, first
    open(os.path.join(out, "%d.list" % layer), "wb").write(b"".join(os.fsencode(p) + b"\0" for p in cur))
    open(os.path.join(out, "%d.what" % layer), "w").write("%s .. %s" % (first, last))
    layer, size, cur, first = layer + 1, 0, [], None
def visit(rel):
    global size, first, last
    st = os.lstat("/" + rel)
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        return
    cur.append(rel)
    first = first or rel
    last = rel
    if stat.S_ISREG(st.st_mode):
        size += 512 + (st.st_size + 511) // 512 * 512
    if size >= cap:
        flush()
def walk(rel):
    if rel in skip:
        return
    visit(rel)
    if layer == n or not os.path.isdir("/" + rel) or os.path.islink("/" + rel):
        return
    for e in sorted(os.listdir("/" + rel)):
        if layer == n:
            return
        walk(rel + "/" + e)
for t in trees:
    if layer < n and os.path.lexists("/" + t):
        walk(t)
if layer < n and cur:
    flush()
EOF
}

# make_layer N: blobs/sha256/<digest> + $WORK/build/N.{diffid,digest,size,usize}
make_layer() {
    local n=$1 tmp=$WORK/build/$1.tar
    tar -C / -cf "$tmp" --null --no-recursion -T "$WORK/build/$n.list" --mtime=@1700000000 \
        --owner=0 --group=0 --numeric-owner \
        --format=pax --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
        --warning=no-file-ignored
    sha256sum "$tmp" | cut -d' ' -f1 >"$WORK/build/$n.diffid"
    stat -c %s "$tmp" >"$WORK/build/$n.usize"
    gzip -6 -n -c "$tmp" >"$tmp.gz"
    rm -f "$tmp"
    sha256sum "$tmp.gz" | cut -d' ' -f1 >"$WORK/build/$n.digest"
    stat -c %s "$tmp.gz" >"$WORK/build/$n.size"
    mv "$tmp.gz" "$IMG/blobs/sha256/$(cat "$WORK/build/$n.digest")"
    echo "  layer $n: $(cat "$WORK/build/$n.what"): $(cat "$WORK/build/$n.usize") -> $(cat "$WORK/build/$n.size") bytes" >&2
}

build_image() {
    local i
    rm -rf "$IMG" "$WORK/build" "$WORK/image.ok"
    mkdir -p "$IMG/blobs/sha256" "$WORK/build"
    echo "create.sh: building the test image in $IMG (once)" >&2
    split_trees
    n=$(ls "$WORK/build"/*.list | wc -l)
    for i in $(seq 0 $((n - 1))); do
        # two at a time (a 2-core machine)
        if [ "$i" -ge 2 ]; then wait -n || true; fi
        make_layer "$i" &
    done
    wait
    for i in $(seq 0 $((n - 1))); do [ -s "$WORK/build/$i.digest" ] || { echo "create.sh: layer $i failed" >&2; exit 1; }; done
    /usr/bin/python3 - "$IMG" "$WORK/build" "$n" "$TAG" <<'EOF'
import hashlib, json, os, sys
img, build, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rd = lambda i, k: open(os.path.join(build, "%d.%s" % (i, k))).read().strip()
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(img, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
cfg = {"architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
       "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh"]},
       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + rd(i, "diffid") for i in range(n)]},
       "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "bench/create.sh layer %d" % i} for i in range(n)]}
c = blob(json.dumps(cfg, separators=(",", ":")).encode())
man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
       "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **c),
       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                   "digest": "sha256:" + rd(i, "digest"), "size": int(rd(i, "size"))} for i in range(n)]}
m = blob(json.dumps(man, separators=(",", ":")).encode())
idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
       "manifests": [dict(mediaType="application/vnd.oci.image.manifest.v1+json", **m,
                          annotations={"org.opencontainers.image.ref.name": tag},
                          platform={"architecture": "amd64", "os": "linux"})]}
with open(os.path.join(img, "index.json"), "w") as f:
    json.dump(idx, f, separators=(",", ":"))
with open(os.path.join(img, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
EOF
    touch "$WORK/image.ok"
}

[ -f "$WORK/image.ok" ] || build_image

# the layers, in manifest order
mapfile -t BLOBS < <(/usr/bin/python3 - "$IMG" "$TAG" <<'EOF'
import json, os, sys
img, tag = sys.argv[1], sys.argv[2]
idx = json.load(open(os.path.join(img, "index.json")))
d = [m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]["digest"]
man = json.load(open(os.path.join(img, "blobs", "sha256", d[7:])))
for l in man["layers"]:
    print(os.path.join(img, "blobs", "sha256", l["digest"][7:]))
EOF
)
TOTAL=0
for b in "${BLOBS[@]}"; do TOTAL=$((TOTAL + $(stat -c %s "$b"))); done
[ "$TOTAL" -ge "$MIN_TOTAL" ] || { echo "create.sh: image has only $TOTAL compressed bytes (want >= $MIN_TOTAL)" >&2; exit 1; }
INDEX_SUM=$(sha256sum <"$IMG/index.json")

# ---- measuring ---------------------------------------------------------------

# PRIO=N (e.g. -20): run the whole measurement with this session's scheduler
# autogroup at nice N, so that other sessions' work on a shared machine takes
# less of the CPU (they are slowed down meanwhile). Default: off.
# REPORT_ONLY=1: measure nothing, write the report from the last run's files.
PRIO=${PRIO:-}
if [ -n "${REPORT_ONLY:-}" ]; then
    PRIO=$(cat "$RUNS/prio")
    REPS=$(cat "$RUNS/reps")
    IDLE_WAIT=$(cat "$RUNS/idle_wait")
elif [ -n "$PRIO" ]; then
    OLD_PRIO=$(awk '{print $NF}' /proc/self/autogroup)
    echo "$PRIO" >/proc/self/autogroup
    trap 'echo "$OLD_PRIO" >/proc/self/autogroup' EXIT
fi

if [ -z "${REPORT_ONLY:-}" ]; then
    rm -rf "$RUNS"
    mkdir -p "$RUNS"
    echo "$PRIO" >"$RUNS/prio"
    echo "$REPS" >"$RUNS/reps"
    echo "$IDLE_WAIT" >"$RUNS/idle_wait"
    echo "binaries \`$BIN\` built $(date -u -r "$BIN/soci" '+%F %T UTC'); source tree at measurement time:" \
        "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- . ':!bench' 2>/dev/null || echo ' with uncommitted changes')" \
        >"$RUNS/source"
fi
TIMES=$RUNS/times     # lines: variant rep wall user sys maxrss_kb

# fresh_copy DIR: hard-linked blobs, real index.json (soci rewrites it)
fresh_copy() {
    rm -rf "$1"
    cp -al "$IMG" "$1"
    rm -f "$1/index.json"
    cp "$IMG/index.json" "$1/index.json"
}

# busy and idle jiffies of the whole machine
jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
HZ=$(getconf CLK_TCK)

# wait_idle: until a 1 s sample of the machine is >= IDLE_PCT% idle (at most
# IDLE_WAIT s); fails if it never was -- other work on a shared machine
wait_idle() {
    local t0=$SECONDS a b busy idle
    while :; do
        a=($(jiffies)); sleep 1; b=($(jiffies))
        busy=$((b[0] - a[0])); idle=$((b[1] - a[1]))
        [ $((100 * idle / (busy + idle + 1))) -ge "$IDLE_PCT" ] && return 0
        [ $((SECONDS - t0)) -lt "$IDLE_WAIT" ] || return 1
    done
}

# timed VARIANT REP CMD...: run CMD under /usr/bin/time, append to $TIMES:
#   variant rep wall user sys maxrss_kb background_cpu_s quiet_before
# background_cpu_s = the machine's busy CPU time during the run minus CMD's own
timed() {
    local v=$1 r=$2 tf=$RUNS/time.out quiet=1 a b
    shift 2
    wait_idle || quiet=0
    a=($(jiffies))
    /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@"
    b=($(jiffies))
    read -r wall user sys rss <"$tf"
    echo "$v $r $wall $user $sys $rss $(awk -v j=$((b[0] - a[0])) -v hz="$HZ" -v u="$user" -v s="$sys" \
        'BEGIN{x = j / hz - u - s; printf "%.2f", x < 0 ? 0 : x}') $quiet" >>"$TIMES"
}

pipeline() { # DIR JOBS
    "$BIN/soci-layers" "oci:$1:$TAG" | "$BIN/ztoc-gen" -q -j "$2" | "$BIN/soci-pack" --quiet "oci:$1:$TAG"
}
export -f pipeline
export BIN TAG

warm() { cat "${BLOBS[@]}" >/dev/null; }

for rep in $(seq 1 "$REPS"); do
    [ -z "${REPORT_ONLY:-}" ] || break
    echo "create.sh: repetition $rep of $REPS" >&2
    warm
    # (a) single-layer ztoc-gen, one process per layer; the sum is the variant
    for i in "${!BLOBS[@]}"; do
        timed "ztoc-gen.$i" "$rep" "$BIN/ztoc-gen" -o /dev/null "${BLOBS[$i]}"
    done
    for j in 1 2; do
        fresh_copy "$RUNS/c$j"
        timed "create-j$j" "$rep" "$BIN/soci" create -q -j "$j" --force "oci:$RUNS/c$j:$TAG" >/dev/null
    done
    for j in 1 2; do
        fresh_copy "$RUNS/p$j"
        timed "pipe-j$j" "$rep" bash -c 'set -o pipefail; pipeline "$0" "$1"' "$RUNS/p$j" "$j"
    done
    timed "gzip-dc" "$rep" bash -c 'gzip -dc "$@" >/dev/null' _ "${BLOBS[@]}"
    timed "pigz-dc" "$rep" bash -c 'pigz -dc "$@" >/dev/null' _ "${BLOBS[@]}"
    [ "$rep" -eq "$REPS" ] || rm -rf "$RUNS"/c? "$RUNS"/p?
done

# ---- checks: every way gives the same ztocs ---------------------------------

CHECK=ok
for i in "${!BLOBS[@]}"; do
    "$BIN/ztoc-gen" -o "$RUNS/ztoc.$i" "${BLOBS[$i]}"
    z=$(sha256sum <"$RUNS/ztoc.$i" | cut -d' ' -f1)
    for d in c1 c2 p1 p2; do
        cmp -s "$RUNS/ztoc.$i" "$RUNS/$d/blobs/sha256/$z" || { CHECK="FAILED: layer $i ztoc not in $d"; }
    done
done
for d in c2 p1 p2; do
    diff -r "$RUNS/c1" "$RUNS/$d" >/dev/null || CHECK="FAILED: layouts c1 and $d differ"
done
[ "$(sha256sum <"$IMG/index.json")" = "$INDEX_SUM" ] || CHECK="FAILED: the cached image's index.json changed"
ZTOCS=$(for i in "${!BLOBS[@]}"; do sha256sum <"$RUNS/ztoc.$i" | cut -c1-12; done | paste -sd' ')

# ---- the report ----------------------------------------------------------------

LAYER_TABLE=$(for b in "${BLOBS[@]}"; do
    printf '%s %s\n' "$(basename "$b" | cut -c1-12)" "$(stat -c %s "$b")"
done)
USIZES=$(for i in "${!BLOBS[@]}"; do cat "$WORK/build/$i.usize" 2>/dev/null || echo 0; done | paste -sd' ')

[ -z "$PRIO" ] || [ -n "${REPORT_ONLY:-}" ] || echo "$OLD_PRIO" >/proc/self/autogroup

/usr/bin/python3 - "$TIMES" "$OUT" "$REPS" "$TOTAL" "$CHECK" "$USIZES" "$ZTOCS" <<EOF
import statistics as st, sys, collections, subprocess, platform, os
times, out, reps, total, check, usizes, ztocs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], [int(x) for x in sys.argv[6].split()], sys.argv[7]
layers = """$LAYER_TABLE""".split("\n")
paths = """$(for i in "${!BLOBS[@]}"; do cat "$WORK/build/$i.what" 2>/dev/null; echo; done)""".split("\n")
rows = collections.defaultdict(dict)   # variant -> rep -> (wall, cpu, rss)
for line in open(times):
    v, r, wall, u, s, rss, bg, quiet = line.split()
    rows[v][int(r)] = (float(wall), float(u) + float(s), int(rss), float(bg), int(quiet))
# the sum over single-layer ztoc-gen runs, per repetition
nl = len(layers)
for r in range(1, reps + 1):
    parts = [rows["ztoc-gen.%d" % i][r] for i in range(nl)]
    rows["ztoc-gen"][r] = (sum(p[0] for p in parts), sum(p[1] for p in parts), max(p[2] for p in parts),
                           sum(p[3] for p in parts), min(p[4] for p in parts))
med = {v: st.median(x[0] for x in rows[v].values()) for v in rows}
cpu = {v: st.median(x[1] for x in rows[v].values()) for v in rows}
rss = {v: max(x[2] for x in rows[v].values()) for v in rows}
# other processes' CPU during a variant's runs, in cores (busy time / wall)
bgc = {v: sum(x[3] for x in rows[v].values()) / sum(x[0] for x in rows[v].values()) for v in rows}
nquiet = sum(x[4] for v in rows if "." not in v for x in rows[v].values())
nruns = sum(1 for v in rows if "." not in v for x in rows[v].values())
mnw = {v: min(x[0] for x in rows[v].values()) for v in rows}
mb = total / 1e6
def line(v, label):
    w = [rows[v][r][0] for r in sorted(rows[v])]
    return "| %s | %.2f | %.2f | %s | %.2f | %.0f | %.1f | %.2f |" % (label, med[v], mnw[v], " / ".join("%.2f" % x for x in w), cpu[v], mb / med[v], rss[v] / 1024, bgc[v])
cpuinfo = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
o = []
o.append("# soci create: multi-layer benchmark\n")
o.append("Written by \`bench/create.sh BIN_DIR\` (do not edit by hand). Machine: %d x %s, %s, kernel %s. "
         "Numbers on this noisy 2-core VM are for ratios, not absolute speed.\n" % (len(cpuinfo), cpuinfo[0] if cpuinfo else "?", "Debian " + open("/etc/debian_version").read().strip(), platform.release()))
src = """$(cat "$RUNS/source" 2>/dev/null)"""
if src:
    o.append(src[0].upper() + src[1:] + ".\n")
o.append("## Image\n")
o.append("An OCI layout of %d gzip'd tar layers (GNU tar, pax, sorted, fixed mtime/owner; \`gzip -6 -n\`) made from this machine's /usr, "
         "%.1f MB compressed, %.1f MB of tar (%.2f:1). Built once and cached in bench/work/create/.\n" % (nl, mb, sum(usizes) / 1e6, sum(usizes) / total if total else 0))
o.append("| layer | contents | compressed MB | tar MB |")
o.append("|---|---|---:|---:|")
for i, l in enumerate(layers):
    d, s = l.split()
    o.append("| %s… | %s | %.1f | %.1f |" % (d, paths[i] if i < len(paths) else "?", int(s) / 1e6, usizes[i] / 1e6 if i < len(usizes) else 0))
o.append("")
o.append("## Results\n")
o.append("%d repetitions, interleaved; all blobs in the page cache (read with \`cat\` before each repetition). "
         "Wall = median wall seconds; CPU = median user+sys seconds; MB/s = compressed input over median wall; "
         "peak RSS from \`/usr/bin/time\` (%%M), the largest of the repetitions (for ztoc-gen: of any one layer; for the pipeline: of its largest process). "
         "Other load = CPU time used by other processes on the machine during the runs, over their wall time (0 on a quiet machine, 2 = both cores taken). "
         "Before each run the script waits up to %s s for a 1 s sample at >= %s%% idle: %d of %d runs started on a quiet machine.\n" % (reps, "$IDLE_WAIT", "$IDLE_PCT", nquiet, nruns))
if "$PRIO":
    o.append("Run with PRIO=$PRIO: the measuring session's scheduler autogroup at nice $PRIO, so that other sessions on this shared machine got less CPU.\n")
busy = max(bgc[v] for v in rows if "." not in v)
if busy > 0.1 and "$PRIO":
    o.append("**Note: other processes kept this shared machine busy (up to %.2f cores besides the measured command). "
             "With PRIO the measured commands had the scheduling priority, so that load mostly took CPU they left idle, "
             "but it still adds noise (shared caches, possibly SMT siblings). Rerun on a quiet machine for clean numbers.**\n" % busy)
elif busy > 0.1:
    o.append("**Warning: other processes used up to %.2f cores during these runs (a shared machine); wall-time ratios, "
             "and -j2 against -j1 above all, are not trustworthy. Rerun on a quiet machine, or with PRIO=-20.**\n" % busy)
o.append("| variant | wall s (median) | wall s (min) | runs | CPU s | MB/s | peak RSS MiB | other load (cores) |")
o.append("|---|---:|---:|---|---:|---:|---:|---:|")
o.append(line("ztoc-gen", "sum of \`ztoc-gen -o /dev/null LAYER\`, one per layer"))
o.append(line("create-j1", "\`soci create -j1 --force\`"))
o.append(line("create-j2", "\`soci create -j2 --force\`"))
o.append(line("pipe-j1", "\`soci-layers \\\\| ztoc-gen -j1 \\\\| soci-pack\`"))
o.append(line("pipe-j2", "\`soci-layers \\\\| ztoc-gen -j2 \\\\| soci-pack\`"))
o.append(line("gzip-dc", "\`gzip -dc\` all layers"))
o.append(line("pigz-dc", "\`pigz -dc\` all layers (reference)"))
o.append("")
o.append("Per layer (median wall s of \`ztoc-gen\`): " + ", ".join("%d: %.2f" % (i, med["ztoc-gen.%d" % i]) for i in range(nl)) + "\n")
def ratio(a, b):
    return med[a] / med[b], mnw[a] / mnw[b]
r1, r1m = ratio("create-j1", "ztoc-gen")
r2, r2m = ratio("create-j2", "create-j1")
ok1, ok2 = r1 < 1.05, r2 < 1.0
o.append("## Ratios and targets\n")
o.append("| ratio | of medians | of minimums | target | |")
o.append("|---|---:|---:|---|---|")
o.append("| create -j1 / sum(ztoc-gen) | %.3f | %.3f | < 1.05 | %s |" % (r1, r1m, "met" if ok1 else "**missed**"))
o.append("| create -j2 / create -j1 | %.3f (%.2fx faster) | %.3f | < 1 | %s |" % (r2, 1 / r2, r2m, "met" if ok2 else "**missed**"))
for a, b, name in (("create-j1", "gzip-dc", "create -j1 / gzip -dc"), ("create-j2", "gzip-dc", "create -j2 / gzip -dc"),
                   ("create-j2", "pigz-dc", "create -j2 / pigz -dc"), ("pipe-j1", "create-j1", "pipeline -j1 / create -j1"), ("pipe-j1", "ztoc-gen", "pipeline -j1 / sum(ztoc-gen)"),
                   ("pipe-j2", "create-j2", "pipeline -j2 / create -j2"), ("pipe-j2", "pipe-j1", "pipeline -j2 / pipeline -j1")):
    o.append("| %s | %.3f | %.3f | | |" % ((name,) + ratio(a, b)))
o.append("| CPU: create -j1 / sum(ztoc-gen) | %.3f | | | |" % (cpu["create-j1"] / cpu["ztoc-gen"]))
o.append("| CPU: create -j2 / create -j1 | %.3f | | | |" % (cpu["create-j2"] / cpu["create-j1"]))
o.append("| CPU: pipeline -j1 / create -j1 | %.3f | | | |" % (cpu["pipe-j1"] / cpu["create-j1"]))
o.append("")
o.append("Same ztocs every way (single-layer ztoc-gen, create -j1/-j2, pipeline -j1/-j2, and whole layouts compared with \`diff -r\`): **%s**. "
         "ztoc digests: %s.\n" % (check, ztocs))
open(out, "w").write("\n".join(o))
open("$RUNS/targets", "w").write("met\n" if ok1 and ok2 else "missed\n")
print("\n".join(o))
EOF
[ "$CHECK" = ok ] || exit 1
if [ -n "${BENCH_STRICT:-}" ] && [ "$(cat "$RUNS/targets")" != met ]; then
    echo "create.sh: a target was missed (see $OUT)" >&2
    exit 1
fi
