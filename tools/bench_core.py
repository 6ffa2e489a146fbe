"""Framer + parser cost per telegram; runs under MicroPython and CPython.

Prints one JSON line per telegram file (*.p1: P1 through framer.py and dsmr.py;
*.tic: a French meter's TIC frame through tic.py): microseconds per telegram
(framing, CRC or checksums and parsing) and, under MicroPython, heap bytes allocated per telegram,
then (by default under MicroPython) one line with the heap growth over 10,000
telegrams. tools/bench.py runs it and formats the table.
"""
import gc
import json
import os
import sys
import time

try:
    ticks_us, ticks_diff = time.ticks_us, time.ticks_diff  # type: ignore[attr-defined]
except AttributeError:
    def ticks_us():
        return int(time.perf_counter() * 1e6)

    def ticks_diff(a, b):
        return a - b

import dsmr
import tic
from framer import Framer
from heapmeter import allocated

MP = sys.implementation.name == "micropython"
last = [None]


def on_telegram(status, crc, buf, n):
    if status == "valid":
        last[0] = dsmr.parse(buf, n, crc != "ok")


def on_frame(status, crc, buf, n):
    if status == "valid":
        last[0] = tic.parse(buf, n, crc != "ok")


def framer_for(name):
    """A fresh framer for the file's protocol: one meter per file (CRC-less meters stay CRC-less)."""
    if name.endswith(".tic"):
        return tic.Framer(on_frame, bytearray(4096), {"valid": 0, "crc_mismatch": 0, "malformed": 0, "too_long": 0})
    return Framer(on_telegram)


def main(folder, names, rounds, with_growth=MP):
    for name in names:
        with open(folder + "/" + name, "rb") as f:
            data = f.read()
        framer = framer_for(name)
        framer.feed(data)  # warm up
        alloc = allocated(framer.feed, data) if MP else None
        t = ticks_us()
        for _ in range(rounds):
            framer.feed(data)
        us = ticks_diff(ticks_us(), t) / rounds
        print(json.dumps({"name": name, "bytes": len(data), "us": us, "alloc": alloc}))
    if with_growth:
        with open(folder + "/v5.p1", "rb") as f:
            data = f.read()
        with open(folder + "/tic-standard.tic", "rb") as f:
            frame = f.read()
        print(json.dumps({"growth_10k": growth(Framer(on_telegram), data),
                          "tic_growth_10k": growth(framer_for(".tic"), frame), "mem_free": gc.mem_free()}))


def growth(framer, data):
    """Heap in use after 10,000 telegrams minus before (after settling one-offs)."""
    for _ in range(1000):
        framer.feed(data)
    gc.collect()
    before = gc.mem_alloc()
    for _ in range(10000):
        framer.feed(data)
    gc.collect()
    return gc.mem_alloc() - before


if __name__ == "__main__":
    folder = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    main(folder, sorted(n for n in os.listdir(folder) if n.endswith((".p1", ".tic"))), rounds)
