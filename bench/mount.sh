#!/bin/bash
# bench/mount.sh BIN_DIR [first] -- soci-mount over a slow link against
# downloading and extracting the layer, and against archivemount on the
# local file; then (also alone, with `first`) the first bytes of a file from
# a local layout, soci-mount against archivemount.
#
# The link: two network namespaces made here, socibench-s (the registry:
# Debian's docker-registry on the namespace's own 127.0.0.1, fronted by
# bench/delay_proxy.py on 10.201.0.1:5000, which adds RTT_MS (20) ms per
# round trip) and socibench-c (10.201.0.2: the clients, soci-mount and curl,
# started with `nsenter --net`, so their FUSE mounts are in this mount
# namespace), joined by a veth pair shaped with tbf at RATE (100mbit) each
# way.  No address is added outside those two namespaces.
#
# The layer: /usr walked depth first in name order (as image builders write
# layers, and as a tar of the mount reads them back) up to LAYER_MIB (900)
# MiB of file data, GNU tar, gzip -6 -n: >= 200 MB; wrapped in a one-layer
# OCI image, indexed with `soci create` and pushed with `soci push` (inside
# socibench-s, not through the link).  Built once and cached in
# bench/work/mount/ (gitignored; delete it to rebuild).
#
# Scenarios, REPS (3) times each, interleaved:
#   download+extract   curl the blob | tar -xz into a fresh directory
#   small file, cold   soci-mount with a fresh --cache-dir, then cat one small
#                      file from the middle of the layer (time from starting
#                      soci-mount, mount included; the read alone also shown)
#   find -ls           on that fresh mount (metadata only: no span is needed)
#   every file, cold   fresh --cache-dir, mount, `tar -cf - . | cat >/dev/null`
#                      (a pipe: GNU tar skips reading files when writing to
#                      /dev/null itself), mount included
#   every file, warm   the same tar again on the same mount (once more, in
#                      the first repetition, with a --cache-mem that holds the
#                      whole decompressed layer: a diagnosis, see the notes)
#   re-mount           a new mount on the filled disk cache (its compressed
#                      spans: the decompressed tier is each mount's own), the
#                      same tar
#   ext4               the same tar (its second pass) and find -ls on the
#                      extracted tree
#   archivemount       Debian archivemount (FUSE 2 + libarchive) on the local
#                      layer file: mount, the small file, find -ls; every file
#                      once (AM_TIMEOUT, 180 s, bounds it)
# Targets (the issue): small file >= 20x faster than download+extract; every
# file cold <= 1.25x download+extract; warm >= 0.7x the speed of ext4.
#
# First file from a local layout (mode `first`, and after the link
# scenarios): a smaller layer of /usr the same way (FIRST_MIB, 185 MiB of
# file data, files over FIRST_CAP (2 MiB) left out, as a root file system
# holds few big files: ~60 MB of gzip, thousands of entries), indexed with
# `soci create` in its own OCI layout.  FIRST_REPS (7) times, interleaved, the page cache dropped before
# each start (when /proc/sys/vm/drop_caches is writable): from starting
# `soci-mount --cache-dir FRESH oci:DIR:TAG --layer DIGEST MNT` (it returns
# once mounted) to the first 4096 bytes of the layer's last regular file
# (`head -c 4096`), against the same from starting `archivemount -o
# ro,readonly LAYER MNT`.  Target (issue 12): soci-mount >= 40x sooner.  This
# section of bench/results/mount.md is replaced in place (between its
# markers), so `first` alone keeps the rest of the file.
# Writes bench/results/mount.md.  Everything started here (registry, proxy,
# mounts, namespaces) is stopped or removed on exit.
#
# Environment: REPS (3), RATE (100mbit), RTT_MS (20), AM_TIMEOUT (180), LAYER_MIB (900),
# MOUNT_OPTS (extra soci-mount options), BENCH_STRICT=1 (exit 1 on a missed
# target), IDLE_PCT / IDLE_WAIT (90 / 10), FIRST_REPS (7), FIRST_MIB (185),
# FIRST_CAP (2097152), FIRST_BASELINE (another BIN_DIR whose soci-mount is
# measured too, in the same run: before and after a change), FIRST_WARM (1:
# each repetition also measured without dropping the page cache).
set -euo pipefail

BIN=$(cd "${1:?usage: bench/mount.sh BIN_DIR [first]}" && pwd)
MODE=${2:-all}
case "$MODE" in all | first) ;; *) echo "usage: bench/mount.sh BIN_DIR [first]" >&2; exit 2 ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/bench/work/mount
RUNS=$WORK/runs
OUT=${OUT_MD:-$ROOT/bench/results/mount.md}
REPS=${REPS:-3}
RATE=${RATE:-100mbit}
RTT_MS=${RTT_MS:-20}
AM_TIMEOUT=${AM_TIMEOUT:-180}
MOUNT_OPTS=${MOUNT_OPTS:-}
MIN_BYTES=$((200 * 1000 * 1000))
NS_S=socibench-s NS_C=socibench-c VETH_S=sbveth-s VETH_C=sbveth-c
ADDR_S=10.201.0.1 ADDR_C=10.201.0.2 PROXY_PORT=5000
REPO=bench/mount TAG=bench
PY=/usr/bin/python3

for b in soci soci-mount; do
    [ -x "$BIN/$b" ] || { echo "mount.sh: $BIN/$b missing (make programs)" >&2; exit 1; }
done
TOOLS="/usr/bin/python3 tar gzip fusermount3 fusermount archivemount head cmp"
[ "$MODE" = first ] || TOOLS="$TOOLS docker-registry curl ip tc nsenter timeout"
for t in $TOOLS; do
    command -v "$t" >/dev/null || { echo "mount.sh: $t missing (apt-get install docker-registry archivemount fuse3 iproute2)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "mount.sh: needs root (network namespaces, FUSE)" >&2; exit 1; }
mkdir -p "$WORK" "$(dirname "$OUT")"

say() { echo "mount.sh: $*" >&2; }

# ---- cleanup: everything this script starts ----------------------------------

PROXY_PID="" REG_DIR=$WORK/registry
declare -A MOUNTED=()      # mountpoint -> pid (soci-mount) or "am" (archivemount)
NS_MADE=0

unmount() { # MOUNTPOINT
    local mp=$1 pid=${MOUNTED[$1]:-} i=0
    if [ "$pid" = am ]; then
        fusermount -u "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
    else
        fusermount3 -u "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
        if [ -n "$pid" ]; then
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    fi
    unset "MOUNTED[$mp]"
}

cleanup() {
    local mp
    set +e
    for mp in "${!MOUNTED[@]}"; do unmount "$mp"; done
    if [ -n "$PROXY_PID" ]; then
        kill -TERM "$PROXY_PID" 2>/dev/null
        wait "$PROXY_PID" 2>/dev/null
        PROXY_PID=""
    fi
    "$ROOT/scripts/registry.sh" stop "$REG_DIR" >/dev/null 2>&1
    if [ "$NS_MADE" = 1 ]; then
        ip netns del "$NS_S" 2>/dev/null
        ip netns del "$NS_C" 2>/dev/null
        NS_MADE=0
    fi
    rm -rf "$RUNS"/mnt* "$RUNS"/cache* "$RUNS"/x*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the layer and its image ---------------------------------------------------

# usr_layer LAYER MIB [CAP]: /usr walked depth first with each directory's
# entries in name order (what image builders write, and the order a tar of
# the mount reads it back in), until MIB MiB of file data, leaving out files
# over CAP bytes (0: none); GNU tar, gzip -6 -n.  Built once (LAYER.info:
# "MIB entries [CAP]"); a rebuild drops the image made from it.
usr_layer() {
    local layer=$1 mib=$2 cap=${3:-0} dir key
    dir=$(dirname "$layer")
    key=$mib
    [ "$cap" = 0 ] || key="$mib $cap"
    [ ! -f "$layer.info" ] || [ "$(cut -d' ' -f1,3 "$layer.info")" != "$key" ] || return 0
    say "building $layer from /usr (once)"
    mkdir -p "$dir"
    rm -f "$dir/image.ok"
    $PY - "$((mib << 20))" "$dir/usr.list" "$cap" <<'EOF'
import os, stat, sys
budget, out, cap = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
skip = {"usr/lib/google-cloud-sdk", "usr/lib/node_modules"}   # not from Debian packages on this VM image
names, total = ["usr"], 0
def walk(rel):
    global total
    for e in sorted(os.listdir("/" + rel)):
        p = rel + "/" + e
        if total >= budget or p in skip:
            continue
        try:
            st = os.lstat("/" + p)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and cap and st.st_size > cap:
            continue
        if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            names.append(p)
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
        elif stat.S_ISDIR(st.st_mode):
            names.append(p)
            walk(p)
walk("usr")
open(out, "wb").write(b"".join(os.fsencode(n) + b"\0" for n in names))
EOF
    { tar -C / --null --no-recursion --ignore-failed-read --warning=no-file-changed -cf - -T "$dir/usr.list" \
        2>/dev/null || [ $? -eq 1 ]; } | gzip -6 -n >"$layer.tmp"
    mv "$layer.tmp" "$layer"
    echo "$mib $(tr -cd '\0' <"$dir/usr.list" | wc -c)$([ "$cap" = 0 ] || echo " $cap")" >"$layer.info"
    rm -f "$dir/usr.list"
}

# oci_image LAYER IMG: LAYER (hard-linked) as the one layer of an OCI image
# in IMG, tagged $TAG and indexed with `soci create` (once: DIR/image.ok);
# writes DIR/small (a 1..16 KiB file from the middle of the layer) and
# DIR/last (its last non-empty regular file): "name size offset tar-size"
oci_image() {
    local layer=$1 img=$2 dir
    dir=$(dirname "$layer")
    [ ! -f "$dir/image.ok" ] || [ ! -f "$dir/last" ] || return 0
    say "wrapping $layer in an OCI image and indexing it (once)"
    rm -rf "$img" "$dir/small" "$dir/last"
    mkdir -p "$img/blobs/sha256"
    $PY - "$layer" "$img" "$TAG" "$dir/small" "$dir/last" <<'EOF'
import hashlib, json, os, sys, tarfile, zlib
layer, img, tag, small, last = sys.argv[1:6]
h_c, h_u = hashlib.sha256(), hashlib.sha256()
class Tee:
    """the decompressed stream for tarfile, hashing it on the way"""
    def __init__(self, f):
        self.f, self.d, self.buf, self.pos = f, zlib.decompressobj(31), b"", 0
    def read(self, n):
        while len(self.buf) < n:
            c = self.f.read(1 << 20)
            if not c:
                self.buf += self.d.flush()
                break
            h_c.update(c)
            self.buf += self.d.decompress(c)
            while self.d.eof and self.d.unused_data:   # more gzip members
                rest = self.d.unused_data
                self.d = zlib.decompressobj(31)
                self.buf += self.d.decompress(rest)
        out, self.buf = self.buf[:n], self.buf[n:]
        h_u.update(out)
        self.pos += len(out)
        return out
t = Tee(open(layer, "rb"))
files = []
with tarfile.open(fileobj=t, mode="r|") as tf:
    for m in tf:
        if m.isreg() and 1024 <= m.size <= 16384:
            files.append((m.offset_data, m.name, m.size))
        if m.isreg() and m.size > 0:
            final = (m.offset_data, m.name, m.size)
while t.read(1 << 20):
    pass
total = t.pos
off, name, size = min(files, key=lambda f: abs(f[0] - total / 2))
open(small, "w").write("%s\t%d\t%d\t%d\n" % (name, size, off, total))
open(last, "w").write("%s\t%d\t%d\t%d\n" % (final[1], final[2], final[0], total))
os.link(layer, os.path.join(img, "blobs", "sha256", h_c.hexdigest()))   # same directory tree: same file system
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(img, "blobs", "sha256", d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
cfg = {"architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z", "config": {"Cmd": ["/bin/sh"]},
       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + h_u.hexdigest()]}}
c = put(json.dumps(cfg, separators=(",", ":")).encode())
man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
       "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **c),
       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + h_c.hexdigest(),
                   "size": os.path.getsize(layer)}]}
m = put(json.dumps(man, separators=(",", ":")).encode())
json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
           "manifests": [dict(mediaType="application/vnd.oci.image.manifest.v1+json", **m,
                              annotations={"org.opencontainers.image.ref.name": tag},
                              platform={"architecture": "amd64", "os": "linux"})]},
          open(os.path.join(img, "index.json"), "w"), separators=(",", ":"))
open(os.path.join(img, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
EOF
    "$BIN/soci" create -q "oci:$img:$TAG" >/dev/null
    touch "$dir/image.ok"
}
# ---- measuring helpers -----------------------------------------------------------------

# shellcheck source=bench/lib/idle.sh
. "$ROOT/bench/lib/idle.sh"
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }
record() { echo "$*" >>"$TIMES"; say "  $*"; }
tar_all() { tar -C "$1" -cf - . | cat >/dev/null; }

# ---- the first file from a local layout ---------------------------------------------

WORKF=$ROOT/bench/work/mount-first
FIRST_FAILED=0 FIRST_MISSED=0

# first_soci RUNS BIN IMG DIGEST NAME LABEL REP: start soci-mount (it returns
# once mounted), read the first 4096 bytes of NAME; one line to RUNS/times.
# The clock is bash's $EPOCHREALTIME read in this process: $(now) forks a
# subshell, whose fork and exit (3-4 ms here, 2-3 of them before it reads
# the clock) would count in intervals of tens of milliseconds
first_soci() {
    local runs=$1 bin=$2 img=$3 digest=$4 name=$5 label=$6 rep=$7 t0 t1 t2
    rm -rf "$runs/cache"
    wait_idle
    first_cold
    t0=$EPOCHREALTIME
    "$bin/soci-mount" --log-file "$runs/soci-mount.log" --cache-dir "$runs/cache" "oci:$img:$TAG" --layer "$digest" \
        "$runs/mnt" || { echo "mount.sh: soci-mount ($bin) failed:" >&2; tail -3 "$runs/soci-mount.log" >&2; exit 1; }
    t1=$EPOCHREALTIME
    MOUNTED[$runs/mnt]=""
    head -c 4096 "$runs/mnt/$name" >"$runs/got"
    t2=$EPOCHREALTIME
    first_record "$runs" "$label" "$rep" "$t0" "$t1" "$t2"
    unmount "$runs/mnt"
}

# first_am_stop MNT: unmount, then wait (10 s at most) for the archivemount
# process of MNT to exit; one still running then (seen once, spinning after
# its unmount) is stopped by its PID, so that it cannot load later runs
first_am_stop() {
    local pid i=0
    pid=$(pgrep -f -x "archivemount -o ro,readonly .* $1" | head -1)
    unmount "$1"
    [ -n "$pid" ] || return 0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -0 "$pid" 2>/dev/null || return 0
    say "archivemount ($pid) still runs 10 s after its unmount: stopping it"
    kill -TERM "$pid" 2>/dev/null || true
}

first_am() { # RUNS LAYER NAME LABEL REP: the same with archivemount
    local runs=$1 layer=$2 name=$3 label=$4 rep=$5 t0 t1 t2
    wait_idle
    first_cold
    t0=$EPOCHREALTIME
    archivemount -o ro,readonly "$layer" "$runs/mnt" >/dev/null 2>&1 || { echo "mount.sh: archivemount failed" >&2; exit 1; }
    t1=$EPOCHREALTIME
    MOUNTED[$runs/mnt]=am
    head -c 4096 "$runs/mnt/$name" >"$runs/got"
    t2=$EPOCHREALTIME
    first_record "$runs" "$label" "$rep" "$t0" "$t1" "$t2"
    first_am_stop "$runs/mnt"
}

# the page cache dropped (binaries, libraries and the layout included), when allowed
first_cold() { [ "$FIRST_DROP" = no ] || [ "$FIRST_PHASE" = warm ] || { sync; echo 3 >/proc/sys/vm/drop_caches; }; }

first_record() { # RUNS LABEL REP T0 T1 T2: total, until the mount returned, the read; and the bytes' check
    local ok=ok
    cmp -s "$1/got" "$1/want" || { ok=FAILED; FIRST_FAILED=1; }
    echo "$2 $3 $(awk -v a="$4" -v b="$5" -v c="$6" 'BEGIN { printf "%.4f %.4f %.4f", c - a, b - a, c - b }') $ok" >>"$1/times"
    say "  first file: $2 rep $3: $(tail -1 "$1/times")"
}

# first_file: the comparison above, its section spliced into $OUT
first_file() {
    local layer=$WORKF/layer.tar.gz img=$WORKF/image runs=$WORKF/runs digest name size off usize rep
    local reps=${FIRST_REPS:-7} base=${FIRST_BASELINE:-} load_before rc=0
    usr_layer "$layer" "${FIRST_MIB:-185}" "${FIRST_CAP:-2097152}"
    oci_image "$layer" "$img"
    digest=sha256:$(sha256sum "$layer" | cut -c1-64)
    IFS=$'\t' read -r name size off usize <"$WORKF/last"
    rm -rf "$runs"
    mkdir -p "$runs/mnt"
    : >"$runs/times"
    # what the first bytes must be: GNU tar's
    (set +o pipefail; tar -xzOf "$layer" "$name" | head -c 4096) >"$runs/want"
    [ -s "$runs/want" ] || { echo "mount.sh: tar gave nothing for $name" >&2; exit 1; }
    FIRST_DROP=no
    if sync && echo 3 2>/dev/null >/proc/sys/vm/drop_caches; then FIRST_DROP=yes; fi
    QUIET=0 NMEAS=0
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    for rep in $(seq 1 "$reps"); do
        say "first file: repetition $rep of $reps"
        FIRST_PHASE=cold
        first_soci "$runs" "$BIN" "$img" "$digest" "$name" soci-mount "$rep"
        first_am "$runs" "$layer" "$name" archivemount "$rep"
        [ -z "$base" ] || first_soci "$runs" "$base" "$img" "$digest" "$name" baseline "$rep"
        [ "${FIRST_WARM:-1}" = 1 ] || continue
        # the same with what the cold runs left in the page cache: no disk
        FIRST_PHASE=warm
        first_soci "$runs" "$BIN" "$img" "$digest" "$name" soci-mount-warm "$rep"
        first_am "$runs" "$layer" "$name" archivemount-warm "$rep"
        [ -z "$base" ] || first_soci "$runs" "$base" "$img" "$digest" "$name" baseline-warm "$rep"
    done
    COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
    DIRTY=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | head -c1)
    [ -z "$DIRTY" ] || DIRTY=" + uncommitted changes"
    $PY - "$runs/times" "$OUT" "$COMMIT$DIRTY" "$load_before $(cut -d' ' -f1-3 /proc/loadavg)" "$QUIET $NMEAS" \
        "$(cat "$layer.info")" "$(stat -c %s "$layer")" "$name	$size	$off	$usize" "$reps" "$FIRST_DROP" "$base" \
        "$(ls "$img/blobs/sha256" | wc -l)" <<'EOF' || rc=$?
import collections, os, statistics as st, sys, time
(times, out, commit, loads, quiet, info, csize, last, reps, drop, base, _) = sys.argv[1:13]
rows = collections.defaultdict(list)
checks = []
for line in open(times):
    f = line.split()
    rows[f[0]].append([float(x) for x in f[2:5]])
    checks.append(f[5])
lb, la = loads.split()[:3], loads.split()[3:]
q, n = quiet.split()
mib, entries, cap = info.split()
name, size, off, usize = last.split("\t")
med = lambda who, i=0: st.median(r[i] for r in rows[who])
runs = lambda who, i=0: " / ".join("%.3f" % r[i] for r in rows[who])
o = ["<!-- first-file: begin (bench/mount.sh BIN_DIR first rewrites this section) -->",
     "## First file from a local layout\n",
     "Written by `bench/mount.sh BIN_DIR first` (do not edit by hand) on %s, commit %s. Load average (1, 5, 15 min) "
     "before: %s; after: %s. Before each start the script waited up to the idle wait for a quiet second: %s of %s "
     "started on a quiet machine.\n" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit, " ".join(lb),
                                       " ".join(la), q, n),
     "- Layer: `bench/work/mount-first/layer.tar.gz`: /usr walked depth first in name order, the first %s MiB of "
     "file data (files over %.0f MiB left out), %s entries, GNU tar, `gzip -6 -n`: %.1f MB compressed, %.1f MB of "
     "tar; one-layer OCI layout indexed with `soci create` (4 MiB spans)."
     % (mib, int(cap) / 1048576, entries, int(csize) / 1e6, int(usize) / 1e6),
     "- File: `%s`, the layer's last regular file (%s bytes at byte %s of %s of tar, %.1f%%); read: "
     "`head -c 4096`, checked against GNU tar's first 4096 bytes of it." % (name, size, off, usize,
                                                                           100.0 * int(off) / int(usize)),
     "- soci-mount: `soci-mount --cache-dir FRESH oci:DIR:TAG --layer DIGEST MNT` (defaults; it goes to the "
     "background and returns once mounted). archivemount: `archivemount -o ro,readonly LAYER MNT` (reads the whole "
     "archive before it returns).",
     "- Page cache dropped (`echo 3 > /proc/sys/vm/drop_caches`) before each start: %s. %s repetitions, "
     "interleaved; times from starting the mounter to the last of the 4096 bytes (bash's `$EPOCHREALTIME`, read in "
     "the script's own process).\n" % (drop, reps),
     "| from starting the mounter | median s | runs |", "|---|---:|---|"]
def row(label, who, i=0):
    if who in rows:
        o.append("| %s | %.3f | %s |" % (label, med(who, i), runs(who, i)))
row("soci-mount: to the first bytes", "soci-mount")
row("&nbsp;&nbsp;of which until soci-mount returned (mounted)", "soci-mount", 1)
row("&nbsp;&nbsp;of which the read", "soci-mount", 2)
row("archivemount: to the first bytes", "archivemount")
row("&nbsp;&nbsp;of which until archivemount returned", "archivemount", 1)
if "baseline" in rows:
    row("baseline soci-mount (`%s`): to the first bytes" % base, "baseline")
    row("&nbsp;&nbsp;of which until it returned", "baseline", 1)
if "soci-mount-warm" in rows:
    row("page cache warm (not dropped): soci-mount to the first bytes", "soci-mount-warm")
    row("&nbsp;&nbsp;of which until soci-mount returned (mounted)", "soci-mount-warm", 1)
    row("page cache warm: archivemount to the first bytes", "archivemount-warm")
    if "baseline-warm" in rows:
        row("page cache warm: baseline soci-mount to the first bytes", "baseline-warm")
r = med("archivemount") / med("soci-mount")
good = r >= 40
o += ["", "| target (issue 12) | measured | verdict |", "|---|---:|---|",
      "| soci-mount >= 40x sooner than archivemount to the first bytes | %.1fx | %s |" % (r, "met" if good else "**MISSED**")]
if "baseline" in rows:
    o.append("\nThe baseline soci-mount in the same run: %.1fx sooner than archivemount; this one is %.2fx its time."
             % (med("archivemount") / med("baseline"), med("soci-mount") / med("baseline")))
if "soci-mount-warm" in rows:
    o.append("\nPage cache warm (a diagnosis: no disk reads): soci-mount %.1fx sooner than archivemount%s."
             % (med("archivemount-warm") / med("soci-mount-warm"),
                "; the baseline %.1fx" % (med("archivemount-warm") / med("baseline-warm")) if "baseline-warm" in rows else ""))
o.append("\nChecks: the first 4096 bytes read through each mount equal GNU tar's, every run: %s\n"
         % ("ok" if all(c == "ok" for c in checks) else "FAILED"))
o.append("<!-- first-file: end -->")
section = "\n".join(o) + "\n"
text = open(out).read() if os.path.exists(out) else ""
b, e = text.find("<!-- first-file: begin"), text.find("<!-- first-file: end -->")
if b >= 0 and e > b:
    text = text[:b] + section + text[e + len("<!-- first-file: end -->\n"):]
else:
    text = text.rstrip("\n") + ("\n\n" if text else "") + section
open(out, "w").write(text)
print(section)
sys.exit(0 if good else 3)
EOF
    [ $rc -eq 0 ] || [ $rc -eq 3 ] || exit 1
    [ $rc -eq 0 ] || FIRST_MISSED=1
    rm -rf "$runs/cache" "$runs/mnt"
}

if [ "$MODE" = first ]; then
    first_file
    [ "$FIRST_FAILED" = 0 ] || exit 1
    [ "${BENCH_STRICT:-0}" = 1 ] && [ "$FIRST_MISSED" = 1 ] && exit 1
    exit 0
fi

# ---- the link mode: the layer and its image ---------------------------------------

LAYER=$WORK/layer.tar.gz
IMG=$WORK/image
usr_layer "$LAYER" "${LAYER_MIB:-900}"
CSIZE=$(stat -c %s "$LAYER")
[ "$CSIZE" -ge "$MIN_BYTES" ] || { echo "mount.sh: $LAYER has only $CSIZE bytes (want >= $MIN_BYTES)" >&2; exit 1; }
oci_image "$LAYER" "$IMG"
LDIGEST=sha256:$(sha256sum "$LAYER" | cut -c1-64)
IFS=$'\t' read -r SMALL SMALL_SIZE SMALL_OFF USIZE <"$WORK/small"
ZTOC_BYTES=$($PY - "$IMG" <<'EOF'
import json, os, sys
img = sys.argv[1]
for m in json.load(open(os.path.join(img, "index.json")))["manifests"]:
    if "com.amazon.soci.image-manifest-digest" in m.get("annotations", {}):
        idx = json.load(open(os.path.join(img, "blobs", "sha256", m["digest"][7:])))
        print(sum(l["size"] for l in idx["layers"]))
EOF
)

# ---- the link ---------------------------------------------------------------------

CL=(nsenter "--net=/run/netns/$NS_C")     # run a client command across the link
SV=(nsenter "--net=/run/netns/$NS_S")
ip netns del "$NS_S" 2>/dev/null || true  # left over from an interrupted run
ip netns del "$NS_C" 2>/dev/null || true
ip netns add "$NS_S"
ip netns add "$NS_C"
NS_MADE=1
ip link add "$VETH_S" type veth peer name "$VETH_C"
ip link set "$VETH_S" netns "$NS_S"
ip link set "$VETH_C" netns "$NS_C"
ip -n "$NS_S" addr add "$ADDR_S/24" dev "$VETH_S"
ip -n "$NS_C" addr add "$ADDR_C/24" dev "$VETH_C"
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "$VETH_S" up
ip -n "$NS_C" link set "$VETH_C" up
tc -n "$NS_S" qdisc add dev "$VETH_S" root tbf rate "$RATE" burst 64kb latency 50ms
tc -n "$NS_C" qdisc add dev "$VETH_C" root tbf rate "$RATE" burst 64kb latency 50ms

rm -rf "$REG_DIR"
RPORT=$("${SV[@]}" "$ROOT/scripts/registry.sh" start "$REG_DIR")
"${SV[@]}" "$BIN/soci" push -q --plain-http "oci:$IMG:$TAG" "127.0.0.1:$RPORT/$REPO:t" >/dev/null
"${SV[@]}" $PY "$ROOT/bench/delay_proxy.py" --listen "$ADDR_S:$PROXY_PORT" --upstream "127.0.0.1:$RPORT" \
    --rtt-ms "$RTT_MS" &
PROXY_PID=$!
REMOTE=$ADDR_S:$PROXY_PORT
i=0
until [ "$("${CL[@]}" curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$REMOTE/v2/" 2>/dev/null)" = 200 ]; do
    i=$((i + 1))
    [ $i -lt 50 ] || { echo "mount.sh: the registry is not reachable through the link" >&2; exit 1; }
    sleep 0.2
done
# what the link gives: round trip of a request on a kept connection
LINK_RTT=$("${CL[@]}" curl -s -o /dev/null -o /dev/null -w '%{time_starttransfer}\n' "http://$REMOTE/v2/" "http://$REMOTE/v2/" |
    tail -1 | awk '{printf "%.1f", $1 * 1000}')

# ---- measuring ------------------------------------------------------------------------

rm -rf "$RUNS"
mkdir -p "$RUNS"
TIMES=$RUNS/times            # scenario rep seconds [extra...]
# mount_soci MOUNTPOINT CACHE_DIR [OPTION...]: soci-mount -f across the link,
# back when the mount answers; sets MPID
mount_soci() {
    local mp=$1 cache=$2 i=0
    shift 2
    mkdir -p "$mp"
    "${CL[@]}" "$BIN/soci-mount" -f --plain-http --cache-dir "$cache" $MOUNT_OPTS "$@" "$REMOTE/$REPO:t" --layer "$LDIGEST" \
        "$mp" 2>>"$RUNS/soci-mount.log" &
    MPID=$!
    MOUNTED[$mp]=$MPID
    while [ ! -e "$mp/.soci-snapshotter/$LDIGEST.json" ]; do
        kill -0 "$MPID" 2>/dev/null || { echo "mount.sh: soci-mount failed:" >&2; tail -3 "$RUNS/soci-mount.log" >&2; exit 1; }
        i=$((i + 1))
        [ $i -lt 30000 ] || { echo "mount.sh: soci-mount did not come up in 60 s" >&2; exit 1; }
        sleep 0.002
    done
}
state() { # MOUNTPOINT: "bytesFetched rangeRequests spansFetched spans diskCacheHits decompressedCacheHits" from the state file
    $PY -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["bytesFetched"], s["rangeRequests"], s["spansFetched"], s["spans"], s["diskCacheHits"], s["decompressedCacheHits"])' \
        "$1/.soci-snapshotter/$LDIGEST.json"
}
disk_hits() { state "$1" | cut -d' ' -f5; }
dec_hits() { state "$1" | cut -d' ' -f6; }
hwm() { awk '/^VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

CHECKS=""
check() { CHECKS="$CHECKS$1"$'\n'; }
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$LAYER" >/dev/null

for rep in $(seq 1 "$REPS"); do
    say "repetition $rep of $REPS"
    X=$RUNS/x$rep
    # -- download and extract
    rm -rf "$RUNS"/x*
    mkdir -p "$X"
    wait_idle
    t0=$(now)
    "${CL[@]}" curl -sf "http://$REMOTE/v2/$REPO/blobs/$LDIGEST" | tar -xzf - -C "$X"
    record download-extract "$rep" "$(since "$t0")"

    # -- one small file from a cold mount, then find -ls on it
    rm -rf "$RUNS/cache-s"
    wait_idle
    t0=$(now)
    mount_soci "$RUNS/mnt-s" "$RUNS/cache-s"
    t1=$(now)
    sha_mount=$(sha256sum <"$RUNS/mnt-s/$SMALL" | cut -c1-64)
    t2=$(now)
    record small-cold "$rep" "$(since "$t0")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')" \
        "$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.3f", b - a}')" $(state "$RUNS/mnt-s")
    t0=$(now)
    find "$RUNS/mnt-s" -ls >/dev/null
    record find-soci "$rep" "$(since "$t0")"
    unmount "$RUNS/mnt-s"
    [ "$rep" -gt 1 ] || {
        [ "$sha_mount" = "$(sha256sum <"$X/$SMALL" | cut -c1-64)" ] &&
            check "the small file ($SMALL, $SMALL_SIZE bytes) reads the same from the mount and the extracted tree: ok" ||
            check "the small file differs between the mount and the extracted tree: FAILED"; }

    # -- every file: cold, warm (same mount), then a new mount on the filled disk cache
    rm -rf "$RUNS/cache-a"
    wait_idle
    t0=$(now)
    mount_soci "$RUNS/mnt-a" "$RUNS/cache-a"
    tm=$(since "$t0")
    tar_all "$RUNS/mnt-a"
    record all-cold "$rep" "$(since "$t0")" "$tm" $(state "$RUNS/mnt-a")
    wait_idle
    h0=$(disk_hits "$RUNS/mnt-a") u0=$(dec_hits "$RUNS/mnt-a")
    t0=$(now)
    tar_all "$RUNS/mnt-a"
    record all-warm "$rep" "$(since "$t0")" $(($(disk_hits "$RUNS/mnt-a") - h0)) $(($(dec_hits "$RUNS/mnt-a") - u0))
    record rss-soci "$rep" "$(hwm "$MPID")"
    if [ "$rep" -eq 1 ]; then
        (cd "$RUNS/mnt-a" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$RUNS/sum.mount"
        (cd "$X" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$RUNS/sum.ext4"
        n=$(wc -l <"$RUNS/sum.ext4")
        cmp -s "$RUNS/sum.mount" "$RUNS/sum.ext4" &&
            check "all $n regular files read the same through the mount as from the extracted tree: ok" ||
            check "files differ between the mount and the extracted tree: FAILED"
    fi
    unmount "$RUNS/mnt-a"
    wait_idle
    t0=$(now)
    mount_soci "$RUNS/mnt-a" "$RUNS/cache-a"
    tar_all "$RUNS/mnt-a"
    record all-remount "$rep" "$(since "$t0")" $(state "$RUNS/mnt-a")
    unmount "$RUNS/mnt-a"
    rm -rf "$RUNS/cache-a"
    if [ "$rep" -eq 1 ]; then
        # diagnosis, once: the same with a memory cache that holds the whole
        # decompressed layer, so that no page the kernel drops costs a span
        # decompression (see the notes in the results)
        mount_soci_opts="--cache-mem $((USIZE / 1048576 + 256))M"
        mount_soci "$RUNS/mnt-a" "$RUNS/cache-a" $mount_soci_opts
        tar_all "$RUNS/mnt-a"
        wait_idle
        h0=$(disk_hits "$RUNS/mnt-a") u0=$(dec_hits "$RUNS/mnt-a")
        t0=$(now)
        tar_all "$RUNS/mnt-a"
        record all-warm-bigmem "$rep" "$(since "$t0")" $(($(disk_hits "$RUNS/mnt-a") - h0)) $(($(dec_hits "$RUNS/mnt-a") - u0))
        unmount "$RUNS/mnt-a"
        rm -rf "$RUNS/cache-a"
    fi

    # -- the extracted tree on ext4: one pass to warm the page cache (as the
    # cold pass did for the mount), then the measured one
    wait_idle
    tar_all "$X"
    t0=$(now)
    tar_all "$X"
    record all-ext4 "$rep" "$(since "$t0")"
    t0=$(now)
    find "$X" -ls >/dev/null
    record find-ext4 "$rep" "$(since "$t0")"

    # -- archivemount on the local layer file
    mkdir -p "$RUNS/mnt-am"
    wait_idle
    t0=$(now)
    archivemount -o ro,readonly "$LAYER" "$RUNS/mnt-am" >/dev/null 2>&1
    MOUNTED[$RUNS/mnt-am]=am
    t1=$(now)
    cat "$RUNS/mnt-am/$SMALL" >/dev/null
    record small-am "$rep" "$(since "$t0")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')"
    t0=$(now)
    find "$RUNS/mnt-am" -ls >/dev/null
    record find-am "$rep" "$(since "$t0")"
    if [ "$rep" -eq 1 ]; then
        t0=$(now)
        set +e
        bytes=$( { timeout "$AM_TIMEOUT" tar -C "$RUNS/mnt-am" -cf - .; echo $? >"$RUNS/am.status"; } | wc -c)
        st=$(cat "$RUNS/am.status")
        set -e
        record all-am "$rep" "$(since "$t0")" "$bytes" "$([ "$st" = 124 ] && echo timeout || echo done)"
    fi
    unmount "$RUNS/mnt-am"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
cleanup

# ---- the report ---------------------------------------------------------------------------

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
DIRTY=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | head -c1)
[ -z "$DIRTY" ] || DIRTY=" + uncommitted changes"
LAYER_INFO=$(cat "$LAYER.info")
$PY - "$TIMES" "$OUT" <<EOF
import collections, platform, statistics as st, sys, time
times, out = sys.argv[1], sys.argv[2]
rows = collections.defaultdict(dict)
for line in open(times):
    f = line.split()
    rows[f[0]][int(f[1])] = f[2:]
def col(s, i=0, conv=float):
    return [conv(rows[s][r][i]) for r in sorted(rows[s])]
def med(s, i=0):
    return st.median(col(s, i))
def runs(s, i=0):
    return " / ".join("%.2f" % x for x in col(s, i))
csize, usize, ztoc = $CSIZE, $USIZE, $ZTOC_BYTES
cpuinfo = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
o = []
o.append("# soci-mount over a slow link\n")
o.append("Written by \`bench/mount.sh BIN_DIR\` (do not edit by hand) on %s, commit $COMMIT$DIRTY. "
         "Machine: %d x %s, Debian %s, kernel %s. Numbers on this noisy 2-core VM are for ratios, not absolute speed. "
         "Load average (1, 5, 15 min) before: $LOAD_BEFORE; after: $LOAD_AFTER. "
         "Before each measurement the script waited up to $IDLE_WAIT s for a 1 s sample at >= $IDLE_PCT%% idle: "
         "$QUIET of $NMEAS started on a quiet machine.\n"
         % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), len(cpuinfo), cpuinfo[0] if cpuinfo else "?",
            open("/etc/debian_version").read().strip(), platform.release()))
o.append("## Setup\n")
o.append("- Layer: \`bench/work/mount/layer.tar.gz\`: /usr walked depth first in name order, the first %s MiB of file data, %s entries, GNU tar, \`gzip -6 -n\`: "
         "%.1f MB compressed, %.1f MB of tar; its ztoc (4 MiB spans) %.1f MB. One-layer OCI image, \`soci create\`, \`soci push\`."
         % ("$LAYER_INFO".split()[0], "$LAYER_INFO".split()[1], csize / 1e6, usize / 1e6, ztoc / 1e6))
o.append("- Link: network namespaces $NS_C (clients: soci-mount, curl) and $NS_S (Debian docker-registry 2.8 on its own "
         "127.0.0.1 behind \`bench/delay_proxy.py\` on $ADDR_S:$PROXY_PORT, +$RTT_MS ms per round trip), a veth pair with "
         "\`tc tbf rate $RATE burst 64kb latency 50ms\` on both ends. Measured: a request on a kept connection takes $LINK_RTT ms; "
         "download+extract ran at %.1f MB/s of compressed layer (median)." % (csize / 1e6 / med("download-extract")))
o.append("- soci-mount: \`soci-mount -f --plain-http --cache-dir FRESH $MOUNT_OPTS $ADDR_S:$PROXY_PORT/$REPO:t --layer DIGEST MNT\` "
         "started with \`nsenter --net\` into $NS_C (defaults: 256 MiB memory cache; 2 GiB disk cache for the compressed spans "
         "and, decompressed, the spans evicted from memory; background fetch after 30 s idle). "
         "Times include starting soci-mount (index discovery, the ztoc, span 0's check) up to the first answer from the mount.")
o.append("- Small file: \`$SMALL\` ($SMALL_SIZE bytes at %.0f%% of the layer). \"Every file\" = \`tar -C DIR -cf - . | cat >/dev/null\`."
         % (100.0 * $SMALL_OFF / usize))
o.append("- archivemount 0.9 (Debian, FUSE 2, libarchive) on the local layer file (no network): \`archivemount -o ro,readonly\`.\n")
o.append("## Results\n")
o.append("$REPS repetitions, interleaved; median seconds (and every run).\n")
o.append("| scenario | median s | runs |")
o.append("|---|---:|---|")
def row(label, s, i=0):
    if s in rows:
        o.append("| %s | %.2f | %s |" % (label, med(s, i), runs(s, i)))
row("download + extract: \`curl | tar -xz\` across the link", "download-extract")
row("small file, cold soci-mount: start + mount + read", "small-cold")
row("&nbsp;&nbsp;of which mount (discovery, ztoc, span 0)", "small-cold", 1)
row("&nbsp;&nbsp;of which the read", "small-cold", 2)
row("every file, cold soci-mount (mount included)", "all-cold")
row("every file, warm (same mount, second pass)", "all-warm")
row("every file, warm, \`--cache-mem\` above the decompressed layer (once)", "all-warm-bigmem")
row("every file, new mount on the filled disk cache (compressed spans)", "all-remount")
row("every file, extracted tree on ext4 (second pass: page cache warm)", "all-ext4")
row("\`find -ls\`, fresh soci-mount", "find-soci")
row("\`find -ls\`, extracted tree on ext4", "find-ext4")
row("archivemount: mount (reads the whole archive) + small file", "small-am")
row("&nbsp;&nbsp;of which the mount", "small-am", 1)
row("\`find -ls\`, archivemount", "find-am")
if "all-am" in rows:
    r = rows["all-am"][1]
    o.append("| every file, archivemount (once, bounded by $AM_TIMEOUT s) | %s | %.1f of %.1f MB of tar out%s |" % (
        ("> %.0f" % float(r[0])) if r[2] == "timeout" else "%.2f" % float(r[0]), int(r[1]) / 1e6, usize / 1e6,
        ", stopped" if r[2] == "timeout" else ""))
o.append("")
bf, rq, sp, nsp = (st.median(col("all-cold", i, int)) for i in (2, 3, 4, 5))
sbf, srq = st.median(col("small-cold", 3, int)), st.median(col("small-cold", 4, int))
o.append("Fetched (from the state file, medians): small file %.2f MB in %d range requests (span 0 and the file's span; "
         "the ztoc, %.1f MB, comes before); every file %.1f MB in %d range requests (%d of %d spans). "
         "soci-mount peak RSS (VmHWM) after two passes over every file: %.1f MiB.\n"
         % (sbf / 1e6, srq, ztoc / 1e6, bf / 1e6, rq, sp, nsp, max(col("rss-soci", 0, int)) / 1024))
o.append("## Targets\n")
o.append("| target (issue) | measured | verdict |")
o.append("|---|---:|---|")
ok = []
def target(label, value, good, fmt="%.2f"):
    ok.append(good)
    o.append("| %s | %s | %s |" % (label, fmt % value, "met" if good else "**MISSED**"))
d = med("download-extract")
r = d / med("small-cold", 2)
target("small file from a cold mount (mounted, nothing cached) >= 20x faster than download + extract", r, r >= 20, "%.0fx")
r = d / med("small-cold")
target("the same, starting soci-mount included (index discovery, ztoc, span 0) >= 20x", r, r >= 20, "%.1fx")
r = med("all-cold") / d
target("every file, cold <= 1.25x the time of download + extract", r, r <= 1.25, "%.2fx")
r = med("all-ext4") / med("all-warm")
target("every file, warm >= 0.7x the speed of ext4", r, r >= 0.7, "%.2fx")
o.append("")
if "all-warm-bigmem" in rows:
    o.append("With \`--cache-mem\` above the decompressed layer (one run): warm / ext4 speed %.2fx.\n"
             % (med("all-ext4") / med("all-warm-bigmem")))
o.append("## Notes\n")
o.append("- The warm pass reads through the kernel's page cache; what the kernel dropped since the cold pass comes back "
         "from soci-mount: from its memory cache (\`--cache-mem\`, 256 MiB by default: %d of this layer's %d spans) or, "
         "for a span evicted from it, from the decompressed tier of its disk cache (a pread of just the bytes asked "
         "for; the spans evicted during the cold pass were written there by a writer thread). Warm passes here read "
         "%d times from that tier and decompressed %d spans again (medians; the big memory cache: %s and %s). On these "
         "VMs a kernel DAMON scheme (kdamond) pages out idle page cache continuously, a few per cent of both the "
         "mount's and the ext4 tree's pages within a minute: the mount's come back through FUSE, the ext4 tree's "
         "straight from the page cache's backing file."
         % (min(256 * 1048576 // max(1, usize // nsp), nsp), nsp, st.median(col("all-warm", 2, int)),
            st.median(col("all-warm", 1, int)),
            col("all-warm-bigmem", 2, int)[0] if "all-warm-bigmem" in rows else "-",
            col("all-warm-bigmem", 1, int)[0] if "all-warm-bigmem" in rows else "-"))
o.append("- \"Every file, cold\" includes starting soci-mount; bytes over the link: the layer once, plus the ztoc "
         "(%.1f MB). soci-mount fetches ahead of a sequential reader (readahead: a window growing to 128 spans, "
         "3 requests of up to 4 MiB in flight, the 8 spans right after the reader decompressed on those threads), "
         "so the link stays busy while spans are decompressed.\n" % (ztoc / 1e6))
o.append("Other ratios: small file, the read alone after the mount: %.0fx faster than download + extract; "
         "\`find -ls\` soci-mount / ext4: %.2fx the time; archivemount / soci-mount for \`find -ls\`: %.2fx; "
         "every file on a re-mount with the disk cache full / ext4: %.2fx the time.\n"
         % (d / med("small-cold", 2), med("find-soci") / med("find-ext4"), med("find-am") / med("find-soci"),
            med("all-remount") / med("all-ext4")))
o.append("Checks:\n")
for c in """$CHECKS""".strip().split("\n"):
    o.append("- " + c)
o.append("")
open(out, "w").write("\n".join(o))
print("\n".join(o))
open(out + ".status", "w").write("ok\n" if all(ok) else "missed\n")
EOF
status=$(cat "$OUT.status"); rm -f "$OUT.status"
first_file
case "$CHECKS" in *FAILED*) exit 1 ;; esac
[ "$FIRST_FAILED" = 0 ] || exit 1
[ "${BENCH_STRICT:-0}" = 1 ] && { [ "$status" != ok ] || [ "$FIRST_MISSED" = 1 ]; } && exit 1
exit 0
