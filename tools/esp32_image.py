"""The p1gw firmware image: MicroPython v1.28.0 for the ESP32 with p1gw frozen in.

    esp32_image.py build --board wt32_eth01 [--dry-run]                    # make firmware
    esp32_image.py flash --board wt32_eth01 --port /dev/ttyUSB0 [--keep-fs] [--dry-run]   # make flash
    esp32_image.py info build/firmware/p1gw-wt32_eth01-0.1.0.bin            # what an image holds

``build`` stages ``boards/<board>.py`` as ``build/firmware/<board>/board.py``
and builds MicroPython's esp32 port with ``FROZEN_MANIFEST=firmware/manifest.py``
and ``P1GW_BOARD`` pointing at the staged file, so the image freezes the port's
own modules (umqtt.simple, neopixel, ntptime...), the firmware and that board
file as ``board``. The board definition is ours, in ``boards/idf/``: MicroPython's
``ESP32_GENERIC`` with its ``OTA`` variant for ESP32 boards, ``ESP32_GENERIC_C3``
with the same OTA settings for the C3 (two 1.5 MiB app slots ``ota_0``/``ota_1``,
bootloader rollback, the filesystem in the rest of a 4 MiB flash), plus one line
that keeps the app description's version field, which MicroPython blanks.

ESP-IDF v5.5.1 (the version v1.28.0 recommends) comes from ``IDF_PATH`` (after
``. $IDF_PATH/export.sh``) or, when that is unset, from the ``espressif/idf:v5.5.1``
container image run with ``docker`` (``DOCKER=podman`` to use podman). The
MicroPython source is unpacked from ``../shared/micropython/micropython-1.28.0.tar.xz``
(``$P1GW_MICROPYTHON_TAR``) into ``build/firmware/``, so the build writes nothing
into the shared ``.venv``; ``$P1GW_MICROPYTHON_DIR`` names a ready source tree
instead (CI: a git checkout of v1.28.0 with its submodules).

It writes, in ``build/firmware/``:

- ``p1gw-<board>-<version>.bin``: bootloader, partition table and app in one
  file, written where the chip's bootloader starts (0x1000 on the ESP32, 0x0 on
  the C3). ``make flash`` writes it.
- ``p1gw-<board>-<version>.app.bin``: the app alone, what goes into an OTA slot.

How an image is identified: ESP-IDF puts an app description (``esp_app_desc_t``)
at a fixed place in every app image: right after the 24-byte image header and
the first 8-byte segment header, at byte 32, with the magic word 0xABCD5432; its
32-byte ``version`` field (byte 48, NUL-terminated) holds the build's
``PROJECT_VER``. We set that to the version record ``p1gw:<version>:<board>``
(``p1gw:0.1.0:wt32_eth01``). The chip is in the image header (bytes 12-13:
0 = ESP32, 5 = ESP32-C3). So the first 4 KB block of an uploaded app, or of
either app slot on the device (``esp32.Partition(...).readblocks(0, buf)``),
says whether it is p1gw, which version, which board and which chip, without
running it. The running image knows it is p1gw too: MicroPython names the
board definition in ``sys.implementation._build`` (``P1GW_ESP32``,
``P1GW_ESP32C3``; stock firmware says ``ESP32_GENERIC``...), and the firmware's
own ``version.VERSION`` is frozen.
"""
import argparse
import functools
import hashlib
import operator
import os
import re
import runpy
import shlex
import shutil
import struct
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpbuild  # noqa: E402  (stdlib only: where the MicroPython tarball is, its sha256)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "firmware")
MANIFEST = os.path.join(ROOT, "firmware", "manifest.py")
IDF_BOARDS = os.path.join(ROOT, "boards", "idf")
MP_VERSION = mpbuild.VERSION
IDF_VERSION = "5.5.1"
IDF_OLDEST = (5, 3)                   # MicroPython v1.28.0 supports 5.3 to 5.5.1
IDF_IMAGE = "espressif/idf:v" + IDF_VERSION

# Per chip: our ESP-IDF board definition, where the merged image is written
# (the bootloader's offset), the chip id in an ESP image header.
IDF_BOARD = {"esp32": "P1GW_ESP32", "esp32c3": "P1GW_ESP32C3"}
# What micropython.org calls the stock firmware for each chip (its download page's board name).
MP_BOARD = {"esp32": "ESP32_GENERIC", "esp32c3": "ESP32_GENERIC_C3"}
FLASH_OFFSET = {"esp32": 0x1000, "esp32c3": 0x0}
CHIP_ID = {"esp32": 0x0000, "esp32c3": 0x0005}

MARKER = "p1gw"
APP_DESC_MAGIC = 0xABCD5432
PARTITION_TABLE = 0x8000              # its flash offset on both chips
PART_APP, OTA_0, OTA_1 = 0, 0x10, 0x11


def fail(msg):
    """One line on stderr and exit 1: what went wrong and what to do."""
    sys.exit(msg)


# --- boards and versions --------------------------------------------------

def board_names():
    return sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "boards")) if f.endswith(".py"))


def board_info(name):
    """(path, constants) of boards/<name>.py, or exit with the list of boards."""
    path = os.path.join(ROOT, "boards", name + ".py")
    if not os.path.isfile(path):
        fail("unknown board %r; one of: %s" % (name, ", ".join(board_names())))
    consts = runpy.run_path(path)
    if consts.get("CHIP") not in IDF_BOARD:
        fail("board %s: CHIP must be one of %s" % (name, ", ".join(sorted(IDF_BOARD))))
    return path, consts


def firmware_version():
    return runpy.run_path(os.path.join(ROOT, "firmware", "version.py"))["VERSION"]


def version_record(version, board):
    """The app description's version field: ``p1gw:<version>:<board>``, 31 characters at most."""
    record = "%s:%s:%s" % (MARKER, version, board)
    if len(record) > 31 or not re.match(r"^[0-9A-Za-z.+-]+$", version) or not re.match(r"^\w+$", board):
        raise ValueError("version record %r does not fit the app description: at most 31 characters "
                         "(version [0-9A-Za-z.+-], board [A-Za-z0-9_])" % record)
    return record


def parse_record(text):
    """(version, board) from a version record, or None when it is not p1gw's."""
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != MARKER or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def image_name(board, version, app=False):
    return "p1gw-%s-%s%s" % (board, version, ".app.bin" if app else ".bin")


# --- reading images ---------------------------------------------------------

class ImageError(Exception):
    pass


def _cstr(b):
    return b.split(b"\0", 1)[0].decode("ascii", "replace")


def _chip_name(chip_id):
    for name, cid in CHIP_ID.items():
        if cid == chip_id:
            return name
    return "chip id %d" % chip_id


def read_app(app):
    """What an app image (an OTA slot's content) says about itself.

    A dict: ``chip`` (name, from the image header), ``version_field`` (the app
    description's version), ``version`` and ``board`` (from the p1gw record, or
    None), ``idf`` (ESP-IDF version), ``built`` (compile date and time).
    """
    if len(app) < 256 or app[0] != 0xE9:
        raise ImageError("not an ESP app image: it does not start with 0xE9")
    (magic,) = struct.unpack_from("<I", app, 32)
    if magic != APP_DESC_MAGIC:
        raise ImageError("no ESP-IDF app description at byte 32: not an app image")
    field = _cstr(app[48:80])
    rec = parse_record(field)
    return {"chip": _chip_name(struct.unpack_from("<H", app, 12)[0]), "version_field": field,
            "version": rec[0] if rec else None, "board": rec[1] if rec else None,
            "idf": _cstr(app[144:176]), "built": (_cstr(app[128:144]) + " " + _cstr(app[112:128])).strip()}


# An app image's layout (ESP-IDF's esp_image_format.h), as esptool's elf2image writes it:
# a 24-byte header (0xE9, segment count, SPI settings, entry address, then the
# extended header: chip id at bytes 12-13, hash_appended at byte 23), segments of
# (load address, length, data), zero padding so the XOR checksum of all segment
# data (seeded 0xEF) is the last byte of a 16-byte line, then, with hash_appended,
# the SHA-256 of everything before it.
HEADER = 24
CHECKSUM_SEED = 0xEF
APP_DESC_SIZE = 256


def app_desc(record, project="micropython", idf="v" + IDF_VERSION, date="", time=""):
    """An ``esp_app_desc_t``: magic, the version field holding ``record``, project, time, date, IDF."""
    d = bytearray(APP_DESC_SIZE)
    struct.pack_into("<I", d, 0, APP_DESC_MAGIC)
    for off, size, text in ((16, 32, record), (48, 32, project), (80, 16, time), (96, 16, date), (112, 32, idf)):
        raw = text.encode()[:size - 1]
        d[off:off + len(raw)] = raw
    return bytes(d)


def app_image(chip, desc, payload, load=(0x3F400020, 0x400D0020)):
    """An app image for ``chip`` (a name, or a chip id for a deliberately foreign one):
    the app description ``desc`` as the first segment (so it lands at byte 32), ``payload``
    as the second, then checksum and SHA-256, as esptool lays out what ESP-IDF builds."""
    chip_id = CHIP_ID[chip] if isinstance(chip, str) else chip
    segments = [desc, payload + b"\0" * (-len(payload) % 4)]   # segment lengths are word-aligned
    out = bytearray(struct.pack("<BBBBI", 0xE9, len(segments), 2, 0x20, load[1]))
    out += struct.pack("<B3sHBHH4sB", 0xEE, b"\0\0\0", chip_id, 0, 0, 0xFFFF, b"\0" * 4, 1)
    checksum = CHECKSUM_SEED
    for addr, data in zip(load, segments):
        out += struct.pack("<II", addr, len(data)) + data
        checksum ^= _xor(data)
    out += b"\0" * (15 - len(out) % 16) + bytes([checksum])
    return bytes(out + hashlib.sha256(out).digest())


def _xor(data):
    return functools.reduce(operator.xor, data, 0)


def app_segments(app, exact=True):
    """[(load address, data)] of an app image after checking what ESP-IDF's bootloader checks:
    the magic byte, the segments inside the file, the checksum and (when the header says
    one is appended) the SHA-256. ImageError says what is wrong. ``exact``: nothing may
    follow the image (a file; in an app slot, the rest of the slot may)."""
    if len(app) < HEADER or app[0] != 0xE9:
        raise ImageError("not an ESP app image: it does not start with 0xE9")
    pos, segments, checksum = HEADER, [], CHECKSUM_SEED
    for _ in range(app[1]):
        if pos + 8 > len(app):
            raise ImageError("cut off in segment %d's header" % len(segments))
        addr, size = struct.unpack_from("<II", app, pos)
        data = app[pos + 8:pos + 8 + size]
        if len(data) != size:
            raise ImageError("cut off in segment %d" % len(segments))
        segments.append((addr, data))
        checksum ^= _xor(data)
        pos += 8 + size
    pos += 15 - pos % 16
    if pos >= len(app) or app[pos] != checksum:
        raise ImageError("checksum does not match: the image is damaged or cut off")
    pos += 1
    if app[23] == 1:
        if app[pos:pos + 32] != hashlib.sha256(app[:pos]).digest():
            raise ImageError("its appended SHA-256 does not match: the image is damaged")
        pos += 32
    if exact and pos != len(app):
        raise ImageError("%d bytes after the image's end" % (len(app) - pos))
    return segments


def partitions(table):
    """[(label, type, subtype, offset, size)] from a binary partition table."""
    out = []
    for pos in range(0, len(table) - 31, 32):
        entry = table[pos:pos + 32]
        if entry[:2] != b"\xaa\x50":       # the end (0xFF), or the MD5 entry (0xEB 0xEB)
            break
        ptype, subtype, offset, size = struct.unpack_from("<BBII", entry, 2)
        out.append((_cstr(entry[12:28]), ptype, subtype, offset, size))
    return out


def read_image(image):
    """What a build output says about itself: a merged image (.bin) or an app alone (.app.bin).

    The dict of ``read_app``, plus for a merged image ``kind`` "merged",
    ``offset`` (where it is written) and ``slots`` (the app partitions).
    """
    if len(image) < 256 or image[0] != 0xE9:
        raise ImageError("not an ESP image: it does not start with 0xE9")
    if struct.unpack_from("<I", image, 32)[0] == APP_DESC_MAGIC:
        return dict(read_app(image), kind="app")
    chip, base, apps = read_merged(image)
    if sorted(p[2] for p in apps) != [OTA_0, OTA_1]:
        raise ImageError("app partitions %s: not the OTA layout (ota_0 and ota_1)" % [p[0] for p in apps])
    ota_0 = [p for p in apps if p[2] == OTA_0][0]
    app = read_app(image[ota_0[3] - base:])
    if app["chip"] != chip:
        raise ImageError("bootloader for %s, app for %s" % (chip, app["chip"]))
    return dict(app, kind="merged", offset=base, slots=[(p[0], p[3], p[4]) for p in apps])


def read_merged(image):
    """(chip, offset, app partitions) of a merged image: bootloader, partition table and app,
    as ``make firmware`` writes it and micropython.org offers it; ImageError when it is not one."""
    if len(image) < 256 or image[0] != 0xE9:
        raise ImageError("not an ESP image: it does not start with 0xE9")
    chip = _chip_name(struct.unpack_from("<H", image, 12)[0])
    if chip not in FLASH_OFFSET:
        raise ImageError("image for %s: p1gw runs on %s" % (chip, ", ".join(sorted(FLASH_OFFSET))))
    base = FLASH_OFFSET[chip]
    apps = [p for p in partitions(image[PARTITION_TABLE - base:PARTITION_TABLE - base + 0xC00])
            if p[1] == PART_APP]
    if not apps:
        raise ImageError("no partition table with app partitions at 0x%x: not a merged image" % PARTITION_TABLE)
    return chip, base, apps


def check_stock_image(path, chip):
    """Exit with one line unless ``path`` is a whole MicroPython image for ``chip`` (checked before
    anything erases the flash)."""
    get = "download the %s .bin from https://micropython.org/download/%s/" % (MP_BOARD[chip], MP_BOARD[chip])
    if not os.path.isfile(path):
        fail("FIRMWARE=%s: not found: %s" % (path, get))
    try:
        with open(path, "rb") as f:
            found = read_merged(f.read())[0]
    except (OSError, ImageError) as e:
        fail("FIRMWARE=%s: %s: %s" % (path, e, get))
    if found != chip:
        fail("FIRMWARE=%s is an image for %s, not for this board's %s: %s" % (path, found, chip, get))


def check_image(path, board, chip):
    """The image's description if ``path`` is a merged p1gw image for ``board``; else exit with one line."""
    try:
        with open(path, "rb") as f:
            info = read_image(f.read())
    except (OSError, ImageError) as e:
        fail("%s: %s" % (path, e))
    if info["kind"] != "merged":
        fail("%s is an app alone (for an OTA update); flash the merged %s" % (path, path.replace(".app.bin", ".bin")))
    if info["board"] is None:
        fail("%s is not a p1gw image (its app version is %r)" % (path, info["version_field"]))
    if info["chip"] != chip or info["board"] != board:
        fail("%s is the p1gw image for %s (%s), not for %s (%s)" % (path, info["board"], info["chip"], board, chip))
    return info


# --- ESP-IDF ------------------------------------------------------------------

NEED = ("make firmware needs ESP-IDF v%s: set IDF_PATH to it (after `. $IDF_PATH/export.sh`), "
        "or run a docker engine for the %s image" % (IDF_VERSION, IDF_IMAGE))


def idf_version(idf_path):
    """(major, minor, patch) of the ESP-IDF at ``idf_path``, or None."""
    try:
        with open(os.path.join(idf_path, "tools", "cmake", "version.cmake")) as f:
            text = f.read()
    except OSError:
        return None
    found = dict(re.findall(r"set\(IDF_VERSION_(MAJOR|MINOR|PATCH)\s+(\d+)\)", text))
    if len(found) != 3:
        return None
    return int(found["MAJOR"]), int(found["MINOR"]), int(found["PATCH"])


def find_idf():
    """"native" (ESP-IDF from IDF_PATH) or "docker"; exits with one line when neither can build."""
    idf_path = os.environ.get("IDF_PATH")
    if idf_path:
        ver = idf_version(idf_path)
        if ver is None:
            fail("IDF_PATH=%s is not an ESP-IDF checkout (no tools/cmake/version.cmake)" % idf_path)
        if ver[:2] < IDF_OLDEST:
            fail("ESP-IDF %d.%d.%d at IDF_PATH is too old: MicroPython v%s needs 5.3 or newer (%s recommended)"
                 % (ver + (MP_VERSION, IDF_VERSION)))
        if not shutil.which("idf.py"):
            fail("IDF_PATH is set but idf.py is not on PATH: run `. $IDF_PATH/export.sh` first")
        if ver != tuple(int(x) for x in IDF_VERSION.split(".")):
            print("note: ESP-IDF %d.%d.%d; MicroPython v%s recommends %s" % (ver + (MP_VERSION, IDF_VERSION)))
        return "native"
    docker = os.environ.get("DOCKER", "docker")
    if not shutil.which(docker):
        fail(NEED + " (IDF_PATH is unset, %s is not installed)" % docker)
    try:
        r = subprocess.run([docker, "info"], capture_output=True, timeout=30)
        ok = r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        fail(NEED + " (IDF_PATH is unset, %s is installed but its engine is not running)" % docker)
    return "docker"


def micropython_dir(unpack=True):
    """The MicroPython v1.28.0 source tree the esp32 port is built from."""
    given = os.environ.get("P1GW_MICROPYTHON_DIR")
    if given:
        given = os.path.abspath(given)
        if not os.path.isfile(os.path.join(given, "ports", "esp32", "Makefile")):
            fail("P1GW_MICROPYTHON_DIR=%s is not a MicroPython source tree (no ports/esp32)" % given)
        if not os.path.isfile(os.path.join(given, "lib", "micropython-lib", "README.md")):
            fail("%s has no lib/micropython-lib: run `make -C %s/ports/esp32 submodules`" % (given, given))
        return given
    src = os.path.join(OUT, "micropython-" + MP_VERSION)
    if not unpack or os.path.isfile(os.path.join(src, "ports", "esp32", "Makefile")):
        return src
    if not os.path.isfile(mpbuild.TAR):
        fail("MicroPython source not found: %s (set P1GW_MICROPYTHON_TAR to micropython-%s.tar.xz, "
             "or P1GW_MICROPYTHON_DIR to a v%s checkout with submodules)" % (mpbuild.TAR, MP_VERSION, MP_VERSION))
    import hashlib
    with open(mpbuild.TAR, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != mpbuild.SHA256:
        fail("%s: sha256 %s, expected %s" % (mpbuild.TAR, digest, mpbuild.SHA256))
    print("unpacking MicroPython v%s into %s" % (MP_VERSION, os.path.relpath(src, ROOT)))
    tmp = src + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with tarfile.open(mpbuild.TAR) as t:
        if hasattr(tarfile, "data_filter"):
            t.extractall(tmp, filter="data")
        else:
            t.extractall(tmp)
    os.replace(os.path.join(tmp, "micropython-" + MP_VERSION), src)
    os.rmdir(tmp)
    return src


# --- build ----------------------------------------------------------------------

def stage_board(path, work):
    """boards/<board>.py as <work>/board.py, rewritten only when it changed (keeps rebuilds incremental)."""
    os.makedirs(work, exist_ok=True)
    staged = os.path.join(work, "board.py")
    with open(path, "rb") as f:
        data = f.read()
    try:
        with open(staged, "rb") as f:
            same = f.read() == data
    except OSError:
        same = False
    if not same:
        with open(staged, "wb") as f:
            f.write(data)
    return staged


def make_command(src, chip, idf_build, record):
    """The esp32 port's make: our board definition, the manifest, the version record.

    CMAKE_ARGS reaches idf.py as ``-D PROJECT_VER=...``, a cmake cache entry that
    ESP-IDF takes as the app version (before version.txt or git describe) and
    that is passed again on every build, so a new version never meets a stale
    sdkconfig. (Given on the command line it replaces the port Makefile's own
    CMAKE_ARGS, which only carries USER_C_MODULES: we have none.)
    """
    return ["make", "-C", os.path.join(src, "ports", "esp32"),
            "BOARD_DIR=" + os.path.join(IDF_BOARDS, IDF_BOARD[chip]),
            "BUILD=" + idf_build,
            "FROZEN_MANIFEST=" + MANIFEST,
            "CMAKE_ARGS=-D PROJECT_VER=" + record]


def docker_command(cmd, env, mounts):
    """``cmd`` in the espressif/idf container, as this user, every path mounted where it is here."""
    out = [os.environ.get("DOCKER", "docker"), "run", "--rm", "-e", "HOME=/tmp"]
    if hasattr(os, "getuid"):
        out += ["-u", "%d:%d" % (os.getuid(), os.getgid())]
    for key in sorted(env):
        out += ["-e", "%s=%s" % (key, env[key])]
    for m in mounts:
        out += ["-v", "%s:%s" % (m, m)]
    return out + ["-w", ROOT, IDF_IMAGE] + cmd


def build(board, dry_run=False):
    path, consts = board_info(board)
    chip = consts["CHIP"]
    version = firmware_version()
    try:
        record = version_record(version, board)
    except ValueError as e:
        fail(str(e))
    runner = find_idf() if not dry_run else "native"
    src = micropython_dir(unpack=not dry_run)
    work = os.path.join(OUT, board)
    idf_build = os.path.join(work, "idf")
    staged = os.path.join(work, "board.py") if dry_run else stage_board(path, work)
    cmd = make_command(src, chip, idf_build, record)
    env = {"P1GW_BOARD": staged}
    if not os.environ.get("P1GW_MICROPYTHON_DIR"):
        # The unpacked release is no git checkout, but it sits inside ours: without
        # this, MicroPython's makeversionhdr.py would take p1gw's git describe as its version.
        env["MICROPY_GIT_TAG"] = "v" + MP_VERSION
    mounts = [ROOT] + ([src] if not src.startswith(ROOT + os.sep) else [])
    if dry_run:
        print("$ %s %s" % (" ".join("%s=%s" % (k, shlex.quote(v)) for k, v in sorted(env.items())), shlex.join(cmd)))
        print("$ %s   # without IDF_PATH" % shlex.join(docker_command(cmd, env, mounts)))
        return None
    print("building the p1gw image for %s (%s, ESP-IDF %s): %s" % (
        consts["NAME"], chip, "from IDF_PATH" if runner == "native" else "in " + IDF_IMAGE, version))
    if runner == "docker":
        r = subprocess.run(docker_command(cmd, env, mounts))
    else:
        r = subprocess.run(cmd, env=dict(os.environ, **env))
    if r.returncode:
        fail("the ESP-IDF build of %s failed (exit %d): see its output above" % (board, r.returncode))
    return finish(board, chip, version, record, idf_build)


def finish(board, chip, version, record, idf_build):
    """Check what the port built and copy it to build/firmware/ under p1gw names; the merged image's path."""
    try:
        with open(os.path.join(idf_build, "firmware.bin"), "rb") as f:
            merged = f.read()
        with open(os.path.join(idf_build, "micropython.bin"), "rb") as f:
            app = f.read()
        info = read_image(merged)
    except (OSError, ImageError) as e:
        fail("the build finished but its output is not as expected: %s" % e)
    if info["chip"] != chip or info["version_field"] != record:
        fail("the built image says %s, version %r; expected %s, %r" % (info["chip"], info["version_field"],
                                                                     chip, record))
    ota_0 = info["slots"][0]
    start = ota_0[1] - FLASH_OFFSET[chip]
    if merged[start:start + len(app)] != app:
        fail("firmware.bin does not hold micropython.bin at ota_0 (0x%x)" % ota_0[1])
    os.makedirs(OUT, exist_ok=True)
    out = os.path.join(OUT, image_name(board, version))
    shutil.copyfile(os.path.join(idf_build, "firmware.bin"), out)
    shutil.copyfile(os.path.join(idf_build, "micropython.bin"), os.path.join(OUT, image_name(board, version, True)))
    print("%s: write at 0x%x (make flash BOARD=%s); app %d bytes of the %d-byte slot, version record %s" % (
        os.path.relpath(out, ROOT), FLASH_OFFSET[chip], board, len(app), ota_0[2], record))
    return out


# --- flash ------------------------------------------------------------------

def esptool():
    local = os.path.join(os.path.dirname(sys.executable), "esptool")
    return local if os.path.exists(local) else (shutil.which("esptool") or shutil.which("esptool.py") or "esptool")


def check_port(port):
    """Exit with one line when ``port`` is missing or another program holds it."""
    if os.name == "posix" and not os.path.exists(port):
        fail("serial port %s not found: plug the board in, or give PORT= (ls /dev/ttyUSB* /dev/ttyACM*)" % port)
    try:
        import serial  # pyserial, which esptool brings
    except ImportError:
        return
    try:
        s = serial.Serial(port, exclusive=True) if os.name == "posix" else serial.Serial(port)
        s.close()
    except (serial.SerialException, OSError, ValueError) as e:
        fail("serial port %s is busy or cannot be opened (%s): close the REPL, mpremote or the monitor "
             "using it" % (port, str(e).splitlines()[0] if str(e) else type(e).__name__))


def run_esptool(cmds, port, dry_run):
    for cmd in cmds:
        print("$ " + shlex.join(cmd))
        if dry_run:
            continue
        try:
            r = subprocess.run(cmd)
        except OSError as e:
            fail("cannot run esptool (%s): run `make setup`" % e)
        if r.returncode:
            fail("esptool failed on %s (exit %d): see its message above (port busy, or the board not in "
                 "its bootloader: hold BOOT/IO0 low while it resets)" % (port, r.returncode))


def flash(board, port, keep_fs=False, dry_run=False, image=None):
    """Write the p1gw image (``image``, or the one ``build`` made) at the chip's bootloader offset.

    The flash is erased first (a stock layout's filesystem would sit across the
    OTA slots) unless ``keep_fs``: then identity.json and config.json stay.
    """
    _, consts = board_info(board)
    chip = consts["CHIP"]
    path = image or os.path.join(OUT, image_name(board, firmware_version()))
    if not os.path.isfile(path):
        fail("no p1gw image %s: run `make firmware BOARD=%s` first (or give FIRMWARE=<stock .bin> for the "
             "stock layout)" % (os.path.relpath(path, ROOT), board))
    check_image(path, board, chip)
    if not dry_run:
        check_port(port)
    base = [esptool(), "--chip", chip, "--port", port]
    cmds = [] if keep_fs else [base + ["erase-flash"]]
    cmds.append(base + ["--baud", "460800", "write-flash", "-z", "0x%x" % FLASH_OFFSET[chip], path])
    run_esptool(cmds, port, dry_run)


def info(path):
    try:
        with open(path, "rb") as f:
            d = read_image(f.read())
    except (OSError, ImageError) as e:
        fail("%s: %s" % (path, e))
    kind = "merged image, write at 0x%x" % d["offset"] if d["kind"] == "merged" else "app image (an OTA slot)"
    print("%s: %s, %s" % (path, kind, d["chip"]))
    if d["board"]:
        print("p1gw %s for %s" % (d["version"], d["board"]))
    else:
        print("not a p1gw image (app version %r)" % d["version_field"])
    print("ESP-IDF %s, built %s" % (d["idf"], d["built"]))
    for label, offset, size in d.get("slots", []):
        print("slot %s at 0x%x, %d bytes" % (label, offset, size))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the image (make firmware)")
    b.add_argument("--board", required=True)
    b.add_argument("--dry-run", action="store_true", help="print the build command only")
    f = sub.add_parser("flash", help="write the image (make flash)")
    f.add_argument("--board", required=True)
    f.add_argument("--port", required=True)
    f.add_argument("--keep-fs", action="store_true",
                   help="no erase-flash: keeps identity.json and config.json (only over a p1gw image)")
    f.add_argument("--image", help="the image to write (default: build/firmware/p1gw-<board>-<version>.bin)")
    f.add_argument("--dry-run", action="store_true", help="print the esptool commands only")
    i = sub.add_parser("info", help="what an image holds")
    i.add_argument("image")
    a = p.parse_args(argv)
    if a.cmd == "build":
        build(a.board, a.dry_run)
    elif a.cmd == "flash":
        flash(a.board, a.port, a.keep_fs, a.dry_run, a.image)
    else:
        info(a.image)


if __name__ == "__main__":
    main()
