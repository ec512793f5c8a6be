#!/bin/sh
# make_corpus.sh OUTDIR -- generate the ztoc test corpus into OUTDIR/layers
#
# Nothing binary is committed: every layer is written here, at test time,
# by the tools real images come from:
#   - Python tarfile (PAX, GNU, ustar formats) and hand-made header blocks
#     (make_tars.py): every entry type, long names, xattrs, whiteouts,
#     fractional/negative/huge mtimes, huge ids, base-256 numbers, PAX-only
#     sizes, a lone end-of-archive block, 50,000 tiny files;
#   - GNU tar --format=gnu and --format=posix (--xattrs) and busybox tar over
#     an on-disk tree with real links, fifos, devices, xattrs;
#   - compressed with gzip -1/-6/-9, pigz (-i and dependent blocks, -b 128),
#     multi-member gzip, gzip headers with FEXTRA/FNAME/FCOMMENT/FHCRC and
#     sync/partial/block/full flushes, stored (level 0) deflate; plus plain
#     uncompressed tars.
# Layer file names end in .tar (uncompressed) or .tgz (gzip).  About 10 s of
# CPU; 16 layers, 200 MB kept (450 MB at the peak: intermediate tars and the
# on-disk tree are removed at the end).  Root is not required (without
# CAP_MKNOD the on-disk tree has no devices; the Python layers still do).
set -eu
OUT=${1:?usage: make_corpus.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
MT="$PY $HERE/make_tars.py"
W=$OUT/work
L=$OUT/layers
rm -rf "$W" "$L"
mkdir -p "$W" "$L"

# ---- Python tarfile layers
$MT pytars "$W"
cp "$W/py_pax.tar" "$L/py_pax.tar"
cp "$W/handmade.tar" "$L/handmade.tar"
# two at a time; "wait PID" so that a failure stops the script
gzip -6 -c "$W/py_pax.tar" >"$L/py_pax.gz6.tgz" & p=$!
gzip -9 -c "$W/py_gnu.tar" >"$L/py_gnu.gz9.tgz"
wait $p
gzip -1 -c "$W/py_ustar.tar" >"$L/py_ustar.gz1.tgz" & p=$!
gzip -9 -c "$W/handmade.tar" >"$L/handmade.gz9.tgz"
gzip -6 -c "$W/many.tar" >"$L/many.gz6.tgz"
wait $p
$MT members "$W/py_pax.tar" "$L/py_pax.members.tgz" 700001 & p=$!
$MT gzip-fields "$W/py_gnu.tar" "$L/py_gnu.fields.tgz"
wait $p
$MT stored "$W/py_ustar.tar" "$L/py_ustar.stored.tgz"

# ---- GNU tar and busybox tar over a real tree
T=$W/tree
$MT tree "$T"
# explicit top-level names (no "./" prefix) for posix, "." for gnu and busybox
# shellcheck disable=SC2046
(cd "$T" && tar --format=posix --xattrs --xattrs-include='*' --sort=name \
    -cf "$W/gnu_posix.tar" $(ls -A | LC_ALL=C sort))
tar --format=gnu --sort=name -C "$T" -cf "$W/gnu_gnu.tar" .
busybox tar -cf "$W/busybox.tar" -C "$T" .
rm -rf "$T"
cp "$W/gnu_posix.tar" "$L/gnu_posix.tar"
gzip -9 -c "$W/gnu_posix.tar" >"$L/gnu_posix.gz9.tgz" & p=$!
gzip -1 -c "$W/gnu_gnu.tar" >"$L/gnu_gnu.gz1.tgz"
wait $p
pigz -i -b 128 -p 2 -c "$W/gnu_gnu.tar" >"$L/gnu_gnu.pigz-i.tgz"
pigz -b 128 -p 2 -c "$W/gnu_posix.tar" >"$L/gnu_posix.pigz.tgz"
gzip -6 -c "$W/busybox.tar" >"$L/busybox.gz6.tgz"

rm -rf "$W"
