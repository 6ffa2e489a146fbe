"""CRC-16/ARC as P1 telegrams use it: poly 0x8005 reflected (0xA001), init 0, no final XOR.

Two lookups per byte in a 16-entry table, one per nibble: a constant tuple,
which the p1gw image keeps in flash (a 256-entry table built at import took
512 bytes of a 64 KB heap to save one lookup per byte).
"""

# CRC of each nibble value over its 4 bits
_NIBBLE = (0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
           0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400)


def crc16(buf, start=0, end=None):
    """Return the CRC-16/ARC of ``buf[start:end]`` without slicing it."""
    if end is None:
        end = len(buf)
    t = _NIBBLE
    crc = 0
    for c in memoryview(buf)[start:end]:  # iterating beats indexing on both runtimes
        crc = (crc >> 4) ^ t[(crc ^ c) & 0xF]
        crc = (crc >> 4) ^ t[(crc ^ (c >> 4)) & 0xF]
    return crc
