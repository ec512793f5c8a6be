#!/bin/sh
# ztoc_corpus.sh -- ztoc-gen over a generated corpus of real-world layers,
# checked by an independent oracle and by GNU tar.
#
# For every layer of tests/corpus/make_corpus.sh (Python tarfile PAX/GNU/
# ustar and hand-made headers, GNU tar gnu/posix, busybox tar; gzip -1/-6/-9,
# pigz, multi-member, FEXTRA/FNAME/FCOMMENT/FHCRC headers, stored blocks,
# plain tar; a 50,000-file layer):
#   1. ztoc-gen at the default span size, twice from the file, once from
#      stdin and once with --no-threads: all four ztocs must be identical;
#   2. ztoc-gen at a small span size (64 KiB or 1 MiB: tens to hundreds of
#      spans) with another build-tool identifier;
#   3. tests/corpus/check_ztoc.py on both ztocs: every TOC field against
#      Python tarfile (Go archive/tar rules), checkpoints recomputed with
#      zlib Z_BLOCK, windows, span digests, resumability, sizes, `soci ztoc
#      info`, and link resolution through `soci ztoc get-file` as upstream
#      resolves links (plus, on the default ztoc, one get-file per span);
#   4. the layer extracted by GNU tar, and `soci ztoc get-file` (through the
#      small-span ztoc, so big files cross many spans and gzip members) of
#      every regular file, hard link and TOC-resolvable symlink compared byte
#      for byte with the extracted file (every 200th, 250 in all, for the
#      50,000-file layer).
# One summary line per layer; every mismatch is printed; exit 1 on any.
# Cost: about 200 s of CPU (two layers at a time), 1-2 minutes on two idle
# cores; 0.5 GB of scratch space at the peak.
set -u
PY=/usr/bin/python3
CORPUS=$ROOT/tests/corpus
ZG=$BIN/ztoc-gen
SOCI=$BIN/soci
for tool in $PY flatc gzip pigz busybox tar cmp xargs; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool is not installed"; exit 77; }
done
tar --version 2>/dev/null | grep -q 'GNU tar' || { echo "skip: tar is not GNU tar"; exit 77; }

start=$(date +%s)
sh "$CORPUS/make_corpus.sh" "$TMP/corpus" || { echo "FAIL: make_corpus.sh failed"; exit 1; }
echo "corpus generated in $(( $(date +%s) - start ))s: $(ls "$TMP/corpus/layers" | wc -l) layers"

# the small span size per layer: many spans (each costs a 32 KiB window in
# the ztoc and in every get-file's load of it)
small_span() {
    case "$1" in
    handmade*|py_*) echo 65536 ;;
    *) echo 1048576 ;;
    esac
}

# compare `soci ztoc get-file` with GNU tar's extraction for NUL-separated
# "TOCNAME\0EXTRACTED\0" pairs; prints "checked N" and MISMATCH lines
compare_files() { # ZTOC LAYER XDIR LIST
    # shellcheck disable=SC2016
    xargs -0 -n 100 -P 2 sh -c '
        z=$1 l=$2 x=$3 soci=$4 o=$5.$$; shift 5; n=0
        while [ $# -ge 2 ]; do
            if "$soci" ztoc get-file -o "$o" "$z" "$l" "$1" 2>"$o.err"; then
                if cmp -s "$o" "$x/$2"; then n=$((n + 1)); else
                    echo "MISMATCH get-file \"$1\": differs from the extracted \"$2\""; fi
            else
                echo "MISMATCH get-file \"$1\" failed: $(cat "$o.err")"
            fi
            shift 2
        done
        rm -f "$o" "$o.err"
        echo "checked $n"' sh "$1" "$2" "$3" "$SOCI" "$TMP/getfile" <"$4"
}

one_layer() { # LAYER LOG
    layer=$1 log=$2 t0=$(date +%s)
    name=$(basename "$layer")
    w=$TMP/w.$name
    mkdir -p "$w"
    bad=0
    say() { echo "$*" >>"$log"; }
    bad() { say "FAIL $name: $*"; bad=1; }

    # 1. default span: deterministic, stdin == file, threads == no threads
    "$ZG" -o "$w/z" "$layer" 2>>"$log" || bad "ztoc-gen failed"
    "$ZG" -o "$w/z2" "$layer" 2>>"$log" || bad "ztoc-gen (second run) failed"
    "$ZG" <"$layer" >"$w/z3" 2>>"$log" || bad "ztoc-gen from stdin failed"
    "$ZG" --no-threads -o "$w/z4" "$layer" 2>>"$log" || bad "ztoc-gen --no-threads failed"
    cmp -s "$w/z" "$w/z2" || bad "two builds of the same layer differ"
    cmp -s "$w/z" "$w/z3" || bad "the ztoc built from stdin differs from the one built from the file"
    cmp -s "$w/z" "$w/z4" || bad "--no-threads gives a different ztoc"
    rm -f "$w/z2" "$w/z3" "$w/z4"
    # 2. a small span size
    ss=$(small_span "$name")
    "$ZG" --span-size "$ss" --build-tool-identifier "AWS SOCI CLI v0.2" -o "$w/zs" "$layer" \
        2>>"$log" || bad "ztoc-gen --span-size $ss failed"
    [ $bad -eq 0 ] || return 1

    # 3. the oracle
    sample=1
    case "$name" in many*) sample=200 ;; esac
    o1=$($PY "$CORPUS/check_ztoc.py" --soci "$SOCI" --span-files --list-files "$w/list" \
        --sample $sample "$layer" "$w/z" 2>>"$log") ||
        bad "check_ztoc.py (default span size) found mismatches"
    o2=$($PY "$CORPUS/check_ztoc.py" --soci "$SOCI" --span-size "$ss" \
        --build-tool "AWS SOCI CLI v0.2" "$layer" "$w/zs" 2>>"$log") ||
        bad "check_ztoc.py (span size $ss) found mismatches"
    say "  $o1"
    say "  $o2"

    # 4. GNU tar's extraction vs get-file (devices, fifos or a lone zero
    # block may make tar complain; only the compared files matter)
    x=$w/x
    mkdir -p "$x"
    tar -xf "$layer" -C "$x" 2>"$w/tar.err" || say "  (GNU tar: $(head -c 300 "$w/tar.err" | tr '\n' ' '))"
    [ -f "$w/list" ] || : >"$w/list"
    npairs=$(tr -cd '\0' <"$w/list" | wc -c)
    npairs=$((npairs / 2))
    out=$(compare_files "$w/zs" "$layer" "$x" "$w/list")
    checked=$(echo "$out" | awk '/^checked /{n += $2} END{print n + 0}')
    if echo "$out" | grep -q '^MISMATCH'; then
        echo "$out" | grep '^MISMATCH' | head -n 30 | sed "s|^|  $name: |" >>"$log"
        bad "get-file differs from GNU tar's extraction"
    fi
    [ "$checked" -eq "$npairs" ] || bad "compared $checked of $npairs files"
    [ "$npairs" -gt 0 ] || bad "no files to compare"
    rm -rf "$w"
    if [ $bad -eq 0 ]; then
        say "ok $name: oracle clean at span sizes 4194304 and $ss; $checked files identical to GNU tar's; rebuild, stdin and --no-threads give identical ztocs ($(( $(date +%s) - t0 ))s)"
    fi
    return $bad
}

# two workers, layers dealt alternately (biggest first), logs printed in order
layers=$(ls -S "$TMP/corpus/layers")
i=0
for l in $layers; do
    echo "$l" >>"$TMP/worker$((i % 2))"
    i=$((i + 1))
done
worker() {
    rc=0
    while read -r l; do
        one_layer "$TMP/corpus/layers/$l" "$TMP/log.$l" </dev/null || rc=1
    done <"$TMP/worker$1"
    return $rc
}
worker 0 & p0=$!
worker 1 & p1=$!
rc=0
wait $p0 || rc=1
wait $p1 || rc=1
for l in $layers; do
    cat "$TMP/log.$l"
done
echo "total $(( $(date +%s) - start ))s"
if [ $rc -ne 0 ]; then
    echo "FAIL: ztoc corpus mismatches (see above)"
    exit 1
fi
echo "all $(echo "$layers" | wc -l) layers ok"
