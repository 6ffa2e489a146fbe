"""The p1gw image for the ESP32, checked as far as this machine can without ESP-IDF.

- firmware/manifest.py resolves for the esp32 port and freezes: MicroPython's own
  tools/makemanifest.py runs it with P1GW_BOARD set, compiling every module with
  mpy-cross for the ESP32 (xtensawin) and the C3 (rv32imc), for every board;
- our ESP-IDF board definitions (boards/idf/) give the OTA layout and keep the
  version record, read with cmake as the port's CMakeLists.txt reads them;
- tools/esp32_image.py: one clear line when ESP-IDF is missing, the make command
  it runs, how it reads an image (the p1gw version record), and `make flash`.
"""
import os
import re
import shutil
import struct
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import esp32_image  # noqa: E402
import mpbuild  # noqa: E402

TOOL = os.path.join(ROOT, "tools", "esp32_image.py")
MPY = mpbuild.SRC
PORT = os.path.join(MPY, "ports", "esp32")
MPY_CROSS = mpbuild.MPY_CROSS
BOARDS = esp32_image.board_names()
CHIP = {b: esp32_image.board_info(b)[1]["CHIP"] for b in BOARDS}
BOARD_DIR = {"esp32": "ESP32_GENERIC", "esp32c3": "ESP32_GENERIC_C3"}
# What makemanifest's last step (mpy-tool) reads from the port's preprocessed qstr
# header: the esp32 port's qstr settings (1 length byte; EXTRA_FEATURES: 2 hash bytes).
QSTR_CONFIG = "QCFG(BYTES_IN_LEN, (1))\nQCFG(BYTES_IN_HASH, (2))\n"


def _device_modules():
    fw = os.path.join(ROOT, "firmware")
    return sorted(f for f in os.listdir(fw)
                  if f.endswith(".py") and f not in ("manifest.py", "hw_host.py", "hw_host_flash.py", "hw_host_sim.py", "main_host.py"))


def _freeze(tmp_path, board, arch, staged_name="board.py"):
    """Run makemanifest.py on firmware/manifest.py for the esp32 port: (result, frozen_content.c text)."""
    stage = tmp_path / "stage"
    stage.mkdir()
    shutil.copyfile(os.path.join(ROOT, "boards", board + ".py"), stage / staged_name)
    build = tmp_path / "build"
    (build / "genhdr").mkdir(parents=True)
    (build / "genhdr" / "qstrdefs.preprocessed.h").write_text(QSTR_CONFIG)
    out = tmp_path / "frozen_content.c"
    env = dict(os.environ, P1GW_BOARD=str(stage / staged_name), MICROPY_MPYCROSS=MPY_CROSS)
    r = subprocess.run([sys.executable, os.path.join(MPY, "tools", "makemanifest.py"), "-o", str(out),
                        "-v", "MPY_DIR=" + MPY, "-v", "PORT_DIR=" + PORT,
                        "-v", "MPY_LIB_DIR=" + os.path.join(MPY, "lib", "micropython-lib"),
                        "-v", "BOARD_DIR=" + os.path.join(PORT, "boards", BOARD_DIR[CHIP[board]]),
                        "-b", str(build), "-f-march=" + arch, esp32_image.MANIFEST],
                       capture_output=True, text=True, env=env)
    return r, (out.read_text() if out.exists() else "")


def _frozen_names(c_text):
    block = c_text.split("const char mp_frozen_names[] = {", 1)[1].split("};", 1)[0]
    return re.findall(r'^\s*"([^"]+)\\0"$', block, re.M)


@pytest.fixture(scope="module", autouse=True)
def _micropython():
    if not (os.path.exists(MPY_CROSS) and os.path.isfile(os.path.join(PORT, "boards", "manifest.py"))):
        mpbuild.stock()   # what `make test`'s setup has already done


@pytest.mark.parametrize("arch", ["xtensawin", "rv32imc"])
@pytest.mark.parametrize("board", BOARDS)
def test_manifest_freezes_the_firmware_the_board_and_the_ports_modules(tmp_path, board, arch):
    r, c_text = _freeze(tmp_path, board, arch)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    names = _frozen_names(c_text)
    assert len(names) == len(set(names)), names
    # the firmware, the board file as `board`, the page as frozen bytes
    assert set(_device_modules()) | {"board.py"} <= set(names)
    # what the esp32 port's own manifest brings and p1gw uses
    assert {"umqtt/simple.py", "neopixel.py", "ntptime.py", "_boot.py", "asyncio/__init__.py"} <= set(names)
    assert not {"hw_host.py", "hw_host_flash.py", "hw_host_sim.py", "main_host.py", "manifest.py"} & set(names)
    # the board frozen is the one staged
    name = esp32_image.board_info(board)[1]["NAME"]
    assert '"%s"' % name in c_text
    # every module went through mpy-cross for this arch: one .mpy each
    mpys = [os.path.relpath(os.path.join(d, f), tmp_path / "build" / "frozen_mpy")
            for d, _, fs in os.walk(tmp_path / "build" / "frozen_mpy") for f in fs]
    assert sorted(m[:-4] + ".py" for m in mpys) == sorted(names)


def test_manifest_refuses_a_board_file_not_named_board_py(tmp_path):
    r, _ = _freeze(tmp_path, "wt32_eth01", "xtensawin", staged_name="wt32_eth01.py")
    assert r.returncode != 0
    assert "must name a file called board.py" in r.stdout + r.stderr


# --- ESP-IDF board definitions ------------------------------------------------

READ_BOARD = """
include(${BOARD_DIR}/mpconfigboard.cmake)
message("IDF_TARGET=${IDF_TARGET}")
message("DEF=${MICROPY_DEF_BOARD}")
file(WRITE ${OUT} "")
foreach(f ${SDKCONFIG_DEFAULTS})
  file(READ ${f} c)
  file(APPEND ${OUT} "${c}")
endforeach()
"""


def _board_definition(tmp_path, idf_board):
    """What the port's CMakeLists.txt takes from our board: IDF_TARGET, board defines, the combined sdkconfig."""
    script = tmp_path / "read_board.cmake"
    script.write_text(READ_BOARD)
    out = tmp_path / "sdkconfig.combined"
    r = subprocess.run(["cmake", "-D", "BOARD_DIR=" + os.path.join(esp32_image.IDF_BOARDS, idf_board),
                        "-D", "OUT=" + str(out), "-P", str(script)], cwd=PORT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    found = dict(re.findall(r"^(IDF_TARGET|DEF)=(.*)$", r.stderr, re.M))
    settings = {}
    for line in out.read_text().splitlines():    # a later line overrides an earlier one
        if line.startswith("CONFIG_"):
            key, _, value = line.partition("=")
            settings[key] = value
    return found, settings


@pytest.mark.skipif(not shutil.which("cmake"), reason="cmake is not installed")
@pytest.mark.parametrize("chip", sorted(esp32_image.IDF_BOARD))
def test_board_definition_has_the_ota_layout_and_keeps_the_version_field(tmp_path, chip):
    found, settings = _board_definition(tmp_path, esp32_image.IDF_BOARD[chip])
    assert found["IDF_TARGET"] == ("esp32c3" if chip == "esp32c3" else "")   # "": the default, esp32
    assert settings["CONFIG_PARTITION_TABLE_CUSTOM_FILENAME"] == '"partitions-4MiB-ota.csv"'
    assert settings["CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE"] == "y"
    assert settings["CONFIG_COMPILER_OPTIMIZATION_SIZE"] == "y"
    assert settings["CONFIG_APP_EXCLUDE_PROJECT_VER_VAR"] == "n"
    if chip == "esp32":
        assert found["DEF"] == 'MICROPY_HW_BOARD_NAME="Generic ESP32 module with OTA"'   # the OTA variant's
    with open(os.path.join(PORT, "partitions-4MiB-ota.csv")) as f:
        rows = [ln.split(",")[0] for ln in f if ln.strip() and not ln.startswith("#")]
    assert rows == ["nvs", "otadata", "phy_init", "ota_0", "ota_1"]


@pytest.mark.parametrize("chip", sorted(esp32_image.IDF_BOARD))
def test_board_definition_header_includes_the_ports_own(chip):
    with open(os.path.join(esp32_image.IDF_BOARDS, esp32_image.IDF_BOARD[chip], "mpconfigboard.h")) as f:
        included = re.findall(r'^#include "(.+)"', f.read(), re.M)
    assert included == ["boards/%s/mpconfigboard.h" % BOARD_DIR[chip]]
    assert os.path.isfile(os.path.join(PORT, included[0]))


# --- tools/esp32_image.py: build ----------------------------------------------------

def _tool(*args, **env):
    e = {k: v for k, v in os.environ.items() if k not in ("IDF_PATH", "DOCKER")}
    e.update(env)
    return subprocess.run([sys.executable, TOOL] + list(args), capture_output=True, text=True, env=e)


def test_build_without_esp_idf_or_docker_says_so_in_one_line():
    r = _tool("build", "--board", "wt32_eth01", DOCKER="/nonexistent/docker")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "ESP-IDF v5.5.1" in r.stderr and "IDF_PATH" in r.stderr and "espressif/idf:v5.5.1" in r.stderr


def test_build_with_a_stopped_docker_engine_says_so_in_one_line(tmp_path):
    docker = tmp_path / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    r = _tool("build", "--board", "wt32_eth01", DOCKER=str(docker))
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "engine is not running" in r.stderr


def test_build_of_an_unknown_board_lists_the_boards():
    r = _tool("build", "--board", "nope")
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert ", ".join(BOARDS) in r.stderr


@pytest.mark.parametrize("board", BOARDS)
def test_build_runs_the_esp32_port_with_our_board_the_manifest_and_the_version_record(board):
    r = _tool("build", "--board", board, "--dry-run")
    assert r.returncode == 0, r.stderr
    native, docker = r.stdout.splitlines()
    version = esp32_image.firmware_version()
    idf_board = "P1GW_ESP32C3" if CHIP[board] == "esp32c3" else "P1GW_ESP32"
    for line in (native, docker):
        assert "make -C " in line and line.split("make -C ")[1].split()[0].endswith("/ports/esp32")
        assert "BOARD_DIR=%s" % os.path.join(ROOT, "boards", "idf", idf_board) in line
        assert "FROZEN_MANIFEST=%s" % os.path.join(ROOT, "firmware", "manifest.py") in line
        assert "'CMAKE_ARGS=-D PROJECT_VER=p1gw:%s:%s'" % (version, board) in line
        assert "P1GW_BOARD=%s" % os.path.join(ROOT, "build", "firmware", board, "board.py") in line
    assert " espressif/idf:v5.5.1 make " in docker and "-v %s:%s" % (ROOT, ROOT) in docker


def test_version_record_fits_the_app_description_and_reads_back():
    rec = esp32_image.version_record("0.1.0", "esp32c3_supermini")
    assert rec == "p1gw:0.1.0:esp32c3_supermini" and len(rec) <= 31
    assert esp32_image.parse_record(rec) == ("0.1.0", "esp32c3_supermini")
    assert esp32_image.parse_record("v1.28.0") is None and esp32_image.parse_record("") is None
    with pytest.raises(ValueError):
        esp32_image.version_record("0.1.0", "a_board_name_far_too_long_for_it")
    for board in BOARDS:   # 31 characters leave every board 8 for the version
        esp32_image.version_record(esp32_image.firmware_version(), board)
        esp32_image.version_record("10.20.30", board)


# --- reading images -----------------------------------------------------------------

def _app(chip_id, version_field):
    """An app image as ESP-IDF lays it out: 24-byte header, segment header, app description."""
    head = bytearray(24)
    head[0], head[1] = 0xE9, 1
    struct.pack_into("<H", head, 12, chip_id)
    desc = bytearray(256)
    struct.pack_into("<I", desc, 0, 0xABCD5432)
    desc[16:16 + len(version_field)] = version_field.encode()
    desc[80:88] = b"12:00:00"
    desc[96:107] = b"Jan  1 2026"
    desc[112:118] = b"v5.5.1"
    return bytes(head) + struct.pack("<II", 0x3F400020, len(desc)) + bytes(desc) + bytes(64)


def _entry(label, ptype, subtype, offset, size):
    return struct.pack("<2sBBII16sI", b"\xaa\x50", ptype, subtype, offset, size, label.encode(), 0)


OTA_TABLE = [("nvs", 1, 2, 0x9000, 0x4000), ("otadata", 1, 0, 0xD000, 0x2000), ("phy_init", 1, 1, 0xF000, 0x1000),
             ("ota_0", 0, 0x10, 0x10000, 0x180000), ("ota_1", 0, 0x11, 0x190000, 0x180000)]
STOCK_TABLE = [("nvs", 1, 2, 0x9000, 0x6000), ("phy_init", 1, 1, 0xF000, 0x1000),
               ("factory", 0, 0, 0x10000, 0x1F0000)]


def _merged(chip, version_field, table=OTA_TABLE, app_chip=None):
    """What makeimg.py writes: bootloader at the chip's offset, the table at 0x8000, the app at 0x10000."""
    base = esp32_image.FLASH_OFFSET[chip]
    img = bytearray(b"\xff" * (0x10000 - base))
    img[0] = 0xE9
    struct.pack_into("<H", img, 12, esp32_image.CHIP_ID[chip])
    t = b"".join(_entry(*p) for p in table)
    img[0x8000 - base:0x8000 - base + len(t)] = t
    cid = esp32_image.CHIP_ID[app_chip or chip]
    return bytes(img) + _app(cid, version_field)


@pytest.mark.parametrize("chip", sorted(esp32_image.FLASH_OFFSET))
def test_a_merged_image_says_p1gw_its_version_board_chip_and_slots(chip):
    d = esp32_image.read_image(_merged(chip, "p1gw:0.1.0:some_board"))
    assert (d["kind"], d["chip"], d["version"], d["board"]) == ("merged", chip, "0.1.0", "some_board")
    assert d["offset"] == {"esp32": 0x1000, "esp32c3": 0}[chip]
    assert d["slots"] == [("ota_0", 0x10000, 0x180000), ("ota_1", 0x190000, 0x180000)]
    assert d["idf"] == "v5.5.1" and d["built"] == "Jan  1 2026 12:00:00"


def test_an_app_image_says_p1gw_and_its_chip_from_its_first_block():
    d = esp32_image.read_image(_app(5, "p1gw:0.2.0:esp32c3_supermini")[:4096])
    assert (d["kind"], d["chip"], d["version"], d["board"]) == ("app", "esp32c3", "0.2.0", "esp32c3_supermini")


def test_a_stock_image_is_not_p1gw_and_not_the_ota_layout():
    assert esp32_image.read_image(_app(0, ""))["board"] is None
    with pytest.raises(esp32_image.ImageError, match="not the OTA layout"):
        esp32_image.read_image(_merged("esp32", "", table=STOCK_TABLE))
    with pytest.raises(esp32_image.ImageError, match="0xE9"):
        esp32_image.read_image(b"PK\x03\x04" + bytes(300))
    with pytest.raises(esp32_image.ImageError, match="bootloader for esp32, app for esp32c3"):
        esp32_image.read_image(_merged("esp32", "p1gw:0.1.0:x", app_chip="esp32c3"))


# --- tools/esp32_image.py: flash ------------------------------------------------------

def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


@pytest.mark.parametrize("board", ["wt32_eth01", "esp32c3_supermini"])
def test_flash_erases_then_writes_the_image_at_the_chips_bootloader_offset(tmp_path, board):
    chip = CHIP[board]
    img = _write(tmp_path, "p1gw.bin", _merged(chip, "p1gw:0.1.0:" + board))
    r = _tool("flash", "--board", board, "--port", "/dev/null", "--image", img, "--dry-run")
    assert r.returncode == 0, r.stderr
    erase, write = r.stdout.splitlines()
    assert erase.endswith("--chip %s --port /dev/null erase-flash" % chip)
    assert write.endswith("write-flash -z %s %s" % ({"esp32": "0x1000", "esp32c3": "0x0"}[chip], img))


def test_flash_keep_fs_only_writes(tmp_path):
    img = _write(tmp_path, "p1gw.bin", _merged("esp32", "p1gw:0.1.0:wt32_eth01"))
    r = _tool("flash", "--board", "wt32_eth01", "--port", "/dev/null", "--image", img, "--keep-fs", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1 and "write-flash" in r.stdout


@pytest.mark.parametrize("data, says", [
    (lambda: _merged("esp32", "p1gw:0.1.0:esp32_devkitc"), "is the p1gw image for esp32_devkitc"),
    (lambda: _merged("esp32c3", "p1gw:0.1.0:wt32_eth01"), "(esp32c3), not for wt32_eth01 (esp32)"),
    (lambda: _merged("esp32", "v1.28.0"), "is not a p1gw image"),
    (lambda: _app(0, "p1gw:0.1.0:wt32_eth01"), "is an app alone"),
    (lambda: b"hello" * 100, "not an ESP image"),
])
def test_flash_refuses_an_image_that_is_not_this_boards_p1gw_image(tmp_path, data, says):
    img = _write(tmp_path, "x.bin", data())
    r = _tool("flash", "--board", "wt32_eth01", "--port", "/dev/null", "--image", img, "--dry-run")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and says in r.stderr


def test_flash_without_a_built_image_says_make_firmware(tmp_path):
    r = _tool("flash", "--board", "wt32_eth01", "--port", "/dev/null", "--image", str(tmp_path / "none.bin"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "make firmware BOARD=wt32_eth01" in r.stderr and "FIRMWARE=" in r.stderr


def test_flash_to_a_missing_port_says_so_in_one_line(tmp_path):
    img = _write(tmp_path, "p1gw.bin", _merged("esp32", "p1gw:0.1.0:wt32_eth01"))
    r = _tool("flash", "--board", "wt32_eth01", "--port", str(tmp_path / "ttyUSB9"), "--image", img)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "serial port" in r.stderr and "not found" in r.stderr and "Traceback" not in r.stderr


def test_stock_flash_to_a_missing_port_says_so_in_one_line(tmp_path):
    fw = _write(tmp_path, "stock.bin", _merged("esp32", "v1.28.0", table=STOCK_TABLE))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "deploy.py"), "flash", "--port",
                        str(tmp_path / "ttyUSB9"), "--board", "esp32_devkitc", "--firmware", fw],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "not found" in r.stderr


def _stock_flash(tmp_path, firmware, board="esp32_devkitc"):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", "deploy.py"), "flash", "--port",
                           str(tmp_path / "ttyUSB9"), "--board", board, "--firmware", firmware],
                          capture_output=True, text=True)


@pytest.mark.parametrize("data, says", [
    (lambda: b"PK\x03\x04" + bytes(300), "not an ESP image"),
    (lambda: b"\xe9" + bytes(15), "not an ESP image"),
    (lambda: _merged("esp32", "v1.28.0", table=[]), "no partition table"),
    (lambda: _merged("esp32c3", "v1.28.0", table=STOCK_TABLE), "is an image for esp32c3"),
])
def test_stock_flash_checks_the_image_before_anything_touches_the_board(tmp_path, data, says):
    r = _stock_flash(tmp_path, _write(tmp_path, "stock.bin", data()))
    assert r.returncode == 1 and r.stdout == "" and r.stderr.count("\n") == 1
    assert says in r.stderr and "ESP32_GENERIC" in r.stderr and "Traceback" not in r.stderr


def test_stock_flash_of_a_missing_file_says_not_found_and_names_micropython_orgs_board(tmp_path):
    r = _stock_flash(tmp_path, str(tmp_path / "ESP32_GENERIC_C3.bin"), board="esp32c3_supermini")
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "not found" in r.stderr and "ESP32_GENERIC_C3" in r.stderr and "required" not in r.stderr


@pytest.mark.parametrize("cmd", [["deploy", "--board", "esp32_devkitc"], ["repl"]])
def test_deploy_and_repl_without_a_board_say_so_in_one_line(tmp_path, cmd):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "deploy.py"), cmd[0], "--port",
                        str(tmp_path / "ttyUSB9")] + cmd[1:], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "serial port" in r.stderr and "not found" in r.stderr and "Traceback" not in r.stderr


def test_ci_workflow_builds_every_board_with_make_firmware_in_the_idf_container():
    with open(os.path.join(ROOT, ".github", "workflows", "firmware.yml")) as f:
        text = f.read()
    matrix = re.search(r"^\s*board: \[(.*)\]$", text, re.M)
    assert matrix and [b.strip() for b in matrix.group(1).split(",")] == BOARDS
    assert re.search(r"^\s*container: espressif/idf:v5\.5\.1$", text, re.M)
    assert "make firmware BOARD=${{ matrix.board }}" in text
    assert "path: build/firmware/p1gw-*.bin" in text


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pty")
def test_flash_to_a_busy_port_says_so_in_one_line(tmp_path):
    serial = pytest.importorskip("serial")
    img = _write(tmp_path, "p1gw.bin", _merged("esp32", "p1gw:0.1.0:wt32_eth01"))
    master, slave = os.openpty()
    holder = serial.Serial(os.ttyname(slave), exclusive=True)   # as a REPL or monitor holds it
    try:
        r = _tool("flash", "--board", "wt32_eth01", "--port", os.ttyname(slave), "--image", img)
    finally:
        holder.close()
        os.close(master)
        os.close(slave)
    assert r.returncode == 1 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "is busy" in r.stderr and "Traceback" not in r.stderr


def test_info_prints_what_an_image_holds(tmp_path):
    img = _write(tmp_path, "p1gw.bin", _merged("esp32c3", "p1gw:0.1.0:esp32c3_supermini"))
    r = _tool("info", img)
    assert r.returncode == 0, r.stderr
    assert "merged image, write at 0x0, esp32c3" in r.stdout and "p1gw 0.1.0 for esp32c3_supermini" in r.stdout
    assert "slot ota_1 at 0x190000, 1572864 bytes" in r.stdout
