"""`make deploy`'s build step: every device module compiled for the board's chip, main.py and board.py as source."""
import os
import struct
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "tools", "deploy.py")
MARCH = {"esp32_devkitc": "xtensawin", "wt32_eth01": "xtensawin", "olimex_esp32_poe": "xtensawin",
         "esp32c3_supermini": "rv32imc"}


def _device_sources():
    fw = os.path.join(ROOT, "firmware")
    # Not copied: the host stand-ins, the image's manifest, and the page module (a file, www/index.html.gz, instead).
    skip = ("hw_host.py", "hw_host_flash.py", "hw_host_sim.py", "main_host.py", "manifest.py", "webpage.py")
    return sorted(f for f in os.listdir(fw) if f.endswith(".py") and f not in skip)


@pytest.mark.parametrize("board", sorted(MARCH))
def test_build_compiles_every_module_for_the_chip(board, tmp_path):
    out = tmp_path / board
    r = subprocess.run([sys.executable, DEPLOY, "build", "--board", board, "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "-march=%s" % MARCH[board] in r.stdout
    built = sorted(os.listdir(out))
    expected = sorted([n[:-3] + ".mpy" for n in _device_sources() if n != "main.py"]
                      + ["main.py", "board.py", "www"])
    assert built == expected
    assert (out / "www" / "index.html.gz").exists()
    for name in built:
        if name.endswith(".mpy"):
            # mpy v6 header; the arch bits stay 0 while no module holds native code
            assert (out / name).read_bytes()[:2] == b"M\x06", name
    with open(os.path.join(ROOT, "boards", board + ".py"), "rb") as f:
        assert (out / "board.py").read_bytes() == f.read()


def test_unknown_board_is_refused_with_the_list():
    r = subprocess.run([sys.executable, DEPLOY, "build", "--board", "nope"], capture_output=True, text=True)
    assert r.returncode != 0 and "esp32_devkitc" in r.stderr


def test_deploy_dry_run_copies_all_files_and_removes_stale_sources(tmp_path):
    r = subprocess.run([sys.executable, DEPLOY, "deploy", "--port", "/dev/null", "--board", "esp32c3_supermini",
                        "--out", str(tmp_path / "b"), "--dry-run"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("$ ")]
    assert "exec" in lines[0] and "'netman.py'" in lines[0]
    assert " cp " in lines[1] and "board.py" in lines[1] and lines[1].endswith(" :")
    assert " cp -r " in lines[2] and lines[2].endswith("www :")
    assert lines[3].endswith("reset")


def test_flash_needs_a_firmware_image():
    r = subprocess.run([sys.executable, DEPLOY, "flash", "--port", "/dev/null", "--board", "esp32_devkitc"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "FIRMWARE=" in r.stderr


def test_flash_dry_run_uses_the_chip_offset(tmp_path):
    fw = tmp_path / "fw.bin"
    img = bytearray(b"\xff" * 0x9000)   # a merged ESP32-C3 image: header, partition table at 0x8000
    img[0], img[12], img[13] = 0xE9, 5, 0
    img[0x8000:0x8020] = struct.pack("<2sBBII16sI", b"\xaa\x50", 0, 0, 0x10000, 0x1F0000, b"factory", 0)
    fw.write_bytes(bytes(img))
    r = subprocess.run([sys.executable, DEPLOY, "flash", "--port", "/dev/null", "--board", "esp32c3_supermini",
                        "--firmware", str(fw), "--dry-run"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "--chip esp32c3" in r.stdout and "erase-flash" in r.stdout and " 0x0 " in r.stdout
