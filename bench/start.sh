#!/bin/bash
# bench/start.sh BIN_DIR -- container start over a slow link: lazy pull with
# soci-snapshotter-grpc against containerd's own pull + overlayfs.
#
# The link (bench/lib/link.sh): network namespaces socistart-s (Debian's
# docker-registry behind bench/delay_proxy.py, +RTT_MS per round trip) and
# socistart-c (containerd, our daemon, its soci-mount processes, ctr and
# ctr-remote, all started with `nsenter --net`), joined by a veth pair shaped
# with tbf at RATE (100mbit) each way.  Clients reach the registry as
# 127.0.0.1:5000 of their namespace (a relay in front of the link): the
# daemon speaks plain HTTP to loopback registries only.
#
# The image (built once, cached in bench/work/start/): a busybox rootfs; /usr
# walked in sorted path order up to LAYER_MIB (900) MiB of file data, GNU tar,
# gzip -6 (about 290 MB); 24 MiB of random bytes in /data/blob: >= 300 MB
# compressed.  Its command reads three small files of the /usr layer
# (sha256sum).  Two more images (busybox + 16 MiB of random bytes each) are
# mounted for the memory figures.  Every image is indexed with `soci create`
# and pushed with `soci push`.
#
# Each repetition (REPS, 3), on a fresh containerd (and daemon) every time:
#   soci      ctr-remote i rpull --snapshotter soci, then
#             ctr run --rm --snapshotter soci IMAGE ID sha256sum ...
#   overlayfs ctr i pull (unpacks into overlayfs), then
#             ctr run --rm --snapshotter overlayfs IMAGE ID sha256sum ...
# Measured: seconds from the start of the pull to the command's output (ctr
# run returning it), the bytes the registry served until then (its own
# http.response.written counts), and for soci the time until the background
# fetch has every span of every lazily mounted layer (the mount processes'
# state files), bounded by BG_TIMEOUT (600) s.  First repetition only: the
# daemon's RSS idle (started, nothing pulled) and with the three images
# mounted, and each soci-mount process's RSS.  Target (the issue): soci
# >= 3x faster to the command's output than overlayfs.
#
# Writes bench/results/start.md.  Everything started here (registry, proxy,
# containerd, daemon, mount processes, namespaces) is stopped by PID or
# removed on exit.  Environment: REPS, RATE, RTT_MS, LAYER_MIB, BG_TIMEOUT,
# MIN_MB (300: the least image size accepted; lower only to try the script),
# BENCH_STRICT=1 (exit 1 on a missed target), IDLE_PCT / IDLE_WAIT (90 / 10).
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

# ---- measuring ------------------------------------------------------------------------------

TIMES=$RUNS/times
jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
IDLE_PCT=${IDLE_PCT:-90}
IDLE_WAIT=${IDLE_WAIT:-10}
QUIET=0 NMEAS=0
wait_idle() {
    local t0=$SECONDS a b busy idle
    NMEAS=$((NMEAS + 1))
    while :; do
        read -r -a a < <(jiffies); sleep 1; read -r -a b < <(jiffies)
        busy=$((b[0] - a[0])); idle=$((b[1] - a[1]))
        if [ $((100 * idle / (busy + idle + 1))) -ge "$IDLE_PCT" ]; then QUIET=$((QUIET + 1)); return 0; fi
        [ $((SECONDS - t0)) -lt "$IDLE_WAIT" ] || return 0
    done
}
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

start_stack() { # [soci]
    stop_stack
    # keep the last daemon's log for a look after the run
    [ ! -f "$SNAP_DIR/log" ] || mv "$SNAP_DIR/log" "$RUNS/daemon.log.$((++NSTACK))"
    rm -rf "$CTD_DIR" "$SNAP_DIR"
    if [ "${1:-}" = soci ]; then
        "${CL[@]}" env SOCI_SNAPSHOTTER="$BIN/soci-snapshotter-grpc" sh "$ROOT/scripts/snapshotter.sh" start "$SNAP_DIR" >/dev/null
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

check_output() { # FILE WHAT
    if cmp -s "$1" "$WORK/expected"; then
        CHECKS="${CHECKS}$2: the command printed the files' real digests: ok"$'\n'
    else
        CHECKS="${CHECKS}$2: wrong output: FAILED ($(tr '\n' ' ' <"$1" | cut -c1-200))"$'\n'
    fi
}

CHECKS=""
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq 1 "$REPS"); do
    say "repetition $rep of $REPS"
    # -- soci: lazy pull, run
    start_stack soci
    DPID=$(cat "$SNAP_DIR/pid")
    [ "$rep" -gt 1 ] || { sleep 2; record rss-idle "$rep" "$(rss_kib "$DPID")"; }
    wait_idle
    l0=$(loglines)
    t0=$EPOCHREALTIME
    "${CL[@]}" timeout -k 5 600 ctr-remote -a "$CTD_DIR/containerd.sock" -n "$NS" i rpull --plain-http \
        --snapshotter soci "$REF" >"$RUNS/rpull.out" 2>&1 || { cat "$RUNS/rpull.out" >&2; exit 1; }
    tp=$(since "$t0")
    ctrc run --rm --snapshotter soci "$REF" "start-$rep" /bin/sh -c "$CMD" >"$RUNS/out.soci" 2>&1 ||
        { cat "$RUNS/out.soci" >&2; tail -n 20 "$SNAP_DIR/log" >&2; exit 1; }
    tr=$(since "$t0")
    record soci "$rep" "$tr" "$tp" "$(served_since "$l0")"
    [ "$rep" -gt 1 ] || check_output "$RUNS/out.soci" soci
    # -- background fetch until every span is in
    left=$(spans_left)
    while [ "$left" != 0 ] && [ "$(since "$t0" | cut -d. -f1)" -lt "$BG_TIMEOUT" ]; do
        sleep 0.5
        left=$(spans_left)
    done
    record bg-full "$rep" "$(since "$t0")" "$(served_since "$l0")" "$left"
    if [ "$rep" -eq 1 ]; then
        # -- memory with three images mounted
        for t in aux1 aux2; do
            "${CL[@]}" timeout -k 5 600 ctr-remote -a "$CTD_DIR/containerd.sock" -n "$NS" i rpull --plain-http \
                --snapshotter soci "$LINK_LOCAL/bench/start:$t" >/dev/null 2>&1
            ctrc run --rm --snapshotter soci "$LINK_LOCAL/bench/start:$t" "aux-$t" /bin/sh -c 'head -c 4096 /data/blob | wc -c' >/dev/null
        done
        nfuse=$(awk -v d="$SNAP_DIR/root/" 'index($2, d) == 1 && $3 ~ /^fuse/' /proc/self/mounts | wc -l)
        record rss-3 "$rep" "$(rss_kib "$DPID")" "$nfuse"
        for p in $(mount_pids); do
            record rss-mount "$rep" "$(rss_kib "$p")" "$p"
        done
    fi
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
$PY - "$TIMES" "$OUT" <<EOF
import collections, platform, statistics as st, sys, time
times, out = sys.argv[1], sys.argv[2]
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
o = ["# Container start: lazy pull (soci-snapshotter-grpc) against pull + overlayfs\n"]
o.append("Written by \`bench/start.sh BIN_DIR\` (do not edit by hand) on %s, commit $COMMIT$DIRTY. "
         "Machine: %d x %s, Debian %s, kernel %s; a noisy shared 2-core VM: quote ratios. "
         "Load average before: $LOAD_BEFORE; after: $LOAD_AFTER. Before each measurement the script waited up to "
         "$IDLE_WAIT s for a 1 s sample at >= $IDLE_PCT%% idle: $QUIET of $NMEAS started on a quiet machine.\n"
         % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), len(cpu), cpu[0] if cpu else "?",
            open("/etc/debian_version").read().strip(), platform.release()))
o.append("## Setup\n")
o.append("- Image: busybox rootfs; /usr in sorted path order up to $LAYER_MIB MiB of file data (GNU tar, gzip -6); "
         "24 MiB of random bytes: %.1f MB of compressed layers, indexed with \`soci create\`, pushed with \`soci push\`. "
         "Command: \`/bin/sh -c '$CMD'\` (three small files of the /usr layer)." % (csize / 1e6))
o.append("- Link: namespaces socistart-c (containerd 1.6, our daemon and its soci-mount processes, ctr, ctr-remote) "
         "and socistart-s (Debian docker-registry behind \`bench/delay_proxy.py\`, +$RTT_MS ms a round trip), a veth pair "
         "with \`tc tbf rate $RATE\` both ways; clients use 127.0.0.1:5000 of their namespace, a relay (delay_proxy.py, no delay) "
         "to the link, as the daemon speaks plain HTTP to loopback registries only; a request on a kept connection takes $LINK_RTT ms.")
o.append("- soci: \`ctr-remote i rpull --plain-http --snapshotter soci REF\`, then \`ctr run --rm --snapshotter soci REF ID CMD\`; "
         "daemon with the default config (background fetch after 30 s without reads). overlayfs: \`ctr i pull --plain-http REF\` "
         "(fetches and unpacks every layer), then \`ctr run --rm --snapshotter overlayfs\`. A fresh containerd (and daemon) "
         "for every run; the registry's blobs stay in the page cache.\n")
o.append("## Results\n")
o.append("$REPS repetitions, median seconds (every run).\n")
o.append("| what | median s | runs |")
o.append("|---|---:|---|")
def row(label, s, i=0):
    if s in rows:
        o.append("| %s | %.2f | %s |" % (label, med(s, i), runs(s, i)))
row("soci: pull to the command's output", "soci")
row("&nbsp;&nbsp;of which \`ctr-remote i rpull\`", "soci", 1)
row("overlayfs: pull to the command's output", "overlayfs")
row("&nbsp;&nbsp;of which \`ctr i pull\`", "overlayfs", 1)
row("soci: from the pull until the background fetch has every span", "bg-full")
o.append("")
o.append("Bytes the registry served before the output (median): soci %.1f MB, overlayfs %.1f MB (layers: %.1f MB); "
         "soci until every span was in: %.1f MB. Spans left when the wait ended: %s.\n"
         % (st.median(col("soci", 2)) / 1e6, st.median(col("overlayfs", 2)) / 1e6, csize / 1e6,
            st.median(col("bg-full", 1)) / 1e6, ", ".join(r[2] for r in rows["bg-full"])))
if "rss-idle" in rows:
    o.append("Memory (VmRSS): daemon idle %.1f MiB; with three images mounted (%s FUSE layers) %.1f MiB; "
             "each soci-mount process: %s MiB.\n"
             % (col("rss-idle")[0] / 1024, rows["rss-3"][0][1], col("rss-3")[0] / 1024,
                ", ".join("%.1f" % (x / 1024) for x in col("rss-mount"))))
o.append("## Target\n")
o.append("| target (issue) | measured | verdict |")
o.append("|---|---:|---|")
r = med("overlayfs") / med("soci")
o.append("| soci >= 3x faster to the command's output than pull + overlayfs | %.2fx | %s |" % (r, "met" if r >= 3 else "**MISSED**"))
o.append("\nChecks:\n")
for c in """$CHECKS""".strip().split("\n"):
    o.append("- " + c)
o.append("")
open(out, "w").write("\n".join(o))
print("\n".join(o))
open(out + ".status", "w").write("ok\n" if r >= 3 else "missed\n")
EOF
status=$(cat "$OUT.status"); rm -f "$OUT.status"
case "$CHECKS" in *FAILED*) exit 1 ;; esac
[ "${BENCH_STRICT:-0}" = 1 ] && [ "$status" != ok ] && exit 1
exit 0
