"""Build the ESP32-faithful MicroPython this PC runs the firmware on.

    python3 tools/mpbuild.py stock    # once: mpy-cross and the stock binary
    python3 tools/mpbuild.py image    # after a firmware change: the image binary

MicroPython v1.28.0's unix port, built as a 32-bit program with single-precision
floats: an ESP32's object sizes and float arithmetic, with real sockets. Two
binaries, as a device can be installed two ways:

- ``.venv/bin/micropython`` (stock): nothing of p1gw frozen, umqtt.simple frozen
  as stock ESP32 firmware has it; the firmware is imported from ``.mpy`` files,
  as ``make deploy`` lays them on a device.
- ``build/micropython-image/micropython`` (image): this checkout's firmware
  frozen in by ``firmware/manifest.py``, the manifest the ESP32 image is built from.

The source is ``../shared/micropython/micropython-1.28.0.tar.xz`` (or
``$P1GW_MICROPYTHON_TAR``), unpacked once into ``.venv/``. make rebuilds only
what changed, so ``image`` after a firmware edit takes seconds.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, os.environ.get("VENV", ".venv"))
VERSION = "1.28.0"
SRC = os.path.join(VENV, "micropython-" + VERSION)
TAR = os.environ.get("P1GW_MICROPYTHON_TAR") or os.path.join(
    os.path.dirname(ROOT), "shared", "micropython", "micropython-%s.tar.xz" % VERSION)
SHA256 = "ebab673ea71bda53490c30ade198fd11ccac7c3e7852b30e0c58c73ad6594d92"
UNIX = os.path.join(SRC, "ports", "unix")
STOCK_MANIFEST = os.path.join(ROOT, "tools", "stock_manifest.py")
IMAGE_MANIFEST = os.path.join(ROOT, "firmware", "manifest.py")
BIN = os.path.join(VENV, "bin")
STOCK = os.path.join(BIN, "micropython")
IMAGE_BUILD = os.path.join(ROOT, "build", "micropython-image")
IMAGE = os.path.join(IMAGE_BUILD, "micropython")
MPY_CROSS = os.path.join(BIN, "mpy-cross")
# An ESP32's arithmetic: 32-bit pointers and small ints, single-precision floats.
# No FFI: it needs a 32-bit libffi and no firmware code uses it.
FLAGS = ["VARIANT=standard", "MICROPY_FORCE_32BIT=1", "MICROPY_PY_FFI=0",
         "CFLAGS_EXTRA=-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_FLOAT"]


def _unpack():
    if os.path.exists(os.path.join(SRC, "py", "mpconfig.h")):
        return
    if not os.path.exists(TAR):
        sys.exit("MicroPython source not found: %s (set P1GW_MICROPYTHON_TAR to the official "
                 "micropython-%s.tar.xz)" % (TAR, VERSION))
    with open(TAR, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != SHA256:
        sys.exit("%s: sha256 %s, expected %s" % (TAR, digest, SHA256))
    tmp = SRC + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with tarfile.open(TAR) as t:
        t.extractall(tmp)
    os.replace(os.path.join(tmp, "micropython-" + VERSION), SRC)
    os.rmdir(tmp)


def _make(args, what):
    jobs = "-j%d" % (os.cpu_count() or 2)
    r = subprocess.run(["make", jobs] + args, capture_output=True, text=True)
    if r.returncode:
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
        sys.exit("building %s failed (above); a 32-bit build needs Debian's gcc-multilib" % what)


def _link(target, name):
    path = os.path.join(BIN, name)
    if os.path.islink(path) or os.path.exists(path):
        os.unlink(path)
    os.symlink(os.path.relpath(target, BIN), path)


def _unix(build, manifest):
    # make passes FROZEN_MANIFEST on to a sub-make of mpy-cross, so mpy-cross is built first, alone.
    _make(["-C", UNIX] + FLAGS + ["BUILD=" + build, "FROZEN_MANIFEST=" + manifest], build)
    return os.path.join(build, "micropython")


def stock():
    """mpy-cross and the stock binary, built once."""
    _unpack()
    if not os.path.exists(os.path.join(SRC, "mpy-cross", "build", "mpy-cross")):
        _make(["-C", os.path.join(SRC, "mpy-cross")], "mpy-cross")
    _link(os.path.join(SRC, "mpy-cross", "build", "mpy-cross"), "mpy-cross")
    prog = os.path.join(UNIX, "build-p1gw-stock", "micropython")
    if not os.path.exists(prog) or os.path.getmtime(prog) < os.path.getmtime(STOCK_MANIFEST):
        _unix(os.path.join(UNIX, "build-p1gw-stock"), STOCK_MANIFEST)
    _link(prog, "micropython")


def image(manifest=IMAGE_MANIFEST, build=IMAGE_BUILD):
    """The image binary, with this checkout's firmware frozen as it stands now; its path.

    It lives in the checkout's build/ (the source and the stock binary in the
    shared .venv), so two checkouts never freeze each other's firmware.
    Another ``manifest`` (a staged copy of firmware/) builds in its own ``build``.
    """
    stock()
    return _unix(build, manifest)


if __name__ == "__main__":
    what = sys.argv[1:] or ["image"]
    for w in what:
        {"stock": stock, "image": image}[w]()
