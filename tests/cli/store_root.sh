#!/bin/sh
# tests/cli/store_root.sh -- the store's root and its layouts under stress
# (docker-registry on 127.0.0.1 holding the sample image):
#   1. a root that is a file, or below a file: create and index list are
#      one line, exit 1, and nothing is downloaded or written;
#   2. a root the user cannot write (run as nobody when we are root):
#      create is one line, exit 1;
#   3. two soci create of the same repository at once into a fresh store
#      (neither layout exists yet): each succeeds or fails with the lock
#      line, at least one succeeds, and the layout is whole (check_soci.py,
#      exactly one SOCI index, tag t names the image); a rerun of a loser
#      succeeds;
#   4. a hand-made entry that the mapping cannot produce (a ".." style name,
#      a symlink) is not listed.
. "$ROOT/tests/cli/lib/regtest.sh"
need skopeo

M="--min-layer-size 1000"
start_registry "$TMP/reg"
sample "$TMP/img" t --big-mib 8
skopeo copy -q --dest-tls-verify=false oci:"$TMP/img":t "docker://$REG/app:t" >"$TMP/skopeo.err" 2>&1 ||
    die "skopeo copy failed: $(cat "$TMP/skopeo.err")"

# 1. a root that is not a directory
: >"$TMP/file"
for root in "$TMP/file" "$TMP/file/sub"; do
    for c in "create -q $M $REG/app:t" "index list" "ztoc list"; do
        # shellcheck disable=SC2086
        "$SOCI" --root "$root" $c </dev/null >"$TMP/o" 2>"$TMP/e"
        rc=$?
        [ $rc -eq 1 ] || fail "soci --root $root $c: exit $rc, want 1"
        one_line "$TMP/e" "soci --root $root $c" "$TMP/file"
    done
done
[ -s "$TMP/file" ] && fail "a create wrote into the file given as root"
"$SOCI" --root </dev/null >/dev/null 2>"$TMP/e"
rc=$?
[ $rc -eq 2 ] || fail "soci --root without a value: exit $rc, want 2"
one_line "$TMP/e" "soci --root" "--root"

# 2. a root nobody may write
if [ "$(id -u)" -eq 0 ]; then
    mkdir "$TMP/ro" && chmod 0555 "$TMP/ro" && chmod 0711 "$TMP"
    setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/nonexistent \
        "$SOCI" --root "$TMP/ro" create -q $M "$REG/app:t" </dev/null >/dev/null 2>"$TMP/e"
    rc=$?
    chmod 0700 "$TMP"
    [ $rc -eq 1 ] || fail "create into a root nobody cannot write: exit $rc, want 1"
    one_line "$TMP/e" "create into an unwritable root" "$TMP/ro"
    [ -z "$(ls -A "$TMP/ro")" ] || fail "create wrote into the unwritable root"
fi

# 3. two creates of one repository at once, into a fresh store
SOCI_ROOT=$TMP/root
export SOCI_ROOT
APP=$TMP/root/layouts/127.0.0.1_$PORT/app
"$SOCI" create -q $M "$REG/app:t" </dev/null >/dev/null 2>"$TMP/e1" &
p1=$!
"$SOCI" create -q $M "$REG/app:t" </dev/null >/dev/null 2>"$TMP/e2" &
p2=$!
wait_pid $p1 120 || fail "the first create did not finish in 120 s"
rc1=$wrc
wait_pid $p2 120 || fail "the second create did not finish in 120 s"
rc2=$wrc
ok=0
for i in 1 2; do
    eval "rc=\$rc$i"
    if [ "$rc" -eq 0 ]; then
        ok=$((ok + 1))
    else
        [ "$rc" -eq 1 ] || fail "create $i: exit $rc"
        one_line "$TMP/e$i" "concurrent create $i" "locked by another soci process"
    fi
done
[ $ok -ge 1 ] || fail "neither concurrent create succeeded"
"$SOCI" create -q $M "$REG/app:t" </dev/null >/dev/null 2>"$TMP/e3" || fail "a rerun failed: $(cat "$TMP/e3")"
[ "$(soci_entries "$APP" | wc -l)" -eq 1 ] || fail "the layout has not exactly one SOCI index: $(soci_entries "$APP")"
[ "$(tagged "$APP" t)" = "$(tagged "$TMP/img" t)" ] || fail "tag t does not name the image"
$CHECK "$APP" --expect 1 --min-layer-size 1000 --subject "$(tagged "$TMP/img" t)" --quiet || fail "check_soci.py on the store layout"
ls -a "$TMP/root/layouts/127.0.0.1_$PORT" | grep -q '^\.new\.' && fail "a temporary layout was left behind"

# 4. entries the mapping cannot make are not layouts of the store
cp -a "$APP" "$TMP/root/layouts/127.0.0.1_$PORT/App"
ln -s "$APP" "$TMP/root/layouts/127.0.0.1_$PORT/link"
mkdir -p "$TMP/root/layouts/127.0.0.1:$PORT" && cp -a "$APP" "$TMP/root/layouts/127.0.0.1:$PORT/app"
n=$("$SOCI" index list -q | wc -l)
[ "$n" -eq 1 ] || fail "index list counts entries the mapping cannot make: $n indexes"
finish
