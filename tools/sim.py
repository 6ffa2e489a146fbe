"""Run the gateway firmware on this PC: `make sim ARGS="..."` (see the README).

The firmware runs unchanged in MicroPython's unix port built as an ESP32 is
(32-bit, single-precision floats: tools/mpbuild.py), with the host hardware
layer (firmware/hw_host.py). Its P1 UART is a TCP connection to a simulated
meter (tools/meter_sim.py) or to a replay of telegram files (--meter).
Everything binds to 127.0.0.1. Two layouts, as a device can be installed:
the p1gw image (firmware frozen in, the default) or stock MicroPython with the
firmware cross-compiled to .mpy files, as `make deploy` lays them out.

The p1gw image runs from a simulated flash with two app slots
(``<state-dir>/flash/``: ``ota_0``, ``ota_1``, ``otadata.json``), and this file
plays ESP-IDF's bootloader (``boot``): it starts the slot otadata selects, and
when a firmware that ``set_boot`` selected restarts without having marked itself
valid, it rolls back to the other slot. A slot holds an ESP app image
(``tools/esp32_image.py``) whose code segment is the 32-bit MicroPython binary:
``make sim-image`` writes one for any version, the firmware's update
(``firmware/ota.py``) takes it over HTTP as a device takes its ``.app.bin``.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
BUILD = os.path.join(ROOT, "build", "sim")
# What never goes onto a device as an .mpy file: the host stand-ins' twins, the
# manifest, and the page module (a stock install keeps the page as a file).
NOT_STOCK = ("hw_esp32.py", "main.py", "manifest.py", "webpage.py")
# The device's budgets (README, "Memory"): the p1gw image runs in the heap a
# plain ESP32 starts MicroPython with; the stock layout, whose code is loaded
# into the heap, at its 128k target (under tools/bench_load.py's load it holds
# ~107 KB after gc.collect()). P1GW_HEAP overrides both.
HEAP = {"image": "64k", "stock": "128k"}
RESET_EXIT = 3  # hw_host.reset(): start the firmware again

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_web  # noqa: E402
import esp32_image  # noqa: E402
import meter_sim  # noqa: E402
import mpbuild  # noqa: E402

# The simulated device: an ESP32 (chip id 0 in its images) of board "sim".
CHIP = "esp32"
BOARD = "sim"
SLOTS = ("ota_0", "ota_1")


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


# --- the flash and the bootloader ----------------------------------------------

def flash_dir(state_dir):
    return os.path.join(state_dir, "flash")


def sim_image(binary, version):
    """The app image of the sim's device: the MicroPython ``binary`` as its code, version record
    ``p1gw:<version>:sim``, laid out as ESP-IDF lays out a device's app (tools/esp32_image.py)."""
    with open(binary, "rb") as f:
        code = f.read()
    desc = esp32_image.app_desc(esp32_image.version_record(version, BOARD), idf="unix port " + mpbuild.VERSION,
                                date=time.strftime("%b %d %Y"), time=time.strftime("%H:%M:%S"))
    return esp32_image.app_image(CHIP, desc, code)


def _write(path, data, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def flash_factory(state_dir, binary=None):
    """What `make flash ERASE=0` does to a device: this build's image in ota_0, otadata blank."""
    flash = flash_dir(state_dir)
    os.makedirs(flash, exist_ok=True)
    _write(os.path.join(flash, "ota_0"), sim_image(binary or mpbuild.IMAGE, esp32_image.firmware_version()))
    try:
        os.remove(os.path.join(flash, "otadata.json"))
    except FileNotFoundError:
        pass


def otadata(state_dir):
    """The flash's otadata ({"seq", "slot", "state"}), or None while blank."""
    try:
        with open(os.path.join(flash_dir(state_dir), "otadata.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def boot(state_dir, log=print):
    """Play ESP-IDF's bootloader: (slot label, path of its code to run) or SystemExit.

    otadata blank: ota_0 first. A slot ``set_boot`` selected ("new") starts as
    "pending_verify"; if it is still that at the next boot, the firmware restarted
    without marking itself valid: it is "aborted" and the other slot starts. A slot
    whose image fails the bootloader's checks (magic, chip, checksum, hash) is skipped.
    """
    flash = flash_dir(state_dir)
    od = otadata(state_dir)
    order = list(SLOTS)
    if od is not None:
        other = SLOTS[1 - SLOTS.index(od["slot"])]
        if od["state"] == "pending_verify":
            log("bootloader: %s restarted without marking itself valid: rolling back to %s" % (od["slot"], other))
            od["state"] = "aborted"
        elif od["state"] == "new":
            od["state"] = "pending_verify"
        order = [other] if od["state"] == "aborted" else [od["slot"], other]
    for label in order:
        try:
            with open(os.path.join(flash, label), "rb") as f:
                app = f.read()
            segments = esp32_image.app_segments(app, exact=False)
            chip = esp32_image.read_app(app)["chip"]
        except OSError:
            continue  # never written
        except esp32_image.ImageError as e:
            log("bootloader: %s: %s" % (label, e))
            continue
        if chip != CHIP:
            log("bootloader: %s: image for %s" % (label, chip))
            continue
        if od is not None and label != od["slot"]:
            od.update(slot=label, state="valid")  # the fallback
        if od is not None:
            _write(os.path.join(flash, "otadata.json"), json.dumps(od).encode())
        code = os.path.join(flash, "run-" + label)
        _write(code, segments[1][1], 0o755)  # "loaded into RAM"
        return label, code
    raise SystemExit("bootloader: no bootable app in %s" % flash)


def boot_args(state_dir, log=print, probation=None):
    """(binary, main_host options) to start the p1gw image from the simulated flash."""
    label, code = boot(state_dir, log)
    extra = ["--flash", flash_dir(state_dir), "--slot", label]
    if probation is not None:
        extra += ["--probation", str(probation)]
    return code, extra


def restarts(state_dir, rc):
    """Whether the device starts again after the firmware ended with ``rc``: a reset, or any
    end of a firmware on probation (a crash there is a reboot into the bootloader's rollback)."""
    od = otadata(state_dir)
    return rc == RESET_EXIT or (od is not None and od["state"] == "pending_verify")


def build_version(version):
    """The image binary with ``version`` frozen in as version.VERSION (a staged copy of firmware/); its path."""
    stage = os.path.join(ROOT, "build", "sim-image")
    fw = os.path.join(stage, "firmware")
    os.makedirs(fw, exist_ok=True)
    for name in os.listdir(FIRMWARE):
        if name.endswith(".py"):
            src = os.path.join(FIRMWARE, name)
            dst = os.path.join(fw, name)
            with open(src) as f:
                text = f.read()
            if name == "version.py":
                text = text.replace('VERSION = "%s"' % esp32_image.firmware_version(), 'VERSION = "%s"' % version)
            if not os.path.exists(dst) or open(dst).read() != text:
                with open(dst, "w") as f:
                    f.write(text)
    for name in os.listdir(fw):
        if not os.path.exists(os.path.join(FIRMWARE, name)):
            os.remove(os.path.join(fw, name))
    build = os.path.join(stage, "unix")
    if not os.path.exists(build):  # start from the image's objects: only the frozen code is new
        mpbuild.image()
        shutil.copytree(mpbuild.IMAGE_BUILD, build, symlinks=True)
    return mpbuild.image(os.path.join(fw, "manifest.py"), build)


def write_sim_image(version, out):
    esp32_image.version_record(version, BOARD)  # refuse what does not fit before building
    data = sim_image(build_version(version), version)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    _write(out, data)
    print("%s: p1gw %s for the simulator, %d bytes" % (out, version, len(data)))


def firmware_command(p1, state_dir, heap=None, modbus_port=None, http_port=None, raw_port=None,
                     mqtt=None, buttons=(), control=None, mac=None, services=None, trace=True,
                     ansi=False, layout="image", extra=(), binary=None):
    """The command line and environment that start the firmware in the 32-bit unix port.

    ``extra``: further main_host options, e.g. ("--heap-log", "5"); ``binary``: the
    program to run instead of the layout's (a slot's code, from ``boot_args``).
    """
    binary = binary or (mpbuild.IMAGE if layout == "image" else mpbuild.STOCK)
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
    ap.add_argument("--probation", type=int, metavar="S",
                    help="seconds an updated firmware runs on probation before it marks itself valid "
                    "(default: the device's 60)")
    return ap.parse_args(argv)


# What each service listens on, for the port check: (modules, what, option).
LISTENERS = (("modbus_tcp", "Modbus", "--modbus-port"), (("http_server", "webapi"), "web", "--http-port"),
             ("raw_stream", "raw stream", "--raw-port"))


def _runs(services, modules):
    """Whether any of ``modules`` (a name or a tuple) starts with --services ``services``."""
    if services is None:
        return True
    return any(m in services for m in ((modules,) if isinstance(modules, str) else modules))


def busy_port(args, services):
    """The one-line error for the first port a started service cannot listen on, or None.

    Bound the way the firmware binds (SO_REUSEADDR): a port held only by
    connections closing (TIME_WAIT) is free.
    """
    for modules, what, opt in LISTENERS:
        if not _runs(services, modules):
            continue
        port = getattr(args, opt[2:].replace("-", "_"))
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError as e:
                return ("sim: the %s port 127.0.0.1:%d is not free (%s): stop what uses it, or pick "
                        "another with %s" % (what, port, e.strerror or e, opt))
    return None


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


def _sim_image_main(argv):
    ap = argparse.ArgumentParser(prog="make sim-image VERSION=... OUT=...",
                                 description="Write a simulator firmware image with this version string.")
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    try:
        write_sim_image(a.version, a.out)
    except ValueError as e:
        sys.exit(str(e))
    return 0


class _Stop(Exception):
    """SIGTERM: stop as Ctrl-C does."""


def _on_term(signum, frame):
    raise _Stop()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sim-image"]:
        return _sim_image_main(argv[1:])
    args = _options(argv)
    layout = "stock" if args.stock else "image"
    services = None if args.services is None else [s for s in args.services.split(",") if s]
    busy = busy_port(args, services)
    if busy:  # before the banner: the firmware would only retry behind it
        sys.exit(busy)
    build(layout)
    if layout == "image":  # the device flashed with this build, its filesystem kept
        flash_factory(args.state_dir)
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
    args.heap = args.heap or default_heap(layout)
    print("p1gw simulator (MicroPython %s, 32-bit unix port, %s, heap %s)" % (
        mpbuild.VERSION, "p1gw image" if layout == "image" else "stock + .mpy files", args.heap))
    print("  meter        %s, every %g s, %s, on 127.0.0.1:%d" % (what, args.interval, line, meter.port))
    if _runs(services, "modbus_tcp"):
        print("  modbus tcp   127.0.0.1:%d   (mbpoll -m tcp -p %d -a 1 -r 32775 -c 6 -t 4:float 127.0.0.1)"
              % (args.modbus_port, args.modbus_port))
    if _runs(services, ("http_server", "webapi")):
        print("  web / api    http://127.0.0.1:%d/" % args.http_port)
    if _runs(services, "raw_stream"):
        print("  raw stream   127.0.0.1:%d" % args.raw_port)
    if _runs(services, "mqtt_publisher"):
        print("  mqtt         %s" % (args.mqtt or "off (--mqtt URL)"))
    print("  state dir    %s%s" % (args.state_dir, " (app slots in flash/)" if layout == "image" else ""))
    if tty:
        print("  button       keys: s short press, a hold 5 s (AP), f hold 10 s (factory reset); Ctrl-C quits")
        threading.Thread(target=_keys, args=(control,), daemon=True).start()
    buttons = args.button
    child = None
    signal.signal(signal.SIGTERM, _on_term)
    try:
        while True:
            binary, extra = boot_args(args.state_dir, probation=args.probation) if layout == "image" else (None, [])
            cmd, env = firmware_command("tcp:127.0.0.1:%d" % meter.port, args.state_dir, args.heap,
                                        args.modbus_port, args.http_port, args.raw_port, args.mqtt,
                                        buttons, control, services=services, trace=not args.quiet,
                                        ansi=tty, layout=layout, binary=binary,
                                        extra=extra + (["--no-dhcp"] if args.no_dhcp else []))
            child = subprocess.Popen(cmd, env=env, cwd=ROOT)
            rc = child.wait()
            if not (restarts(args.state_dir, rc) if layout == "image" else rc == RESET_EXIT):
                return rc
            buttons = ()  # scheduled presses happen once, not after every reset
            print("sim: firmware reset; starting it again")
    except (KeyboardInterrupt, _Stop):
        _stop(child)
        # Stopping the simulator is not a crash: don't count it towards safe mode.
        try:
            os.remove(os.path.join(args.state_dir, "bootcount"))
        except OSError:
            pass
        return 0
    finally:
        meter.sock.close()


def _stop(child):
    """End the firmware process: SIGTERM, then SIGKILL if it lingers."""
    if child is None or child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(3)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


if __name__ == "__main__":
    sys.exit(main())
