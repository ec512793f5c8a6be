# tests/cli/lib/ztoc_oracle.sh -- for the ztoc_*.sh tests of hand-made
# layers: packer.sh's helpers (fail, need, finish; PY, ZG, SOCI), the tools
# the oracle needs, and index_checked.  Sourced; needs BIN, ROOT and TMP.
. "$ROOT/tests/cli/lib/packer.sh"
need "$PY" flatc gzip tar cmp
tar --version 2>/dev/null | grep -q 'GNU tar' || { echo "skip: tar is not GNU tar"; exit 77; }

# plain_and_gzip TAR: TAR gzipped (-9 -n) beside it as TAR.gz; prints both
# paths (no blanks in them: they are under $TMP)
plain_and_gzip() {
    gzip -9 -n -c "$1" >"$1.gz" && printf '%s\n%s\n' "$1" "$1.gz"
}

# index_checked LAYER: ztoc-gen (1 KiB spans) into LAYER.ztoc, then `soci
# ztoc info` (its JSON in $TMP/info) and tests/corpus/check_ztoc.py (flatc
# and Python tarfile, and a get-file per span); mismatches are counted by
# fail.  Sets lname (LAYER's file name), z (the ztoc) and before (the
# failure count before it).  Returns 1 when ztoc-gen failed
index_checked() {
    lname=$(basename "$1") z=$1.ztoc before=$failures
    _n=$lname
    "$ZG" --span-size 1024 -o "$1.ztoc" "$1" 2>"$TMP/err" ||
        { fail "$_n: ztoc-gen failed: $(cat "$TMP/err")"; return 1; }
    "$SOCI" ztoc info "$1.ztoc" >"$TMP/info" 2>"$TMP/err" ||
        fail "$_n: soci ztoc info refuses the ztoc: $(cat "$TMP/err")"
    _out=$("$PY" "$ROOT/tests/corpus/check_ztoc.py" --soci "$SOCI" --span-files --span-size 1024 \
        --label "$_n" "$1" "$1.ztoc" 2>&1) || fail "$_n: the oracle finds mismatches: $_out"
    return 0
}
