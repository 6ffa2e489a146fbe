#!/usr/bin/env python3
"""`make bench`: speed and memory figures, printed as tables (never asserted).

1. Telegram core under the 32-bit MicroPython (an ESP32's object sizes) with a
   96 KB heap: time and heap allocated per telegram, heap growth over 10,000 telegrams;
   P1 telegrams and French meters' TIC frames (*.tic) alike.
2. The same code under CPython next to dsmr_parser (P1) and enedis-tic (TIC) on the same telegrams.
3. Further lines from the service benchmarks (Smarty, Modbus), and the heap each
   loaded module holds in both layouts (tools/heap_modules.py).
4. The load of issue 11 (tools/bench_load.py): a meter at 1 telegram/s, 4 Modbus
   clients at 10 Hz, a phone's browser, 2 raw-stream clients, MQTT with Home
   Assistant discovery and totals, a config PATCH every 30 s; on the image at
   64k and the stock layout at 128k, then the smallest heap each survives.
   Environment (make bench VAR=...): P1GW_LOAD_SECONDS (default 600; 0 skips
   the load), P1GW_LOAD_SEARCH_SECONDS (each run of the heap search, default
   60; 0 skips the search), P1GW_LOAD_LAYOUTS (default "image,stock").
"""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)
FIRMWARE = os.path.join(ROOT, "firmware")
TELEGRAMS = os.path.join(ROOT, "host_tests", "telegrams")
MP_ENV = dict(os.environ, MICROPYPATH=":".join([FIRMWARE, ".frozen"]))
SHIM = os.path.join(ROOT, "host_tests", "shim")  # micropython.const for CPython
sys.path[:0] = [FIRMWARE, SHIM, os.path.join(ROOT, "host_tests")]


def micropython(script, *args):
    cmd = [os.path.join(VENV_BIN, "micropython"), "-X", "heapsize=96k", script] + list(args)
    out = subprocess.run(cmd, env=MP_ENV, capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def cpython_ours(rounds):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bench_core.py"), TELEGRAMS, str(rounds)],
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join((FIRMWARE, SHIM))),
                         capture_output=True, text=True, check=True).stdout
    return {r["name"]: r for r in map(json.loads, out.splitlines())}


def dsmr_parser_us(rounds):
    from dsmr_parser.parsers import TelegramParser
    from test_dsmr_reference import SPECS
    res = {}
    for name, spec in SPECS.items():
        text = open(os.path.join(TELEGRAMS, name + ".p1"), "rb").read().decode("latin-1")
        p = TelegramParser(spec, apply_checksum_validation=True)
        t = time.perf_counter()
        for _ in range(rounds):
            p.parse(text)
        res[name + ".p1"] = (time.perf_counter() - t) / rounds * 1e6
    return res


def enedis_tic_us(rounds):
    from enedis_tic.link_layer import FrameFactory
    res = {}
    for name in sorted(os.listdir(TELEGRAMS)):
        if name.endswith(".tic") and name != "tic-cbe.tic":  # (its space checksums trip enedis-tic)
            text = open(os.path.join(TELEGRAMS, name), "rb").read().decode("ascii")
            t = time.perf_counter()
            for _ in range(rounds):
                FrameFactory(text).to_dict()
            res[name] = (time.perf_counter() - t) / rounds * 1e6
    return res


def main():
    mp = micropython(os.path.join(ROOT, "tools", "bench_core.py"), TELEGRAMS, "100")
    growth = mp.pop()
    ours = cpython_ours(500)
    ref = dsmr_parser_us(200)
    ref.update(enedis_tic_us(200))
    print("Telegram core: framing + CRC (TIC: every data set's checksum) + parsing, per telegram")
    print("MP: MicroPython v1.28.0 unix port, 32-bit with single floats (objects laid out as on an ESP32)")
    print("%-24s %6s | %8s %11s | %10s %12s %8s" % (
        "telegram", "bytes", "MP us", "MP alloc B", "CPython us", "reference", "speedup"))
    for r in mp:
        c = ours[r["name"]]["us"]
        d = ref.get(r["name"])
        print("%-24s %6d | %8.0f %11d | %10.1f %12s %8s" % (
            r["name"], r["bytes"], r["us"], r["alloc"], c,
            "%.1f" % d if d else "-", "%.1fx" % (d / c) if d else "-"))
    print("Reference: dsmr_parser for .p1, enedis-tic's FrameFactory (checksums, no values) for .tic")
    print("MicroPython heap growth over 10,000 DSMR 5 telegrams: %d bytes, over 10,000 Linky standard "
          "frames: %d bytes (free after: %d of 96 KB)" % (growth["growth_10k"], growth["tic_growth_10k"],
                                                          growth["mem_free"]))
    print("Targets: <= 2048 B allocated per DSMR 5 telegram (v5.p1), zero growth, >= 10x dsmr_parser")
    for extra in ("bench_smarty.py", "bench_modbus.py"):
        print()
        sys.stdout.flush()
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", extra)], env=MP_ENV, check=False)
    modules(load())


def modules(results):
    """What each layout's loaded modules hold in the heap before any connection (tools/heap_modules.py):
    the modules the stock layout kept loaded under the load, or heap_modules.STEADY without a load run."""
    import heap_modules
    held = [r["modules"] for r, _ in results or () if r["layout"] == "stock" and r.get("modules")]
    held = [m for m in held[0] if m not in heap_modules.HOST_ENTRY] if held else heap_modules.STEADY
    for layout in ("image", "stock"):
        print()
        rows, on_top = heap_modules.costs(layout, held, heap_modules.EXTRA if layout == "stock" else ())
        heap_modules.report(layout, rows, on_top, out=_print_flush)


def load():
    seconds = float(os.environ.get("P1GW_LOAD_SECONDS", 600))
    search = float(os.environ.get("P1GW_LOAD_SEARCH_SECONDS", 60))
    layouts = [x for x in os.environ.get("P1GW_LOAD_LAYOUTS", "image,stock").split(",") if x]
    if not seconds:
        return None
    import bench_load
    print()
    print("Load (issue 11): %.0f s per layout at its budget, then heap search with %.0f s runs "
          "(P1GW_LOAD_SECONDS, P1GW_LOAD_SEARCH_SECONDS)" % (seconds, search))
    print("  meter 1 telegram/s; %d Modbus clients x 10 Hz (0x%04X x%d, FC03+FC04); GET / and "
          "/api/v1/status every 1 s (keep-alive); PATCH /api/v1/config every 30 s; %d raw-stream clients; "
          "MQTT with HomeAssistant + IncludeTotals to a local mosquitto" % (
              bench_load.MODBUS_CLIENTS, bench_load.MODBUS_BLOCK[0], bench_load.MODBUS_BLOCK[1],
              bench_load.RAW_CLIENTS))
    sys.stdout.flush()
    return bench_load.bench(layouts, seconds, search, out=_print_flush)


def _print_flush(line):
    print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
