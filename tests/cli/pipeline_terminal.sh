#!/bin/sh
# tests/cli/pipeline_terminal.sh -- the pipeline programs never write their
# binary output to a terminal.  Run under script(1), whose pseudo-terminal is
# their stdout (and stderr), each must exit 2 having written exactly one
# line there:
#   - soci-layers oci:DIR:TAG (a record stream);
#   - ztoc-gen LAYER (a ztoc);
#   - soci-layers oci:DIR:TAG | ztoc-gen (a record stream again; before,
#     ztoc-gen's stream mode wrote its records to the terminal).
# Redirected, the same commands work (soci-pack takes the stream).
. "$ROOT/tests/cli/lib/packer.sh"
need script

sample "$TMP/img" t --big-mib 1
layer=$(layer_digests "$TMP/img" t | sed -n 1p)
[ -n "$layer" ] || die "cannot read the sample image"

# on_tty NAME WANT CMD: run the shell command CMD with a terminal as its
# stdout and stderr; its exit status must be 2 and the terminal must show
# exactly the line WANT
on_tty() {
    name=$1 want=$2
    timeout -k 5 30 script -qec "$3" /dev/null </dev/null >"$TMP/tty" 2>&1
    rc=$?
    [ $rc -eq 2 ] || fail "$name: exit $rc, want 2"
    tr -d '\r' <"$TMP/tty" >"$TMP/tty.txt"
    if [ "$(cat "$TMP/tty.txt")" != "$want" ] || [ "$(lines "$TMP/tty.txt")" -ne 1 ]; then
        fail "$name: the terminal does not show exactly the one line \"$want\":"
        head -c 300 "$TMP/tty.txt" | od -c | head -n 5 | sed 's/^/    | /'
    fi
}

on_tty "soci-layers" "soci-layers: stdout is a terminal; pipe it into ztoc-gen" \
    "'$LAYERS' 'oci:$TMP/img:t'"
on_tty "ztoc-gen LAYER" "ztoc-gen: refusing to write a binary ztoc to a terminal; use -o FILE or redirect stdout" \
    "'$ZG' '$TMP/img/blobs/sha256/${layer#sha256:}'"
on_tty "soci-layers | ztoc-gen" "ztoc-gen: stdout is a terminal; pipe the record stream into soci-pack" \
    "'$LAYERS' 'oci:$TMP/img:t' 2>'$TMP/layers.err' | '$ZG' -q --min-layer-size 0"

ZG_OPTS="--min-layer-size 0" pipeline "oci:$TMP/img:t" || fail "the redirected pipeline failed: $(cat "$TMP/p.err")"
finish
