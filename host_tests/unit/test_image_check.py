"""The update's image checks: the version record, the refusals, the image's own length."""
import struct

from image_check import HEAD, ImageLength, record, refusal, version_key


def _image(chip=0, rec=b"p1gw:1.2.0:sim", sizes=(256, 5000, 3), hashed=True):
    """An ESP app image as ESP-IDF lays it out (checksum and hash bytes not computed: not checked here)."""
    out = bytearray(struct.pack("<BBBBI", 0xE9, len(sizes), 2, 0x20, 0x400D0020))
    out += struct.pack("<B3sHBHH4sB", 0xEE, b"\0\0\0", chip, 0, 0, 0xFFFF, b"\0\0\0\0", 1 if hashed else 0)
    for i, n in enumerate(sizes):
        data = bytearray(n)
        if not i:
            struct.pack_into("<I", data, 0, 0xABCD5432)
            data[16:16 + len(rec)] = rec
        out += struct.pack("<II", 0x3F400020, n) + data
    out += bytes(15 - len(out) % 16) + b"\x5a"
    return bytes(out + (b"\x11" * 32 if hashed else b""))


RUNNING = _image()[:HEAD]


def test_record_reads_version_and_board():
    assert record(RUNNING) == ("1.2.0", "sim")
    assert record(_image(rec=b"MicroPython v1.28.0")[:HEAD]) is None
    assert record(b"\x7fELF" + bytes(HEAD)) is None


def test_a_newer_image_for_this_chip_and_board_is_taken():
    assert refusal(_image(rec=b"p1gw:1.10.0:sim")[:HEAD], RUNNING) is None


def test_refusals_name_the_field():
    assert refusal(b"PK\x03\x04" + bytes(200), RUNNING)[1] == "image"
    assert refusal(_image(chip=5)[:HEAD], RUNNING) == ("image for chip id 5; this gateway's chip is 0", "chip")
    assert refusal(_image(rec=b"MicroPython")[:HEAD], RUNNING)[1] == "image"
    assert refusal(_image(rec=b"p1gw:2.0.0:wt32_eth01")[:HEAD], RUNNING)[1] == "board"
    msg, field = refusal(_image(rec=b"p1gw:1.1.9:sim")[:HEAD], RUNNING)
    assert field == "version" and "allow_downgrade=1" in msg
    assert refusal(_image(rec=b"p1gw:1.1.9:sim")[:HEAD], RUNNING, allow_downgrade=True) is None
    assert refusal(_image()[:40], RUNNING)[1] == "image"


def test_versions_order_numerically():
    assert version_key("0.10.0") > version_key("0.9.9")
    assert version_key("1.2.0-rc1") == version_key("1.2.0")
    assert version_key("9.9.9") > version_key("0.1.0")


def _length(img, piece):
    walk = ImageLength()
    for at in range(0, len(img), piece):
        walk.feed(at, memoryview(img)[at:at + piece])
    return walk


def test_image_length_from_its_segment_headers_in_any_pieces():
    for sizes in ((256, 5000, 3), (256,), (256, 4072, 4096 * 3 + 1)):
        for hashed in (True, False):
            img = _image(sizes=sizes, hashed=hashed)
            for piece in (4096, 25, 1000):  # the header comes whole: the upload's first block
                walk = _length(img, piece)
                assert (walk.length, walk.hashed) == (len(img), hashed), (sizes, hashed, piece)


def test_image_length_unknown_while_a_segment_header_is_missing():
    img = _image(sizes=(256, 5000, 3))
    assert _length(img[:256 + 24 + 8 + 100], 4096).length is None
