#!/bin/sh
# tests/cli/mount_corpus.sh -- soci-mount serves every corpus layer exactly
# as GNU tar extracts it, from an OCI layout and from a registry.
#
# Layers: tests/corpus/make_corpus.sh's PAX/GNU/ustar-by-Python layers,
# hand-made headers (uncompressed tar layer), GNU tar --format=posix and
# --format=gnu and busybox tar over a real tree (devices, fifos, xattrs,
# hard links, long and non-ASCII names, whiteouts, opaque dirs), gzip -9,
# pigz -i, multi-member gzip with FEXTRA/FNAME/FCOMMENT/FHCRC headers, the
# 50,000-file layer, and the busybox-static layer of the sample image (one
# binary, hundreds of hard links).  They are packed into two OCI layouts
# (1 MiB and 256 KiB spans, so big files cross many spans), indexed with
# `soci create --min-layer-size 0`, and each layout is pushed with `soci
# push` to Debian's docker-registry on 127.0.0.1.
#
# Every layer is mounted with --layer from the layout and again from the
# registry (--plain-http; the 50,000-file layer from the layout only), and:
#   1. tests/cli/lib/treecmp.py compares the mount with GNU tar's extraction
#      of the same blob (tar -x --xattrs --xattrs-include='*' --numeric-owner
#      -p, as root), path by path: type, permissions with setuid/setgid/
#      sticky, uid, gid, mtime (ns), size, symlink target, char/block device
#      numbers, nlink, xattrs (getfattr -d -m -), the bytes of every regular
#      file, and the sets of paths sharing an inode number (stat's st_ino)
#      -- after turning the extraction into upstream's presentation:
#      ".wh.X" hidden and shown as a 0/0 char device X, ".wh..wh..opq"
#      hidden and its dir carrying trusted.overlay.opaque=y;
#   2. explicit checks of the same properties on known paths: a whiteout is
#      a 0/0 char device and its .wh. name is neither listed nor found, the
#      opaque dir reports trusted.overlay.opaque=y (once), hard links share
#      st_ino and report nlink, setuid/setgid/sticky bits, a device's
#      numbers, an xattr;
#   3. the state file: .soci-snapshotter is not listed by ls -a, but
#      .soci-snapshotter/<digest>.json reads by name as JSON naming the
#      layer and its size;
#   4. fusermount3 -u unmounts it and soci-mount exits 0.
. "$ROOT/tests/cli/lib/mount.sh"
need getfattr gzip pigz busybox sha256sum
tar --version 2>/dev/null | grep -q 'GNU tar' || { echo "skip: tar is not GNU tar"; exit 77; }

start=$(date +%s)
sh "$ROOT/tests/corpus/make_corpus.sh" "$TMP/corpus" >"$TMP/corpus.log" 2>&1 ||
    die "make_corpus.sh failed: $(tail -n 5 "$TMP/corpus.log")"
C=$TMP/corpus/layers
# the sample image's busybox-static layer
sample "$TMP/sample" t --big-mib 1
cp "$(blob "$TMP/sample" "$(layer_digests "$TMP/sample" t | head -n 1)")" "$C/sample_busybox.tgz"
echo "corpus in $(($(date +%s) - start))s"

A="py_pax.gz6.tgz gnu_posix.gz9.tgz busybox.gz6.tgz sample_busybox.tgz py_ustar.stored.tgz"
B="handmade.tar gnu_gnu.pigz-i.tgz py_gnu.fields.tgz many.gz6.tgz"
for f in "$C"/*; do # the others only cost disk
    case " $A $B " in *" $(basename "$f") "*) ;; *) rm -f "$f" ;; esac
done
layout() { # NAME SPAN LAYERS...
    _n=$1 _s=$2
    shift 2
    _files=""
    for _l in "$@"; do _files="$_files $C/$_l"; done
    # shellcheck disable=SC2086
    $MKLAYOUT "$TMP/$_n" t $_files >/dev/null || die "mklayout $_n failed"
    "$SOCI" create -q --min-layer-size 0 --span-size "$_s" "oci:$TMP/$_n:t" >"$TMP/create.$_n" 2>&1 ||
        die "soci create oci:$TMP/$_n:t failed: $(cat "$TMP/create.$_n")"
}
# shellcheck disable=SC2086
layout a 1048576 $A
# shellcheck disable=SC2086
layout b 262144 $B

start_registry "$TMP/reg"
for n in a b; do
    "$SOCI" push --plain-http -q "oci:$TMP/$n:t" "$REG/corpus-$n:t" >"$TMP/push.$n" 2>&1 ||
        die "soci push $n failed: $(cat "$TMP/push.$n")"
done
echo "layouts indexed and pushed in $(($(date +%s) - start))s"

# explicit checks of known paths (those the layer has)
known_paths() { # MP WHAT
    mp=$1 what=$2
    if [ -e "$mp/wh" ]; then
        got=$(stat -c '%F %t %T %a %u %g %s %h' "$mp/wh/deleted" 2>&1)
        [ "$got" = "character special file 0 0 0 0 0 0 1" ] || fail "$what: whiteout wh/deleted: $got"
        # shellcheck disable=SC2010 # what ls lists is the point
        ls -a "$mp/wh" | grep -q '^\.wh\.' && fail "$what: ls -a lists a .wh. name: $(ls -a "$mp/wh")"
        stat "$mp/wh/.wh.deleted" >/dev/null 2>&1 && fail "$what: wh/.wh.deleted is found by name"
        stat "$mp/wh/opaque/.wh..wh..opq" >/dev/null 2>&1 && fail "$what: the opaque marker is found by name"
        got=$(getfattr --absolute-names --only-values -n trusted.overlay.opaque "$mp/wh/opaque" 2>&1)
        [ "$got" = y ] || fail "$what: wh/opaque: trusted.overlay.opaque is \"$got\""
        nopq=$(getfattr --absolute-names -d -m - "$mp/wh/opaque" | grep -c '^trusted.overlay.opaque=')
        [ "$nopq" = 1 ] || fail "$what: wh/opaque lists trusted.overlay.opaque $nopq times"
    fi
    hard_pair() { # A B NLINK
        if [ -e "$mp/$1" ]; then
            i1=$(stat -c '%i %h' "$mp/$1") i2=$(stat -c '%i %h' "$mp/$2")
            [ "$i1" = "$i2" ] && [ "${i1#* }" = "$3" ] || fail "$what: hard links $1 ($i1) and $2 ($i2), want one inode with nlink $3"
        fi
    }
    hard_pair files/big hard_to_big 2
    hard_pair data/big.bin data/hard_big 2
    if [ -e "$mp/bin/busybox" ] && [ -e "$mp/bin/ls" ]; then
        want=$(($(ls "$mp/bin" | wc -l) - $(find "$mp/bin" -type l | wc -l)))
        hard_pair bin/busybox bin/ls "$want"
    fi
    perm() { # PATH MODE
        if [ -e "$mp/$1" ]; then
            got=$(stat -c %a "$mp/$1")
            [ "$got" = "$2" ] || fail "$what: $1 has mode $got, want $2"
        fi
    }
    perm files/suid 4755
    perm bin/suid 4755
    perm bin/sgid 2755
    perm tmp 1777
    if [ -e "$mp/dev/sda" ]; then
        got=$(stat -c '%F %t %T' "$mp/dev/sda")
        [ "$got" = "block special file 8 0" ] || fail "$what: dev/sda is $got"
        got=$(stat -c '%F %t %T' "$mp/dev/null")
        [ "$got" = "character special file 1 3" ] || fail "$what: dev/null is $got"
    fi
    if [ -e "$mp/etc/config" ] && getfattr --absolute-names -d "$mp/etc/config" | grep -q user.comment; then
        got=$(getfattr --absolute-names --only-values -n user.comment "$mp/etc/config")
        case "$got" in hello | "hello world") ;; *) fail "$what: etc/config user.comment is \"$got\"" ;; esac
    fi
}

state_file() { # MP DIGEST SIZE WHAT
    # shellcheck disable=SC2010 # what ls lists is the point
    ls -a "$1" | grep -q soci-snapshotter && fail "$4: ls -a lists .soci-snapshotter"
    [ -z "$(ls -A "$1/.soci-snapshotter" 2>&1)" ] || fail "$4: ls .soci-snapshotter lists $(ls -A "$1/.soci-snapshotter" 2>&1)"
    "$PY" - "$1/.soci-snapshotter/$2.json" "$2" "$3" <<'EOF' || fail "$4: bad state file"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["digest"] == sys.argv[2] and d["size"] == int(sys.argv[3]), d
for k in ("fetchedSize", "spansFetched", "rangeRequests", "bytesFetched", "cacheHits"):
    assert isinstance(d[k], int) and d[k] >= 0, (k, d)
EOF
}

nmounts=0
for lay in a b; do
    [ $lay = a ] && list=$A || list=$B
    for l in $list; do
        dig=sha256:$(sha256sum "$C/$l" | cut -c1-64)
        size=$(stat -c %s "$C/$l")
        extract "$C/$l" "$TMP/ref.$l"
        for src in layout registry; do
            [ $src = registry ] && [ "$l" = many.gz6.tgz ] && continue
            if [ $src = layout ]; then
                set -- "oci:$TMP/$lay:t"
            else
                set -- --plain-http "$REG/corpus-$lay:t"
            fi
            what="$l from the $src"
            mp=$TMP/mp.$src.$l
            mkdir -p "$mp"
            mount_fg "$mp" "$TMP/log.$src.$l" --no-background-fetch --cache-dir "$TMP/cache.$src" \
                "$@" --layer "$dig" || { fail "$what: not mounted"; continue; }
            nmounts=$((nmounts + 1))
            $TREECMP layer "$TMP/ref.$l" "$mp" --tar "$C/$l" --skip "$TMP/ref.$l.skip" >"$TMP/cmp.$src.$l" 2>&1 ||
                fail "$what differs from GNU tar's extraction"
            sed "s|^|$src: |" "$TMP/cmp.$src.$l" | tail -n 30
            known_paths "$mp" "$what"
            state_file "$mp" "$dig" "$size" "$what"
            unmount "$mp" "$MPID" || fail "$what: fusermount3 -u did not end soci-mount"
            [ "$urc" = 0 ] || fail "$what: soci-mount exited $urc"
            is_mounted "$mp" && fail "$what: still mounted"
            grep -q '"level":"error"' "$TMP/log.$src.$l" && fail "$what: errors logged: $(grep error "$TMP/log.$src.$l" | head -n 3)"
        done
    done
done
echo "$nmounts mounts checked in $(($(date +%s) - start))s"
[ "$nmounts" -eq 17 ] || fail "$nmounts mounts, want 17"
finish
