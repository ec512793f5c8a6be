# tests/integration/snapshotter_semantics.sh -- our snapshotter answers
# containerd's snapshots API as containerd's own overlayfs snapshotter does.
#
# The same sequence of `ctr snapshots` commands (prepare, mounts, writes
# through the returned mounts, commit, view, info, label, ls, tree, usage,
# diff, rm, and the error cases: missing parent, duplicate key, duplicate
# commit name, view of an active snapshot, remove with children, unknown
# keys) runs against `--snapshotter overlayfs` and `--snapshotter soci` of
# one containerd; each transcript (command, output, exit status) is
# normalised -- snapshot ids renumbered in order of appearance, the two
# snapshotters' roots and the mount target replaced by placeholders,
# timestamps blanked, mount options sorted -- and the two must be equal.
# What each mount shows when mounted (files, whiteouts) is part of the
# transcript.  Then an image pulled the ordinary way (`ctr i pull`, no
# SOCI index, none of the labels a remote snapshotter needs) runs with
# --snapshotter soci and reads its files right, and nothing of it is FUSE.
#
# SEM_A / SEM_B (overlayfs / soci) name the two snapshotters compared.
. "$ROOT/tests/integration/lib/integration.sh"

SEM_A=${SEM_A:-overlayfs}
SEM_B=${SEM_B:-soci}
case "$SEM_A$SEM_B" in
*soci*) start_stack ;;
*) start_auth_registry; start_containerd ;;
esac
OVL_ROOT=$CTD_DIR/root/io.containerd.snapshotter.v1.overlayfs/snapshots
NATIVE_ROOT=$CTD_DIR/root/io.containerd.snapshotter.v1.native/snapshots

# step CMD...: run CMD, append "$ CMD", its output and its exit status to $T
step() {
    echo "\$ $*" >>"$T"
    "$@" >>"$T" 2>&1
    echo "exit $?" >>"$T"
}

# snap ARGS...: ctr snapshots on the snapshotter under test
snap() {
    ctrx snapshots --snapshotter "$S" "$@"
}

# mount_key KEY: mount KEY's mounts (as `ctr snapshots mounts` prints them)
# on $MNT; the command goes into the transcript
mount_key() {
    snap mounts "$MNT" "$1" >"$TMP/mcmd" 2>&1 || { echo "mounts $1 failed: $(cat "$TMP/mcmd")" >>"$T"; return 1; }
    cat "$TMP/mcmd" >>"$T"
    sh "$TMP/mcmd" >>"$T" 2>&1 || { echo "mounting $1 failed" >>"$T"; return 1; }
}

unmount_mnt() {
    umount "$MNT" 2>>"$T" || umount -l "$MNT"
}

# show: what $MNT holds (type, mode, size, name; file contents by digest)
show() {
    (cd "$MNT" && find . -mindepth 1 -printf '%y %m %s %p\n' | LC_ALL=C sort &&
        find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2) >>"$T" 2>&1
}

# difflist KEY: the entries of the tar containerd's differ makes of KEY
# against its parent (both mounted through the snapshotter's mounts)
difflist() {
    snap diff --media-type application/vnd.oci.image.layer.v1.tar "$1" >"$TMP/diff.tar" || return
    # whiteouts carry the time of the diff
    tar --full-time --numeric-owner -tvf "$TMP/diff.tar" | sed -E 's/ [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} (.*\.wh\.)/ <TIME> \1/'
}

# fix_times: every entry under $MNT gets one mtime (the diff's tar carries them)
fix_times() {
    find "$MNT" -mindepth 1 -exec touch -h -d @1700000000 {} +
}

# check_view KEY PARENT: a view of PARENT; what it shows; writing must fail
check_view() {
    step snap view "$1" "$2"
    # a view has no gc.root label: containerd's collector (it runs after the
    # diff in the sequence) would remove it
    step snap label "$1" containerd.io/gc.root=keep
    mount_key "$1"
    show
    touch "$MNT/should-fail" 2>>"$T" && echo "wrote into the view $1" >>"$T"
    unmount_mnt
}

# sequence SNAPSHOTTER TRANSCRIPT NAMESPACE
sequence() {
    S=$1 T=$2 NS=$3 MNT=$TMP/mnt-$3
    : >"$T"
    mkdir -p "$MNT"
    step snap ls
    # an active snapshot without parent: a bind mount of its own directory
    step snap prepare base-active
    step snap info base-active
    mount_key base-active
    mkdir -p "$MNT/d1/d2" && printf 'one\n' >"$MNT/f1" && head -c 10000 /dev/zero >"$MNT/d1/zeros" &&
        ln -s f1 "$MNT/link1" && printf 'x' >"$MNT/d1/d2/gone"
    fix_times
    show
    unmount_mnt
    step snap usage -b base-active
    step snap commit base base-active
    step snap info base
    step snap usage -b base
    # an active child: overlay over the parent
    step snap prepare child-active base
    mount_key child-active
    show
    printf 'two\n' >"$MNT/f2" && rm -f "$MNT/f1" "$MNT/d1/d2/gone" && printf 'changed\n' >"$MNT/d1/zeros"
    fix_times
    show
    unmount_mnt
    step snap commit child child-active
    # views: of one parent (read-only bind), of a chain (overlay, no upper)
    check_view v-base base
    check_view v-child child
    step snap prepare grandchild-active child
    mount_key grandchild-active
    show
    unmount_mnt
    # what containerd's differ makes of the two layers (mounts both)
    step difflist child
    # labels
    step snap label base color=blue size=large
    step snap info base
    step snap label base color=
    step snap info base
    step snap label child-active x=y
    step snap info child-active
    # listings
    step snap ls
    step snap tree
    step snap usage -b
    step snap usage -b child base
    # error cases
    step snap prepare orphan-active no-such-parent
    step snap prepare base-active-2 base
    step snap prepare base-active-2 base
    step snap commit base base-active-2
    step snap view v-of-active base-active-2
    step snap prepare p-of-active base-active-2
    step snap rm base
    step snap rm child
    step snap rm no-such-key
    step snap info no-such-key
    step snap commit c2 no-such-active
    step snap mounts "$MNT" no-such-key
    step snap label no-such-key a=b
    # removing, leaves first
    step snap rm v-child v-base grandchild-active base-active-2
    step snap rm child
    step snap ls
    step snap rm base
    step snap ls
    step snap tree
}

# normalise TRANSCRIPT SNAPSHOTS_ROOT: ids in order of appearance, roots and
# mount target as placeholders, times blanked, mount options sorted
normalise() {
    "$PY" - "$1" "$2" "$MNT" "$TMP" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
root, mnt, tmp = sys.argv[2], sys.argv[3], sys.argv[4]
text = text.replace(mnt, "<MNT>").replace(root + "/", "<SNAPSHOTS>/")
ids = {}
def renum(m):
    return "<SNAPSHOTS>/#%d" % ids.setdefault(m.group(1), len(ids) + 1)
text = re.sub(r"<SNAPSHOTS>/(\d+)", renum, text)
text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "<TIME>", text)
text = re.sub(r"--snapshotter \S+", "--snapshotter S", text)
def sort_opts(m):
    return "-o " + ",".join(sorted(m.group(1).split(",")))
text = re.sub(r"-o (\S+)", sort_opts, text)
# `ctr snapshots label` prints the labels in Go's map order
text = re.sub(r"(?m)^[^ $\n]+=[^ \n]*(,[^ \n]+=[^ \n]*)*$", lambda m: ",".join(sorted(m.group(0).split(","))), text)
text = text.replace(tmp, "<TMP>")
# containerd's metadata keys: NAMESPACE/ID/KEY
text = re.sub(r'"sem-[ab]/\d+/', '"<NS>/<N>/', text)
sys.stdout.write(text)
EOF
}

root_of() {
    case "$1" in
    overlayfs) echo "$OVL_ROOT" ;;
    native) echo "$NATIVE_ROOT" ;;
    soci) echo "$SNAPSHOTS" ;;
    *) echo "$TMP/unknown" ;;
    esac
}

sequence "$SEM_A" "$TMP/a.raw" sem-a
normalise "$TMP/a.raw" "$(root_of "$SEM_A")" >"$TMP/a.txt"
sequence "$SEM_B" "$TMP/b.raw" sem-b
normalise "$TMP/b.raw" "$(root_of "$SEM_B")" >"$TMP/b.txt"
NS=soci-test
echo "transcript ($SEM_A, normalised; $(grep -c '^\$ ' "$TMP/a.txt") commands):"
sed 's/^/    /' "$TMP/a.txt"
if ! diff -u --label "$SEM_A" --label "$SEM_B" "$TMP/a.txt" "$TMP/b.txt" >"$TMP/ab.diff"; then
    echo "transcripts differ ($SEM_A -> $SEM_B):"
    cat "$TMP/ab.diff"
    fail "$SEM_B does not answer the snapshots API as $SEM_A does ($(grep -c '^[-+][^-+]' "$TMP/ab.diff") lines differ)"
fi
# the sequence must have really run: a failing transcript is no comparison
for want in '^exit 0$' 'f2$' 'FailedPrecondition\|failed precondition\|already exists'; do
    grep -q "$want" "$TMP/a.txt" || fail "the $SEM_A transcript lacks $want: the sequence did not run"
done

# -- an ordinary pull of an image without an index, run on soci
if [ "$SEM_B" = soci ]; then
    build_image "$TMP/img" plain
    PREF=$REG/semantics/plain:v1
    push_plain "$TMP/img" plain "$PREF"
    ctrx images pull --plain-http --user "$REG_USER:$REG_PASS" --snapshotter soci "$PREF" >"$TMP/pull.out" 2>&1 || {
        cat "$TMP/pull.out"
        snapd_log_tail 30
        die "ctr images pull --snapshotter soci of an unindexed image failed"
    }
    out=$(ctrx run --rm --snapshotter soci "$PREF" sem-1 /bin/sh -c 'sha256sum /big/file; cat /etc/soci-small-1' 2>&1)
    rc=$?
    echo "container on soci from a plain pull (exit $rc):"
    echo "$out" | sed 's/^/    /'
    [ $rc -eq 0 ] || { snapd_log_tail 30; fail "ctr run --snapshotter soci of a plainly pulled image exited $rc"; }
    echo "$out" | grep -qx "$BIG_SHA  /big/file" || fail "sha256sum /big/file: want $BIG_SHA"
    echo "$out" | grep -qx "small layer one" || fail "/etc/soci-small-1 not seen"
    [ -z "$(fuse_mounts)" ] || fail "an unindexed image got FUSE mounts: $(fuse_mounts)"
    for c in $(chain_ids "$TMP/img" plain); do
        ctrx snapshots --snapshotter soci info "$c" >"$TMP/pinfo" 2>&1 || fail "no committed snapshot $c"
        ! grep -q 'containerd.io/snapshot/remote"' "$TMP/pinfo" || fail "$c is labelled remote"
    done
fi
finish
