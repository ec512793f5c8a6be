#!/bin/bash
# bench/start.sh BIN_DIR -- container start over a slow link: lazy pull with
# soci-snapshotter-grpc (pulled by our `soci image rpull` and by upstream's
# ctr-remote) against containerd's own pull + overlayfs.
#
# The link (bench/lib/link.sh): network namespaces socistart-s (Debian's
# docker-registry behind bench/delay_proxy.py, +RTT_MS per round trip) and
# socistart-c (containerd, our daemon, its soci-mount processes, ctr,
# ctr-remote and soci, all started with `nsenter --net`), joined by a veth
# pair shaped with tbf at RATE (100mbit) each way.  Clients reach the
# registry as 127.0.0.1:5000 of their namespace (a relay in front of the
# link): the daemon speaks plain HTTP to loopback registries only.
#
# The image (built once, cached in bench/work/start/): a busybox rootfs; /usr
# walked in sorted path order up to LAYER_MIB (900) MiB of file data, GNU tar,
# gzip -6 (about 290 MB); 24 MiB of random bytes in /data/blob: >= 300 MB
# compressed.  Its command reads three small files of the /usr layer
# (sha256sum).  Two more images (busybox + 16 MiB of random bytes each) are
# mounted for the memory figures.  Every image is indexed with `soci create`
# and pushed with `soci push` (repository bench/start).  For the prefetch
# mode the main image alone is copied to repository bench/start-pf (skopeo)
# and indexed there by remote `soci create --prefetch-files` (the command's
# three files) --push, so the other modes never see that index.
#
# Each repetition (REPS, 3), on a fresh containerd (and daemon) for every mode:
#   rpull      soci image rpull --snapshotter soci IMAGE (this project's
#              containerd client), then
#              ctr run --rm --snapshotter soci IMAGE ID sha256sum ...
#   ctr-remote ctr-remote i rpull --snapshotter soci IMAGE, then the same run
#   rpull-pf   as rpull, on the bench/start-pf image (its index has the
#              prefetch artifacts: the mount fetches those spans before it
#              answers); only when `soci create` has --prefetch-files and
#              skopeo is there (PREFETCH=0 skips it)
#   overlayfs  ctr i pull (unpacks into overlayfs), then
#              ctr run --rm --snapshotter overlayfs IMAGE ID sha256sum ...
# Measured: seconds from the start of the pull to the command's output (ctr
# run returning it), the pull's own share, the bytes the registry served
# until then (its own http.response.written counts), and for rpull-pf the
# spans the mount processes logged as prefetched.  In the first BG_REPS (1)
# repetitions, after rpull's output: the time until the background fetch has
# every span of every lazily mounted layer (the mount processes' state
# files), bounded by BG_TIMEOUT (600) s.  First repetition only: the daemon's
# RSS idle (started, nothing pulled) and with three images mounted by
# `soci image rpull`, and each soci-mount process's RSS.  Targets (the
# issue): rpull >= 3x faster to the command's output than overlayfs, and no
# slower than ctr-remote; for the prefetch list, how much sooner.
#
# Writes bench/results/start.md.  Everything started here (registry, proxy,
# containerd, daemon, mount processes, namespaces) is stopped by PID or
# removed on exit.  Environment: REPS, RATE, RTT_MS, LAYER_MIB, BG_TIMEOUT,
# BG_REPS, PREFETCH, MIN_MB (300: the least image size accepted; lower only
# to try the script), BENCH_STRICT=1 (exit 1 on a missed target),
# IDLE_PCT / IDLE_WAIT (90 / 10).
set -euo pipefail

BIN=$(cd "${1:?usage: bench/start.sh BIN_DIR}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/bench/work/start
RUNS=$WORK/runs
OUT=${OUT_MD:-$ROOT/bench/results/start.md}
REPS=${REPS:-3}
RATE=${RATE:-100mbit}
RTT_MS=${RTT_MS:-20}
LAYER_MIB=${LAYER_MIB:-900}
BG_TIMEOUT=${BG_TIMEOUT:-600}
BG_REPS=${BG_REPS:-1}
MIN_BYTES=$((${MIN_MB:-300} * 1000 * 1000))
PY=/usr/bin/python3
NS=bench
MKLAYER=(sh "$ROOT/tests/integration/lib/mklayer.sh")

for b in soci soci-mount soci-snapshotter-grpc; do
    [ -x "$BIN/$b" ] || { echo "start.sh: $BIN/$b missing (make -C build all)" >&2; exit 1; }
done
for t in "$PY" docker-registry containerd ctr ctr-remote runc busybox curl tar gzip ip tc nsenter; do
    command -v "$t" >/dev/null || { echo "start.sh: $t missing (make -C build deps)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "start.sh: needs root (network namespaces, FUSE, containers)" >&2; exit 1; }
mkdir -p "$WORK" "$(dirname "$OUT")"
say() { echo "start.sh: $*" >&2; }

# the prefetch mode runs only where it can: PF_WHY says why not
PF=0 PF_WHY=""
if [ "${PREFETCH:-1}" = 0 ]; then
    PF_WHY="switched off (PREFETCH=0)"
elif ! "$BIN/soci" create --help 2>&1 | grep -q -- --prefetch-files; then
    PF_WHY="this build's \`soci create\` has no --prefetch-files"
elif ! command -v skopeo >/dev/null; then
    PF_WHY="skopeo is missing (it copies the image alone to the prefetch repository)"
else
    PF=1
fi

# shellcheck source=bench/lib/link.sh
. "$ROOT/bench/lib/link.sh"

# ---- cleanup: everything this script starts ------------------------------------

CTD_DIR=$RUNS/ctd SNAP_DIR=$RUNS/snap NSTACK=0
# mount_pids: the soci-mount processes serving layers under our daemon's root
mount_pids() {
    local d c
    for d in /proc/[0-9]*; do
        c=$( { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null) || continue
        case "$c" in *soci-mount*"$SNAP_DIR/root"*) echo "${d#/proc/}" ;; esac
    done
}
stop_stack() {
    local p m
    sh "$ROOT/scripts/containerd.sh" stop "$CTD_DIR" >/dev/null 2>&1 || say "warning: containerd.sh stop failed"
    sh "$ROOT/scripts/snapshotter.sh" stop "$SNAP_DIR" --int >/dev/null 2>&1 || say "warning: the daemon had to be killed"
    for p in $(mount_pids); do
        kill -TERM "$p" 2>/dev/null || true
    done
    sleep 0.5
    for p in $(mount_pids); do
        kill -KILL "$p" 2>/dev/null || true
    done
    for m in $(awk -v d="$RUNS/" 'index($2, d) == 1 { print length($2), $2 }' /proc/self/mounts | sort -rn | cut -d' ' -f2-); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "warning: could not unmount $m"
    done
}
cleanup() {
    set +e
    stop_stack
    link_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the images -------------------------------------------------------------------

IMG=$WORK/image
if [ ! -f "$WORK/image.ok" ] || [ "$(cat "$WORK/image.ok")" != "$LAYER_MIB" ]; then
    say "building the images in $IMG (once)"
    rm -rf "$IMG" "$WORK/src"
    mkdir -p "$WORK/src/data/data"
    "${MKLAYER[@]}" busybox "$WORK/src/busybox"
    "${MKLAYER[@]}" tar "$WORK/src/busybox" "$WORK/src/busybox.tgz"
    # /usr in sorted path order up to LAYER_MIB of file data (Debian's own
    # files: two trees this VM image adds are left out); three small files
    # at a quarter, half and three quarters of the data for the command
    $PY - "$((LAYER_MIB << 20))" "$WORK/src/usr.list" "$WORK/src/picks" <<'EOF'
import os, re, stat, sys
budget, out, picks = int(sys.argv[1]), sys.argv[2], sys.argv[3]
skip = ("usr/lib/google-cloud-sdk", "usr/lib/node_modules")
entries, total, small = [], 0, []
for top, dirs, files in os.walk("/usr"):
    dirs.sort()
    rel = os.path.relpath(top, "/")
    if rel.startswith(skip):
        dirs[:] = []
        continue
    entries.append(rel)
    for f in sorted(files):
        p = os.path.join(rel, f)
        try:
            st = os.lstat("/" + p)
        except OSError:
            continue
        if total >= budget:
            break
        if stat.S_ISREG(st.st_mode):
            if 4096 <= st.st_size <= 65536 and re.fullmatch(r"[A-Za-z0-9._+/-]+", p):
                small.append((total, p))
            total += st.st_size
        elif not stat.S_ISLNK(st.st_mode):
            continue
        entries.append(p)
with open(out, "wb") as f:
    f.write(b"".join(os.fsencode(e) + b"\0" for e in entries))
chosen = []
for q in (0.25, 0.5, 0.75):
    chosen.append(min((s for s in small if s[1] not in chosen), key=lambda s: abs(s[0] - total * q))[1])
open(picks, "w").write("".join("/%s\n" % c for c in chosen))
EOF
    { tar -C / --null --no-recursion --ignore-failed-read --warning=no-file-changed -cf - -T "$WORK/src/usr.list" \
        2>/dev/null || [ $? -eq 1 ]; } | gzip -6 -n >"$WORK/src/usr.tgz"
    "${MKLAYER[@]}" random "$WORK/src/data/data/blob" $((24 << 20)) 7
    "${MKLAYER[@]}" tar "$WORK/src/data" "$WORK/src/data.tgz"
    # what the command must print: the picked files' digests, from the host
    # (read now, as the layer was made)
    (cd / && xargs sha256sum <"$WORK/src/picks") >"$WORK/expected"
    $PY "$ROOT/tests/cli/lib/mklayout.py" "$IMG" main "$WORK/src/busybox.tgz" "$WORK/src/usr.tgz" "$WORK/src/data.tgz" >/dev/null
    for n in 1 2; do
        mkdir -p "$WORK/src/aux$n/data"
        "${MKLAYER[@]}" random "$WORK/src/aux$n/data/blob" $((16 << 20)) $((10 + n))
        "${MKLAYER[@]}" tar "$WORK/src/aux$n" "$WORK/src/aux$n.tgz"
        $PY "$ROOT/tests/cli/lib/mklayout.py" "$IMG" "aux$n" "$WORK/src/busybox.tgz" "$WORK/src/aux$n.tgz" >/dev/null
    done
    for t in main aux1 aux2; do
        "$BIN/soci" create -q "oci:$IMG:$t" >/dev/null
    done
    cp "$WORK/src/picks" "$WORK/picks"
    rm -rf "$WORK/src"
    echo "$LAYER_MIB" >"$WORK/image.ok"
fi
CSIZE=$($PY - "$IMG" <<'EOF'
import json, sys
d = sys.argv[1]
load = lambda g: json.load(open(d + "/blobs/sha256/" + g[7:]))
for m in json.load(open(d + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "main":
        print(sum(l["size"] for l in load(m["digest"])["layers"]))
EOF
)
[ "$CSIZE" -ge "$MIN_BYTES" ] || { echo "start.sh: the image has $CSIZE bytes of layers (want >= $MIN_BYTES): raise LAYER_MIB" >&2; exit 1; }
# shellcheck disable=SC2016 # expanded in the container
CMD='sha256sum '$(tr '\n' ' ' <"$WORK/picks")

# ---- the link and the registry --------------------------------------------------------

rm -rf "$RUNS"
mkdir -p "$RUNS"
link_up socistart 10.202.0 "$RATE" "$RTT_MS" "$RUNS/registry"
CL=("${LINK_CL[@]}")
REGLOG=$RUNS/registry/log
for t in main aux1 aux2; do
    "${LINK_SV[@]}" "$BIN/soci" push -q --plain-http "oci:$IMG:$t" "127.0.0.1:$LINK_RPORT/bench/start:$t" >/dev/null
done
REF=$LINK_LOCAL/bench/start:main
PFREF=$LINK_LOCAL/bench/start-pf:main
PF_ARTIFACTS=0
# the daemon applies prefetch artifacts only when its config says so
printf '[prefetch]\nenable = true\n' >"$RUNS/prefetch.toml"
if [ "$PF" = 1 ]; then
    # the same image bytes in a repository of their own, indexed there from
    # the registry (remote create) with the command's files as the prefetch
    # list: rpull and ctr-remote never see this index
    say "indexing bench/start-pf with the prefetch list (remote soci create)"
    if ! "${LINK_SV[@]}" skopeo copy -q --dest-tls-verify=false "oci:$IMG:main" \
        "docker://127.0.0.1:$LINK_RPORT/bench/start-pf:main" >"$RUNS/pf-copy.out" 2>&1; then
        PF=0 PF_WHY="skopeo copy to bench/start-pf failed: $(head -c 300 "$RUNS/pf-copy.out" | tr '\n' ' ')"
    elif ! "${LINK_SV[@]}" "$BIN/soci" create --prefetch-files "$WORK/picks" --layout "$RUNS/pf-layout" --push \
        --plain-http "127.0.0.1:$LINK_RPORT/bench/start-pf:main" >"$RUNS/pf-create.out" 2>&1; then
        PF=0 PF_WHY="remote \`soci create --prefetch-files\` failed: $(tail -n 1 "$RUNS/pf-create.out" | head -c 300)"
    else
        PF_ARTIFACTS=$(grep -c '^Created prefetch artifact' "$RUNS/pf-create.out" || true)
        [ "$PF_ARTIFACTS" -gt 0 ] || PF=0 PF_WHY="remote \`soci create --prefetch-files\` made no prefetch artifact"
    fi
fi
[ "$PF" = 1 ] || say "no prefetch mode: $PF_WHY"

# ---- measuring ------------------------------------------------------------------------------

TIMES=$RUNS/times
# shellcheck source=bench/lib/idle.sh
. "$ROOT/bench/lib/idle.sh"
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }
record() { echo "$*" >>"$TIMES"; say "  $*"; }
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# served_since LINE: bytes the registry wrote in answers logged after LINE
served_since() {
    tail -n +"$(($1 + 1))" "$REGLOG" | awk '/msg="response completed/ && match($0, /http\.response\.written=[0-9]+/) {
        n += substr($0, RSTART + 22, RLENGTH - 22) } END { print n + 0 }'
}
loglines() { wc -l <"$REGLOG"; }
ctrc() { "${CL[@]}" timeout -k 5 600 ctr -a "$CTD_DIR/containerd.sock" -n "$NS" "$@"; }

start_stack() { # [soci [CONFIG]]
    stop_stack
    # keep the last daemon's log for a look after the run
    [ ! -f "$SNAP_DIR/log" ] || mv "$SNAP_DIR/log" "$RUNS/daemon.log.$((++NSTACK))"
    rm -rf "$CTD_DIR" "$SNAP_DIR"
    if [ "${1:-}" = soci ]; then
        "${CL[@]}" env SOCI_SNAPSHOTTER="$BIN/soci-snapshotter-grpc" sh "$ROOT/scripts/snapshotter.sh" start "$SNAP_DIR" \
            ${2:+--config "$2"} >/dev/null
        "${CL[@]}" sh "$ROOT/scripts/containerd.sh" start "$CTD_DIR" --soci "$SNAP_DIR/soci.sock" >/dev/null
    else
        "${CL[@]}" sh "$ROOT/scripts/containerd.sh" start "$CTD_DIR" >/dev/null
    fi
}

# spans_left: spans not yet fetched over every lazily mounted layer, from
# the state file each mount process keeps in its mount
# (MP/.soci-snapshotter/LAYER.json; the process's command line names LAYER
# after --layer and MP last); "none" while there is no mount process
spans_left() {
    $PY - "$SNAP_DIR/root/" <<'EOF'
import glob, json, sys
left, n = 0, 0
for f in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        argv = open(f, "rb").read().split(b"\0")[:-1]
    except OSError:
        continue
    argv = [a.decode(errors="replace") for a in argv]
    if not argv or not argv[0].endswith("soci-mount") or "--layer" not in argv or not argv[-1].startswith(sys.argv[1]):
        continue
    layer = argv[argv.index("--layer") + 1]
    try:
        s = json.load(open("%s/.soci-snapshotter/%s.json" % (argv[-1], layer)))
    except (OSError, ValueError, IndexError):
        continue
    n += 1
    left += int(s["spans"]) - int(s["spansFetched"])
print(left if n else "none")
EOF
}

# prefetched_spans: spans the mount processes logged as fetched from the
# index's prefetch artifacts before answering (their logs under the daemon's
# root: {"msg":"prefetched",...,"spans":N})
prefetched_spans() {
    cat "$SNAP_DIR"/root/soci/logs/*.log 2>/dev/null | $PY -c '
import json, sys
n = 0
for line in sys.stdin:
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if isinstance(r, dict) and r.get("msg") == "prefetched":
        n += int(r.get("spans", 0))
print(n)'
}

check_output() { # FILE WHAT
    if cmp -s "$1" "$WORK/expected"; then
        CHECKS="${CHECKS}$2: the command printed the files' real digests: ok"$'\n'
    else
        CHECKS="${CHECKS}$2: wrong output: FAILED ($(tr '\n' ' ' <"$1" | cut -c1-200))"$'\n'
    fi
}

# pull_lazy CLIENT REF: pull REF into containerd with the soci snapshotter
pull_lazy() {
    case $1 in
    soci)
        "${CL[@]}" timeout -k 5 600 "$BIN/soci" image rpull --address "$CTD_DIR/containerd.sock" --namespace "$NS" \
            --snapshotter soci "$2"
        ;;
    ctr-remote)
        "${CL[@]}" timeout -k 5 600 ctr-remote -a "$CTD_DIR/containerd.sock" -n "$NS" i rpull --plain-http \
            --snapshotter soci "$2"
        ;;
    esac
}

# lazy MODE CLIENT REF REP [CONFIG]: a fresh stack (daemon config CONFIG), pull, run, record; leaves the
# stack up and T0 / L0 (start time, registry log line) for what follows
lazy() {
    local mode=$1 client=$2 ref=$3 rep=$4 tp tr
    start_stack soci "${5:-}"
    DPID=$(cat "$SNAP_DIR/pid")
    [ "$mode" != rpull ] || [ "$rep" -gt 1 ] || { sleep 2; record rss-idle "$rep" "$(rss_kib "$DPID")"; }
    wait_idle
    L0=$(loglines)
    T0=$EPOCHREALTIME
    pull_lazy "$client" "$ref" >"$RUNS/pull.$mode" 2>&1 || { cat "$RUNS/pull.$mode" >&2; exit 1; }
    tp=$(since "$T0")
    ctrc run --rm --snapshotter soci "$ref" "$mode-$rep" /bin/sh -c "$CMD" >"$RUNS/out.$mode" 2>&1 ||
        { cat "$RUNS/out.$mode" >&2; tail -n 20 "$SNAP_DIR/log" >&2; exit 1; }
    tr=$(since "$T0")
    record "$mode" "$rep" "$tr" "$tp" "$(served_since "$L0")" "$(prefetched_spans)"
    [ "$rep" -gt 1 ] || check_output "$RUNS/out.$mode" "$mode"
}

CHECKS=""
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq 1 "$REPS"); do
    say "repetition $rep of $REPS"
    # -- rpull: our client, lazy pull, run
    lazy rpull soci "$REF" "$rep"
    if [ "$rep" -le "$BG_REPS" ]; then
        # -- background fetch until every span is in
        left=$(spans_left)
        while [ "$left" != 0 ] && [ "$(since "$T0" | cut -d. -f1)" -lt "$BG_TIMEOUT" ]; do
            sleep 0.5
            left=$(spans_left)
        done
        record bg-full "$rep" "$(since "$T0")" "$(served_since "$L0")" "$left"
    fi
    if [ "$rep" -eq 1 ]; then
        # -- memory with three images mounted
        for t in aux1 aux2; do
            pull_lazy soci "$LINK_LOCAL/bench/start:$t" >/dev/null 2>&1
            ctrc run --rm --snapshotter soci "$LINK_LOCAL/bench/start:$t" "aux-$t" /bin/sh -c 'head -c 4096 /data/blob | wc -c' >/dev/null
        done
        nfuse=$(awk -v d="$SNAP_DIR/root/" 'index($2, d) == 1 && $3 ~ /^fuse/' /proc/self/mounts | wc -l)
        record rss-3 "$rep" "$(rss_kib "$DPID")" "$nfuse"
        for p in $(mount_pids); do
            record rss-mount "$rep" "$(rss_kib "$p")" "$p"
        done
    fi
    # -- ctr-remote: upstream's client, lazy pull, run
    lazy ctr-remote ctr-remote "$REF" "$rep"
    # -- rpull-pf: our client on the image whose index has the prefetch list
    [ "$PF" = 0 ] || lazy rpull-pf soci "$PFREF" "$rep" "$RUNS/prefetch.toml"
    # -- overlayfs: containerd's own pull and unpack, run
    start_stack
    wait_idle
    l0=$(loglines)
    t0=$EPOCHREALTIME
    ctrc images pull --plain-http "$REF" >"$RUNS/pull.out" 2>&1 || { cat "$RUNS/pull.out" >&2; exit 1; }
    tp=$(since "$t0")
    ctrc run --rm --snapshotter overlayfs "$REF" "start-o-$rep" /bin/sh -c "$CMD" >"$RUNS/out.overlayfs" 2>&1 ||
        { cat "$RUNS/out.overlayfs" >&2; exit 1; }
    tr=$(since "$t0")
    record overlayfs "$rep" "$tr" "$tp" "$(served_since "$l0")"
    [ "$rep" -gt 1 ] || check_output "$RUNS/out.overlayfs" overlayfs
done
stop_stack
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report --------------------------------------------------------------------------------

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
DIRTY=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | head -c1)
[ -z "$DIRTY" ] || DIRTY=" + uncommitted changes"
$PY - "$TIMES" "$OUT" "$PF" "$PF_WHY" "$PF_ARTIFACTS" <<EOF
import collections, platform, statistics as st, sys, time
times, out, pf, pf_why, pf_artifacts = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4], int(sys.argv[5])
rows = collections.defaultdict(list)
for line in open(times):
    f = line.split()
    rows[f[0]].append(f[2:])
def col(s, i=0, conv=float):
    return [conv(r[i]) for r in rows[s]]
def med(s, i=0):
    return st.median(col(s, i))
def runs(s, i=0):
    return " / ".join("%.2f" % x for x in col(s, i))
csize = $CSIZE
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
o = ["# Container start: lazy pull (soci image rpull, ctr-remote; soci-snapshotter-grpc) against pull + overlayfs\n"]
o.append("Written by \`bench/start.sh BIN_DIR\` (do not edit by hand) on %s, commit $COMMIT$DIRTY. "
         "Machine: %d x %s, Debian %s, kernel %s; a noisy shared 2-core VM (other jobs ran on it): the seconds "
         "move from run to run, quote ratios. "
         "Load average before: $LOAD_BEFORE; after: $LOAD_AFTER. Before each measurement the script waited up to "
         "$IDLE_WAIT s for a 1 s sample at >= $IDLE_PCT%% idle: $QUIET of $NMEAS started on a quiet machine.\n"
         % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), len(cpu), cpu[0] if cpu else "?",
            open("/etc/debian_version").read().strip(), platform.release()))
o.append("## Setup\n")
o.append("- Image: busybox rootfs; /usr in sorted path order up to $LAYER_MIB MiB of file data (GNU tar, gzip -6); "
         "24 MiB of random bytes: %.1f MB of compressed layers, indexed with \`soci create\`, pushed with \`soci push\`. "
         "Command: \`/bin/sh -c '$CMD'\` (three small files of the /usr layer)." % (csize / 1e6))
o.append("- Link: namespaces socistart-c (containerd 1.6, our daemon and its soci-mount processes, ctr, ctr-remote, soci) "
         "and socistart-s (Debian docker-registry behind \`bench/delay_proxy.py\`, +$RTT_MS ms a round trip), a veth pair "
         "with \`tc tbf rate $RATE\` both ways; clients use 127.0.0.1:5000 of their namespace, a relay (delay_proxy.py, no delay) "
         "to the link, as the daemon speaks plain HTTP to loopback registries only; a request on a kept connection takes $LINK_RTT ms.")
o.append("- rpull: \`soci image rpull --snapshotter soci REF\` (this project's containerd client), then "
         "\`ctr run --rm --snapshotter soci REF ID CMD\`. ctr-remote: \`ctr-remote i rpull --plain-http --snapshotter soci REF\`, "
         "then the same run. Both on our daemon with the default config (background fetch after 30 s without reads). "
         "overlayfs: \`ctr i pull --plain-http REF\` (fetches and unpacks every layer), then \`ctr run --rm --snapshotter overlayfs\`. "
         "A fresh containerd (and daemon) for every run; the registry's blobs stay in the page cache.")
if pf:
    o.append("- rpull-pf: as rpull, on the same image bytes copied (skopeo) to repository bench/start-pf and indexed there by "
             "remote \`soci create --prefetch-files FILE --push\` with the command's three files as FILE (%d prefetch artifact%s); "
             "the daemon runs with \`[prefetch] enable = true\`, so each layer's mount fetches its artifact's spans before it answers." % (pf_artifacts, "" if pf_artifacts == 1 else "s"))
else:
    o.append("- rpull-pf (prefetch list): **not run**: %s." % pf_why)
o.append("")
o.append("## Results\n")
o.append("$REPS repetitions, median seconds (every run, in order).\n")
o.append("| what | median s | runs |")
o.append("|---|---:|---|")
def row(label, s, i=0):
    if s in rows:
        o.append("| %s | %.2f | %s |" % (label, med(s, i), runs(s, i)))
row("rpull: pull to the command's output", "rpull")
row("&nbsp;&nbsp;of which \`soci image rpull\`", "rpull", 1)
row("ctr-remote: pull to the command's output", "ctr-remote")
row("&nbsp;&nbsp;of which \`ctr-remote i rpull\`", "ctr-remote", 1)
row("rpull-pf: pull to the command's output, prefetch list", "rpull-pf")
row("&nbsp;&nbsp;of which \`soci image rpull\` (the prefetch included)", "rpull-pf", 1)
row("overlayfs: pull to the command's output", "overlayfs")
row("&nbsp;&nbsp;of which \`ctr i pull\`", "overlayfs", 1)
row("rpull: from the pull until the background fetch has every span", "bg-full")
o.append("")
mb = lambda s: "%.1f MB" % (st.median(col(s, 2)) / 1e6)
served = ["%s %s" % (s, mb(s)) for s in ("rpull", "ctr-remote", "rpull-pf", "overlayfs") if s in rows]
o.append("Bytes the registry served before the output (median): %s (layers: %.1f MB)." % (", ".join(served), csize / 1e6))
if "bg-full" in rows:
    o.append("rpull until every span was in: %.1f MB (measured in %d of $REPS repetitions: it takes minutes). "
             "Spans left when the wait ended: %s."
             % (st.median(col("bg-full", 1)) / 1e6, len(rows["bg-full"]), ", ".join(r[2] for r in rows["bg-full"])))
o.append("")
if "rss-idle" in rows:
    o.append("Memory (VmRSS): daemon idle %.1f MiB; with three images mounted by \`soci image rpull\` (%s FUSE layers) %.1f MiB; "
             "each soci-mount process: %s MiB.\n"
             % (col("rss-idle")[0] / 1024, rows["rss-3"][0][1], col("rss-3")[0] / 1024,
                ", ".join("%.1f" % (x / 1024) for x in col("rss-mount"))))
missed = False
o.append("## Targets\n")
o.append("| target (issue) | measured | verdict |")
o.append("|---|---:|---|")
r = med("overlayfs") / med("rpull")
missed |= r < 3
o.append("| rpull >= 3x faster to the command's output than pull + overlayfs | %.2fx | %s |" % (r, "met" if r >= 3 else "**MISSED**"))
c = med("rpull") / med("ctr-remote")
if c <= 1:
    v = "met"
elif min(col("rpull")) <= max(col("ctr-remote")):
    v = "not met by the medians; the two modes' runs overlap (rpull %s s, ctr-remote %s s): within noise" % (
        runs("rpull"), runs("ctr-remote"))
else:
    v = "**MISSED**"
    missed = True
o.append("| rpull no slower to the output than ctr-remote + run | rpull takes %.2fx ctr-remote's time | %s |" % (c, v))
o.append("")
if pf:
    n = st.median(col("rpull-pf", 3, int))
    d = med("rpull") - med("rpull-pf")
    o.append("Prefetch list: rpull-pf's output came %.2f s %s than rpull's (medians %.2f s and %.2f s; %.2fx). "
             "The mount processes logged %d span%s prefetched before answering (median)%s."
             % (abs(d), "sooner" if d >= 0 else "later", med("rpull-pf"), med("rpull"), med("rpull") / med("rpull-pf"),
                n, "" if n == 1 else "s",
                "" if n > 0 else ": **the snapshotter path did not apply the prefetch artifacts at this commit**, so "
                "the difference is noise"))
else:
    o.append("Prefetch list: not measured (%s)." % pf_why)
o.append("\nChecks:\n")
for c in """$CHECKS""".strip().split("\n"):
    o.append("- " + c)
o.append("")
open(out, "w").write("\n".join(o))
print("\n".join(o))
open(out + ".status", "w").write("missed\n" if missed else "ok\n")
EOF
status=$(cat "$OUT.status"); rm -f "$OUT.status"
case "$CHECKS" in *FAILED*) exit 1 ;; esac
[ "${BENCH_STRICT:-0}" = 1 ] && [ "$status" != ok ] && exit 1
exit 0
