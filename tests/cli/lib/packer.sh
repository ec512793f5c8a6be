# tests/cli/lib/packer.sh -- helpers shared by the tests/cli/packer_*.sh tests
#
# Sourced (not run: tests/run.sh runs tests/cli/*.sh only).  Needs BIN,
# ROOT and TMP from tests/run.sh.  POSIX sh: the runner uses dash.
set -u
PY=/usr/bin/python3
LIB=$ROOT/tests/cli/lib
SOCI=$BIN/soci
LAYERS=$BIN/soci-layers
ZG=$BIN/ztoc-gen
PACK=$BIN/soci-pack
# shellcheck disable=SC2034 # used by the tests that source this
CHECK="$PY $LIB/check_soci.py"
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

die() {
    echo "FAIL: $*"
    exit 1
}

# skip (exit 77) unless every named program is installed
need() {
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || { echo "skip: $t is not installed"; exit 77; }
    done
}

# the end of a test: exit 0 when nothing failed
finish() {
    if [ "$failures" -eq 0 ]; then
        echo "all checks passed"
        exit 0
    fi
    echo "$failures check(s) failed"
    exit 1
}

need "$PY" gzip busybox sha256sum
[ -x "$SOCI" ] && [ -x "$LAYERS" ] && [ -x "$ZG" ] && [ -x "$PACK" ] || die "programs missing from $BIN"

# sample DIR [TAG] [make-sample-image.py options]: the deterministic sample
# image (busybox layer of ~1 MB, data layer of --big-mib MiB of text, which
# gzips to about half: 24 MiB -> 11.4 MB, above the default 10 MiB minimum)
sample() {
    "$PY" "$ROOT/scripts/make-sample-image.py" "$@" >/dev/null || die "make-sample-image.py $* failed"
}

# snap DIR: every path with its type and mode, and every regular file's
# sha256 -- two snapshots are equal iff nothing was added, removed or changed
snap() {
    (cd "$1" && find . -printf '%y %m %p\n' | LC_ALL=C sort &&
        find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}

# pipeline SRC_REF [DEST_REF]: soci-layers $LAYERS_OPTS SRC | ztoc-gen -q
# $ZG_OPTS | soci-pack $PACK_OPTS DEST, with each stage's exit status in
# rc1 rc2 rc3, soci-pack's stdout in $TMP/p.out, each stage's stderr in
# $TMP/p.err1..3 and all of it in $TMP/p.err; returns 0 iff all three did
pipeline() {
    _src=$1
    _dst=${2:-$1}
    # shellcheck disable=SC2086
    { "$LAYERS" ${LAYERS_OPTS:-} "$_src" </dev/null 2>"$TMP/p.err1"; echo $? >"$TMP/p.rc1"; } |
        { "$ZG" -q ${ZG_OPTS:-} 2>"$TMP/p.err2"; echo $? >"$TMP/p.rc2"; } |
        { "$PACK" ${PACK_OPTS:-} "$_dst" >"$TMP/p.out" 2>"$TMP/p.err3"; echo $? >"$TMP/p.rc3"; }
    rc1=$(cat "$TMP/p.rc1") rc2=$(cat "$TMP/p.rc2") rc3=$(cat "$TMP/p.rc3")
    cat "$TMP/p.err1" "$TMP/p.err2" "$TMP/p.err3" >"$TMP/p.err"
    [ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] && [ "$rc3" -eq 0 ]
}

# lines FILE: how many lines FILE holds (a last line without newline counts)
lines() {
    awk 'END { print NR }' "$1"
}

# one_line FILE WHAT [TEXT]: FILE holds exactly one newline-terminated line
# (containing TEXT)
one_line() {
    if [ "$(lines "$1")" -ne 1 ] || [ "$(wc -l <"$1")" -ne 1 ]; then
        fail "$2: want exactly one line on stderr, got $(lines "$1"):"
        sed 's/^/    | /' "$1"
        return 1
    fi
    if [ $# -ge 3 ] && ! grep -qF -- "$3" "$1"; then
        fail "$2: stderr does not mention \"$3\": $(cat "$1")"
        return 1
    fi
    return 0
}

# json_ok FILE WHAT: FILE parses as JSON
json_ok() {
    "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null || {
        fail "$2: not JSON: $(head -c 300 "$1")"
        return 1
    }
}

# tagged DIR TAG: the digest index.json gives TAG
tagged() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
for m in json.load(open(sys.argv[1] + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]:
        print(m["digest"])
        break
EOF
}

# soci_entries DIR: the digests of the SOCI v1 entries of index.json, one a line
soci_entries() {
    "$PY" - "$1" <<'EOF'
import json, sys
for m in json.load(open(sys.argv[1] + "/index.json"))["manifests"]:
    if m.get("artifactType") == "application/vnd.amazon.soci.index.v1+json":
        print(m["digest"])
EOF
}

# layer_digests DIR TAG: the tagged image's layer digests, one a line
layer_digests() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
d, tag = sys.argv[1:]
for m in json.load(open(d + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
        man = json.load(open(d + "/blobs/sha256/" + m["digest"][7:]))
        for l in man["layers"]:
            print(l["digest"])
EOF
}

# get_files_match ZTOC LAYER DIR LABEL: `soci ztoc get-file` of every
# regular file under DIR (GNU tar's extraction of LAYER), each compared with
# it; mismatches and failures are counted by fail.  Sets matched (how many
# files were identical)
get_files_match() {
    matched=0
    for _f in $(cd "$3" && find . -type f | sed 's|^\./||'); do
        if "$SOCI" ztoc get-file -o "$TMP/got" "$1" "$2" "$_f" 2>"$TMP/err"; then
            if cmp -s "$TMP/got" "$3/$_f"; then
                matched=$((matched + 1))
            else
                fail "$4: get-file \"$_f\" differs from GNU tar's extraction"
            fi
        else
            fail "$4: get-file \"$_f\" failed: $(cat "$TMP/err")"
        fi
    done
}

# blob DIR DIGEST: the path of a blob
blob() {
    echo "$1/blobs/sha256/${2#sha256:}"
}

# locked DIR: does some process hold an flock on the directory DIR?
locked() {
    _ino=$(stat -c %i "$1") || return 1
    grep -q "FLOCK .*:$_ino " /proc/locks
}

# wait_locked DIR PID: wait (at most ~10 s) until DIR is locked while PID runs
wait_locked() {
    _i=0
    while [ $_i -lt 200 ]; do
        locked "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
        _i=$((_i + 1))
    done
    return 1
}

# stop_at_read FILE CMD...: run CMD under strace, which stops it (SIGSTOP)
# at its first read(2) of FILE -- a writer held in the middle of its run,
# deterministically; cont_below PID lets it go on, kill_below PID kills it
stop_at_read() {
    _f=$1
    shift
    exec strace -f -qq -o /dev/null -P "$_f" -e trace=read -e inject=read:signal=STOP:when=1 "$@"
}

# cont_below PID / kill_below PID: SIGCONT / SIGKILL every process below PID
cont_below() {
    for _c in $(pgrep -P "$1"); do
        cont_below "$_c"
        kill -CONT "$_c" 2>/dev/null
    done
}
kill_below() {
    for _c in $(pgrep -P "$1"); do
        kill -KILL "$_c" 2>/dev/null
    done
}

# wait_pid PID SECONDS: wait for a child to end, at most SECONDS (then kill
# it); its exit status in $wrc (137 if it had to be killed)
wait_pid() {
    _i=0
    while kill -0 "$1" 2>/dev/null && [ $_i -lt $(($2 * 20)) ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -9 "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        wrc=137
        return 1
    fi
    wait "$1"
    # shellcheck disable=SC2034 # read by the caller
    wrc=$?
    return 0
}
