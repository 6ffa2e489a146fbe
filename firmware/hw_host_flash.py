"""The simulator's flash: two app slots as files, as ``esp32.Partition`` presents them on the device.

``hw_host.Partition`` is this module's class, loaded when the update (``ota.py``)
asks for it: a gateway that is not updating holds none of it. ``tools/sim.py``
plays the bootloader on the same files: ``<flash>/ota_0``, ``<flash>/ota_1`` and
``<flash>/otadata.json`` (``{"seq", "slot", "state"}``).
"""
import json
import os

from micropython import const

from hw_host import OPTIONS

_SLOTS = ("ota_0", "ota_1")
_SLOT_SIZE = const(0x180000)      # partitions-4MiB-ota.csv: 1.5 MiB each
_BLOCK = const(4096)
_ENOENT = const(2)
_EINVAL = const(22)


def _open_rw(path):
    """The slot file, to write into without truncating; created the first time."""
    try:
        return open(path, "r+b")
    except OSError:
        return open(path, "wb")


def _otadata():
    """otadata.json ({"seq", "slot", "state"}), or None while blank (the bootloader then starts ota_0)."""
    try:
        with open(OPTIONS["flash"] + "/otadata.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_otadata(od):
    path = OPTIONS["flash"] + "/otadata.json"
    with open(path + ".tmp", "w") as f:
        json.dump(od, f)
    os.rename(path + ".tmp", path)


class Partition:
    """An app slot in ``OPTIONS["flash"]``, a file per slot; ``otadata.json`` says which boots.

    As on the ESP32: ``writeblocks(block, buf)`` erases what it covers (whole
    4 KB blocks) and writes; with an offset it only programs, and flash can only
    clear bits (an erased byte is 0xFF); ``set_boot`` refuses what is no image;
    an app that ``set_boot`` selected runs "pending verify" until it calls
    ``mark_app_valid_cancel_rollback``, else the bootloader (tools/sim.py) rolls back.
    """

    BOOT = 0
    RUNNING = 1

    def __init__(self, which):
        flash = OPTIONS.get("flash")
        if flash is None:
            raise OSError(_ENOENT)  # no app slots: what a stock install's get_next_update raises
        if which == Partition.RUNNING:
            which = OPTIONS.get("slot", _SLOTS[0])
        elif which == Partition.BOOT:
            which = (_otadata() or {}).get("slot", _SLOTS[0])
        if which not in _SLOTS:
            raise OSError(_ENOENT)
        self.label = which
        self._path = flash + "/" + which

    def info(self):
        i = _SLOTS.index(self.label)
        return (0, 0x10 + i, 0x10000 + i * _SLOT_SIZE, _SLOT_SIZE, self.label, False)

    def get_next_update(self):
        return Partition(_SLOTS[1 - _SLOTS.index(self.label)])

    def readblocks(self, block, buf, offset=0):
        at = block * _BLOCK + offset
        n = 0
        try:
            with open(self._path, "rb") as f:
                f.seek(at)
                n = f.readinto(buf) or 0
        except OSError:
            pass
        for i in range(n, len(buf)):  # never written: erased flash
            buf[i] = 0xFF

    def writeblocks(self, block, buf, offset=None):
        at = block * _BLOCK + (offset or 0)
        if (offset is None and len(buf) % _BLOCK) or at + len(buf) > _SLOT_SIZE:
            raise OSError(_EINVAL)  # esp_partition_erase_range takes whole blocks
        if offset is None:  # erase, then write: the bytes become buf
            with _open_rw(self._path) as f:
                f.seek(at)
                f.write(buf)
            return
        # Programming only clears bits: what is there already ANDs with buf.
        old = bytearray(64)
        with _open_rw(self._path) as f:
            for i in range(0, len(buf), 64):
                k = min(64, len(buf) - i)
                f.seek(at + i)
                got = f.readinto(old) or 0
                for j in range(k):
                    old[j] = (old[j] if j < got else 0xFF) & buf[i + j]
                f.seek(at + i)
                f.write(memoryview(old)[:k])

    def ioctl(self, op, arg):
        if op == 4:
            return _SLOT_SIZE // _BLOCK
        if op == 5:
            return _BLOCK
        if op == 6:
            ff = b"\xff" * 256
            with _open_rw(self._path) as f:
                f.seek(arg * _BLOCK)
                for _ in range(_BLOCK // 256):
                    f.write(ff)
            return 0
        return None

    def set_boot(self):
        head = bytearray(1)
        self.readblocks(0, head)
        if head[0] != 0xE9:
            raise OSError(_EINVAL)  # ESP-IDF verifies the image first: ESP_ERR_OTA_VALIDATE_FAILED
        od = _otadata() or {"seq": 0}
        _write_otadata({"seq": od["seq"] + 1, "slot": self.label, "state": "new"})

    @staticmethod
    def mark_app_valid_cancel_rollback():
        od = _otadata()
        if od is None:
            raise OSError(_EINVAL)  # blank otadata: ESP-IDF says "running firmware is factory"
        if od["slot"] == OPTIONS.get("slot", _SLOTS[0]) and od["state"] != "valid":
            od["state"] = "valid"
            _write_otadata(od)
