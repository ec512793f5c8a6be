#!/usr/bin/python3
"""apply_layers.py DIR LAYER... -- the filesystem an image's layers make,
applied in order (bottom first) into DIR, the way containerd applies them:
for each layer, first its whiteouts act on what the layers below made
(".wh.X" removes X, file or whole directory; ".wh..wh..opq" empties its
directory of everything from below), then its other entries are extracted
(a later entry replaces an earlier one of the same name).  Whiteout files
themselves never appear.  Finally every directory gets the mtime of the
topmost layer that has an entry for it.  Python's tarfile only: an
oracle independent of soci-mount and of GNU tar.  Run as root (owners,
devices).
"""
import copy
import os
import shutil
import sys
import tarfile


def norm(name):
    return os.path.normpath("/" + name).lstrip("/")


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    dir_mtimes = {}
    for layer in sys.argv[2:]:
        with tarfile.open(layer, "r:*") as tf:
            members = tf.getmembers()
            # 1. whiteouts, against the layers below
            for m in members:
                n = norm(m.name)
                d, base = os.path.split(n)
                if base == ".wh..wh..opq":
                    p = os.path.join(root, d)
                    if os.path.isdir(p):
                        for c in os.listdir(p):
                            remove(os.path.join(p, c))
                elif base.startswith(".wh."):
                    remove(os.path.join(root, d, base[4:]))
            # 2. the layer's entries
            for m in members:
                n = norm(m.name)
                base = os.path.basename(n)
                if not n or base.startswith(".wh."):
                    continue
                p = os.path.join(root, n)
                if m.isdir():
                    if os.path.lexists(p) and not os.path.isdir(p):
                        os.unlink(p)
                    dir_mtimes[n] = m.mtime
                elif os.path.lexists(p):
                    remove(p)
                m = copy.copy(m)
                m.name = n
                if m.islnk():
                    m.linkname = norm(m.linkname)
                kw = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}
                tf.extract(m, root, set_attrs=True, numeric_owner=True, **kw)
                if m.issym():   # tarfile leaves a symlink's times alone
                    os.utime(p, ns=(int(m.mtime * 10**9),) * 2, follow_symlinks=False)
                if m.pax_headers:
                    for k, v in m.pax_headers.items():
                        if k.startswith("SCHILY.xattr."):
                            os.setxattr(p, k[13:], v.encode("utf-8", "surrogateescape"), follow_symlinks=False)
    for n in sorted(dir_mtimes, key=lambda n: -n.count("/")):
        p = os.path.join(root, n)
        if os.path.isdir(p) and not os.path.islink(p):
            os.utime(p, (dir_mtimes[n], dir_mtimes[n]), follow_symlinks=False)


if __name__ == "__main__":
    main()
