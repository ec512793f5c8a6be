#!/bin/sh
# tests/cli/registry_fake_errors.sh -- a registry that misbehaves (the
# test-only double tests/cli/fake_registry.py on 127.0.0.1) is refused with
# a specific message: for each fault, soci create REF, soci-layers REF and
# (where it applies) soci index list --remote REF exit non-zero with exactly
# one line on stderr that says what is wrong:
#   1. /v2/ answers 401 with a WWW-Authenticate header that does not parse:
#      "malformed WWW-Authenticate";
#   2. a manifest fetched by digest whose bytes have another digest:
#      "the content's digest is ...; refusing it", naming both digests;
#   3. a manifest whose Docker-Content-Digest header disagrees with its
#      body: "Docker-Content-Digest says X but the content is Y";
#   4. a blob GET that redirects in a loop (a -> b -> a ...): "redirect
#      loop", naming the layer, and without hanging (bounded by the runner's
#      timeout here and by a 60 s wait per command).
. "$ROOT/tests/cli/lib/regtest.sh"

start_fake "$TMP/fake.port"
good=$FREG
start_fake "$TMP/fake-auth.port" --malformed-auth
badauth=$FREG

# run1 WHAT CMD...: run CMD (at most 60 s), expect failure and one line on
# stderr, in $TMP/err
run1() {
    _what=$1
    shift
    "$@" >"$TMP/out" 2>"$TMP/err" </dev/null &
    wait_pid $! 60 || { fail "$_what: still running after 60 s"; return 1; }
    [ "$wrc" -ne 0 ] || fail "$_what: exit 0"
    one_line "$TMP/err" "$_what"
}

# says WHAT TEXT...: the one line of $TMP/err contains every TEXT
says() {
    _what=$1
    shift
    for _t in "$@"; do
        grep -qF -- "$_t" "$TMP/err" || fail "$_what: the message does not say \"$_t\": $(cat "$TMP/err")"
    done
}

# 1. malformed WWW-Authenticate
for how in create layers list; do
    case $how in
    create) run1 "create (bad auth header)" "$SOCI" create --layout "$TMP/L" "$badauth/repo:t" ;;
    layers) run1 "soci-layers (bad auth header)" "$LAYERS" "$badauth/repo:t" ;;
    list) run1 "index list (bad auth header)" "$SOCI" index list --remote "$badauth/repo:t" ;;
    esac
    says "$how (bad auth header)" "malformed WWW-Authenticate" "$badauth"
done
[ -e "$TMP/L" ] && fail "create (bad auth header) left a layout behind"

# 2. manifest bytes that are not the digest asked for
want=sha256:1111111111111111111111111111111111111111111111111111111111111111
for how in create layers list; do
    case $how in
    create) run1 "create (wrong manifest bytes)" "$SOCI" create --layout "$TMP/L" "$good/baddigest@$want" ;;
    layers) run1 "soci-layers (wrong manifest bytes)" "$LAYERS" "$good/baddigest@$want" ;;
    list) run1 "index list (wrong manifest bytes)" "$SOCI" index list --remote "$good/baddigest@$want" ;;
    esac
    says "$how (wrong manifest bytes)" "$want" "the content's digest is sha256:" "refusing it"
done
[ -e "$TMP/L" ] && fail "create (wrong manifest bytes) left a layout behind"

# 3. Docker-Content-Digest disagrees with the body
other=sha256:$(printf 'other bytes' | sha256sum | cut -c1-64)
for how in create layers list; do
    case $how in
    create) run1 "create (bad Docker-Content-Digest)" "$SOCI" create --layout "$TMP/L" "$good/baddcd:t" ;;
    layers) run1 "soci-layers (bad Docker-Content-Digest)" "$LAYERS" "$good/baddcd:t" ;;
    list) run1 "index list (bad Docker-Content-Digest)" "$SOCI" index list --remote "$good/baddcd:t" ;;
    esac
    says "$how (bad Docker-Content-Digest)" "Docker-Content-Digest says $other but the content is sha256:"
done

# 4. a redirect loop on the layer blob
layer=sha256:abababababababababababababababababababababababababababababababab
run1 "create (blob redirect loop)" "$SOCI" create --min-layer-size 0 --layout "$TMP/L4" "$good/loop:t"
says "create (blob redirect loop)" "redirect loop" "$layer"
run1 "soci-layers (blob redirect loop)" "$LAYERS" --min-layer-size 0 "$good/loop:t"
says "soci-layers (blob redirect loop)" "redirect loop" "$layer"
LAYERS_OPTS="--min-layer-size 0" ZG_OPTS="--min-layer-size 0" pipeline "$good/loop:t" oci:"$TMP/P":t &&
    fail "pipeline (blob redirect loop): exit 0"
one_line "$TMP/p.err" "pipeline (blob redirect loop)" "redirect loop"
finish
