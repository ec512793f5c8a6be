# tests/integration/lib/integration.sh -- helpers for tests/integration/*.sh:
# a registry with Basic auth, a containerd of its own, our snapshotter
# daemon, a test image, and a count of the bytes the registry served.
#
# Sourced (it lives below lib/ so that tests/run.sh does not run it as a
# test); needs BIN, ROOT and TMP from tests/run.sh.  POSIX sh.  Sources
# tests/cli/lib/mount.sh (and through it regtest.sh and packer.sh): fail,
# die, need, finish, start_registry, stop_pid, alive, mounts_under...
#
# Everything lives under $TMP: reg/ (docker-registry, access log on),
# ctd/ (containerd: socket ctd/containerd.sock), snap/ (our daemon:
# socket snap/soci.sock, root snap/root, log snap/log), docker/ (the
# config.json with the registry's credentials, DOCKER_CONFIG of the daemon).
# On exit (normal, failure, or SIGTERM from the runner's timeout) every
# task is killed and containerd stopped (scripts/containerd.sh stop), the
# daemon stopped with SIGINT (KILL if it hangs), every soci-mount it left
# behind under snap/ stopped by its PID, whatever is still mounted under
# $TMP unmounted, and the registry stopped -- each by PID, bounded.
. "$ROOT/tests/cli/lib/mount.sh"

CTRSH=$ROOT/scripts/containerd.sh
SNAPSH=$ROOT/scripts/snapshotter.sh
SNAPD=$BIN/soci-snapshotter-grpc
MKLAYOUT_PY=$ROOT/tests/cli/lib/mklayout.py
NS=soci-test
REG_USER=soci-tester
REG_PASS=lazy-pass-42
REG_DIR=$TMP/reg
CTD_DIR=$TMP/ctd
SNAP_DIR=$TMP/snap
SNAP_ROOT=$SNAP_DIR/root
SNAPSHOTS=$SNAP_ROOT/snapshotter/snapshots
# ctr and ctr-remote calls are bounded: a hung snapshotter must fail the
# test, not hang it until the runner's timeout
CTR_TIMEOUT=${CTR_TIMEOUT:-180}

need containerd ctr ctr-remote runc htpasswd timeout
_ctd_started=0 _snapd_started=0

_integ_cleanup() {
    if [ $_ctd_started = 1 ]; then
        sh "$CTRSH" stop "$CTD_DIR" || echo "warning: containerd.sh stop $CTD_DIR failed"
        _ctd_started=0
    fi
    if [ $_snapd_started = 1 ]; then
        sh "$SNAPSH" stop "$SNAP_DIR" --int || echo "warning: the snapshotter daemon had to be killed"
        _snapd_started=0
    fi
    for _p in $(snap_mount_pids); do
        stop_pid "$_p"
    done
    _mount_cleanup
}
trap _integ_cleanup EXIT

# snap_mount_pids: pids of processes (soci-mount started by our daemon) whose
# command line names the daemon's root
snap_mount_pids() {
    for _d in /proc/[0-9]*; do
        _c=$( { tr '\0' ' ' <"$_d/cmdline"; } 2>/dev/null) || continue
        _p=${_d#/proc/}
        [ "$_p" = $$ ] && continue
        case "$_c" in
        *soci-mount*"$SNAP_ROOT"*) echo "$_p" ;;
        esac
    done
}

# start_stack: registry (htpasswd), our daemon, containerd with
# [proxy_plugins.soci]; sets REG, SOCK (the daemon's socket), CTD (containerd's)
start_stack() {
    start_auth_registry
    start_snapd
    start_containerd --soci "$SOCK"
}

# start_auth_registry: docker-registry with Basic auth and its access log
# on; sets PORT, REG, and writes $TMP/docker/config.json for the daemon
start_auth_registry() {
    htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$TMP/htpasswd" 2>/dev/null || die "htpasswd failed"
    REGISTRY_ACCESS_LOG=1 start_registry "$REG_DIR" "$TMP/htpasswd"
    mkdir -p "$TMP/docker"
    printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" \
        >"$TMP/docker/config.json"
    DOCKER_CONFIG=$TMP/docker
    export DOCKER_CONFIG
}

# start_snapd [--config FILE]: our daemon on $SNAP_DIR; sets SOCK
start_snapd() {
    [ -x "$SNAPD" ] || die "soci-snapshotter-grpc missing from $BIN (make -C build all)"
    _snapd_started=1
    SOCK=$(SOCI_SNAPSHOTTER=$SNAPD sh "$SNAPSH" start "$SNAP_DIR" "$@") || {
        echo "its log:"
        tail -n 20 "$SNAP_DIR/log" | sed 's/^/    | /'
        die "could not start soci-snapshotter-grpc"
    }
}

# snapd_pid: the daemon's pid
snapd_pid() {
    cat "$SNAP_DIR/pid" 2>/dev/null
}

# start_containerd [--soci SOCK]: containerd on $CTD_DIR; sets CTD
start_containerd() {
    _ctd_started=1
    CTD=$(sh "$CTRSH" start "$CTD_DIR" "$@") || die "could not start containerd: $(tail -n 5 "$CTD_DIR/log")"
}

# ctrx ARGS...: ctr on our containerd and namespace, bounded
ctrx() {
    timeout -k 5 "$CTR_TIMEOUT" ctr -a "$CTD" -n "$NS" "$@"
}

# rpull REF [SNAPSHOTTER]: ctr-remote's rpull (the layer labels a remote
# snapshotter needs) with the registry's credentials, bounded
rpull() {
    timeout -k 5 "$CTR_TIMEOUT" ctr-remote -a "$CTD" -n "$NS" images rpull --plain-http \
        --user "$REG_USER:$REG_PASS" --snapshotter "${2:-soci}" "$1"
}

# plain_pull REF: containerd's own pull (no remote-snapshotter labels) to
# content only; `ctrx images unpack --snapshotter S REF` unpacks it
plain_pull() {
    ctrx images pull --plain-http --user "$REG_USER:$REG_PASS" "$1"
}

# snapd_log_tail [N]: the daemon's last N (20) log lines, indented
snapd_log_tail() {
    tail -n "${1:-20}" "$SNAP_DIR/log" 2>/dev/null | sed 's/^/    | /'
}

# ---- the test image ----------------------------------------------------------

MKLAYER="sh $ROOT/tests/integration/lib/mklayer.sh"

# build_image LAYOUT TAG [SEED [BIG_FILE_MIB [PAD_MIB]]]: an OCI layout with one image:
#   layer 1  busybox rootfs (bin/busybox and its applet links; ~1 MB)
#   layer 2  /big/file (BIG_FILE_MIB, 8 MiB) and /big/pad (PAD_MIB, 16 MiB) of
#            random bytes from SEED (1): > 20 MB gzipped, the one layer
#            `soci create` indexes; a different SEED, a different layer
#   layer 3  /etc/soci-small-1 (a few bytes)
#   layer 4  /data/soci-small-2/{a,b} (a few KiB)
# Sets BIG_SHA (sha256 of /big/file), the layer digests L_BUSYBOX, L_BIG,
# L_SMALL1, L_SMALL2, and BIG_SIZE (the big layer's compressed size); writes
# PAD_SUMS ($TMP/pad-SEED.sums: "I SHA256" of each MiB I of /big/pad).
build_image() {
    _lay=$1 _tag=$2 _seed=${3:-1} _bigm=${4:-8} _padm=${5:-16}
    _w=$TMP/image-src
    rm -rf "$_w"
    $MKLAYER busybox "$_w/l1" || die "could not make the busybox layer"
    mkdir -p "$_w/l2/big" "$_w/l3/etc" "$_w/l4/data/soci-small-2"
    $MKLAYER random "$_w/l2/big/file" $((_bigm << 20)) $((_seed * 2)) || die "could not write big/file"
    $MKLAYER random "$_w/l2/big/pad" $((_padm << 20)) $((_seed * 2 + 1)) || die "could not write big/pad"
    PAD_SUMS=$TMP/pad-$_seed.sums
    _i=0
    while [ $_i -lt "$_padm" ]; do
        echo "$_i $(dd if="$_w/l2/big/pad" bs=1M skip=$_i count=1 2>/dev/null | sha256sum | cut -c1-64)"
        _i=$((_i + 1))
    done >"$PAD_SUMS"
    echo "small layer one" >"$_w/l3/etc/soci-small-1"
    seq 1 500 >"$_w/l4/data/soci-small-2/a"
    seq 500 1000 >"$_w/l4/data/soci-small-2/b"
    for _i in 1 2 3 4; do
        $MKLAYER tar "$_w/l$_i" "$_w/l$_i.tgz" || die "could not tar layer $_i"
    done
    BIG_SHA=$(sha256sum <"$_w/l2/big/file" | cut -c1-64)
    BIG_SIZE=$(stat -c %s "$_w/l2.tgz")
    L_BUSYBOX=sha256:$(sha256sum <"$_w/l1.tgz" | cut -c1-64)
    L_BIG=sha256:$(sha256sum <"$_w/l2.tgz" | cut -c1-64)
    L_SMALL1=sha256:$(sha256sum <"$_w/l3.tgz" | cut -c1-64)
    L_SMALL2=sha256:$(sha256sum <"$_w/l4.tgz" | cut -c1-64)
    "$PY" "$MKLAYOUT_PY" "$_lay" "$_tag" "$_w/l1.tgz" "$_w/l2.tgz" "$_w/l3.tgz" "$_w/l4.tgz" >/dev/null ||
        die "mklayout.py failed"
    rm -rf "$_w/l1" "$_w/l2" "$_w/l3" "$_w/l4"
}

# index_image LAYOUT TAG: soci create (default minimum layer size: only the
# big layer gets a ztoc)
index_image() {
    "$SOCI" create -q "oci:$1:$2" >"$TMP/create.out" 2>&1 || die "soci create oci:$1:$2 failed: $(cat "$TMP/create.out")"
}

# push_image LAYOUT TAG DEST: soci push (the image and its SOCI index) with
# the registry's credentials
push_image() {
    "$SOCI" push -q --plain-http --user "$REG_USER:$REG_PASS" "oci:$1:$2" "$3" >"$TMP/push.out" 2>&1 ||
        die "soci push oci:$1:$2 $3 failed: $(cat "$TMP/push.out")"
}

# push_plain LAYOUT TAG DEST: the image alone, by skopeo (no SOCI index)
push_plain() {
    skopeo copy -q --dest-tls-verify=false --dest-creds "$REG_USER:$REG_PASS" "oci:$1:$2" "docker://$3" \
        >"$TMP/skopeo.out" 2>&1 || die "skopeo copy oci:$1:$2 docker://$3 failed: $(cat "$TMP/skopeo.out")"
}

# ---- what the registry served --------------------------------------------------

# served DIGEST: bytes of the blob DIGEST the registry has written in answers
# to GETs so far (docker-registry's own count, http.response.written, summed
# over every request for /v2/*/blobs/DIGEST in its log)
served() {
    awk -v d="/blobs/$1\"" '
        /msg="response completed/ && index($0, "http.request.method=GET") && index($0, d) {
            if (match($0, /http\.response\.written=[0-9]+/))
                n += substr($0, RSTART + 22, RLENGTH - 22)
        }
        END { print n + 0 }' "$REG_DIR/log"
}

# blob_requests DIGEST: how many GETs of that blob the registry answered
blob_requests() {
    awk -v d="/blobs/$1\"" '
        /msg="response completed/ && index($0, "http.request.method=GET") && index($0, d) { n++ }
        END { print n + 0 }' "$REG_DIR/log"
}

# ---- mounts of our daemon ------------------------------------------------------

# fuse_mounts: FUSE mount points under the daemon's root, one a line
fuse_mounts() {
    awk -v d="$SNAP_ROOT/" 'index($2, d) == 1 && $3 ~ /^fuse/ { print $2 }' /proc/self/mounts
}

# snapshot_with PATH: the snapshots/<id>/fs directories under the daemon's
# root holding PATH (relative), one a line
snapshot_with() {
    for _f in "$SNAPSHOTS"/*/fs; do
        [ -e "$_f/$1" ] || [ -L "$_f/$1" ] && echo "$_f"
    done
}

# wait_for COND_CMD SECONDS: run COND_CMD (a shell command) every 0.1 s until
# it succeeds; false after SECONDS
wait_for() {
    _i=0
    while [ $_i -lt $(($2 * 10)) ]; do
        eval "$1" && return 0
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

# chain_ids LAYOUT TAG: the chain ID of every layer of the tagged image,
# bottom first (the names containerd commits the unpacked layers under)
chain_ids() {
    "$PY" - "$1" "$2" <<'PYEOF'
import hashlib, json, sys
d, tag = sys.argv[1:]
def load(dg):
    return json.load(open(d + "/blobs/sha256/" + dg[7:]))
for m in json.load(open(d + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
        chain = None
        for diff in load(load(m["digest"])["config"]["digest"])["rootfs"]["diff_ids"]:
            chain = diff if chain is None else "sha256:" + hashlib.sha256((chain + " " + diff).encode()).hexdigest()
            print(chain)
        break
PYEOF
}

# in_content DIGEST: containerd's content store holds that blob
in_content() {
    ctrx content ls -q 2>/dev/null | grep -qx "$1"
}
