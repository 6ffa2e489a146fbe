"""Issue 11's load for a minute on both layouts at their device budgets: counts, never times.

The firmware runs as a device does (the p1gw image at 64k, stock MicroPython
with .mpy files at its measured budget, tools/sim.py's HEAP) under a charger's and a phone's load: a DSMR 5 meter
at 1 telegram/s, 4 Modbus clients reading the EMPro block at 10 Hz, the page
and the status every second, 2 raw-stream clients, MQTT with Home Assistant
discovery and totals to a local mosquitto, a config PATCH every 30 s
(tools/bench_load.py; `make bench` runs it for 10 minutes). A MemoryError
anywhere in the firmware's output, a Modbus exception or connection error, an
HTTP answer other than 200, or a telegram that the reader, the raw stream or
MQTT lost fails it; the message is the harness's table of figures.
P1GW_LOAD_TEST_SECONDS changes the minute.
"""
import os

import pytest

import simctl  # noqa: F401  (puts tools/ on the path)
import bench_load

SECONDS = float(os.environ.get("P1GW_LOAD_TEST_SECONDS", 60))


@pytest.mark.parametrize("layout", ["image", "stock"])
def test_a_charger_and_a_phone_get_every_answer_within_the_heap_budget(layout):
    r = bench_load.run_load(layout, bench_load.HEAP[layout], SECONDS)
    figures = []
    bench_load.report(r, figures.append)
    assert bench_load.survived(r), "\n".join(["the load broke the %s budget:" % layout] + figures)


def test_a_crash_and_its_traceback_are_one_memory_error_event_at_the_innermost_frame():
    out = ["http: GET /api/v1/status: MemoryError('memory allocation failed, allocating 872 bytes',)\n",
           "app: p1reader crashed (MemoryError: memory allocation failed, allocating 885 bytes); "
           "restarting in 1000 ms\n",
           "Traceback (most recent call last):\n",
           '  File "supervisor.py", line 23, in supervise\n',
           '  File "p1reader.py", line 83, in _on_telegram\n',
           "MemoryError: memory allocation failed, allocating 885 bytes\n",
           "http: GET /api/v1/status: MemoryError('memory allocation failed, allocating 1112 bytes',)\n"]
    assert bench_load.memory_error_sites(out) == {
        "http: GET /api/v1/status: MemoryError('memory allocation failed, allocating N bytes',)": [2, 872, 1112],
        "app: p1reader crashed (MemoryError: memory allocation failed, allocating N bytes); restarting in N ms"
        " at p1reader.py:83 in _on_telegram < supervisor.py:23 in supervise": [1, 885, 885]}
