#!/usr/bin/env python3
"""The heap an ESP32 gives the firmware's code, measured in a 32-bit MicroPython.

The unix port here is 64-bit, so its heap figures overstate an ESP32's. The
WebAssembly port (npm, run by node through tools/mp32.mjs) is 32-bit like the
ESP32: it loads the very .mpy files `make deploy` copies to an ESP32
(tools/deploy.py build) and imports them in the order a device boots, then
reports what each step left on the heap. The same steps run in the unix
port for comparison. Modules the measuring ports lack or an ESP32 has frozen
(machine, network, neopixel, umqtt.simple; in WebAssembly also socket, ssl,
cryptolib) are replaced by stand-ins loaded before the baseline, so they are
not counted. ``telegram_alloc32`` runs tools/bench_core.py there too, for the
heap one telegram takes on an ESP32.

    .venv/bin/python tools/heap32.py    # table: KB per step, 32-bit and unix 64-bit
"""
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "heap32")
BOARD = "esp32_devkitc"
ESP32_HEAP_KB = 110
NODE = shutil.which("node") or "node"
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy  # noqa: E402

# Stand-ins that take any pin or interface and do nothing: the measurement
# builds the boot objects but drives no hardware. umqtt.simple and neopixel
# are frozen into ESP32 firmware, so they cost no heap there either.
_STUBS = {
    "machine": (
        "class Pin:\n    OUT = IN = PULL_UP = INV_RX = 0\n\n"
        "    def __init__(self, *args, **kwargs):\n        pass\n\n"
        "    def value(self, *args):\n        return 1\n\n"
        "    def init(self, *args, **kwargs):\n        pass\n\n"
        "    feed = write = init\n\n\n"
        "UART = PWM = WDT = Pin\n\n\n"
        "def unique_id():\n    return b'$\\n\\xc4\\x00Q~'\n"),
    "network": "from machine import Pin as WLAN\n\nLAN = WLAN\nSTA_IF, AP_IF, PHY_LAN8720 = 0, 1, 0\n",
    "neopixel": ("from machine import Pin\n\n\nclass NeoPixel(Pin):\n"
                 "    def __setitem__(self, i, rgb):\n        pass\n"),
    "umqtt/simple": "class MQTTClient:\n    pass\n",
    "umqtt/__init__": "", "socket": "", "ssl": "", "cryptolib": "",
}
_PRELOAD = ("machine", "network", "neopixel", "umqtt.simple", "socket", "ssl", "cryptolib")

# (label, statement): a device's boot as main.py and app.App do it, with the
# state (identity.json, config.json) in STATE. Services are built as app.App.run
# builds them, the on-demand ones (MQTT, captive DNS) last; no socket is opened.
BOOT = (
    ("main.py: board, hw_esp32", "import board, hw_esp32"),
    ("app and the modules it imports", "import app"),
    ("App(): config, hub, P1 reader, LED, net", "hw_esp32.state_dir = lambda: STATE; a = app.App(hw_esp32, board)"),
    ("services: Modbus, web, raw stream", "s = [c(a.hub) for _, c in app.find_services(None, tuple(app.ON_DEMAND))]"),
    ("MQTT publisher, once enabled", "m = [c(a.hub) for _, c in app.find_services(('mqtt_publisher',))]"),
    ("captive-portal DNS, while the AP is open", "d = [c(a.hub) for _, c in app.find_services(('captive_dns',))]"),
)


def build():
    """The ESP32 build plus the stand-in modules; returns the folder."""
    deploy.build(BOARD, BUILD)
    os.makedirs(os.path.join(BUILD, "state"))
    for name, text in _STUBS.items():
        os.makedirs(os.path.dirname(os.path.join(BUILD, name)), exist_ok=True)  # umqtt/
        with open(os.path.join(BUILD, name + ".py"), "w") as f:
            f.write(text)
    return BUILD


def _steps(path):
    """Python statements for either port: set up, baseline, then one import per BOOT step."""
    # A collection right after a step can still see a few of its temporaries
    # (the WebAssembly port scans its stack conservatively): measure two steps on.
    probe = ("pass", "gc.collect()", "gc.collect(); print('heap', gc.mem_alloc())")
    steps = ["import gc, sys; sys.path.insert(0, %r); STATE = %r" % (path, path + "/state"),
             "for _n in %r: __import__(_n)" % (_PRELOAD,),
             # The WebAssembly port has no os.urandom; identity.py wants it for new passwords.
             "import os\nif not hasattr(os, 'urandom'): os.urandom = bytes"]
    steps += probe
    for _, stmt in BOOT:
        steps += (stmt,) + probe
    return steps + ["print('modules', ' '.join(sorted(sys.modules)))"]


def _parse(out):
    """([bytes per BOOT step], [modules loaded at the end]) from a port's output."""
    if "cannot load" in out:  # app.find_services could not import a service
        raise RuntimeError(out)
    lines = out.splitlines()
    heap = [int(l.split()[1]) for l in lines if l.startswith("heap ")]
    modules = [l.split()[1:] for l in lines if l.startswith("modules ")]
    if len(heap) != len(BOOT) + 1 or not modules:
        raise RuntimeError("measurement stopped early:\n" + out)
    return [b - a for a, b in zip(heap, heap[1:])], modules[0]


def _mp32(folder, steps):
    """Run ``steps`` in the 32-bit port with ``folder`` as /fw; its output."""
    r = subprocess.run([NODE, os.path.join(ROOT, "tools", "mp32.mjs"), folder] + steps,
                       cwd=ROOT, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("mp32.mjs failed:\n" + r.stdout + r.stderr)
    return r.stdout


def measure32(folder):
    """Bytes each BOOT step leaves on the heap of the 32-bit WebAssembly port, and the modules loaded."""
    return _parse(_mp32(folder, _steps("/fw")))


def measure64(folder):
    """The same steps in the 64-bit unix port (its frozen asyncio, as an ESP32's is frozen)."""
    env = dict(os.environ, MICROPYPATH=".frozen")
    script = "\n".join(_steps(folder)) + "\n"
    r = subprocess.run([MICROPYTHON, "-X", "heapsize=1m", "-c", script], env=env, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("unix port failed:\n" + r.stdout + r.stderr)
    return _parse(r.stdout)


def telegram_alloc32(folder, telegrams):
    """{file name: heap bytes framing + parsing it allocates} in the 32-bit port (tools/bench_core.py)."""
    dst = os.path.join(folder, "telegrams")
    shutil.copytree(telegrams, dst, dirs_exist_ok=True)
    for name in ("bench_core.py", "heapmeter.py"):
        shutil.copy(os.path.join(ROOT, "tools", name), folder)
    names = sorted(n for n in os.listdir(dst) if n.endswith(".p1"))
    out = _mp32(folder, ["import sys; sys.path.insert(0, '/fw')",
                         "import bench_core; bench_core.main('/fw/telegrams', %r, 1, False)" % (names,)])
    rows = [json.loads(l) for l in out.splitlines() if l.startswith('{"')]
    return {row["name"]: row["alloc"] for row in rows if "name" in row}


def main():
    folder = build()
    k32, k64 = measure32(folder)[0], measure64(folder)[0]
    print("Heap a device's boot takes, .mpy as deployed (%s build; sockets and tasks not included)" % BOARD)
    print("%-42s %10s %15s" % ("step", "32-bit KB", "unix 64-bit KB"))
    for (label, _), a, b in zip(BOOT, k32, k64):
        print("%-42s %10.1f %15.1f" % (label, a / 1024, b / 1024))
    boot = len(BOOT) - 2
    print("%-42s %10.1f %15.1f" % ("boot, MQTT off", sum(k32[:boot]) / 1024, sum(k64[:boot]) / 1024))
    print("%-42s %10.1f %15.1f" % ("boot, MQTT on", sum(k32[:boot + 1]) / 1024, sum(k64[:boot + 1]) / 1024))
    print("An ESP32 without PSRAM gives MicroPython about %d KB (PRODUCT.md)." % ESP32_HEAP_KB)


if __name__ == "__main__":
    main()
