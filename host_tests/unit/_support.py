"""Helpers shared by the dual-runtime unit tests (CPython and MicroPython)."""
import os

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
TELEGRAMS = _HERE + "/../telegrams"


def telegram(name):
    """Raw bytes of a reference telegram in host_tests/telegrams/."""
    with open(TELEGRAMS + "/" + name, "rb") as f:
        return f.read()


def telegram_names():
    return sorted(n for n in os.listdir(TELEGRAMS) if n.endswith(".p1"))


def raises(exc, fn, *args):
    """True if fn(*args) raises exc (no pytest.raises under MicroPython)."""
    try:
        fn(*args)
    except exc:
        return True
    return False


def make_telegram(lines, header=b"/ISK5\\2M550T-1012"):
    """A DSMR 5 telegram from data lines, with a correct CRC."""
    from crc16 import crc16
    body = header + b"\r\n\r\n" + b"".join(l + b"\r\n" for l in lines) + b"!"
    return body + (b"%04X\r\n" % crc16(body))


def tmpdir(tag):
    """A fresh empty folder under /tmp (no tempfile module in MicroPython)."""
    d = "/tmp/p1gw-%s-%s" % (tag, "".join("%02x" % b for b in os.urandom(4)))
    os.mkdir(d)
    return d


def cleanup(d):
    """Remove a folder made by tmpdir() and the files in it."""
    for name in os.listdir(d):
        os.remove(d + "/" + name)
    os.rmdir(d)


def esp32_ticks_diff(a, b):
    """time.ticks_diff as an ESP32 computes it: ticks wrap at 2**30."""
    return ((a - b + (1 << 29)) & ((1 << 30) - 1)) - (1 << 29)
