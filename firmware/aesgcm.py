"""AES-128-GCM decrypt-and-verify (NIST SP 800-38D) on top of cryptolib's AES-ECB.

Only what the Luxembourg Smarty P1 port needs: 96-bit IVs, tags of 12 to 16
bytes, decryption. cryptolib.aes does the block cipher in C (ECB, many counter
blocks per call); this module adds counter mode and GHASH in plain Python,
written for MicroPython on an ESP32: per message it allocates only a few
memoryview objects.

- No big ints in the per-byte work: an ESP32 small int holds 30 unsigned
  bits, anything larger is a heap object per operation. A GHASH element is kept
  as five small-int limbs of 24, 26, 26, 26 and 26 bits.
- Multiplication by H is Shoup's 4-bit method: per nibble, shift the
  accumulator by 4 (multiply by x^4), fold the 4 bits shifted out back in from
  a 16-entry table, and XOR in a 16-entry table of nibble multiples of H.
  Tables: 6 x 16 small ints per key.
- GCM bit order: a block's bytes are read big-endian and its first bit is the
  x^0 coefficient, so multiplying by x is a right shift.
"""
import struct

import cryptolib
from micropython import const

_CHUNK = const(256)  # bytes of keystream made per cryptolib call
_MIN_TAG = const(12)
_LIMB = const(0x3FFFFFF)  # the four low limbs hold 26 bits, the top one 24


def _mulx(v):
    """v * x in GF(2^128), v a 128-bit int in GCM bit order (set-up only)."""
    return (v >> 1) ^ (0xE1 << 120) if v & 1 else v >> 1


def _limbs(v):
    return (v >> 104, (v >> 78) & _LIMB, (v >> 52) & _LIMB, (v >> 26) & _LIMB, v & _LIMB)


class AesGcm:
    """AES-128-GCM with one fixed 16-byte key: verifies, then decrypts."""

    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("AES-128 key must be 16 bytes")
        self._aes = cryptolib.aes(bytes(key), 1)
        self._ctr = bytearray(_CHUNK)  # counter blocks
        self._ks = bytearray(_CHUNK)  # their encryption: the keystream
        self._y = bytearray(16)  # GHASH state between blocks
        self._pad = bytearray(16)  # a zero-padded last block, the length block
        self._aes.encrypt(self._y, self._pad)
        v = int.from_bytes(self._pad, "big")  # H = E(K, 0^128)
        # Nibble n (bit 8 = x^0 .. bit 1 = x^3) times H, one list per limb.
        tabs = [[0] * 16 for _ in range(5)]
        bit = 8
        while bit:
            for t, limb in zip(tabs, _limbs(v)):
                t[bit] = limb
            v = _mulx(v)
            bit >>= 1
        for t in tabs:
            for n in range(3, 16):
                low = n & -n
                t[n] = t[low] ^ t[n ^ low]
        self._m = tabs
        # The 4 bits a shift by 4 drops stand for x^124..x^127; times x^4 they
        # reduce to x^0..x^10, which all lie in the top limb.
        fold = []
        for r in range(16):
            v = r
            for _ in range(4):
                v = _mulx(v)
            fold.append(v >> 104)
        self._fold = fold

    def _hash(self, data, end):
        """Absorb the whole 16-byte blocks of data[0:end] into the GHASH state."""
        ma, mb, mc, md, me = self._m
        fold = self._fold
        y = self._y
        for off in range(0, end, 16):
            a = b = c = d = e = 0
            # Horner from the last nibble (highest power of x) to the first.
            for i in range(off + 15, off - 1, -1):
                w = data[i] ^ y[i - off]
                for shift in (0, 4):  # low nibble, then high; a constant tuple allocates nothing
                    n = (w >> shift) & 15
                    r = e & 15
                    e = (e >> 4) ^ ((d & 15) << 22) ^ me[n]
                    d = (d >> 4) ^ ((c & 15) << 22) ^ md[n]
                    c = (c >> 4) ^ ((b & 15) << 22) ^ mc[n]
                    b = (b >> 4) ^ ((a & 15) << 22) ^ mb[n]
                    a = (a >> 4) ^ fold[r] ^ ma[n]
            y[0] = a >> 16
            y[1] = (a >> 8) & 255
            y[2] = a & 255
            y[3] = b >> 18
            y[4] = (b >> 10) & 255
            y[5] = (b >> 2) & 255
            y[6] = ((b & 3) << 6) | (c >> 20)
            y[7] = (c >> 12) & 255
            y[8] = (c >> 4) & 255
            y[9] = ((c & 15) << 4) | (d >> 22)
            y[10] = (d >> 14) & 255
            y[11] = (d >> 6) & 255
            y[12] = ((d & 63) << 2) | (e >> 24)
            y[13] = (e >> 16) & 255
            y[14] = (e >> 8) & 255
            y[15] = e & 255

    def _hash_padded(self, data):
        n = len(data)
        whole = n & ~15
        self._hash(data, whole)
        if whole < n:
            pad = self._pad
            for i in range(16):
                pad[i] = data[whole + i] if whole + i < n else 0
            self._hash(pad, 16)

    def decrypt_into(self, iv, aad, ciphertext, tag, out):
        """Check tag, then write the plaintext to out (may be ciphertext itself).

        Raises ValueError when the tag does not match; out is then untouched.
        """
        if len(iv) != 12:
            raise ValueError("GCM IV must be 12 bytes")
        t = len(tag)
        if t < _MIN_TAG or t > 16:
            raise ValueError("GCM tag must be 12 to 16 bytes")
        n = len(ciphertext)
        if len(out) < n:
            raise ValueError("output buffer too small")
        src = memoryview(ciphertext)
        ctr = self._ctr
        ks = self._ks
        y = self._y
        for i in range(16):
            y[i] = 0
        self._hash_padded(memoryview(aad))
        self._hash_padded(src)
        struct.pack_into(">QQ", self._pad, 0, len(aad) * 8, n * 8)
        self._hash(self._pad, 16)
        # Tag = GHASH xor E(K, J0), J0 = IV || 1; compared in constant time.
        for off in range(0, _CHUNK, 16):
            ctr[off:off + 12] = iv
        struct.pack_into(">I", ctr, 12, 1)
        self._aes.encrypt(ctr, ks)
        diff = 0
        for i in range(t):
            diff |= y[i] ^ ks[i] ^ tag[i]
        if diff:
            raise ValueError("GCM authentication failed")
        # Counter mode from J0 + 1, a chunk of keystream at a time. Byte by byte
        # (not one big-int XOR per chunk) to allocate nothing; each byte is read
        # before it is written, so out may be the ciphertext buffer.
        dst = memoryview(out)
        count = 2
        for pos in range(0, n, _CHUNK):
            for off in range(12, _CHUNK, 16):
                struct.pack_into(">I", ctr, off, count)
                count += 1
            self._aes.encrypt(ctr, ks)
            for i in range(min(_CHUNK, n - pos)):
                dst[pos + i] = src[pos + i] ^ ks[i]

    def decrypt(self, iv, aad, ciphertext, tag):
        """Plaintext bytes of an authentic ciphertext; ValueError otherwise."""
        out = bytearray(len(ciphertext))
        self.decrypt_into(iv, aad, ciphertext, tag, out)
        return bytes(out)
