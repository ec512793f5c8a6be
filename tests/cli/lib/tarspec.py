"""tarspec.py -- a PAX tar's bytes from a short list of entries, for tests.

  tar_bytes([("d", "etc"), ("f", "etc/x", {"data": b"..", "mode": 0o600}), ...])

Each entry is (kind, path[, opts]): kind d (directory), f (file, opts
"data"), l (symlink, "to"), h (hard link, "to"), p (fifo), c / b (char or
block device, "dev" = (major, minor), default 1/3).  Options for all:
"mode", "uid", "gid", "mtime" (default 1700000000; a float keeps
nanoseconds), "pax" (extra PAX records, e.g. SCHILY.xattr.*).  Owner names
are left empty so only the numeric ids count.  Standard library only.
"""
import io
import tarfile

T = 1700000000
DEFAULT_MODE = {"d": 0o755, "f": 0o644, "l": 0o777, "h": 0o644, "p": 0o600, "c": 0o660, "b": 0o660}
TYPES = {"d": tarfile.DIRTYPE, "f": tarfile.REGTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE,
         "p": tarfile.FIFOTYPE, "c": tarfile.CHRTYPE, "b": tarfile.BLKTYPE}


def tar_bytes(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            kind, path, opts = e[0], e[1], e[2] if len(e) > 2 else {}
            ti = tarfile.TarInfo(path)
            ti.type = TYPES[kind]
            ti.mode = opts.get("mode", DEFAULT_MODE[kind])
            ti.mtime = opts.get("mtime", T)
            ti.uname = ti.gname = ""
            ti.uid, ti.gid = opts.get("uid", 0), opts.get("gid", 0)
            ti.pax_headers = opts.get("pax", {})
            data = None
            if kind == "f":
                data = opts.get("data", b"")
                ti.size = len(data)
            elif kind in "lh":
                ti.linkname = opts["to"]
            elif kind in "cb":
                ti.devmajor, ti.devminor = opts.get("dev", (1, 3))
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()
