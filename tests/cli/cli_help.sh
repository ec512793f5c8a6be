#!/bin/sh
# tests/cli/cli_help.sh -- every command and command group of soci, and the
# pipeline programs: --help exits 0 with the usage on stdout; an unknown
# option is one line naming it and pointing at --help, exit 2; size values
# take every suffix form; --platform that the image is not is an error.
. "$ROOT/tests/cli/lib/packer.sh"

# soci --help names every command
out=$(timeout 10 "$SOCI" --help) || fail "soci --help: exit $?"
for cmd in create convert push index ztoc prefetch version; do
    printf '%s\n' "$out" | grep -q "^  $cmd " || fail "soci --help does not list \"$cmd\""
done
for word in --root SOCI_ROOT SOCI_LAYOUT; do
    printf '%s\n' "$out" | grep -q -- "$word" || fail "soci --help does not mention $word"
done
# the global --root is taken before the command, also before --help
timeout 10 "$SOCI" --root "$TMP/r" index --help >"$TMP/out" 2>&1 || fail "soci --root DIR index --help: exit $?"
timeout 10 "$SOCI" --root="$TMP/r" ztoc list --help >"$TMP/out" 2>&1 || fail "soci --root=DIR ztoc list --help: exit $?"
[ -e "$TMP/r" ] && fail "--help created the store root"

# help CMD...: `CMD... --help` exits 0 and prints "usage: CMD..." first
help() {
    timeout 10 "$@" --help >"$TMP/out" 2>"$TMP/err"
    rc=$?
    name="$(basename "$1")${2:+ $2}${3:+ $3}"
    [ $rc -eq 0 ] || fail "$name --help: exit $rc: $(head -n 1 "$TMP/err")"
    head -n 1 "$TMP/out" | grep -q "^usage: $name" || fail "$name --help: first line is not \"usage: $name ...\": $(head -n 1 "$TMP/out")"
    [ -s "$TMP/err" ] && fail "$name --help wrote to stderr: $(head -n 1 "$TMP/err")"
}
# bad CMD...: `CMD... --bogus` exits 2 with exactly one line
bad() {
    name="$(basename "$1")${2:+ $2}${3:+ $3}"
    timeout 10 "$@" --bogus </dev/null >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ $rc -eq 2 ] || fail "$name --bogus: exit $rc, want 2"
    want="$name: unknown option --bogus; see '$name --help'"
    [ "$(cat "$TMP/err")" = "$want" ] || { fail "$name --bogus: stderr is not the one line \"$want\":"; sed 's/^/    | /' "$TMP/err"; }
}
for c in create convert push index "index list" "index info" "index rm" ztoc "ztoc list" "ztoc info" "ztoc get-file" \
    prefetch "prefetch list" "prefetch info"; do
    # shellcheck disable=SC2086
    help "$SOCI" $c
done
for c in create convert push "index list" "index info" "index rm" "ztoc list" "ztoc info" "ztoc get-file" \
    "prefetch list" "prefetch info"; do
    # shellcheck disable=SC2086
    bad "$SOCI" $c
done
help "$ZG"
bad "$ZG"
help "$LAYERS"
bad "$LAYERS"

# a missing value: one line too
timeout 10 "$SOCI" create --span-size </dev/null >/dev/null 2>"$TMP/err"
rc=$?
[ $rc -eq 2 ] && [ "$(cat "$TMP/err")" = "soci create: option --span-size needs a value; see 'soci create --help'" ] ||
    fail "create --span-size without a value: exit $rc: $(cat "$TMP/err")"

# size suffixes: 4M, 4Mi, 4MB, 4MiB and 4194304 give the same ztoc
mkdir -p "$TMP/tree" && head -c 3000000 /dev/urandom | base64 >"$TMP/tree/f" &&
    tar -C "$TMP/tree" -cf - f | gzip -n >"$TMP/layer.gz" || die "cannot make a layer"
"$ZG" --span-size 4194304 -o "$TMP/ref.ztoc" "$TMP/layer.gz" || die "ztoc-gen failed"
for v in 4M 4Mi 4MB 4MiB 4096K 4096KiB; do
    if "$ZG" --span-size $v -o "$TMP/$v.ztoc" "$TMP/layer.gz" 2>"$TMP/err"; then
        cmp -s "$TMP/ref.ztoc" "$TMP/$v.ztoc" || fail "--span-size $v: not the ztoc of 4194304"
    else
        fail "--span-size $v refused: $(cat "$TMP/err")"
    fi
done

# --platform that a single-platform image is not
sample "$TMP/img" t --big-mib 1
plat=$("$PY" - "$TMP/img" <<'PYEOF'
import json, sys
d = sys.argv[1]
idx = json.load(open(d + "/index.json"))
man = json.load(open(d + "/blobs/sha256/" + idx["manifests"][0]["digest"][7:]))
cfg = json.load(open(d + "/blobs/sha256/" + man["config"]["digest"][7:]))
print(cfg["os"] + "/" + cfg["architecture"])
PYEOF
)
[ "$plat" = linux/s390x ] && die "the sample image is linux/s390x: pick another platform"
snap "$TMP/img" >"$TMP/before"
timeout 60 "$SOCI" create -q --platform linux/s390x "oci:$TMP/img:t" </dev/null >/dev/null 2>"$TMP/err"
rc=$?
[ $rc -eq 1 ] || fail "create --platform linux/s390x on a $plat image: exit $rc, want 1"
[ "$(cat "$TMP/err")" = "soci: the image is for $plat, not the requested platform linux/s390x" ] ||
    fail "create --platform linux/s390x: $(cat "$TMP/err")"
snap "$TMP/img" >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || fail "create --platform linux/s390x changed the layout"
finish
