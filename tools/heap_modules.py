#!/usr/bin/env python3
"""What the firmware's modules cost in the heap when imported, in the stock layout or the image.

    .venv/bin/python tools/heap_modules.py [--layout stock|image] [--extra MOD,...] [--from-log FILE] [MOD ...]

Imports MODs (default: the modules a gateway under tools/bench_load.py's load
keeps loaded, as its ``--heap-log`` printed them) one after the other in a fresh
32-bit MicroPython and prints gc.mem_alloc() after gc.collect() per module:
what its code (stock: bytecode and names from the .mpy), its globals and what
it builds at import hold. Then each ``--extra`` module (what a PATCH or an update
loads on demand) on top of them, each in its own process. Figures only.
The per-module steps are approximate: the interned-name pool grows in doubling
chunks, and a chunk lands on the module that needed it.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpbuild  # noqa: E402
import sim  # noqa: E402

# What `sys.modules` held on the stock layout under tools/bench_load.py's load, as
# its heap log printed it ("modules: ..."); `make bench` and --from-log take the
# list of the run at hand instead.
STEADY = ("asyncio hw_host app button clock config crc16 dsmr empro framer http_server hub jsonw "
          "led modbus_frame modbus_tcp mqtt_payload mqtt_publisher netman ondemand p1reader p1time phases "
          "plausible raw_stream reading regmap status streams supervisor version webapi").split()
# What a loaded-module list may hold that is no module of the firmware to import here:
# the sim's entry point (it runs the gateway when imported) and the script itself.
HOST_ENTRY = ("__main__", "main_host")
# Loaded on demand, each for its call and dropped after: a config PATCH (webconfig, jsoncheck, then
# config_check -> pem), an MQTT session's opening and its Home Assistant announcement, a network
# step, the HomeWizard API, a firmware update, a French meter.
EXTRA = ("webconfig", "jsoncheck", "config_check", "pem", "config_defaults", "webactions", "webrefuse",
         "http_body", "http_full", "auth_throttle", "mqtt_connect", "ha_discovery", "netconnect", "homewizard",
         "ota", "tic")

SCRIPT = """
import gc, sys
gc.collect()
base = prev = gc.mem_alloc()
for m in sys.argv[1:]:
    __import__(m)
    gc.collect()
    a = gc.mem_alloc()
    print("mod", m, a - prev, a - base)
    prev = a
"""


def _run(layout, modules):
    binary = mpbuild.IMAGE if layout == "image" else mpbuild.STOCK
    path = ".frozen" if layout == "image" else sim.BUILD + os.pathsep + ".frozen"
    script = os.path.join(sim.BUILD if layout == "stock" else mpbuild.IMAGE_BUILD, "heap_modules_run.py")
    with open(script, "w") as f:
        f.write(SCRIPT)
    out = subprocess.run([binary, "-X", "heapsize=1m", script] + list(modules), capture_output=True, text=True,
                         env=dict(os.environ, MICROPYPATH=path))
    rows = [l.split()[1:] for l in out.stdout.splitlines() if l.startswith("mod ")]
    if out.returncode or len(rows) != len(modules):
        raise SystemExit("heap_modules: importing %s failed:\n%s" % (" ".join(modules), out.stderr[-2000:]))
    return [(m, int(step), int(total)) for m, step, total in rows]


def _imports(module):
    """The firmware modules ``module`` imports at its top level."""
    try:
        with open(os.path.join(sim.FIRMWARE, module + ".py")) as f:
            lines = f.read().splitlines()
    except OSError:
        return ()
    found = []
    for line in lines:
        words = line.replace(",", " ").split()
        if words[:1] == ["import"]:
            found += words[1:]
        elif words[:1] == ["from"] and len(words) > 1:
            found.append(words[1])
    return found


def leaves_first(modules):
    """``modules`` ordered so that each comes after the firmware modules it imports: a step is its own."""
    done = []

    def visit(m, seen):
        if m in done or m in seen:
            return
        for dep in _imports(m):
            if dep in modules:
                visit(dep, seen + (m,))
        done.append(m)
    for m in modules:
        visit(m, ())
    return done


def costs(layout="stock", modules=STEADY, extra=EXTRA):
    """[(module, step, running total)] for ``modules``, then [(module, cost on top)] for each of ``extra``."""
    sim.build(layout)
    modules = leaves_first(list(modules))
    rows = _run(layout, modules)
    on_top = [(m, _run(layout, list(modules) + [m])[-1][1]) for m in extra if m not in modules]
    return rows, on_top


def report(layout, rows, on_top, out=print):
    out("Heap held by imported modules, %s layout (after gc.collect(), bytes):" % layout)
    for m, step, total in sorted(rows, key=lambda r: -r[1]):
        out("  %-16s %6d" % (m, step))
    out("  %-16s %6d  (%d modules)" % ("all of them", rows[-1][2] if rows else 0, len(rows)))
    if on_top:
        out("Loaded on demand, each on top of them:")
        for m, c in on_top:
            out("  %-16s %6d" % (m, c))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layout", choices=("stock", "image"), default="stock")
    ap.add_argument("--extra", help="comma-separated on-demand modules (default: %s)" % ",".join(EXTRA))
    ap.add_argument("--from-log", metavar="FILE",
                    help="the modules of the last heap sample in a tools/bench_load.py --log FILE")
    ap.add_argument("modules", nargs="*", help="default: the modules a gateway under load keeps loaded")
    a = ap.parse_args(argv)
    if a.from_log:
        with open(a.from_log) as f:
            held = [l.split()[1:] for l in f if l.startswith("modules:")]
        if not held:
            raise SystemExit("heap_modules: no 'modules:' line in %s" % a.from_log)
        a.modules = [m for m in held[-1] if m not in HOST_ENTRY]
    extra = EXTRA if a.extra is None else [m for m in a.extra.split(",") if m]
    rows, on_top = costs(a.layout, a.modules or STEADY, extra)
    report(a.layout, rows, on_top)


if __name__ == "__main__":
    main()
