"""Cut a P1 byte stream into telegrams and check their CRC.

Feed it UART chunks of any size. It resynchronises on every ``/`` (which only
ever starts a telegram), discards noise between telegrams, never holds more than ``max_len``
bytes, and reports every telegram it finds through one callback:

    on_telegram(status, crc, buf, n)

``status`` is "valid", "crc_mismatch", "malformed" (truncated: a new telegram
began before ``!``, or the CRC field is not hex) or "too_long"; or "full" when
the owner made ``room`` less than the buffer and a telegram is to grow past it
(no telegram yet: the callback must make ``room`` the whole buffer); ``crc`` is
"ok", "absent" (DSMR 2.2/3 end with a bare ``!``) or "mismatch". Once a meter
has sent a matching CRC, a telegram without one is "malformed": its CRC was lost.
A ``!`` that does not start a line is a damaged byte: "malformed". The telegram
is ``buf[:n]``, in the framer's own buffer: copy it to keep it.
"""
from micropython import const

from crc16 import crc16

_IDLE = const(0)  # looking for "/"
_BODY = const(1)  # inside a telegram, looking for "!"
_TAIL = const(2)  # after "!", collecting the CRC up to LF
_MAX_TAIL = const(8)  # "!" + 4 hex digits + CR LF, with room for stray spaces



class Framer:
    def __init__(self, on_telegram, max_len=4096):
        self.on_telegram = on_telegram
        self.buf = bytearray(max_len)
        self._mv = memoryview(self.buf)
        self._n = 0
        self._bang = 0  # index of "!" in buf once in _TAIL
        self._state = _IDLE
        self._crc_seen = False  # once the meter sent a CRC, a telegram without one is damaged
        self.counters = {"valid": 0, "crc_mismatch": 0, "malformed": 0, "too_long": 0}
        # How much of buf a telegram may fill: the owner may keep bytes at its end
        # (p1reader), and is told (status "full") before a telegram grows into them.
        self.room = max_len

    def reset(self):
        """Drop any partial telegram and what was learnt of the meter (after a baud change)."""
        self._state = _IDLE
        self._n = 0
        self._crc_seen = False

    def feed(self, data, n=None):
        """Consume the first ``n`` bytes of ``data`` (all when n is None)."""
        if n is None:
            n = len(data)
        src = memoryview(data)
        i = 0
        while i < n:
            state = self._state
            if state == _IDLE:
                j = data.find(b"/", i, n)
                if j < 0:
                    return
                self._n = 0
                self._state = _BODY
                i = j
            elif state == _BODY:
                i = self._body(data, src, i, n)
            else:
                i = self._tail(data, src, i, n)

    def _append(self, src, i, j):
        """Copy src[i:j] into the buffer; False (and report) when it would overflow."""
        k = self._n + j - i
        if k > self.room < len(self.buf):
            self.on_telegram("full", "absent", self.buf, self._n)  # the owner makes room all of buf
        if k > len(self.buf):
            room = len(self.buf) - self._n
            self._mv[self._n:] = src[i:i + room]
            self._n = len(self.buf)
            self._report("too_long", "absent")
            return False
        self._mv[self._n:k] = src[i:j]
        self._n = k
        return True

    def _body(self, data, src, i, n):
        # The first byte of a telegram is its "/"; any later "/" before "!"
        # means this one was cut off (DSMR data never holds a raw "/").
        start = i + 1 if self._n == 0 else i
        bang = data.find(b"!", start, n)
        slash = data.find(b"/", start, n if bang < 0 else bang)
        if slash >= 0:
            if self._append(src, i, slash):
                self._report("malformed", "absent")
            return slash
        if bang < 0:
            self._append(src, i, n)
            return n
        if self._append(src, i, bang + 1):
            if self.buf[self._n - 2] != 0x0A:
                # "!" ends a telegram only at the start of a line; mid-line it is a
                # damaged byte (")" -> "!"), which a CRC-less check would pass.
                self._report("malformed", "absent")
                return bang + 1
            self._bang = self._n - 1
            self._state = _TAIL
        return bang + 1

    def _tail(self, data, src, i, n):
        lf = data.find(b"\n", i, n)
        slash = data.find(b"/", i, n if lf < 0 else lf)
        end = n if lf < 0 else lf + 1
        if slash >= 0:
            end = slash  # a new telegram right after "!": no LF came
        ok = self._n + end - i - self._bang <= _MAX_TAIL
        if not ok:
            if not self._append(src, i, min(end, i + _MAX_TAIL)):
                return end
        elif not self._append(src, i, end) or lf < 0 and slash < 0:
            return end
        # The telegram is whole: check the CRC after "!".
        buf = self.buf
        b = self._bang
        crc = 0
        digits = 0
        for k in range(b + 1, self._n if ok else b + 1):
            c = buf[k]
            if c in (0x0D, 0x0A, 0x20):
                continue
            if 0x30 <= c <= 0x39:
                v = c - 0x30
            elif 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66:
                v = (c | 0x20) - 0x57
            else:
                ok = False
                break
            crc = (crc << 4) | v
            digits += 1
        if not ok or digits > 4 or (digits == 0 and self._crc_seen):
            self._report("malformed", "absent")
        elif digits == 0:
            self._report("valid", "absent")
        elif crc16(buf, 0, b + 1) == crc:
            self._crc_seen = True  # only a matching CRC: a damaged byte can fake one
            self._report("valid", "ok")
        else:
            self._report("crc_mismatch", "mismatch")
        self._state = _IDLE
        self._n = 0
        return end

    def _report(self, status, crc):
        self.counters[status] += 1
        self._state = _IDLE
        self.on_telegram(status, crc, self.buf, self._n)
