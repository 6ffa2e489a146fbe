"""Register image: a block map of 16-bit Modbus registers, double-buffered.

A template (``empro.py``, ``sdm630.py``) declares its blocks and writes every
value of a reading into the back buffer; ``commit()`` swaps it in whole, so a
request that takes ``image.front`` once answers from exactly one telegram.
Both buffers are allocated once: nothing grows per telegram or per request.
Registers inside a block that no value covers stay 0 (masters read across
such gaps, e.g. OpenEMS reads 57 registers from EMPro 0x8006). A value
written as None is one the meter did not send: its registers are marked
missing (``lacks``), and a read that covers one is refused, never served as 0.
``holding``: the image FC03 reads where it differs from FC04's (the SDM630's
settings); None, FC03 and FC04 read the same registers (the EMPro).
"""
import struct


class RegImage:
    def __init__(self, blocks, low_word_first):
        """``blocks``: ((start, count, live), ...); ``live`` marks measured data (stale-checked)."""
        self.starts = tuple(b[0] for b in blocks)
        self.ends = tuple(b[0] + b[1] for b in blocks)
        self.live = tuple(b[2] for b in blocks)
        offsets = []
        size = 0
        for b in blocks:
            offsets.append(size)
            size += 2 * b[1]
        self.offsets = tuple(offsets)
        self.low_word_first = low_word_first
        self.front = bytearray(size)
        self._back = bytearray(size)
        self.missing = bytearray(size // 2)  # 1 per register of the front whose value is unknown
        self._back_missing = bytearray(size // 2)
        self.holding = None  # type: RegImage | None
        self.holding_serial = None  # type: str | None  # the serial ``holding`` was written for

    def locate(self, addr, qty):
        """Index of the block holding registers addr..addr+qty-1 entirely, or -1."""
        for i in range(len(self.starts)):
            if self.starts[i] <= addr and addr + qty <= self.ends[i]:
                return i
        return -1

    def lacks(self, i, addr, qty):
        """Whether registers addr..addr+qty-1 of block ``i`` hold a value the meter did not send."""
        r = self.offsets[i] // 2 + addr - self.starts[i]
        return self.missing.find(b"\x01", r, r + qty) >= 0

    def _at(self, addr, nregs, value=0):
        """The back buffer's offset of ``addr``; marks its ``nregs`` registers missing when ``value`` is None."""
        i = self.locate(addr, nregs)
        if i < 0:  # a template bug, never client input
            raise ValueError("register 0x%04X not mapped" % addr)
        o = self.offsets[i] + 2 * (addr - self.starts[i])
        flag = value is None
        for k in range(o // 2, o // 2 + nregs):
            self._back_missing[k] = flag
        return o

    def commit(self):
        """Swap the back buffer (just written) in as the served image."""
        self.front, self._back = self._back, self.front
        self.missing, self._back_missing = self._back_missing, self.missing

    # -- writers: each targets the back buffer ---------------------------

    def put(self, addr, value, fmt=">f"):
        """``value`` at ``addr`` as ``fmt``: ">f" float32 (two registers, in the
        template's word order), ">I" uint32 (same) or ">h" int16; None: missing."""
        n = 1 if fmt == ">h" else 2
        o = self._at(addr, n, value)
        b = self._back
        struct.pack_into(fmt, b, o, value or 0)
        if n == 2 and self.low_word_first:
            # big-endian ABCD -> CDAB in place, no allocation
            b[o], b[o + 2] = b[o + 2], b[o]
            b[o + 1], b[o + 3] = b[o + 3], b[o + 1]

    def text(self, addr, nregs, s):
        """ASCII, two characters per register, the first one in the LOW byte; 0-padded."""
        o = self._at(addr, nregs)
        b = self._back
        n = len(s)
        for i in range(2 * nregs):
            c = ord(s[i]) if i < n else 0
            # register = c0 | c1 << 8, sent high byte first: c1 then c0
            b[o + (i ^ 1)] = c if c < 0x80 else 0x3F  # non-ASCII -> "?"
