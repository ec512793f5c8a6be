"""rawtar.py -- ustar header blocks byte by byte, for tests that need what
tarfile will not write (a size on a directory, fifo or link; a chosen ustar
prefix).

  ustar_header(b"d/", 700, b"5")                  a directory claiming 700 bytes
  ustar_header(b"f.txt", 9, b"0", prefix=b"a/b")  the file a/b/f.txt
  pad(data)                                       data to a 512-byte multiple
  checksum(h, tail=b"\0\x18")                     the checksum redone, these 2 bytes after its digits
  set_field(h, 124, b"0000001274\0Z")             raw bytes in a field, the checksum redone

Mode 0755 for directories, 0644 otherwise; uid and gid 0; mtime
1700000000.  Standard library only.
"""


def ustar_header(name, size, typeflag, prefix=b"", linkname=b""):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000755\0" if typeflag == b"5" else b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"14524000000\0"
    h[156:157] = typeflag
    h[157:157 + len(linkname)] = linkname
    h[257:265] = b"ustar\x0000"
    h[345:345 + len(prefix)] = prefix
    return checksum(h)


def checksum(h, tail=b"\0 "):
    """h with its checksum field redone: six octal digits, then tail (the
    two bytes readers ignore after a NUL, or a NUL and a space)"""
    h = bytearray(h)
    h[148:156] = b" " * 8
    h[148:156] = b"%06o" % sum(h) + tail
    return bytes(h)


def set_field(h, off, raw):
    """h with raw at offset off, and its checksum redone"""
    h = bytearray(h)
    h[off:off + len(raw)] = raw
    return checksum(h)


def pad(data):
    return data + b"\0" * (-len(data) % 512)
