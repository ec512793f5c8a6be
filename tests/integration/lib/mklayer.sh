#!/bin/sh
# tests/integration/lib/mklayer.sh -- gzip'd tar layers for test and
# benchmark images (with tests/cli/lib/mklayout.py to wrap them in a layout)
#
#   mklayer.sh busybox DIR        a busybox rootfs in DIR: bin/busybox (Debian's
#                                 busybox-static) and a symlink per applet,
#                                 etc/passwd, empty tmp root proc sys dev
#   mklayer.sh random FILE BYTES SEED   BYTES of deterministic incompressible
#                                 bytes from SEED into FILE
#   mklayer.sh tar DIR OUT        DIR's entries (names without "./") as GNU tar,
#                                 root-owned, numeric ids, mtime 1700000000,
#                                 sorted, `gzip -6 -n` into OUT
#
# Exit 0 on success; on failure one line on stderr and exit 1.
set -u

die() {
    echo "mklayer.sh: $*" >&2
    exit 1
}

case "${1:-}" in
busybox)
    [ $# -eq 2 ] || die "usage: mklayer.sh busybox DIR"
    d=$2
    bb=$(command -v busybox) || die "busybox is not installed (busybox-static)"
    mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/root" "$d/proc" "$d/sys" "$d/dev" || die "cannot create $d"
    chmod 1777 "$d/tmp"
    cp "$bb" "$d/bin/busybox" || die "cannot copy $bb"
    for a in $("$bb" --list); do
        [ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"
    done
    echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd"
    ;;
random)
    [ $# -eq 4 ] || die "usage: mklayer.sh random FILE BYTES SEED"
    /usr/bin/python3 -c 'import random, sys
r = random.Random(int(sys.argv[3]))
n = int(sys.argv[2])
with open(sys.argv[1], "wb") as f:
    while n > 0:
        k = min(n, 1 << 20)
        f.write(r.randbytes(k))
        n -= k' "$2" "$3" "$4" || die "cannot write $2"
    ;;
tar)
    [ $# -eq 3 ] || die "usage: mklayer.sh tar DIR OUT"
    out=$3
    case "$out" in /*) ;; *) out=$(pwd)/$out ;; esac
    # shellcheck disable=SC2046 # DIR's entry names, none with spaces
    { (cd "$2" && tar --numeric-owner --owner=0 --group=0 --mtime=@1700000000 --sort=name -cf - $(ls -A)) ||
        echo fail >"$out.status"; } | gzip -6 -n >"$out.tmp" || die "cannot write $out"
    if [ -e "$out.status" ]; then
        rm -f "$out.status" "$out.tmp"
        die "tar of $2 failed"
    fi
    mv "$out.tmp" "$out" || die "cannot write $out"
    ;;
*)
    die "usage: mklayer.sh busybox DIR | random FILE BYTES SEED | tar DIR OUT"
    ;;
esac
