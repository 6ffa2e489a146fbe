"""Host entry point: run the firmware in the MicroPython unix port (see USAGE).

``tools/sim.py`` starts it, from .mpy files as a device would run them, with a
simulated meter behind --p1. Ports and broker given here override config.json
in memory only.
"""
import sys

import app
import hw_host

USAGE = """usage: micropython -X heapsize=64k -m main_host --p1 tcp:HOST:PORT|file:PATH
    --state-dir DIR [--modbus-port N] [--http-port N] [--raw-port N] [--mqtt URL]
    [--services NAME,...] [--button short|ap|factory[@SECONDS]]... [--control FILE] [--mac HEX] [--ansi] [--trace] [--no-dhcp]
    [--heap-log SECONDS]"""


def parse(argv):
    """Fill hw_host.OPTIONS from ``argv``; return the app's host options."""
    opts = hw_host.OPTIONS
    overrides = {}
    # No captive DNS on a PC: port 53 is the system's.
    host = {"bind": "127.0.0.1", "config": overrides, "trace": False,
            "services": ("modbus_tcp", "mqtt_publisher", "http_server", "webapi", "raw_stream")}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--ansi", "--trace", "--no-dhcp"):
            if arg == "--ansi":
                opts["ansi"] = True
            elif arg == "--no-dhcp":
                # An Ethernet cable with no DHCP server (a charger), the network
                # timers in seconds rather than minutes so the fallback shows soon.
                opts["dhcp"] = False
                import netman
                nm = netman.NetManager
                nm.connect_timeout_ms, nm.backoff_min_ms = 1500, 500
                nm.dhcp_retry_ms, nm.dhcp_probe_ms = 3000, 1000
            else:
                host["trace"] = True
            i += 1
            continue
        if i + 1 >= len(argv):
            raise ValueError("%s needs a value" % arg)
        val = argv[i + 1]
        i += 2
        if arg == "--p1":
            opts["p1"] = val
        elif arg == "--state-dir":
            opts["state_dir"] = val
        elif arg == "--mac":
            opts["mac"] = bytes(int(val[k:k + 2], 16) for k in range(0, 12, 2))
        elif arg == "--control":
            opts["control"] = val
        elif arg == "--button":
            action, _, at = val.partition("@")
            if action not in hw_host.HOLD_MS:
                raise ValueError("--button takes short, ap or factory")
            opts["presses"].append((int(float(at or "1") * 1000), hw_host.HOLD_MS[action]))
        elif arg == "--services":
            host["services"] = tuple(val.split(",")) if val else ()
        elif arg == "--modbus-port":
            overrides["Modbus.Port"] = int(val)
        elif arg == "--http-port":
            overrides["Http.Port"] = int(val)
        elif arg == "--raw-port":
            overrides["Http.RawPort"] = int(val)
        elif arg == "--heap-log":
            host["heap_log_s"] = float(val)
        elif arg == "--mqtt":
            overrides["MQTT.Broker"] = val
            overrides["MQTT.Enabled"] = True
        else:
            raise ValueError("unknown option %s" % arg)
    return host


async def _heap_log(period_s):
    """--heap-log S: every S seconds, the heap after gc.collect() (tools/bench_load.py reads it).

    mem_info() prints "GC: total: .., used: .., free: .." and the largest free
    block ("max free sz", in 16-byte blocks); then one line "heap: ALLOC FREE".
    print() of small ints allocates nothing, so a full heap still gets its sample.
    """
    import asyncio
    import gc
    import micropython
    while True:
        await asyncio.sleep(period_s)
        try:
            gc.collect()
            micropython.mem_info()
            print("heap:", gc.mem_alloc(), gc.mem_free())  # type: ignore[attr-defined]
        except Exception:
            print("heap: sample skipped")


async def _with_heap_log(gateway, period_s):
    import asyncio
    asyncio.create_task(_heap_log(period_s))
    await gateway.run()


def run():
    try:
        host = parse(sys.argv[1:])
    except ValueError as e:
        print("main_host: %s\n%s" % (e, USAGE))
        sys.exit(2)
    period_s = host.pop("heap_log_s", None)
    if period_s:
        import asyncio
        asyncio.run(_with_heap_log(app.App(hw_host, None, host), period_s))
    else:
        app.main(hw_host, None, host)


run()
