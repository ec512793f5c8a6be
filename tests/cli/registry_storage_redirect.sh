#!/bin/sh
# tests/cli/registry_storage_redirect.sh -- blob downloads redirected to
# "object storage" whose pre-signed URLs expire: Debian's docker-registry
# (Basic auth) behind the test-only tests/cli/storage_redirect.py, which
# answers each blob GET with a 307 to another host name (localhost:PORT
# for a client that talks to 127.0.0.1:PORT) and makes every third such URL
# already expired (403 there).
#   1. remote soci create through it: the expired URLs are refreshed (a new
#      redirect from the registry), the ztocs equal those of create on the
#      layout, and the storage never saw the registry's credentials;
#   2. soci-mount through it: every file of the indexed layer reads back
#      equal to GNU tar's extraction, with expired URLs on the way, and no
#      credentials leaked;
#   3. storage whose every URL is expired: remote create fails after a
#      bounded number of refreshes, exit 1, one line naming the 403.
. "$ROOT/tests/cli/lib/mount.sh"
. "$ROOT/tests/cli/lib/regfault.sh"
# regfault.sh replaced mount.sh's exit trap: stop the mounts, then the servers
trap '_srv_cleanup; _mount_cleanup' EXIT
need htpasswd cmp
STORAGE=$ROOT/tests/cli/storage_redirect.py

U=alice
P=Pw-3c9e71d0aa
htpasswd -Bbn -C 4 "$U" "$P" >"$TMP/htpasswd" 2>/dev/null || die "htpasswd failed"
start_registry "$TMP/reg" "$TMP/htpasswd"
sample_indexed "$TMP/img" t
idx=$(soci_entries "$TMP/img")
"$SOCI" push -q --user "$U:$P" oci:"$TMP/img":t "$REG/app:t" >"$TMP/push.out" 2>&1 || die "push: $(cat "$TMP/push.out")"
start_bg "$TMP/sport" "$PY" "$STORAGE" --upstream "$REG" --port-file "$TMP/sport" --log "$TMP/slog" \
    --upstream-user "$U:$P"
SREG=127.0.0.1:$BG_PORT

# leaks WHAT: the storage never got an Authorization header
no_leaks() {
    ! grep -q AUTH-LEAK "$TMP/slog" || fail "$1: the registry's credentials reached the storage host"
}

# 1. remote create
"$SOCI" create -q --user "$U:$P" --min-layer-size $MIN --layout "$TMP/remote" "$SREG/app:t" >"$TMP/c.out" 2>&1 ||
    fail "remote create through the redirecting registry: $(cat "$TMP/c.out")"
for z in $(index_blobs "$TMP/img" "$idx"); do
    cmp -s "$(blob "$TMP/img" "$z")" "$(blob "$TMP/remote" "$z")" || fail "remote create: blob $z differs or is missing"
done
grep -q "storage 403 expired" "$TMP/slog" || fail "remote create met no expired URL: the refresh went untested"
grep -q "storage 20[06] " "$TMP/slog" || fail "remote create: storage served nothing: $(cat "$TMP/slog")"
no_leaks "remote create"
expired_before=$(grep -c "storage 403 expired" "$TMP/slog")

# 2. soci-mount: every file of the indexed (big) layer
LD=$(layer_digests "$TMP/img" t | tail -n 1)
mkdir -p "$TMP/x" "$TMP/mp"
tar -C "$TMP/x" -xzf "$(blob "$TMP/img" "$LD")" || die "GNU tar could not extract the layer"
if mount_fg "$TMP/mp" "$TMP/mount.log" --user "$U:$P" --cache-disk 0 --cache-mem 8M --no-background-fetch \
    "$SREG/app:t" --layer "$LD"; then
    n=0
    for f in $(cd "$TMP/x" && find . -type f | LC_ALL=C sort); do
        cmp -s "$TMP/x/$f" "$TMP/mp/$f" || fail "mount: $f differs from GNU tar's extraction"
        n=$((n + 1))
    done
    [ $n -gt 0 ] || fail "mount: the layer has no files to compare"
    echo "mount: $n files compared"
    unmount "$TMP/mp" "$MPID" || fail "mount: unmount failed (exit $urc)"
else
    fail "soci-mount through the redirecting registry did not mount"
fi
expired_after=$(grep -c "storage 403 expired" "$TMP/slog")
[ "$expired_after" -gt "$expired_before" ] || fail "the mount met no expired URL: the refresh went untested"
no_leaks "mount"
grep -q "$P" "$TMP/mount.log" "$TMP/c.out" "$TMP/slog" && fail "the password appears in a log"

# 3. every URL expired
start_bg "$TMP/s2port" "$PY" "$STORAGE" --upstream "$REG" --port-file "$TMP/s2port" --log "$TMP/s2log" \
    --upstream-user "$U:$P" --expire-every 1
"$SOCI" create -q --user "$U:$P" --min-layer-size $MIN --layout "$TMP/remote2" "127.0.0.1:$BG_PORT/app:t" \
    >"$TMP/c2.out" 2>"$TMP/c2.err"
rc=$?
[ $rc -eq 1 ] || fail "storage always expired: exit $rc, want 1"
one_line "$TMP/c2.err" "storage always expired" "answered 403, also after 3 fresh redirects"
r=$(grep -c "redirect #" "$TMP/s2log")
[ "$r" -le 40 ] || fail "storage always expired: $r redirects, the refreshes are not bounded"
echo "always expired: $r redirects before giving up: $(cat "$TMP/c2.err")"

finish
