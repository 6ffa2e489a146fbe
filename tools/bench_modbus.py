#!/usr/bin/env python3
"""Modbus TCP benchmark: 4 clients against the firmware in the 32-bit unix port (the p1gw image at its heap).

    .venv/bin/python tools/bench_modbus.py [SECONDS]

Starts the simulator (host_tests/simctl.py), feeds a DSMR 5 telegram every
second and lets 4 clients read the OpenEMS blocks (57 registers from 0x8006,
8 from 0x8100) back to back, then paced at 10 Hz each, as chargers poll.
Prints requests/s and p50/p99/max latency; asserts nothing.
"""
import os
import socket
import struct
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))
from simctl import Sim
from sim import default_heap  # noqa: E402  (tools/ is on the path through simctl)
from bench_load import recv_exactly  # noqa: E402

CLIENTS = 4
BLOCKS = ((0x8006, 57), (0x8100, 8))


def _client(port, stop, pace_s, lat, errors):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tid = 0
    try:
        while not stop.is_set():
            for addr, qty in BLOCKS:
                tid = (tid + 1) & 0xFFFF
                t0 = time.perf_counter()
                s.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, addr, qty))
                got = recv_exactly(s, 9 + 2 * qty)
                lat.append(time.perf_counter() - t0)
                if got[7] != 3:
                    errors.append(got[7:9])
            if pace_s:
                time.sleep(pace_s)
    except (OSError, EOFError) as e:
        errors.append(e)
    finally:
        s.close()


def run(sim, raw, seconds, pace_s):
    stop = threading.Event()
    lats = [[] for _ in range(CLIENTS)]
    errors = []
    threads = [threading.Thread(target=_client, args=(sim.modbus_port, stop, pace_s, lats[i], errors))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    t0 = time.time()
    while time.time() - t0 < seconds:
        sim.feed(raw)
        time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(10)
    all_lat = sorted(x for lat in lats for x in lat)
    n = len(all_lat)
    return (n / seconds, 1000 * all_lat[n // 2], 1000 * all_lat[min(n - 1, int(n * 0.99))],
            1000 * all_lat[-1], n, len(errors))


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    with open(os.path.join(ROOT, "host_tests", "telegrams", "v5.p1"), "rb") as f:
        raw = f.read()
    with tempfile.TemporaryDirectory() as state:
        with Sim(state, config={"Modbus": {"StaleAfterS": 60}}) as sim:
            sim.feed(raw)
            sim.wait_valid(1)
            print("Modbus TCP, %d clients, the p1gw image in the 32-bit unix port (heap %s), telegram every 1 s"
                  % (CLIENTS, sim.heap or default_heap(sim.layout)))
            print("%-22s %9s %9s %9s %9s %9s %7s" % ("load", "req/s", "p50 ms", "p99 ms", "max ms",
                                                     "requests", "errors"))
            for label, pace in (("back to back", 0), ("10 Hz per client", 0.1)):
                rps, p50, p99, mx, n, err = run(sim, raw, seconds, pace)
                print("%-22s %9.0f %9.2f %9.2f %9.2f %9d %7d" % (label, rps, p50, p99, mx, n, err))


if __name__ == "__main__":
    main()
