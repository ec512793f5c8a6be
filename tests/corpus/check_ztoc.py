#!/usr/bin/python3
"""check_ztoc.py -- an independent oracle for a layer's ztoc.

  check_ztoc.py [options] LAYER ZTOC

Uses none of our C code: the ztoc is decoded by flatc (the FlatBuffers
compiler) with formats/ztoc.fbs (for ztocs over 1 MiB the checkpoints
vector is dropped from the schema, because flatc prints a ubyte vector as
~10 JSON bytes per byte, and the blob is located by a small hand reader
that is cross-checked against flatc on the small ztocs); the layer by
Python's gzip/tarfile and by zlib through ctypes; and every field is
compared with what upstream (Go archive/tar + zran, docs/format.md
sections 1-3) would record:

  - header: version "0.9", build_tool_identifier, compressed_archive_size ==
    layer size, uncompressed_archive_size == just after the two zero end
    blocks (section 3.6), compression_algorithm;
  - TOC: one entry per tarfile member, in order, with name, type, offsets,
    size, linkname, mode, uid, gid (uint32), uname, gname, devmajor,
    devminor, mod_time (Go RFC 3339 in UTC, trailing zeros trimmed) and all
    PAX records sorted by key, with Go's precedence rules applied to the raw
    header blocks (GNU L/K, PAX path/linkpath, ustar prefix, '\\0' + "/" ->
    dir) and cross-checked against tarfile's own view;
  - gzip zInfo: the blob layout, N == max_span_id + 1 == len(span_digests),
    span_size; the checkpoint list recomputed from scratch with zlib's
    inflate(Z_BLOCK) through ctypes (the zran rule of section 2.2); every
    window == the 32 KiB before `out`; every checkpoint resumable the way
    upstream resumes it (raw inflate, inflatePrime of the leftover bits,
    the window as dictionary) reproduces the uncompressed bytes from `out`
    (64 KiB of them, or to the member's end); every span digest ==
    sha256 of [in_i - (bits_i != 0), in_{i+1}) (last span to the file end);
  - tar layers: the TarZinfo table (version 2, span_size, size) and digests
    of the fixed span_size slices.

Options:
  --span-size N        the span size ztoc-gen was given (default 4194304)
  --build-tool S       the expected build_tool_identifier
  --soci BIN           also run `BIN ztoc info` and `BIN ztoc get-file`:
                       info fields, and link resolution as upstream does it
                       (exact TOC name, then the linkname, recursively; a
                       link whose target is no TOC name must fail)
  --span-files         with --soci: also get-file one regular file per span
                       (the first not yet checked that overlaps it), compared
                       with the tar's bytes
  --list-files OUT     write NUL-separated pairs "TOCNAME\\0EXTRACTED\\0": every
                       regular file and hard link (compare get-file TOCNAME
                       with the GNU-tar-extracted EXTRACTED, which is the same
                       path), and every symlink that upstream resolves to a
                       regular file (EXTRACTED = the final target's path)
  --sample K           with --list-files: only every K-th pair
  --label L            name used in the summary line

Exit 0 and one summary line when everything matches; otherwise every
mismatch (up to 50) on stderr and exit 1.
"""
import ctypes
import ctypes.util
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ZTOC_FBS = os.path.join(ROOT, 'formats', 'ztoc.fbs')
ZINFO_FBS = os.path.join(ROOT, 'formats', 'zinfo.fbs')
WIN = 32768
REC = 8 + 8 + 1 + WIN


class Failures(Exception):
    pass


errors = []


def fail(msg):
    errors.append(msg)
    if len(errors) >= 50:
        raise Failures()


def expect(what, got, want):
    if got != want:
        g, w = repr(got), repr(want)
        fail('%s: ztoc has %s, expected %s' % (what, g[:300], w[:300]))
        return False
    return True


# --------------------------------------------------------------------------
# flatc decoding

def _unescape_non_utf8(text):
    # flatc --allow-non-utf8 writes bytes that are not UTF-8 as "\xNN", which
    # is not JSON: turn them into lone surrogates (\udcNN, Python's
    # surrogateescape), keeping "\\" pairs intact
    return re.sub(rb'\\(\\|x([0-9A-Fa-f]{2}))',
                  lambda m: b'\\\\' if m.group(2) is None else b'\\udc' + m.group(2), text)


def _parse_byte_array(text):
    try:
        import warnings
        import numpy
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return numpy.fromstring(text, dtype=numpy.uint8, sep=',').tobytes()
    except ImportError:
        return bytes(int(x) for x in text.split(b','))


def flatc_json(schema_text, data, tmp, stem):
    """flatc's JSON for a FlatBuffers binary; the checkpoints ubyte vector,
    if printed, is cut out and returned as bytes"""
    schema = os.path.join(tmp, stem + '.fbs')
    with open(schema, 'w') as f:
        f.write(schema_text)
    path = os.path.join(tmp, stem + '.bin')
    with open(path, 'wb') as f:
        f.write(data)
    p = subprocess.run(['flatc', '--json', '--raw-binary', '--strict-json', '--allow-non-utf8',
                        '-o', tmp, schema, '--', path], capture_output=True)
    if p.returncode != 0:
        raise SystemExit('flatc cannot decode %s: %s' % (stem, p.stderr.decode(errors='replace')))
    with open(os.path.join(tmp, stem + '.json'), 'rb') as f:
        text = f.read()
    # the checkpoints ubyte vector is printed one number per line: cut it out
    # and parse it fast
    blob = None
    a = text.find(b'"checkpoints": [')
    if a >= 0:
        b = text.index(b']', a)
        body = text[a + len(b'"checkpoints": ['):b].strip()
        blob = _parse_byte_array(body) if body else b''
        text = text[:a] + b'"checkpoints": []' + text[b + 1:]
    obj = json.loads(_unescape_non_utf8(text))
    return obj, blob


def checkpoints_blob(buf):
    """Ztoc.compression_info (id 5) -> CompressionInfo.checkpoints (id 3),
    read by hand: flatc prints a ubyte vector as ~10 bytes of JSON per byte,
    too slow for a many-MiB blob, so big ztocs are printed without it"""
    def u32(p):
        return int.from_bytes(buf[p:p + 4], 'little')

    def field(table, fid):
        vt = table - int.from_bytes(buf[table:table + 4], 'little', signed=True)
        vsize = int.from_bytes(buf[vt:vt + 2], 'little')
        if 4 + 2 * fid + 2 > vsize:
            return None
        off = int.from_bytes(buf[vt + 4 + 2 * fid:vt + 6 + 2 * fid], 'little')
        return table + off if off else None

    root = u32(0)
    f = field(root, 5)
    if f is None:
        return None
    ci = f + u32(f)
    f = field(ci, 3)
    if f is None:
        return None
    vec = f + u32(f)
    return bytes(buf[vec + 4:vec + 4 + u32(vec)])


def raw(s):
    """a flatc/tarfile string back to its bytes"""
    return s.encode('utf-8', 'surrogateescape')


# --------------------------------------------------------------------------
# Go semantics

def go_parse_pax_time(v):
    """Go archive/tar parsePAXTime -> (sec, nsec) for time.Unix"""
    ss, dot, sn = v.partition(b'.')
    sec = int(ss)                      # strconv.ParseInt; corpus values are valid
    if not sn:
        return sec, 0
    if sn.strip(b'0123456789'):
        raise ValueError('bad PAX time %r' % v)
    sn = (sn + b'0' * 9)[:9]
    nsec = int(sn)
    if ss.startswith(b'-'):
        nsec = -nsec
    return sec, nsec


EPOCH = datetime.datetime(1970, 1, 1)


def go_time_text(sec, nsec):
    """time.Unix(sec, nsec).UTC().MarshalText(): RFC 3339, trailing zeros
    trimmed, empty when the year is outside 0..9999"""
    total = sec * 10**9 + nsec
    s, ns = divmod(total, 10**9)
    if s < -62135596800 or s > 253402300799:   # datetime covers years 1..9999
        if s < -62167219200 or s > 253402300799:
            return ''
        raise SystemExit('oracle: year 0 is not handled (%d)' % s)
    dt = EPOCH + datetime.timedelta(seconds=s)
    t = '%04d-%02d-%02dT%02d:%02d:%02d' % (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)
    if ns:
        t += '.' + ('%09d' % ns).rstrip('0')
    return t + 'Z'


def nts(b):
    i = b.find(b'\0')
    return b if i < 0 else b[:i]


TYPES = {b'0': 'reg', b'1': 'hardlink', b'2': 'symlink', b'3': 'char', b'4': 'block',
         b'5': 'dir', b'6': 'fifo'}
PY_TYPES = {tarfile.REGTYPE: 'reg', tarfile.AREGTYPE: 'reg', tarfile.LNKTYPE: 'hardlink',
            tarfile.SYMTYPE: 'symlink', tarfile.CHRTYPE: 'char', tarfile.BLKTYPE: 'block',
            tarfile.DIRTYPE: 'dir', tarfile.FIFOTYPE: 'fifo'}


def expected_entry(ti, U):
    """what Go's tar reader reports for tarfile member ti, from the raw blocks"""
    hoff = ti.offset_data - 512
    b = U[hoff:hoff + 512]
    magic, version = b[257:263], b[263:265]
    if magic == b'ustar\0':
        fmt = 'star' if b[508:512] == b'tar\0' else 'ustar'
    elif magic == b'ustar ' and version == b' \0':
        fmt = 'gnu'
    else:
        fmt = 'v7'
    name = nts(b[0:100])
    if fmt in ('ustar', 'star'):
        prefix = nts(b[345:345 + (155 if fmt == 'ustar' else 131)])
        if prefix:
            name = prefix + b'/' + name
    linkname = nts(b[157:257])
    # extension headers between the group start and the member's own header
    longname = longlink = None
    pos = ti.offset
    while pos < hoff:
        e = U[pos:pos + 512]
        size = tarfile.nti(e[124:136])
        data = U[pos + 512:pos + 512 + size]
        if e[156:157] == b'L':
            longname = nts(data)
        elif e[156:157] == b'K':
            longlink = nts(data)
        elif e[156:157] not in (b'x', b'X'):
            raise SystemExit('oracle: unexpected extension header %r' % e[156:157])
        pos += 512 + (-size % 512) + size
    if pos != hoff:
        raise SystemExit('oracle: header group of %r does not end at its header' % ti.name)
    pax = {raw(k): raw(v) for k, v in ti.pax_headers.items()}
    uname = nts(b[265:297]) if fmt != 'v7' else b''
    gname = nts(b[297:329]) if fmt != 'v7' else b''
    uid, gid = tarfile.nti(b[108:116]), tarfile.nti(b[116:124])
    size = tarfile.nti(b[124:136])
    sec, nsec = tarfile.nti(b[136:148]), 0
    # Go mergePAX: empty values keep the header's field
    if pax.get(b'path'):
        name = pax[b'path']
    if pax.get(b'linkpath'):
        linkname = pax[b'linkpath']
    if pax.get(b'uname'):
        uname = pax[b'uname']
    if pax.get(b'gname'):
        gname = pax[b'gname']
    if pax.get(b'uid'):
        uid = int(pax[b'uid'])
    if pax.get(b'gid'):
        gid = int(pax[b'gid'])
    if pax.get(b'size'):
        size = int(pax[b'size'])
    if pax.get(b'mtime'):
        sec, nsec = go_parse_pax_time(pax[b'mtime'])
    if longname:
        name = longname
    if longlink:
        linkname = longlink
    flag = b[156:157]
    if flag == b'\0':
        typ = 'dir' if name.endswith(b'/') else 'reg'
    elif flag in TYPES:
        typ = TYPES[flag]
    else:
        raise SystemExit('oracle: entry type %r is not in the corpus contract' % flag)

    # cross-check with tarfile's own parse (it strips trailing '/' of dirs
    # and of PAX paths, and reads PAX times as floats)
    if name.rstrip(b'/') != raw(ti.name).rstrip(b'/'):
        raise SystemExit('oracle: raw name %r but tarfile says %r' % (name, ti.name))
    if linkname != raw(ti.linkname):
        raise SystemExit('oracle: raw linkname %r but tarfile says %r' % (linkname, ti.linkname))
    if PY_TYPES.get(ti.type) != typ or size != ti.size or uid != ti.uid or gid != ti.gid:
        raise SystemExit('oracle: raw header of %r disagrees with tarfile' % ti.name)
    if uname != raw(ti.uname) or gname != raw(ti.gname) or tarfile.nti(b[100:108]) != ti.mode:
        raise SystemExit('oracle: raw header of %r disagrees with tarfile (names/mode)' % ti.name)
    if fmt != 'v7' and (tarfile.nti(b[329:337]) != ti.devmajor or tarfile.nti(b[337:345]) != ti.devminor):
        raise SystemExit('oracle: raw devmajor/minor of %r disagree with tarfile' % ti.name)
    if not pax.get(b'mtime') and sec != ti.mtime:
        raise SystemExit('oracle: raw mtime of %r disagrees with tarfile' % ti.name)

    return {
        'name': name, 'type': typ, 'uncompressed_offset': ti.offset_data,
        'uncompressed_size': size, 'linkname': linkname, 'mode': ti.mode,
        'uid': uid & 0xffffffff, 'gid': gid & 0xffffffff, 'uname': uname, 'gname': gname,
        'mod_time': go_time_text(sec, nsec).encode(),
        'devmajor': ti.devmajor if fmt != 'v7' else 0,
        'devminor': ti.devminor if fmt != 'v7' else 0,
        'xattrs': sorted(pax.items()),
    }


def ztoc_entry(m):
    """a flatc FileMetadata object with FlatBuffers defaults filled in"""
    return {
        'name': raw(m.get('name', '')), 'type': m.get('type', ''),
        'uncompressed_offset': m.get('uncompressed_offset', 0),
        'uncompressed_size': m.get('uncompressed_size', 0),
        'linkname': raw(m.get('linkname', '')), 'mode': m.get('mode', 0),
        'uid': m.get('uid', 0), 'gid': m.get('gid', 0),
        'uname': raw(m.get('uname', '')), 'gname': raw(m.get('gname', '')),
        'mod_time': raw(m.get('mod_time', '')),
        'devmajor': m.get('devmajor', 0), 'devminor': m.get('devminor', 0),
        'xattrs': [(raw(x.get('key', '')), raw(x.get('value', ''))) for x in m.get('xattrs', [])],
    }


def archive_end(members, U):
    """(first end block, Go's byte counter when its tar reader returns
    io.EOF: just after the second zero block, section 3.6)"""
    pos = 0
    if members:
        last = members[-1]
        pos = last['uncompressed_offset']
        if last['type'] not in ('hardlink', 'symlink', 'char', 'block', 'dir', 'fifo'):
            pos += last['uncompressed_size'] + (-last['uncompressed_size'] % 512)
    zero = bytes(512)
    if U[pos:pos + 512] != zero:
        raise SystemExit('oracle: no end-of-archive block at %d' % pos)
    if len(U) <= pos + 512:
        return pos, len(U)              # a lone zero block, then EOF: fine for Go
    if U[pos + 512:pos + 1024] != zero:
        raise SystemExit('oracle: zero block followed by data at %d' % pos)
    return pos, pos + 1024


# --------------------------------------------------------------------------
# zran through ctypes: the checkpoint positions, recomputed

class ZStream(ctypes.Structure):
    _fields_ = [('next_in', ctypes.c_void_p), ('avail_in', ctypes.c_uint),
                ('total_in', ctypes.c_ulong), ('next_out', ctypes.c_void_p),
                ('avail_out', ctypes.c_uint), ('total_out', ctypes.c_ulong),
                ('msg', ctypes.c_char_p), ('state', ctypes.c_void_p),
                ('zalloc', ctypes.c_void_p), ('zfree', ctypes.c_void_p),
                ('opaque', ctypes.c_void_p), ('data_type', ctypes.c_int),
                ('adler', ctypes.c_ulong), ('reserved', ctypes.c_ulong)]


_LIBZ = []


def _libz():
    if not _LIBZ:
        libz = ctypes.CDLL(ctypes.util.find_library('z') or 'libz.so.1')
        libz.zlibVersion.restype = ctypes.c_char_p
        _LIBZ.append(libz)
    return _LIBZ[0]


def zran_checkpoints(data, span_size):
    """upstream's generate_zinfo rule: after every inflate(Z_BLOCK) call, a
    checkpoint iff at a block boundary (data_type & 128), not in the last
    block (!(data_type & 64)), and totout == 0 or totout - last > span_size;
    members followed across inflateReset2(47)"""
    libz = _libz()
    version = libz.zlibVersion()
    s = ZStream()
    if libz.inflateInit2_(ctypes.byref(s), 47, version, ctypes.sizeof(s)) != 0:
        raise SystemExit('oracle: inflateInit2 failed')
    inbuf = ctypes.create_string_buffer(data, len(data))
    outbuf = ctypes.create_string_buffer(1 << 20)
    s.next_in = ctypes.addressof(inbuf)
    s.avail_in = len(data)
    totin = totout = last = 0
    cps = []
    try:
        while True:
            s.next_out = ctypes.addressof(outbuf)
            s.avail_out = 1 << 20
            ai, ao = s.avail_in, s.avail_out
            ret = libz.inflate(ctypes.byref(s), 5)          # Z_BLOCK
            totin += ai - s.avail_in
            totout += ao - s.avail_out
            if ret == 1:                                    # Z_STREAM_END
                if s.avail_in == 0:
                    break
                libz.inflateReset2(ctypes.byref(s), 47)
                continue
            if ret == -5 and s.avail_in == 0:
                raise SystemExit('oracle: truncated gzip stream')
            if ret not in (0, -5):
                raise SystemExit('oracle: inflate error %d' % ret)
            dt = s.data_type
            if (dt & 128) and not (dt & 64) and (totout == 0 or totout - last > span_size):
                cps.append((totin, totout, dt & 7))
                last = totout
    finally:
        libz.inflateEnd(ctypes.byref(s))
    return cps, totin, totout


def resumes(data, U, cin, cout, bits, window):
    """upstream's extract (section 2.5) through ctypes: raw inflate from the
    checkpoint, inflatePrime the leftover bits, the window as dictionary;
    True if that reproduces U from cout"""
    libz = _libz()
    s = ZStream()
    if libz.inflateInit2_(ctypes.byref(s), -15, libz.zlibVersion(), ctypes.sizeof(s)) != 0:
        raise SystemExit('oracle: inflateInit2 failed')
    try:
        start = cin - (1 if bits else 0)
        chunk = data[start:start + 131072]
        inbuf = ctypes.create_string_buffer(chunk, len(chunk))
        s.next_in = ctypes.addressof(inbuf)
        s.avail_in = len(chunk)
        if bits:
            libz.inflatePrime(ctypes.byref(s), bits, chunk[0] >> (8 - bits))
            s.next_in += 1
            s.avail_in -= 1
        if libz.inflateSetDictionary(ctypes.byref(s), window, len(window)) != 0:
            return False
        want = min(65536, len(U) - cout)
        outbuf = ctypes.create_string_buffer(max(want, 1))
        s.next_out = ctypes.addressof(outbuf)
        s.avail_out = want
        while s.avail_out > 0:
            ret = libz.inflate(ctypes.byref(s), 0)         # Z_NO_FLUSH
            if ret == 1:                                    # a member ends: compare what we have
                break
            if ret != 0:
                return False
        got = outbuf.raw[:want - s.avail_out]
    finally:
        libz.inflateEnd(ctypes.byref(s))
    if not got and want > 0:
        return False
    return got == U[cout:cout + len(got)]


# --------------------------------------------------------------------------

def check(args):
    with open(args.layer, 'rb') as f:
        data = f.read()
    with open(args.ztoc, 'rb') as f:
        zbytes = f.read()
    is_gzip = data[:2] == b'\x1f\x8b'
    U = gzip.decompress(data) if is_gzip else data
    tmp = tempfile.mkdtemp(prefix='check_ztoc.')
    try:
        with open(ZTOC_FBS) as f:
            schema = f.read()
        blob = checkpoints_blob(zbytes)
        if len(zbytes) < (1 << 20):
            # small: flatc prints the blob too, which checks the hand reader
            z, fblob = flatc_json(schema, zbytes, tmp, 'ztoc')
            if fblob != blob:
                raise SystemExit('oracle: flatc and the hand reader disagree on the checkpoints blob')
        else:
            stripped = re.sub(r'\n\s*checkpoints:\[ubyte\];', '\n', schema)
            if stripped == schema:
                raise SystemExit('oracle: cannot find checkpoints in %s' % ZTOC_FBS)
            z, _ = flatc_json(stripped, zbytes, tmp, 'ztoc')
        tz = None
        if not is_gzip and blob is not None:
            with open(ZINFO_FBS) as f:
                tz, _ = flatc_json(f.read(), blob, tmp, 'tarzinfo')
    finally:
        for n in os.listdir(tmp):
            os.unlink(os.path.join(tmp, n))
        os.rmdir(tmp)

    # ---- header
    expect('version', z.get('version'), '0.9')
    if args.build_tool is not None:
        expect('build_tool_identifier', z.get('build_tool_identifier', ''), args.build_tool)
    expect('compressed_archive_size', z.get('compressed_archive_size', 0), len(data))
    ci = z.get('compression_info', {})
    expect('compression_algorithm', ci.get('compression_algorithm', 'Gzip'),
           'Gzip' if is_gzip else 'Uncompressed')

    # ---- TOC
    tf = tarfile.open(fileobj=io.BytesIO(U), mode='r:', encoding='utf-8', errors='surrogateescape')
    want = [expected_entry(ti, U) for ti in tf.getmembers()]
    got = [ztoc_entry(m) for m in z.get('toc', {}).get('metadata', [])]
    expect('number of TOC entries', len(got), len(want))
    for i, (g, w) in enumerate(zip(got, want)):
        for k in w:
            expect('entry %d (%r) %s' % (i, w['name'][:80], k), g[k], w[k])
    eof_block, uas = archive_end(want, U)
    if tf.offset != eof_block:
        raise SystemExit('oracle: tarfile stopped at %d, end block computed at %d' % (tf.offset, eof_block))
    expect('uncompressed_archive_size', z.get('uncompressed_archive_size', 0), uas)

    # ---- zInfo
    digests = ci.get('span_digests', [])
    max_span = ci.get('max_span_id', 0)
    spans = []            # (compressed start, compressed end, uncompressed start, end)
    if is_gzip:
        if blob is None or len(blob) < 12:
            fail('gzip zInfo blob missing or shorter than its header')
            raise Failures()
        n = int.from_bytes(blob[0:4], 'little', signed=True)
        span_size = int.from_bytes(blob[4:12], 'little', signed=True)
        expect('zInfo span_size', span_size, args.span_size)
        if not expect('zInfo blob length (v2, N=%d)' % n, len(blob), 12 + n * REC):
            raise Failures()
        cps = []
        for i in range(n):
            r = blob[12 + i * REC:12 + (i + 1) * REC]
            cps.append((int.from_bytes(r[0:8], 'little', signed=True),
                        int.from_bytes(r[8:16], 'little', signed=True), r[16], r[17:]))
        zr, totin, totout = zran_checkpoints(data, args.span_size)
        if totin != len(data) or totout != len(U):
            raise SystemExit('oracle: zran saw %d/%d bytes, gzip %d/%d' % (totin, totout, len(data), len(U)))
        expect('checkpoints (in, out, bits)', [c[:3] for c in cps], zr)
        expect('max_span_id', max_span, n - 1)
        for i, (cin, cout, bits, window) in enumerate(cps):
            want_win = (bytes(WIN) + U[max(0, cout - WIN):cout])[-WIN:]
            expect('checkpoint %d window' % i, window == want_win, True)
            if not resumes(data, U, cin, cout, bits, window):
                fail('checkpoint %d (in %d, out %d, bits %d): inflate does not resume there'
                     % (i, cin, cout, bits))
            cs = cin - (1 if bits else 0)
            ce = cps[i + 1][0] if i + 1 < n else len(data)
            ue = cps[i + 1][1] if i + 1 < n else uas
            spans.append((cs, ce, cout, ue))
    else:
        if tz is None:
            fail('tar zInfo (TarZinfo table) missing')
            raise Failures()
        expect('TarZinfo version', tz.get('version', 0), 2)
        expect('TarZinfo span_size', tz.get('span_size', 0), args.span_size)
        expect('TarZinfo size', tz.get('size', 0), len(data))
        S = args.span_size
        nspans = (len(data) + S - 1) // S
        expect('max_span_id', max_span, nspans - 1)
        for i in range(nspans):
            spans.append((i * S, min((i + 1) * S, len(data)), i * S, min((i + 1) * S, uas)))
    if expect('number of span digests', len(digests), len(spans)):
        for i, (cs, ce, _, _) in enumerate(spans):
            d = 'sha256:' + hashlib.sha256(data[cs:ce]).hexdigest()
            expect('span %d digest [%d, %d)' % (i, cs, ce), digests[i], d)

    if args.soci and not errors:
        check_with_soci(args, z, want, spans, U, len(zbytes))
    if args.list_files:
        write_list(args, want)
    return want, spans


def span_of(spans, off, is_gzip):
    if not is_gzip:
        return off // (spans[1][0] - spans[0][0]) if len(spans) > 1 else 0
    i = 0
    for k, sp in enumerate(spans):
        if sp[2] <= off:
            i = k
    return i


def resolve(entries, index, name):
    """upstream get-file: exact TOC name, then the linkname, recursively"""
    for _ in range(40):
        i = index.get(name)
        if i is None:
            return None
        if entries[i]['linkname']:
            name = entries[i]['linkname']
            continue
        return i
    return None


def run_get_file(args, name):
    return subprocess.run([args.soci, 'ztoc', 'get-file', args.ztoc, args.layer, name],
                          capture_output=True)


def check_with_soci(args, z, entries, spans, U, zsize):
    is_gzip = args.layer_is_gzip
    # ztoc info: summary and per-file spans, computed from the spec (5.6)
    p = subprocess.run([args.soci, 'ztoc', 'info', args.ztoc], capture_output=True)
    if p.returncode != 0:
        fail('soci ztoc info failed: %s' % p.stderr.decode(errors='replace'))
    else:
        info = json.loads(p.stdout)
        multi = 0
        files = []
        for e in entries:
            a = span_of(spans, e['uncompressed_offset'], is_gzip)
            b = span_of(spans, e['uncompressed_offset'] + e['uncompressed_size'], is_gzip)
            multi += a != b
            files.append({'filename': e['name'].decode('utf-8', 'replace'),
                          'offset': e['uncompressed_offset'], 'size': e['uncompressed_size'],
                          'type': e['type'], 'start_span': a, 'end_span': b})
        expect('info version', info.get('version'), '0.9')
        expect('info size', info.get('size'), zsize)
        expect('info span_size', info.get('span_size'), args.span_size)
        expect('info num_spans', info.get('num_spans'), len(spans))
        expect('info num_files', info.get('num_files'), len(entries))
        expect('info num_multi_span_files', info.get('num_multi_span_files'), multi)
        for i, (g, w) in enumerate(zip(info.get('files') or [], files)):
            if '\ufffd' in w['filename']:
                # not UTF-8: Go's JSON replacement rules are not modelled here
                g, w = dict(g, filename=None), dict(w, filename=None)
            expect('info file %d' % i, g, w)

    index = {}
    for i, e in enumerate(entries):
        index.setdefault(e['name'], i)
    checked = set()

    def get_and_compare(i, why):
        e = entries[i]
        name = e['name']
        t = resolve(entries, index, name)
        p = run_get_file(args, name)
        if t is None:
            if p.returncode == 0:
                fail('get-file %r (%s): upstream finds no target, but it succeeded' % (name, why))
            return
        te = entries[t]
        want = U[te['uncompressed_offset']:te['uncompressed_offset'] + te['uncompressed_size']]
        if p.returncode != 0:
            fail('get-file %r (%s) failed: %s' % (name, why, p.stderr.decode(errors='replace').strip()))
        elif p.stdout != want:
            fail('get-file %r (%s): %d bytes differ from the %d bytes of %r in the tar'
                 % (name, why, len(p.stdout), len(want), te['name']))
        checked.add(i)

    # every link, resolved as upstream does
    for i, e in enumerate(entries):
        if e['type'] in ('symlink', 'hardlink'):
            get_and_compare(i, e['type'])
    # one regular file per span: the checkpoints resume
    for si, (_, _, us, ue) in enumerate(spans if args.span_files else []):
        for i, e in enumerate(entries):
            if e['type'] != 'reg' or i in checked or e['uncompressed_size'] == 0:
                continue
            a, b = e['uncompressed_offset'], e['uncompressed_offset'] + e['uncompressed_size']
            if a < ue and b > us and index.get(e['name']) == i:
                get_and_compare(i, 'span %d' % si)
                break


def write_list(args, entries):
    index = {}
    for i, e in enumerate(entries):
        index.setdefault(e['name'], i)
    pairs = []
    for i, e in enumerate(entries):
        if index.get(e['name']) != i:
            continue                     # a later duplicate: get-file finds the first
        t = resolve(entries, index, e['name'])
        if t is None or entries[t]['type'] != 'reg':
            continue
        if e['type'] in ('reg', 'hardlink'):
            pairs.append((e['name'], e['name']))
        elif e['type'] == 'symlink':
            pairs.append((e['name'], entries[t]['name']))
    if args.sample > 1:
        pairs = pairs[::args.sample]
    with open(args.list_files, 'wb') as f:
        for a, b in pairs:
            f.write(a + b'\0' + b + b'\0')


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('layer')
    ap.add_argument('ztoc')
    ap.add_argument('--span-size', type=int, default=4194304)
    ap.add_argument('--build-tool')
    ap.add_argument('--soci')
    ap.add_argument('--span-files', action='store_true')
    ap.add_argument('--list-files')
    ap.add_argument('--sample', type=int, default=1)
    ap.add_argument('--label')
    args = ap.parse_args()
    with open(args.layer, 'rb') as f:
        args.layer_is_gzip = f.read(2) == b'\x1f\x8b'
    label = args.label or os.path.basename(args.layer)
    try:
        want, spans = check(args)
    except Failures:
        want, spans = [], []
    if errors:
        for e in errors:
            print('MISMATCH %s: %s' % (label, e), file=sys.stderr)
        print('FAIL %s: %d mismatches' % (label, len(errors)), file=sys.stderr)
        sys.exit(1)
    print('ok %s: %d entries, %d spans (span size %d), %s' % (
        label, len(want), len(spans), args.span_size,
        'checkpoints recomputed, windows/digests/resume verified' if args.layer_is_gzip
        else 'tar spans verified'))


if __name__ == '__main__':
    main()
