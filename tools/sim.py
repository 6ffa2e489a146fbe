"""Run the gateway firmware on this PC: `make sim ARGS="..."` (see the README).

The firmware runs unchanged in MicroPython's unix port built as an ESP32 is
(32-bit, single-precision floats: tools/mpbuild.py), with the host hardware
layer (firmware/hw_host.py). Its P1 UART is a TCP connection to a simulated
meter (tools/meter_sim.py) or to a replay of telegram files (--meter).
Everything binds to 127.0.0.1. Two layouts, as a device can be installed:
the p1gw image (firmware frozen in, the default) or stock MicroPython with the
firmware cross-compiled to .mpy files, as `make deploy` lays them out.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
BUILD = os.path.join(ROOT, "build", "sim")
# What never goes onto a device as an .mpy file: the host stand-ins' twins, the
# manifest, and the page module (a stock install keeps the page as a file).
NOT_STOCK = ("hw_esp32.py", "main.py", "manifest.py", "webpage.py")
# The device's budgets (README, "Memory"): the p1gw image runs in the heap a
# plain ESP32 starts MicroPython with. The stock layout loads its code into the
# heap: its target was 128k, but under the load of tools/bench_load.py it needs
# 144k (measured), so it is run and tested at 152k. P1GW_HEAP overrides both.
HEAP = {"image": "64k", "stock": "152k"}
RESET_EXIT = 3  # hw_host.reset(): start the firmware again

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_web  # noqa: E402
import meter_sim  # noqa: E402
import mpbuild  # noqa: E402


def default_heap(layout):
    return os.environ.get("P1GW_HEAP") or HEAP[layout]


def build(layout="image", out=BUILD):
    """Make ``layout`` runnable: rebuild the image binary, or compile the .mpy files into ``out``.

    Each .mpy is written to a temp name and renamed, so runs in parallel
    (tests) never see half a file.
    """
    if layout == "image":
        mpbuild.image()
        return None
    mpbuild.stock()
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(FIRMWARE)):
        if not name.endswith(".py") or name in NOT_STOCK:
            continue
        src = os.path.join(FIRMWARE, name)
        dst = os.path.join(out, name[:-3] + ".mpy")
        if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
            continue
        fd, tmp = tempfile.mkstemp(suffix=".mpy", dir=out)
        os.close(fd)
        r = subprocess.run([mpbuild.MPY_CROSS, "-o", tmp, "-s", name, src], capture_output=True, text=True)
        if r.returncode:
            os.unlink(tmp)
            raise SystemExit("mpy-cross rejects firmware/%s:\n%s" % (name, r.stderr))
        os.replace(tmp, dst)
    build_web.write_gz(out)
    # A module deleted from firmware/ must not live on as a stale .mpy.
    for name in os.listdir(out):
        if name.endswith(".mpy") and not os.path.exists(os.path.join(FIRMWARE, name[:-4] + ".py")):
            os.unlink(os.path.join(out, name))
    return out


def firmware_command(p1, state_dir, heap=None, modbus_port=None, http_port=None, raw_port=None,
                     mqtt=None, buttons=(), control=None, mac=None, services=None, trace=True,
                     ansi=False, layout="image", extra=()):
    """The command line and environment that start the firmware in the 32-bit unix port.

    ``extra``: further main_host options, e.g. ("--heap-log", "5").
    """
    binary = mpbuild.IMAGE if layout == "image" else mpbuild.STOCK
    cmd = [binary, "-X", "heapsize=" + (heap or default_heap(layout)), "-m", "main_host",
           "--p1", p1, "--state-dir", state_dir]
    for opt, val in (("--modbus-port", modbus_port), ("--http-port", http_port),
                     ("--raw-port", raw_port), ("--mqtt", mqtt), ("--control", control), ("--mac", mac)):
        if val is not None:
            cmd += [opt, str(val)]
    if services is not None:
        cmd += ["--services", ",".join(services)]
    for b in buttons:
        cmd += ["--button", b]
    if trace:
        cmd.append("--trace")
    if ansi:
        cmd.append("--ansi")
    cmd += list(extra)
    env = dict(os.environ)
    # The image finds everything frozen; the stock layout finds the .mpy files
    # first, then the binary's frozen modules (asyncio, umqtt.simple).
    env["MICROPYPATH"] = ".frozen" if layout == "image" else BUILD + os.pathsep + ".frozen"
    return cmd, env


def _options(argv):
    ap = argparse.ArgumentParser(prog="make sim ARGS=...", description="Run the P1 gateway firmware on this PC.")
    ap.add_argument("--meter", metavar="FILE|DIR", help="replay telegram files in a loop instead of the simulated meter")
    ap.add_argument("--meter-type", choices=sorted(meter_sim.METER_TYPES), default="dsmr5",
                    help="the simulated meter: dsmr5 (default) or a French meter's TIC (tic-standard, "
                    "tic-historique, ...: set P1.Protocol or let auto-detection find it)")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between telegrams (default 1)")
    ap.add_argument("--seed", type=int, help="random seed for the simulated meter")
    ap.add_argument("--modbus-port", type=int, default=1502, help="Modbus TCP port (default 1502)")
    ap.add_argument("--http-port", type=int, default=8080, help="web page and API port (default 8080)")
    ap.add_argument("--raw-port", type=int, default=2000, help="raw telegram stream port (default 2000)")
    ap.add_argument("--mqtt", metavar="URL", help="publish to this broker, e.g. mqtt://127.0.0.1:1883")
    ap.add_argument("--state-dir", default=os.path.join(ROOT, "build", "sim-state"),
                    help="the device's filesystem: identity.json, config.json (default build/sim-state)")
    ap.add_argument("--button", action="append", default=[], metavar="ACTION[@S]",
                    help="press the button: short, ap or factory, S seconds after boot (default 1); repeatable")
    ap.add_argument("--services", help="comma-separated service modules to start (default: all present)")
    ap.add_argument("--stock", action="store_true",
                    help="run the stock layout (firmware as .mpy files) instead of the p1gw image")
    ap.add_argument("--heap", help="MicroPython heap size (default: image %(image)s, stock %(stock)s; "
                    "env P1GW_HEAP)" % HEAP)
    ap.add_argument("--quiet", action="store_true", help="no line per telegram")
    ap.add_argument("--no-dhcp", action="store_true",
                    help="Ethernet with no DHCP answer (a cable to a charger): the link-local fallback, "
                         "network timers in seconds")
    return ap.parse_args(argv)


def _keys(control):
    """Turn key presses into button presses: s short, a access point, f factory."""
    import termios
    import tty
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    words = {"s": "short", "a": "ap", "f": "factory"}
    try:
        while True:
            ch = sys.stdin.read(1)
            if not ch:
                return
            if ch in words:
                with open(control, "a") as f:
                    f.write(words[ch] + "\n")
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def main(argv=None):
    args = _options(argv)
    layout = "stock" if args.stock else "image"
    build(layout)
    os.makedirs(args.state_dir, exist_ok=True)
    _, line, what = meter_sim.METER_TYPES[args.meter_type]
    if args.meter:
        telegrams = meter_sim.replay(args.meter)
        what = "replaying %s" % args.meter
    else:
        telegrams = meter_sim.live(args.interval, args.seed, args.meter_type)
    meter = meter_sim.Server(telegrams, args.interval, line=line).start()
    control = os.path.join(args.state_dir, ".button")
    open(control, "w").close()
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    services = None if args.services is None else [s for s in args.services.split(",") if s]
    args.heap = args.heap or default_heap(layout)
    print("p1gw simulator (MicroPython %s, 32-bit unix port, %s, heap %s)" % (
        mpbuild.VERSION, "p1gw image" if layout == "image" else "stock + .mpy files", args.heap))
    print("  meter        %s, every %g s, %s, on 127.0.0.1:%d" % (what, args.interval, line, meter.port))
    print("  modbus tcp   127.0.0.1:%d   (mbpoll -m tcp -p %d -a 1 -r 32775 -c 6 -t 4:float 127.0.0.1)"
          % (args.modbus_port, args.modbus_port))
    print("  web / api    http://127.0.0.1:%d/" % args.http_port)
    print("  raw stream   127.0.0.1:%d" % args.raw_port)
    print("  mqtt         %s" % (args.mqtt or "off (--mqtt URL)"))
    print("  state dir    %s" % args.state_dir)
    if tty:
        print("  button       keys: s short press, a hold 5 s (AP), f hold 10 s (factory reset); Ctrl-C quits")
        threading.Thread(target=_keys, args=(control,), daemon=True).start()
    buttons = args.button
    try:
        while True:
            cmd, env = firmware_command("tcp:127.0.0.1:%d" % meter.port, args.state_dir, args.heap,
                                        args.modbus_port, args.http_port, args.raw_port, args.mqtt,
                                        buttons, control, services=services, trace=not args.quiet,
                                        ansi=tty, layout=layout, extra=("--no-dhcp",) if args.no_dhcp else ())
            rc = subprocess.call(cmd, env=env, cwd=ROOT)
            if rc != RESET_EXIT:
                return rc
            buttons = ()  # scheduled presses happen once, not after every reset
            print("sim: firmware reset; starting it again")
    except KeyboardInterrupt:
        # Stopping the simulator is not a crash: don't count it towards safe mode.
        try:
            os.remove(os.path.join(args.state_dir, "bootcount"))
        except OSError:
            pass
        return 0
    finally:
        meter.sock.close()


if __name__ == "__main__":
    sys.exit(main())
