"""Luxembourg Smarty P1: find AES-128-GCM frames in the byte stream and decrypt them.

A frame is
    DB 08 <system title: 8> 82 <len: 2, big-endian> 30 <frame counter: 4>
    <ciphertext> <tag: 12>
where len counts from the 30 byte to the end (17 + ciphertext length). The IV
is system title + frame counter; the AAD is 30 + the 16-byte authentication key
(configurable, default 3000112233445566778899AABBCCDDEEFF). The plaintext is an
ordinary DSMR 5 telegram.
"""
from micropython import const

from aesgcm import AesGcm

_HEADER = const(18)  # DB 08, system title, 82, len, 30, frame counter
_LEN_END = const(13)  # len counts the bytes after its own two
_TAG = const(12)
_OVERHEAD = const(17)  # 30 + frame counter + tag, all counted in len
MAX_FRAME = const(4126)  # header + tag + a plaintext as long as the framer takes (4 KB)


def _frame_length(header, max_len):
    """Total length of the frame whose first 18 bytes are header; ValueError if none."""
    if header[0] != 0xDB or header[1] != 0x08:
        raise ValueError("not a Smarty frame (no DB 08)")
    if header[10] != 0x82 or header[13] != 0x30:
        raise ValueError("unexpected Smarty header bytes")
    n = header[11] << 8 | header[12]
    if n <= _OVERHEAD or n + _LEN_END > max_len:  # no ciphertext, or bigger than the buffer
        raise ValueError("Smarty length field %d out of range" % n)
    return n + _LEN_END


def _iv(frame, iv):
    iv[0:8] = frame[2:10]  # system title
    iv[8:12] = frame[14:18]  # frame counter


class SmartyDecoder:
    """Stream decoder: feed() bytes as they come, on_plaintext(bytes) per good frame.

    counters: frames (decrypted and authentic), auth_failed (wrong key or
    damaged frame), malformed (DB 08 followed by an impossible header). Bad
    frames are counted and skipped; the decoder never raises on input.
    """

    def __init__(self, key16, aad, on_plaintext, max_len=MAX_FRAME):
        self._gcm = AesGcm(key16)  # ValueError unless 16 bytes
        self._aad = bytes(aad)
        self._on_plaintext = on_plaintext
        self._max = max_len
        self._buf = bytearray(max_len)
        self._mv = memoryview(self._buf)
        self._iv = bytearray(12)
        self._n = 0  # bytes of the current frame in _buf; 0 while hunting
        self._need = _HEADER  # bytes the current frame needs before the next step
        self.counters = {"frames": 0, "auth_failed": 0, "malformed": 0}

    def feed(self, chunk):
        """Consume bytes (any size, any split); decrypts each frame completed."""
        buf = self._buf
        chunk = memoryview(chunk)
        size = len(chunk)
        i = 0
        while i < size:
            n = self._n
            if n < 2:
                # Hunting for DB 08 byte by byte: only noise or a lost frame's tail.
                b = chunk[i]
                i += 1
                if n == 0:
                    if b == 0xDB:
                        buf[0] = b
                        self._n = 1
                elif b == 0x08:
                    buf[1] = b
                    self._n = 2
                elif b != 0xDB:  # DB DB 08 still starts at the second DB
                    self._n = 0
                continue
            k = min(self._need - n, size - i)
            self._mv[n:n + k] = chunk[i:i + k]
            i += k
            n += k
            self._n = n
            if n < self._need:
                continue
            if n == _HEADER:
                try:
                    self._need = _frame_length(buf, self._max)
                except ValueError:
                    self.counters["malformed"] += 1
                    self._restart(n)
                continue
            self._n = 0
            self._need = _HEADER
            self._decrypt(n)

    def _restart(self, n, start=2):
        """``buf[:n]`` is no frame, or one already handled: go on from the next DB 08 at ``start`` or later.

        A frame that lost bytes on the line takes the head of the next one to
        make up its length; finding that head again saves the next frame, and a
        whole frame found in there is decrypted like any other. The bytes move
        to the front in place: nothing is allocated, nothing recurses.
        """
        buf = self._buf
        while True:
            j = buf.find(b"\xdb\x08", start, n)
            if j < 0:  # none; a DB at the very end may still meet its 08
                j = n - 1 if n > start and buf[n - 1] == 0xDB else n
            m = n - j
            for k in range(m):
                buf[k] = buf[j + k]
            self._n = n = m
            self._need = _HEADER
            if n < _HEADER:
                return
            try:
                self._need = _frame_length(buf, self._max)
            except ValueError:
                self.counters["malformed"] += 1
                start = 2
                continue
            if n < self._need:
                return
            start = self._need if self._open(self._need) else 2  # then what follows it

    def _decrypt(self, n):
        if not self._open(n):
            self._restart(n)  # the buffer is untouched: a frame may start inside it

    def _open(self, n):
        """Decrypt the frame in buf[:n] and hand it over; False (counted) if it is not authentic."""
        mv = self._mv
        _iv(mv, self._iv)
        text = mv[_HEADER:n - _TAG]
        try:
            self._gcm.decrypt_into(self._iv, self._aad, text, mv[n - _TAG:n], text)
        except ValueError:
            self.counters["auth_failed"] += 1
            return False
        self.counters["frames"] += 1
        self._on_plaintext(bytes(text))
        return True
