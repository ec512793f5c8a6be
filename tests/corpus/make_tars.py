#!/usr/bin/python3
"""make_tars.py -- the Python half of the ztoc test corpus (see make_corpus.sh).

Run with Debian's /usr/bin/python3 (standard library only).

  make_tars.py tree DIR             an on-disk tree for GNU tar and busybox tar
  make_tars.py pytars OUTDIR        py_pax.tar py_gnu.tar py_ustar.tar
                                    handmade.tar many.tar, written by tarfile
                                    (handmade.tar: raw header blocks)
  make_tars.py gzip-fields IN OUT   gzip members with FEXTRA/FNAME/FCOMMENT/
                                    FHCRC headers and sync/full/partial/block
                                    flushes inside the deflate data
  make_tars.py members IN OUT CHUNK one gzip member per CHUNK bytes of IN
                                    (plus an empty member in the middle)
  make_tars.py stored IN OUT        deflate level 0 (stored blocks only)

Everything is seeded: the same command writes the same bytes (the on-disk
tree differs only in ctimes, which GNU tar's posix format records).
File contents are seeded random words (compressible, but not trivially)
with some runs of random bytes so that deflate also emits stored blocks.
"""
import copy
import io
import os
import random
import struct
import sys
import tarfile
import zlib

MiB = 1 << 20
MTIME = 1700000000          # 2023-11-14T22:13:20Z

_rw = random.Random(20240601)
WORDS = [''.join(_rw.choice('etaoinshrdlucmfwypvbgkqjxz') for _ in range(_rw.randint(1, 11)))
         for _ in range(6000)] + ['the', 'of', 'and', '\n', '{', '}', ';', '0x%x' % 3735928559]


def content(seed, size):
    """deterministic, compressible-but-not-trivial bytes"""
    r = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        if size > 256 * 1024 and r.random() < 0.06:
            out += r.randbytes(r.randint(1000, 70000))      # incompressible run
        else:
            out += ' '.join(r.choices(WORDS, k=r.randint(50, 3000))).encode() + b'\n'
    return bytes(out[:size])


# --------------------------------------------------------------------------
# the on-disk tree (GNU tar --format=gnu/posix, busybox tar)

def tree(root):
    def mk(path, data=b'', mode=0o644, mtime_ns=None):
        p = os.path.join(root, path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'wb') as f:
            f.write(data)
        os.chmod(p, mode)
        if mtime_ns is not None:
            os.utime(p, ns=(mtime_ns, mtime_ns))
        return p

    os.makedirs(root, exist_ok=True)
    sizes = {
        'etc/empty': 0, 'etc/one': 1, 'etc/config': 4096, 'etc/block-511': 511,
        'etc/block-512': 512, 'etc/block-513': 513, 'data/span-64k-1': 65535,
        'data/span-64k': 65536, 'data/span-64k+1': 65537, 'data/medium.bin': MiB,
        'bin/tool': 3 * MiB + 17, 'data/big.bin': 22 * MiB + 123,
        'data/odd-33333': 33333, 'data/window-32k': 32768,
    }
    for i, (path, size) in enumerate(sorted(sizes.items())):
        mk(path, content(1000 + i, size), 0o755 if path.startswith('bin/') else 0o644,
           (MTIME + i) * 10**9 + (123456789 if i % 2 else 0))
    for i in range(40):
        mk('small/f%02d.txt' % i, content(2000 + i, (i * 977) % 6000))
    mk('bin/suid', content(3001, 100), 0o4755)
    mk('bin/sgid', content(3002, 200), 0o2755)
    os.makedirs(os.path.join(root, 'tmp'), exist_ok=True)
    os.chmod(os.path.join(root, 'tmp'), 0o1777)
    # links: top-level names resolve in the TOC as upstream looks them up
    os.symlink('etc/config', os.path.join(root, 'sym_top'))
    os.symlink('sym_top', os.path.join(root, 'sym_chain'))
    os.symlink('../etc/config', os.path.join(root, 'small', 'sym_rel'))
    os.symlink('/etc/passwd', os.path.join(root, 'sym_abs'))
    os.symlink('does/not/exist', os.path.join(root, 'sym_dangling'))
    os.link(os.path.join(root, 'data/big.bin'), os.path.join(root, 'data/hard_big'))
    os.link(os.path.join(root, 'etc/config'), os.path.join(root, 'etc/hard_config'))
    # long names (>100, >255) and a long symlink target
    longdir = 'long/' + 'd' * 120 + '/' + 'e' * 150
    mk(longdir + '/' + 'n' * 90 + '.txt', content(3003, 7000))
    mk('long/' + 'x' * 101, content(3004, 10))
    os.symlink(longdir + '/' + 'n' * 90 + '.txt', os.path.join(root, 'sym_long'))
    # non-ASCII names
    mk('unicode/naïve café.txt', content(3005, 1234))
    mk('unicode/日本語/ファイル.txt', content(3006, 4321))
    mk('unicode/emoji 😀.bin', content(3007, 99))
    mk('unicode/tab\tand space', content(3008, 5))
    # overlay whiteouts and an opaque dir
    mk('wh/.wh.deleted')
    mk('wh/opaque/.wh..wh..opq')
    mk('wh/opaque/kept', content(3009, 300))
    # special files
    os.makedirs(os.path.join(root, 'dev'), exist_ok=True)
    os.mkfifo(os.path.join(root, 'dev', 'fifo'))
    try:
        os.mknod(os.path.join(root, 'dev', 'null'), 0o666 | 0o020000, os.makedev(1, 3))
        os.mknod(os.path.join(root, 'dev', 'sda'), 0o660 | 0o060000, os.makedev(8, 0))
    except OSError:
        pass                       # no CAP_MKNOD: the Python layers have devices
    # xattrs (GNU tar --xattrs records them as SCHILY.xattr.*)
    for path, key, val in (('etc/config', 'user.comment', b'hello world'),
                           ('data/medium.bin', 'user.bin', b'\x00\x01\xfe\xff'),
                           ('wh/opaque', 'trusted.overlay.opaque', b'y')):
        try:
            os.setxattr(os.path.join(root, path), key, val)
        except OSError:
            pass
    # large ids
    try:
        os.chown(os.path.join(root, 'etc/one'), 3000000000, 3000000001)
    except OSError:
        pass
    # fixed mtimes for dirs and links (after their contents are written)
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for n in filenames + dirnames:
            p = os.path.join(dirpath, n)
            if os.path.islink(p):
                os.utime(p, ns=(MTIME * 10**9, MTIME * 10**9), follow_symlinks=False)
        os.utime(dirpath, ns=(MTIME * 10**9 + 5, MTIME * 10**9 + 5))


# --------------------------------------------------------------------------
# tarfile layers

def ti(name, type=tarfile.REGTYPE, size=0, mode=0o644, mtime=MTIME, **kw):
    t = tarfile.TarInfo(name)
    t.type = type
    t.size = size
    t.mode = mode
    t.mtime = mtime
    t.uname, t.gname = kw.pop('uname', 'root'), kw.pop('gname', 'root')
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def py_entries():
    """(TarInfo, data) pairs; formats skip what they cannot represent"""
    E = []

    def d(name, **kw):
        E.append((ti(name, tarfile.DIRTYPE, mode=kw.pop('mode', 0o755), **kw), None))

    def f(name, size, seed, **kw):
        E.append((ti(name, size=size, **kw), content(seed, size)))

    def link(name, target, type=tarfile.SYMTYPE, **kw):
        E.append((ti(name, type, mode=0o777 if type == tarfile.SYMTYPE else 0o644,
                     linkname=target, **kw), None))

    d('etc')
    d('files')
    for i, size in enumerate([0, 1, 100, 511, 512, 513, 4095, 4096, 32767, 32768, 65535,
                              65536, 65537, 200000, MiB - 1, MiB, 3 * MiB + 7]):
        f('files/f_%d' % size, size, 5000 + i, mtime=MTIME + i)
    f('files/big', 12 * MiB + 4321, 5100, mode=0o100644)   # mode keeps file-type bits
    f('etc/config', 2500, 5101, pax_headers={'SCHILY.xattr.user.comment': 'hello',
                                             'SCHILY.xattr.user.empty': '',
                                             'SCHILY.xattr.security.selinux': 'system_u:object_r:etc_t:s0'})
    f('etc/frac', 10, 5102, mtime=1700000000.5)
    f('etc/nanos', 10, 5103, pax_headers={'mtime': '1700000000.123456789'})
    f('etc/too-many-digits', 10, 5104, pax_headers={'mtime': '1700000000.1234567891234'})
    f('etc/negative-frac', 10, 5105, pax_headers={'mtime': '-1.25'})
    f('etc/pre-epoch', 10, 5106, mtime=-1000000000)
    f('etc/far-future', 10, 5107, mtime=2**33 + 1)
    f('etc/year-10000', 10, 5108, pax_headers={'mtime': '300000000000'})
    f('etc/big-ids', 10, 5109, uid=3000000000, gid=2**32 - 1)
    f('etc/huge-uid', 10, 5110, pax_headers={'uid': '5000000000', 'gid': '4294967296'})
    f('etc/names', 10, 5111, uname='üsér', gname='a-group-name-longer-than-thirty-two-bytes')
    f('etc/records', 10, 5112, pax_headers={'comment': 'a=b=c', 'SCHILY.xattr.user.nl': 'line1\nline2',
                                            'SCHILY.xattr.user.ctl': '\x01\x7f"\\'})
    f('etc/new\nline', 3, 5113)
    d('tmp', mode=0o1777)
    f('files/suid', 50, 5114, mode=0o4755)
    # links: targets are TOC names, so upstream's lookup finds them
    link('sym_to_f', 'files/f_65536')
    link('sym_chain', 'sym_to_f')
    link('sym_to_big', 'files/big')
    link('sym_rel', '../etc/config')            # not a TOC name: get-file fails
    link('sym_dir', 'files')
    link('hard_to_big', 'files/big', tarfile.LNKTYPE)
    link('files/hard_513', 'files/f_513', tarfile.LNKTYPE)
    link('hard_to_sym', 'sym_to_f', tarfile.LNKTYPE)
    # devices and fifos
    d('dev')
    E.append((ti('dev/null', tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3), None))
    E.append((ti('dev/sda', tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0), None))
    E.append((ti('dev/big-major', tarfile.CHRTYPE, devmajor=2097151, devminor=1048575), None))
    E.append((ti('dev/fifo', tarfile.FIFOTYPE), None))
    # long names and targets
    long1 = 'long/' + 'a' * 60 + '/' + 'b' * 60 + '.txt'                 # 127: ustar prefix split
    long2 = 'long/' + '/'.join(c * 80 for c in 'cdef') + '/' + 'g' * 30  # 359
    f(long1, 3000, 5120)
    f(long2, 70000, 5121)
    f('long/' + 'h' * 120, 5, 5122)                                      # >100, no '/' to split at
    link('sym_long', long2)
    link('hard_long', long1, tarfile.LNKTYPE)
    d('long/' + 'i' * 110)
    # non-ASCII
    f('unicode/naïve café.txt', 1234, 5130)
    f('unicode/日本語/ファイル.txt', 4321, 5131)
    f('unicode/emoji 😀.bin', 99, 5132)
    # overlay whiteouts and opaque dirs
    d('wh')
    f('wh/.wh.deleted', 0, 5140)
    d('wh/opaque', pax_headers={'SCHILY.xattr.trusted.overlay.opaque': 'y'})
    f('wh/opaque/.wh..wh..opq', 0, 5141)
    f('wh/opaque/kept', 300, 5142)
    return E


def write_tarfile(path, fmt, entries):
    skipped = 0
    with tarfile.open(path, 'w', format=fmt, encoding='utf-8', errors='surrogateescape') as tf:
        for t, data in entries:
            t = copy.copy(t)                   # formats coerce fields
            t.pax_headers = dict(t.pax_headers)
            try:
                tf.addfile(t, io.BytesIO(data) if data is not None else None)
            except ValueError:
                skipped += 1                   # not representable in this format
    return skipped


# ---- handmade: raw header blocks for what tarfile will not write

def octal(v, n):
    return (b'%0*o' % (n - 1, v)) + b'\0'


def b256(v, n):
    """GNU base-256: big-endian two's complement with the top bit set"""
    v &= (1 << (8 * n)) - 1
    b = bytearray(v.to_bytes(n, 'big'))
    b[0] |= 0x80
    return bytes(b)


def block(name, typeflag, size=0, mode=0o644, uid=0, gid=0, mtime=MTIME, linkname=b'',
          magic='ustar', uname=b'root', gname=b'root', devmajor=0, devminor=0, prefix=b'',
          raw=None):
    raw = raw or {}
    b = bytearray(512)

    def put(off, n, val):
        b[off:off + n] = val[:n].ljust(n, b'\0')

    put(0, 100, name)
    put(100, 8, raw.get('mode', octal(mode, 8)))
    put(108, 8, raw.get('uid', octal(uid, 8)))
    put(116, 8, raw.get('gid', octal(gid, 8)))
    put(124, 12, raw.get('size', octal(size, 12)))
    put(136, 12, raw.get('mtime', octal(mtime, 12)))
    b[156] = ord(typeflag)
    put(157, 100, linkname)
    if magic == 'ustar':
        put(257, 8, b'ustar\x0000')
        put(345, 155, prefix)
    elif magic == 'gnu':
        put(257, 8, b'ustar  \0')
    put(265, 32, uname)
    put(297, 32, gname)
    if magic != 'v7':
        put(329, 8, raw.get('devmajor', octal(devmajor, 8)))
        put(337, 8, raw.get('devminor', octal(devminor, 8)))
    b[148:156] = b' ' * 8
    b[148:156] = b'%06o\0 ' % sum(b)
    return bytes(b)


def pad(data):
    return data + b'\0' * (-len(data) % 512)


def pax(records, name=b'PaxHeader'):
    body = b''
    for k, v in records:
        rec = b' ' + k + b'=' + v + b'\n'
        n = len(rec) + 1
        while len(str(n)) + len(rec) != n:
            n += 1
        body += str(n).encode() + rec
    return block(name, 'x', len(body)) + pad(body)


def gnu_long(kind, value):
    data = value + b'\0'
    return block(b'././@LongLink', kind, len(data), magic='gnu') + pad(data)


def handmade():
    out = bytearray()
    out += block(b'olddir/', '\0', mode=0o755, magic='gnu')           # '\0' + '/' = dir (Go)
    out += block(b'oldfile', '\0', 100) + pad(content(6000, 100))     # '\0' = reg
    out += pax([(b'path', b'paxdir/')]) + block(b'paxdir', '5', mode=0o755)
    data = content(6001, 2000)
    out += pax([(b'SCHILY.xattr.user.bin', b'\x00\x01\xfe\xff'),
                (b'SCHILY.xattr.user.empty', b''),
                (b'SCHILY.xattr.user.eq', b'a=b'),
                (b'comment', b'hello\nworld'),
                (b'mtime', b'1700000000.123456789123'),
                (b'atime', b'1700000001.5'),
                (b'ctime', b'1700000002'),
                (b'uid', b'5000000000'),
                (b'gid', b'4294967295'),
                (b'uname', 'üser'.encode()),
                (b'gname', b'a group name that is longer than 32 bytes'),
                (b'size', b'2000'),
                (b'path', 'pax/ünïcode-and-a-long-name-'.encode() + b'z' * 100)]) + \
        block(b'pax/short', '0', 0) + pad(data)                       # size from PAX only
    out += block(b'gnu/base256', '0', magic='gnu',
                 raw={'size': b256(777, 12), 'uid': b256(3000000000, 8),
                      'gid': b256(7, 8), 'mtime': b256(-1000000000, 12)}) + pad(content(6002, 777))
    longname = b'gnu/' + b'L' * 150
    longlink = b'gnu/' + b'K' * 140
    out += gnu_long('K', longlink) + gnu_long('L', longname) + \
        block(longname[:100], '2', mode=0o777, linkname=longlink[:100], magic='gnu')
    out += pax([(b'mtime', b'-1.5')]) + block(b'pax/negative', '0', 3) + pad(b'neg')
    out += pax([(b'mtime', b'300000000000')]) + block(b'pax/year-10000', '0', 0)
    out += pax([(b'mtime', b'1700000000.')]) + block(b'pax/empty-fraction', '0', 0)
    out += block(b'file.txt', '0', 5, prefix=b'pre/fix/dir') + pad(b'hello')
    out += block(b'hard_oldfile', '1', linkname=b'oldfile')
    out += pax([(b'linkpath', b'pre/fix/dir/file.txt')]) + \
        block(b'sym_paxlink', '2', mode=0o777, linkname=b'truncated-or-wrong')
    out += block(b'typebits', '0', 4, mode=0o100755) + pad(b'mode')
    out += block(b'dev/tty', '3', mode=0o620, devmajor=5, devminor=0, magic='gnu')
    out += block(b'dev/loop0', '4', mode=0o660, devmajor=7, devminor=0)
    out += block(b'dev/pipe', '6', mode=0o600)
    out += block(b'last', '0', 600) + pad(content(6003, 600))
    out += b'\0' * 512           # a lone zero block, then the stream ends (Go: EOF)
    return bytes(out)


def many(path, n=50000):
    r = random.Random(777)
    pool = content(7000, 200000)
    with tarfile.open(path, 'w', format=tarfile.GNU_FORMAT) as tf:
        for i in range(n):
            if i % 500 == 0:
                tf.addfile(ti('many/d%03d' % (i // 500), tarfile.DIRTYPE, mode=0o755))
            size = r.randint(0, 300)
            off = r.randint(0, len(pool) - size)
            tf.addfile(ti('many/d%03d/f%05d.txt' % (i // 500, i), size=size, mtime=MTIME + i),
                       io.BytesIO(pool[off:off + size]))


def pytars(outdir):
    os.makedirs(outdir, exist_ok=True)
    E = py_entries()
    for fmt, name in ((tarfile.PAX_FORMAT, 'py_pax.tar'), (tarfile.GNU_FORMAT, 'py_gnu.tar'),
                      (tarfile.USTAR_FORMAT, 'py_ustar.tar')):
        write_tarfile(os.path.join(outdir, name), fmt, E)
    with open(os.path.join(outdir, 'handmade.tar'), 'wb') as f:
        f.write(handmade())
    many(os.path.join(outdir, 'many.tar'))


# --------------------------------------------------------------------------
# gzip writers

FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT = 1, 2, 4, 8, 16


def gzip_header(flags, name=None, comment=None, extra=None, mtime=MTIME, xfl=0, os_=3):
    h = struct.pack('<BBBBIBB', 0x1f, 0x8b, 8, flags, mtime, xfl, os_)
    if flags & FEXTRA:
        h += struct.pack('<H', len(extra)) + extra
    if flags & FNAME:
        h += name + b'\0'
    if flags & FCOMMENT:
        h += comment + b'\0'
    if flags & FHCRC:
        h += struct.pack('<H', zlib.crc32(h) & 0xffff)
    return h


def deflate_member(data, level=6, flush_every=0, flush_modes=(zlib.Z_SYNC_FLUSH,), seed=0):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = bytearray()
    if flush_every:
        r = random.Random(seed)
        pos = 0
        i = 0
        while pos < len(data):
            step = r.randint(flush_every // 2, flush_every * 3 // 2)
            body += c.compress(data[pos:pos + step])
            body += c.flush(flush_modes[i % len(flush_modes)])
            pos += step
            i += 1
    else:
        body += c.compress(data)
    body += c.flush(zlib.Z_FINISH)
    return bytes(body) + struct.pack('<II', zlib.crc32(data), len(data) & 0xffffffff)


def gzip_fields(src, dst):
    data = open(src, 'rb').read()
    cut1, cut2 = len(data) // 3, len(data) * 2 // 3 + 333
    extra = b'AB' + struct.pack('<H', 6) + b'abcdef' + b'sI' + struct.pack('<H', 2) + b'\x01\x02'
    flushes = (zlib.Z_SYNC_FLUSH, zlib.Z_PARTIAL_FLUSH, zlib.Z_BLOCK, zlib.Z_FULL_FLUSH)
    with open(dst, 'wb') as f:
        # every optional header field, FHCRC included
        f.write(gzip_header(FHCRC | FEXTRA | FNAME | FCOMMENT | FTEXT, name=b'layer.tar', comment=b'a comment \xe9',
                            extra=extra))
        f.write(deflate_member(data[:cut1], 6, 300000, flushes, 1))
        f.write(gzip_header(FNAME, name=b'part2'))
        f.write(deflate_member(data[cut1:cut2], 9, 150000, flushes[1:], 2))
        f.write(gzip_header(FCOMMENT | FEXTRA, comment=b'third', extra=b''))
        f.write(deflate_member(data[cut2:], 1))


def members(src, dst, chunk):
    data = open(src, 'rb').read()
    with open(dst, 'wb') as f:
        for i, pos in enumerate(range(0, len(data), chunk)):
            f.write(gzip_header(0, mtime=0))
            f.write(deflate_member(data[pos:pos + chunk], 6))
            if i == 2:                          # an empty member between two others
                f.write(gzip_header(0, mtime=0))
                f.write(deflate_member(b'', 6))


def stored(src, dst):
    data = open(src, 'rb').read()
    with open(dst, 'wb') as f:
        f.write(gzip_header(0))
        f.write(deflate_member(data, 0))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == 'tree':
        tree(argv[2])
    elif cmd == 'pytars':
        pytars(argv[2])
    elif cmd == 'gzip-fields':
        gzip_fields(argv[2], argv[3])
    elif cmd == 'members':
        members(argv[2], argv[3], int(argv[4]))
    elif cmd == 'stored':
        stored(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
