# tests/cli/lib/regtest.sh -- helpers for the tests/cli/registry_*.sh tests
#
# Sourced after tests/cli/lib/packer.sh's helpers (sourced here).  Starts
# throwaway registries on 127.0.0.1 (Debian's docker-registry, through
# scripts/registry.sh) and the test-only fake (tests/cli/fake_registry.py),
# and stops every one of them by PID, with bounded waits, when the test
# exits (normally, on failure, or on SIGTERM from the runner's timeout).
. "$ROOT/tests/cli/lib/packer.sh"

REGSH=$ROOT/scripts/registry.sh
FAKE=$ROOT/tests/cli/fake_registry.py
# small layers are indexed too: the sample's data layer (--big-mib 12, about
# 5.7 MB gzipped) is indexed, its busybox layer (about 1.0 MB) is skipped
MIN=1048576
SPARSE_MIB=12
MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_INDEX=application/vnd.oci.image.index.v1+json
SOCI_V1=application/vnd.amazon.soci.index.v1+json

_reg_dirs=""
_fake_pids=""

_cleanup() {
    for _d in $_reg_dirs; do
        sh "$REGSH" stop "$_d" >/dev/null 2>&1 || echo "warning: could not stop the registry of $_d"
    done
    for _p in $_fake_pids; do
        stop_pid "$_p"
    done
    _reg_dirs="" _fake_pids=""
}
trap _cleanup EXIT
trap 'exit 143' TERM INT HUP

# stop_pid PID: TERM, wait at most ~3 s, then KILL and wait at most ~2 s more
stop_pid() {
    kill "$1" 2>/dev/null || return 0
    _i=0
    while kill -0 "$1" 2>/dev/null && [ $_i -lt 60 ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -9 "$1" 2>/dev/null
        _i=0
        while kill -0 "$1" 2>/dev/null && [ $_i -lt 40 ]; do
            sleep 0.05
            _i=$((_i + 1))
        done
    fi
    wait "$1" 2>/dev/null
    return 0
}

need docker-registry curl
[ -f "$REGSH" ] || { echo "skip: scripts/registry.sh is missing"; exit 77; }

# start_registry DIR [HTPASSWD_FILE]: a registry with storage under DIR;
# sets PORT and REG (127.0.0.1:PORT)
start_registry() {
    if [ $# -ge 2 ]; then
        PORT=$(sh "$REGSH" start "$1" --htpasswd "$2") || die "could not start docker-registry"
    else
        PORT=$(sh "$REGSH" start "$1") || die "could not start docker-registry"
    fi
    _reg_dirs="$_reg_dirs $1"
    REG=127.0.0.1:$PORT
}

# start_fake PORTFILE [--malformed-auth]: the test double; sets FPORT, FREG
start_fake() {
    rm -f "$1"
    "$PY" "$FAKE" "$@" </dev/null >"$1.log" 2>&1 &
    _pid=$!
    _fake_pids="$_fake_pids $_pid"
    _i=0
    while [ ! -s "$1" ] && [ $_i -lt 200 ]; do
        kill -0 "$_pid" 2>/dev/null || die "fake_registry.py died: $(cat "$1.log")"
        sleep 0.05
        _i=$((_i + 1))
    done
    [ -s "$1" ] || die "fake_registry.py did not start within 10 s"
    FPORT=$(cat "$1")
    FREG=127.0.0.1:$FPORT
}

# sample_indexed DIR TAG [create options]: the sample image, indexed with
# soci create (--min-layer-size $MIN unless given)
sample_indexed() {
    _d=$1 _t=$2
    shift 2
    sample "$_d" "$_t" --big-mib $SPARSE_MIB
    "$SOCI" create -q --min-layer-size $MIN "$@" "oci:$_d:$_t" >"$TMP/create.out" 2>&1 ||
        die "soci create oci:$_d:$_t failed: $(cat "$TMP/create.out")"
}

# get_manifest REG REPO REFERENCE ACCEPT OUT: curl a manifest into OUT;
# prints the HTTP status
get_manifest() {
    curl -s -m 20 -o "$5" -w '%{http_code}' -H "Accept: $4" "http://$1/v2/$2/manifests/$3"
}

# head_blob REG REPO DIGEST: prints the HTTP status of a blob HEAD
head_blob() {
    curl -s -m 20 -o /dev/null -I -w '%{http_code}' "http://$1/v2/$2/blobs/$3"
}

# index_blobs LAYOUT DIGEST: the digests a SOCI index names (config, ztocs)
index_blobs() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1] + "/blobs/sha256/" + sys.argv[2][7:]))
print(m["config"]["digest"])
for l in m["layers"]:
    print(l["digest"])
EOF
}

# fallback_tag DIGEST: oras's referrers tag for a manifest digest
fallback_tag() {
    echo "sha256-${1#sha256:}"
}
