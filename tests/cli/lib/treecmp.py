#!/usr/bin/python3
"""treecmp.py -- compare a mounted tree with a reference tree, attribute by attribute.

  treecmp.py layer REF MNT [--tar LAYER] [--skip FILE]
      REF is GNU tar's extraction of one layer, MNT the layer mounted by
      soci-mount.  REF is first turned into what upstream's FUSE layer
      presents (docs/mounter.md, "What a mount shows"): every ".wh.X" file is hidden and, when
      no real X exists beside it, shown as X: a character device 0/0, mode
      0, uid/gid 0, size 0, nlink 1, with the whiteout's mtime; every
      ".wh..wh..opq" is hidden and its directory gets trusted.overlay.opaque
      = "y".  With --tar, directories the tar has no entry for (created
      implicitly) are expected as mode 0755, uid/gid 0, and their mtime is
      not compared; explicit directories get their mtime back from the tar
      (GNU tar loses it when entries come out of order), and what neither
      GNU tar nor the ztoc can hold is not compared (ids >= 2^32-1, years
      outside 1..9999).  --skip FILE: paths (one a line) GNU tar reported
      it could not create, left out of the comparison.
  treecmp.py plain REF MNT
      the two trees as they are (for merged overlay mounts).

Compared for every path below the root: the set of paths; file type;
permission bits with setuid/setgid/sticky; uid; gid; mtime (ns); size
(regular files and symlinks); symlink target; device major/minor (char and
block devices); nlink; xattrs (all namespaces, read with `getfattr -R -P -h
-d -m - -e hex`); the sha256 of every regular file's bytes (read through the
mount); and hard links: the paths that share an inode number must be the
same in both trees (st_dev and st_ino: an overlay's layers are distinct
devices; in plain mode a directory's nlink is not compared, as overlayfs
does not count merged directories' links).  Prints each difference (at most 60) and a summary
line; exits 1 if any.
"""
import hashlib
import os
import re
import stat
import subprocess
import sys
import tarfile

OPQ = b".wh..wh..opq"


def unescape(s):
    """getfattr's quoting: \\ooo octal escapes of bytes"""
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), s)


def xattrs_of(root):
    """{relpath(bytes): {name(bytes): value-hex(bytes)}} via getfattr"""
    r = subprocess.run(["getfattr", "-R", "-P", "-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", root],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"LC_ALL": "C", "PATH": os.environ["PATH"]})
    if r.returncode != 0 and r.stderr:
        sys.stderr.write("getfattr %s: %s\n" % (root, r.stderr.decode(errors="replace")[:2000]))
    out = {}
    cur = None
    rootb = os.fsencode(root).rstrip(b"/")
    for line in r.stdout.split(b"\n"):
        if line.startswith(b"# file: "):
            p = unescape(line[8:])
            if p == rootb:
                cur = b""
            elif p.startswith(rootb + b"/"):
                cur = p[len(rootb) + 1:]
            else:
                cur = None
            if cur is not None:
                out.setdefault(cur, {})
        elif line and cur is not None and b"=" in line:
            k, v = line.split(b"=", 1)
            name = unescape(k)
            if name in out[cur]:
                out[cur][name] += b" DUPLICATE " + v
            else:
                out[cur][name] = v
    return out


def snap(root):
    """{relpath: attrs} of every path below root"""
    rootb = os.fsencode(root)
    xa = xattrs_of(root)
    nodes = {}
    shas = {}
    for dirpath, dirnames, filenames in os.walk(rootb):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, rootb)
            st = os.lstat(p)
            t = stat.S_IFMT(st.st_mode)
            a = {"type": {stat.S_IFREG: "reg", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink",
                          stat.S_IFCHR: "char", stat.S_IFBLK: "block", stat.S_IFIFO: "fifo",
                          stat.S_IFSOCK: "sock"}.get(t, "?"),
                 "perm": "%04o" % stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
                 "mtime_ns": st.st_mtime_ns, "nlink": st.st_nlink, "ino": (st.st_dev, st.st_ino),
                 "xattrs": xa.get(rel, {})}
            if t in (stat.S_IFREG, stat.S_IFLNK):
                a["size"] = st.st_size
            if t == stat.S_IFLNK:
                a["target"] = os.readlink(p)
            if t in (stat.S_IFCHR, stat.S_IFBLK):
                a["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            if t == stat.S_IFREG:
                if st.st_ino not in shas:
                    h = hashlib.sha256()
                    with open(p, "rb") as f:
                        while True:
                            b = f.read(1 << 20)
                            if not b:
                                break
                            h.update(b)
                    shas[st.st_ino] = h.hexdigest()
                a["sha256"] = shas[st.st_ino]
            nodes[rel] = a
    groups = {}
    for rel, a in nodes.items():
        if a["type"] != "dir":
            groups.setdefault(a["ino"], []).append(rel)
    for rel, a in nodes.items():
        if a["type"] != "dir":
            a["links"] = sorted(groups[a["ino"]])
    return nodes


def pax_time_ns(s):
    """a PAX time record as Go reads it: seconds, then at most 9 digits of fraction"""
    neg = s.startswith("-")
    whole, _, frac = s.lstrip("-").partition(".")
    ns = int(whole or "0") * 10**9 + int((frac + "000000000")[:9])
    return -ns if neg else ns


def tar_members(layer):
    """{normalized path: (is_dir, uid, gid, mtime_ns)} by Python's tarfile
    (an independent reader; the last entry of a name wins), or None"""
    try:
        out = {}
        with tarfile.open(layer, "r:*", errors="surrogateescape") as tf:
            for m in tf:
                n = os.fsencode(os.path.normpath("/" + m.name).lstrip("/"))
                mt = m.pax_headers.get("mtime")
                ns = pax_time_ns(mt) if mt is not None else int(m.mtime) * 10**9
                out[n] = (m.isdir(), m.uid, m.gid, ns)
        return out
    except Exception as e:  # noqa: BLE001 -- Python's reader is only a helper here
        sys.stderr.write("treecmp: cannot list %s with tarfile (%s)\n" % (layer, e))
        return None


def fix_dir_mtimes(refdir, members):
    """GNU tar sets a directory's mtime when it leaves it; entries added to
    it later (hard links, names out of order) change it again: set every
    explicit directory's mtime from the tar, deepest first"""
    rootb = os.fsencode(refdir)
    for n in sorted((n for n, v in members.items() if v[0] and n), key=lambda n: -n.count(b"/")):
        p = os.path.join(rootb, n)
        if os.path.isdir(p) and not os.path.islink(p):
            ns = members[n][3]
            os.utime(p, ns=(ns, ns), follow_symlinks=False)


def not_representable(a, member):
    """what GNU tar cannot extract as the tar says, or the ztoc cannot carry:
    ids of 2^32-1 and above (chown(-1) is "no change"; the ztoc keeps 32
    bits) and years outside 1..9999 (Go stores no mod_time): not compared"""
    if member is None:
        return a
    d = dict(a)
    if member[1] >= 0xffffffff:
        d["uid"] = None
    if member[2] >= 0xffffffff:
        d["gid"] = None
    if not (-62135596800 * 10**9 <= member[3] < 253402300800 * 10**9):
        d["mtime_ns"] = None
    return d


def present_as_layer(ref, members):
    """REF as upstream's FUSE layer shows it"""
    out = dict(ref)
    for rel, a in ref.items():
        base = os.path.basename(rel)
        parent = os.path.dirname(rel)
        if base == OPQ:
            del out[rel]
            if parent in out:
                d = dict(out[parent])
                d["xattrs"] = dict(d["xattrs"])
                d["xattrs"][b"trusted.overlay.opaque"] = b"0x79"   # listed once, "y" wins
                out[parent] = d
        elif base.startswith(b".wh."):
            del out[rel]
    for rel, a in ref.items():
        base = os.path.basename(rel)
        if base.startswith(b".wh.") and base != OPQ and len(base) > 4:
            x = os.path.join(os.path.dirname(rel), base[4:])
            if x not in ref and x not in out:
                out[x] = {"type": "char", "perm": "0000", "uid": 0, "gid": 0, "mtime_ns": a["mtime_ns"],
                          "nlink": 1, "xattrs": {}, "rdev": (0, 0), "links": [x]}
    if members is not None:
        for rel, a in list(out.items()):
            m = members.get(rel)
            if a["type"] == "dir" and (m is None or not m[0]):
                d = dict(a)   # implicit: the mount makes it 0755 root, no mtime
                d["perm"], d["uid"], d["gid"], d["mtime_ns"] = "0755", 0, 0, None
                out[rel] = d
            elif m is not None:
                out[rel] = not_representable(a, m)
    # hard-link groups no longer name hidden whiteouts
    for rel, a in out.items():
        if "links" in a:
            a["links"] = [p for p in a["links"] if p in out]
    return out


def show(p):
    return os.fsdecode(p).encode("unicode_escape").decode()


def compare(ref, mnt):
    diffs = []
    for rel in sorted(set(ref) - set(mnt)):
        diffs.append("missing from the mount: %s (%s)" % (show(rel), ref[rel]["type"]))
    for rel in sorted(set(mnt) - set(ref)):
        diffs.append("only in the mount: %s (%s)" % (show(rel), mnt[rel]["type"]))
    keys = ("type", "perm", "uid", "gid", "mtime_ns", "size", "target", "rdev", "nlink", "xattrs", "sha256", "links")
    for rel in sorted(set(ref) & set(mnt)):
        r, m = ref[rel], mnt[rel]
        for k in keys:
            if k in r and r[k] is None:
                continue
            if k == "links" and "links" in r:
                if sorted(r["links"]) != sorted(m.get("links", [])):
                    diffs.append("%s: hard links differ: want %s, mount has %s" %
                                 (show(rel), [show(x) for x in r["links"]], [show(x) for x in m.get("links", [])]))
                continue
            if r.get(k) != m.get(k):
                diffs.append("%s: %s: want %r, mount has %r" % (show(rel), k, r.get(k), m.get(k)))
    return diffs


def main():
    args = sys.argv[1:]
    if len(args) < 3 or args[0] not in ("layer", "plain"):
        sys.exit(__doc__)
    mode, refdir, mntdir = args[:3]
    layer = skip = None
    if "--tar" in args:
        layer = args[args.index("--tar") + 1]
    if "--skip" in args:
        skip = args[args.index("--skip") + 1]
    members = tar_members(layer) if layer else None
    if members is not None:
        fix_dir_mtimes(refdir, members)
    ref = snap(refdir)
    mnt = snap(mntdir)
    if mode == "layer":
        ref = present_as_layer(ref, members)
    else:
        # overlayfs counts no links for merged directories
        for rel, a in ref.items():
            if a["type"] == "dir":
                ref[rel] = dict(a, nlink=None)
    if skip:
        # paths GNU tar said it could not create: not compared
        for line in open(skip, "rb").read().split(b"\n"):
            if line:
                print("  skipped (GNU tar could not extract it): %s" % show(line))
                ref.pop(line, None)
                mnt.pop(line, None)
    diffs = compare(ref, mnt)
    for d in diffs[:60]:
        print("  DIFF " + d)
    if len(diffs) > 60:
        print("  ... and %d more" % (len(diffs) - 60))
    nfiles = sum(1 for a in mnt.values() if a["type"] == "reg")
    print("%s: %d paths, %d regular files, %d xattrs, %d differences" %
          (mntdir, len(mnt), nfiles, sum(len(a["xattrs"]) for a in mnt.values()), len(diffs)))
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
