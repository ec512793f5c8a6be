# tests/integration/getting_started_doc.sh -- docs/getting-started.md, run
# as written: every `console` block of the page, in order, in one shell
# (tests/integration/lib/doc_run.py), on loopback.
#
# The page's `sh` and `toml` blocks (installing, the registry's and
# containerd's configuration, starting the daemon) are what a reader does
# on a real machine; here the same happens under $TMP: docker-registry with
# htpasswd auth, our daemon, containerd with [proxy_plugins.soci].  The
# page's names reach the commands through the environment the page itself
# sets up: REGISTRY, USERNAME, PASSWORD, CONTAINERD_ADDRESS (ctr and soci
# read it), SOCI_ROOT and SOCI_SNAPSHOTTER_ROOT (the stores), PATH (the
# programs).  Each command must exit 0 and print what the page shows, up to
# digests, numbers, and this test's paths and port (read as the page's
# defaults).
. "$ROOT/tests/integration/lib/integration.sh"

need python3 skopeo bash
DOC=$ROOT/docs/getting-started.md
[ -f "$DOC" ] || die "$DOC is missing"

start_stack
mkdir -p "$TMP/work" "$TMP/soci-root"
ln -s "$ROOT/scripts" "$TMP/work/scripts"
# the page's registry is localhost:5000: here localhost:PORT, with the
# daemon's credentials under that name (the page's step 2)
REGISTRY=localhost:$PORT USERNAME=$REG_USER PASSWORD=$REG_PASS
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REGISTRY" "$(printf '%s:%s' "$USERNAME" "$PASSWORD" | base64 -w0)" \
    >"$TMP/docker/config.json"
PATH=$BIN:$PATH
CONTAINERD_ADDRESS=$CTD SOCI_ROOT=$TMP/soci-root SOCI_SNAPSHOTTER_ROOT=$SNAP_ROOT
export PATH REGISTRY USERNAME PASSWORD CONTAINERD_ADDRESS SOCI_ROOT SOCI_SNAPSHOTTER_ROOT

python3 "$ROOT/tests/integration/lib/doc_run.py" "$DOC" "$TMP/work" \
    "localhost:$PORT=localhost:5000" "localhost_$PORT=localhost_5000" "$SNAP_ROOT=/var/lib/soci-snapshotter-grpc" "$TMP/soci-root=/var/lib/soci-c" ||
    {
        echo "daemon log:"
        snapd_log_tail 20
        fail "docs/getting-started.md does not run as written"
    }
finish
