"""What an uploaded firmware image says about itself, and whether this gateway takes it.

Pure logic (no flash, no sockets): the update (``ota.py``) hands it the first
bytes of the upload and of the running slot, and every block as it passes.

An ESP app image (ESP-IDF's esp_image_format.h, as ``tools/esp32_image.py``
writes and reads it): a 24-byte header (0xE9, the segment count at byte 1, the
chip id at bytes 12-13, ``hash_appended`` at byte 23), then segments of
(load address, length, data); the first segment starts with the app description
(magic 0xABCD5432 at byte 32) whose version field (bytes 48-79) holds p1gw's
version record ``p1gw:<version>:<board>``. After the segments: padding, a
checksum byte ending a 16-byte line, and the SHA-256 of all that before it.
"""
from micropython import const

HEAD = const(80)           # bytes of an image that hold everything read here but the segments
_MAGIC = const(0xE9)
_DESC_MAGIC = b"\x32\x54\xcd\xab"   # 0xABCD5432, little-endian, at byte 32
_MARKER = "p1gw"


def record(head):
    """(version, board) from an image's first HEAD bytes; None when it is not a p1gw app image."""
    if len(head) < HEAD or head[0] != _MAGIC or bytes(head[32:36]) != _DESC_MAGIC:
        return None
    field = bytes(head[48:80])
    end = field.find(b"\0")
    try:
        parts = (field if end < 0 else field[:end]).decode().split(":")
    except UnicodeError:
        return None
    if len(parts) != 3 or parts[0] != _MARKER or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def chip_id(head):
    return head[12] | head[13] << 8


def version_key(version):
    """A version as a tuple that orders like the version: '0.10.1' > '0.9.3'; '1.2.0-rc1' counts as 1.2.0."""
    out = []
    for part in version.split("."):
        n = 0
        for c in part:
            if not "0" <= c <= "9":
                break
            n = n * 10 + ord(c) - 48
        out.append(n)
    return tuple(out)


def refusal(new, running, allow_downgrade=False):
    """Why the gateway running ``running`` must not take an upload starting with ``new``
    (each the first HEAD bytes of an image): (message, field), or None to take it."""
    if len(new) < HEAD or new[0] != _MAGIC:
        return "not a firmware image: an ESP app image starts with byte 0xE9", "image"
    if chip_id(new) != chip_id(running):
        return "image for chip id %d; this gateway's chip is %d" % (chip_id(new), chip_id(running)), "chip"
    rec = record(new)
    if rec is None:
        return "not a p1gw image: no p1gw version record in its app description", "image"
    mine = record(running)
    version, board = rec
    if mine is not None:
        if board != mine[1]:
            return "image for board %s; this gateway is %s" % (board, mine[1]), "board"
        if not allow_downgrade and version_key(version) < version_key(mine[0]):
            return "version %s is older than the running %s: add ?allow_downgrade=1 to install it" % (
                version, mine[0]), "version"
    return None


class ImageLength:
    """The length an app image gives itself, read from its segment headers as its bytes pass.

    ``feed(start, data)`` with consecutive pieces from byte 0; ``length`` is None
    until the last segment header has passed, then the image's full length
    (segments, checksum line and, if ``hashed``, the 32-byte SHA-256).
    """

    def __init__(self):
        self.segments = -1      # still to pass; -1 until the header was seen
        self.hashed = False
        self.length = None
        self._at = 24           # where the next segment header starts
        self._hdr = bytearray(8)
        self._have = 0          # bytes of that header seen so far

    def feed(self, start, data):
        end = start + len(data)
        if self.segments < 0:
            if start or len(data) < 24:
                return  # the header must come in one piece (the upload's first block)
            self.segments = data[1]
            self.hashed = data[23] == 1
        while self.length is None:
            if not self.segments:
                pos = self._at
                self.length = pos + 16 - pos % 16 + (32 if self.hashed else 0)
                return
            at = self._at + self._have
            if at >= end:
                return
            k = min(8 - self._have, end - at)
            self._hdr[self._have:self._have + k] = data[at - start:at - start + k]
            self._have += k
            if self._have == 8:
                h = self._hdr
                self._at += 8 + (h[4] | h[5] << 8 | h[6] << 16 | h[7] << 24)
                self._have = 0
                self.segments -= 1
