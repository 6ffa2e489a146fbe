"""Host entry point: run the firmware in the MicroPython unix port (options: hw_host_sim.USAGE).

``tools/sim.py`` starts it, from .mpy files as a device would run them, with a
simulated meter behind --p1. Ports and broker given here override config.json
in memory only. This module stays in the heap while the gateway runs, as
main.py does on a device: the command line is read by hw_host_sim, loaded for
it and dropped.
"""
import asyncio
import sys

import app
import hw_host
import ondemand


def _trace(hub):
    """--trace: the P1 reader's log, a line per telegram with the framer's counters."""
    from jsonw import fixed_text

    def show(what, detail):
        c = hub.counters
        head = "p1: valid=%d crc_mismatch=%d malformed=%d too_long=%d parse_error=%d implausible=%d" % (
            c["valid"], c["crc_mismatch"], c["malformed"], c["too_long"], c["parse_error"], c["implausible"])
        if what == "valid":
            r = detail
            print("%s | %s W | L1 %s V %s A | L2 %s V %s A | L3 %s V %s A | import %s kWh" % (
                head, r["power_w"], r["voltage_l1_v"], r["current_l1_a"], r["voltage_l2_v"],
                r["current_l2_a"], r["voltage_l3_v"], r["current_l3_a"],
                None if r["energy_import"] is None else fixed_text(r["energy_import"], r["counter_decimals"])))
        elif what == "parse_error" or what == "implausible":
            print("%s | %s: %s" % (head, what.replace("_", " "), detail))
        else:
            print("%s | %s" % (head, what))
    return show


async def _heap_log(period_s):
    """--heap-log S: every S seconds, the heap after gc.collect() (tools/bench_load.py reads it).

    mem_info() prints "GC: total: .., used: .., free: .." and the largest free
    block ("max free sz", in 16-byte blocks); then one line "heap: ALLOC FREE",
    and the modules loaded ("modules: ...": tools/heap_modules.py measures those).
    print() of small ints allocates nothing, so a full heap still gets its sample.
    """
    import gc
    import micropython
    while True:
        await asyncio.sleep(period_s)
        try:
            gc.collect()
            micropython.mem_info()
            print("heap:", gc.mem_alloc(), gc.mem_free())  # type: ignore[attr-defined]
            print("modules:", end="")
            for name in sys.modules:
                print("", name, end="")
            print()
        except Exception:
            print("heap: sample skipped")


async def _run(host, period_s):
    if period_s:
        asyncio.create_task(_heap_log(period_s))
    await app.boot_and_run(hw_host, None, host)


def run():
    # ondemand.once: what hw_host_sim imports stays (netman, its timers set for --no-dhcp)
    host = ondemand.once("hw_host_sim", "setup", sys.argv[1:])
    if host.pop("trace"):
        host["trace"] = _trace
    asyncio.run(_run(host, host.pop("heap_log_s", None)))


run()
