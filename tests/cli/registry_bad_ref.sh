#!/bin/sh
# tests/cli/registry_bad_ref.sh -- images that are not in the registry:
# after a push of the sample layout to REG/repo:t works,
#   - an unknown repository (REG/nosuch:t),
#   - an unknown tag (REG/repo:nosuchtag),
#   - an unknown digest (REG/repo@sha256:00..0)
# each make soci create, soci-layers and soci index list --remote exit
# non-zero with exactly one line on stderr that names the reference, says
# "no such image in the registry" and which part is missing ("repository
# nosuch does not exist", "repository repo has no tag nosuchtag", "... has no
# manifest sha256:..."); soci create leaves no --layout behind.
. "$ROOT/tests/cli/lib/regtest.sh"

start_registry "$TMP/reg"
sample_indexed "$TMP/img" t
"$SOCI" push -q oci:"$TMP/img":t "$REG/repo:t" >"$TMP/push.out" 2>&1 || die "push failed: $(cat "$TMP/push.out")"
"$SOCI" index list -q --remote "$REG/repo:t" >"$TMP/ok.out" 2>&1 || die "index list --remote of a good ref: $(cat "$TMP/ok.out")"

zero=sha256:0000000000000000000000000000000000000000000000000000000000000000
# clear ERRFILE WHAT REF WHY: one line naming REF, saying why
clear() {
    one_line "$1" "$2" "$3: no such image in the registry" || return 1
    grep -qF -- "$4" "$1" || fail "$2: the message does not say \"$4\": $(cat "$1")"
}
for ref in "$REG/nosuch:t" "$REG/repo:nosuchtag" "$REG/repo@$zero"; do
    case $ref in
    *nosuch:t) why="repository nosuch does not exist" ;;
    *nosuchtag) why="repository repo has no tag nosuchtag" ;;
    *) why="repository repo has no manifest $zero" ;;
    esac
    "$SOCI" create --layout "$TMP/L" "$ref" >"$TMP/c.out" 2>"$TMP/c.err" && fail "soci create $ref: exit 0"
    clear "$TMP/c.err" "soci create $ref" "$ref" "$why"
    [ -e "$TMP/L" ] && fail "soci create $ref left a layout behind"
    rm -rf "$TMP/L"

    "$LAYERS" "$ref" >"$TMP/l.out" 2>"$TMP/l.err" && fail "soci-layers $ref: exit 0"
    clear "$TMP/l.err" "soci-layers $ref" "$ref" "$why"

    "$SOCI" index list --remote "$ref" >"$TMP/i.out" 2>"$TMP/i.err" && fail "soci index list --remote $ref: exit 0"
    clear "$TMP/i.err" "soci index list --remote $ref" "$ref" "$why"
done

# the pipeline stops with that one message, not one per stage
LAYERS_OPTS="" pipeline "$REG/nosuch:t" oci:"$TMP/P":t && fail "pipeline from an unknown repository: exit 0"
one_line "$TMP/p.err" "pipeline from an unknown repository" "$REG/nosuch:t"
finish
