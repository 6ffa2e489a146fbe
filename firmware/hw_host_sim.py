"""What the simulator's hardware needs seldom: loaded for it and dropped, so ``hw_host.py``
holds no more heap than ``hw_esp32.py`` would on a device.

``setup(argv)`` (once, from main_host.py): ``hw_host.OPTIONS`` from the command
line, the unix port's poller grown before any TLS socket; ``control()``: the
presses a control file's new lines ask for; ``scan()``: the Wi-Fi networks the
simulated radio sees.
"""
import hw_host

# How long the simulated finger holds the button for each action (button.py
# thresholds: short < 2 s, access point at 5 s, factory reset above 10 s).
HOLD_MS = {"short": 300, "ap": 6000, "factory": 11000}

USAGE = """usage: micropython -X heapsize=64k -m main_host --p1 tcp:HOST:PORT|file:PATH
    --state-dir DIR [--modbus-port N] [--http-port N] [--raw-port N] [--mqtt URL]
    [--services NAME,...] [--button short|ap|factory[@SECONDS]]... [--control FILE] [--mac HEX] [--ansi] [--trace] [--no-dhcp]
    [--heap-log SECONDS] [--flash DIR --slot ota_0|ota_1] [--probation SECONDS]"""


def _grow_poller(n=24):
    """Work around a unix-port bug before any TLS socket is polled.

    When asyncio's ``select.poll`` grows its fd array it re-points every entry,
    including those of objects polled without an fd (TLS sockets), at freed
    memory: the next poll crashes the process. Registering ``n`` sockets once
    grows the array up front, and it never shrinks. The ESP32 port polls
    differently and needs none of this. 24: more than the sockets the
    firmware ever polls at once (an ESP32 has 16), and 12 bytes of the
    simulated heap each.
    """
    import select
    import socket
    from asyncio import core  # pyright: ignore[reportAttributeAccessIssue]  (MicroPython's asyncio)

    poller = core._io_queue.poller
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        poller.register(s, select.POLLIN)
    for s in socks:
        poller.unregister(s)
        s.close()


def parse(argv):
    """Fill hw_host.OPTIONS from ``argv``; return the app's host options."""
    opts = hw_host.OPTIONS
    opts.update({
        "p1": None,            # "tcp:HOST:PORT" or "file:PATH"
        "state_dir": ".",
        "mac": b"\x24\x0a\xc4\x00\x51\x7e",
        "ansi": False,         # colour the LED line (the launcher sets it on a terminal)
        "presses": [],         # [(start_ms, hold_ms)] after boot
        "control": None,       # file whose new lines ("short", "ap", "factory") press the button
        "dhcp": True,          # False: Ethernet gets no DHCP answer (a cable straight to a charger)
        # "flash": folder of the app slots, "slot": the one the bootloader started (--flash, --slot:
        # tools/sim.py); without them no slots, like the stock layout (hw_host_flash.py)
    })
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
            if action not in HOLD_MS:
                raise ValueError("--button takes short, ap or factory")
            opts["presses"].append((int(float(at or "1") * 1000), HOLD_MS[action]))
        elif arg == "--services":
            host["services"] = tuple(val.split(",")) if val else ()
        elif arg == "--modbus-port":
            overrides["Modbus.Port"] = int(val)
        elif arg == "--http-port":
            overrides["Http.Port"] = int(val)
        elif arg == "--raw-port":
            overrides["Http.RawPort"] = int(val)
        elif arg == "--flash":
            opts["flash"] = val
        elif arg == "--slot":
            opts["slot"] = val
        elif arg == "--probation":
            host["probation_s"] = int(val)
        elif arg == "--heap-log":
            host["heap_log_s"] = float(val)
        elif arg == "--mqtt":
            overrides["MQTT.Broker"] = val
            overrides["MQTT.Enabled"] = True
        else:
            raise ValueError("unknown option %s" % arg)
    return host


def setup(argv):
    """The app's host options from ``argv`` (hw_host.OPTIONS filled), or exit 2 with the usage."""
    try:
        host = parse(argv)
    except ValueError as e:
        print("main_host: %s\n%s" % (e, USAGE))
        raise SystemExit(2)
    _grow_poller()
    return host


def control(button, size, now):
    """``hw_host.Button``'s control file is ``size`` bytes now: press what its new lines say."""
    seen = button._seen
    button._seen = size
    if size < seen:
        return
    with open(button._control) as f:
        f.seek(seen)
        text = f.read()
    for word in text.split():
        hold = HOLD_MS.get(word)
        if hold is None:
            print("button: unknown action %r (short, ap, factory)" % word)
        else:
            print("button: %s press (%d ms)" % (word, hold))
            button._presses.append((now, now + hold))


def scan():
    # As an ESP32's WLAN.scan() returns them: a second access point of
    # sim-home, a hidden network and an old router's Latin-1 name among them.
    return [(b"sim-home", b"\x02\0\0\0\0\1", 1, -58, 3, False),
            (b"sim-guest", b"\x02\0\0\0\0\2", 6, -77, 0, False),
            (b"sim-home", b"\x02\0\0\0\0\3", 11, -81, 3, False),
            (b"", b"\x02\0\0\0\0\4", 11, -70, 3, True),
            (b"Caf\xe9", b"\x02\0\0\0\0\5", 1, -60, 3, False)]
