"""CRC-16/ARC as P1 telegrams use it: poly 0x8005 reflected (0xA001), init 0, no final XOR.

Table-driven: one lookup per byte. The table is 512 bytes in an ``array``
rather than a tuple of ints, which would cost 4-8x the RAM.
"""
from array import array


def _table():
    t = array("H", bytes(512))
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        t[i] = c
    return t


_TABLE = _table()


def crc16(buf, start=0, end=None):
    """Return the CRC-16/ARC of ``buf[start:end]`` without slicing it."""
    if end is None:
        end = len(buf)
    t = _TABLE
    crc = 0
    for c in memoryview(buf)[start:end]:  # iterating beats indexing on both runtimes
        crc = (crc >> 8) ^ t[(crc ^ c) & 0xFF]
    return crc
