"""tools/heap32.py: a device's boot replayed in a 32-bit MicroPython (the WebAssembly port)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import heap32  # noqa: E402


def test_boot_replays_in_32_bit_and_64_bit_micropython():
    folder = heap32.build()
    k32, mods32 = heap32.measure32(folder)
    k64, mods64 = heap32.measure64(folder)
    # The ESP32 build's services were all imported, in both ports.
    for mods in (mods32, mods64):
        for name in ("hw_esp32", "app", "dsmr", "modbus_tcp", "webapi", "raw_stream", "captive_dns",
                     "mqtt_publisher"):
            assert name in mods
    # Every step costs heap, and less in the 32-bit port: it lays objects
    # out as an ESP32 does, which is what the figures are for.
    for (label, _), a, b in zip(heap32.BOOT, k32, k64):
        assert 0 < a < b, (label, a, b)


def test_heap_per_telegram_in_32_bit():
    telegrams = os.path.join(os.path.dirname(os.path.abspath(__file__)), "telegrams")
    alloc = heap32.telegram_alloc32(heap32.build(), telegrams)
    assert sorted(alloc) == sorted(n for n in os.listdir(telegrams) if n.endswith(".p1"))
    # A reading dict at the least; bench.py prints the figures.
    assert all(a > 200 for a in alloc.values()), alloc
