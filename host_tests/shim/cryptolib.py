"""CPython stand-in for MicroPython's ``cryptolib`` (AES-ECB only), over ``cryptography``."""
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class aes:
    """``cryptolib.aes(key, 1)``: ECB block encryption, as the firmware uses it."""

    def __init__(self, key, mode, IV=None):
        if mode != 1:
            raise ValueError("shim supports only mode 1 (ECB)")
        if len(key) not in (16, 32):
            raise ValueError("key")
        self._cipher = Cipher(algorithms.AES(bytes(key)), modes.ECB())

    def encrypt(self, in_buf, out_buf=None):
        data = bytes(in_buf)
        if len(data) % 16:
            raise ValueError("blksize")
        res = self._cipher.encryptor().update(data)
        if out_buf is None:
            return res
        if len(out_buf) < len(res):
            raise ValueError("output too small")
        out_buf[0:len(res)] = res
        return out_buf
