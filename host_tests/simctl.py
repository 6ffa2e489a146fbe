"""Run the real firmware in the unix port for integration tests; the test plays the meter.

    from simctl import Sim
    with Sim(tmp_path, config={"MQTT": {"Site": "home"}}) as sim:
        sim.feed(telegram_bytes)          # into the gateway's P1 UART
        sim.feed(frame, line="1200 7E1")  # sent with these settings: what the gateway's UART reads
        sim.wait_valid(1)                 # the gateway counted 1 valid telegram
        ... talk to 127.0.0.1:sim.modbus_port / sim.http_port / sim.raw_port ...

Free ports are picked when none are given; ``config`` is merged into
config.json before boot; ``services`` limits which service modules start
(default: all present); ``layout`` is "image" or "stock" and ``heap`` defaults
to that layout's device budget (tools/sim.py); ``args`` are further main_host
options (e.g. ``("--heap-log", "5")``). Leaving the ``with`` always kills the firmware.

``flash=True`` runs the p1gw image as a device does, from the simulated flash
(tools/sim.py): this build in ota_0 at the first start, then whatever the
bootloader picks; a reset, or the end of a firmware on probation, starts the
next boot by itself (``probation`` shortens the device's 60 s).
"""
import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import sim as _sim  # noqa: E402
import uart_line  # noqa: E402

_VALID = re.compile(r"p1: valid=(\d+)")
# Which port each service listens on once it logs "app: started <module>...".
_PORTS = {"modbus_tcp": "modbus_port", "http_server": "http_port", "webapi": "http_port",
          "raw_stream": "raw_port"}


# The layout every test runs unless it picks one: the p1gw image by default,
# P1GW_LAYOUT=stock runs the whole suite on .mpy files.
LAYOUT = os.environ.get("P1GW_LAYOUT", "image")
_LIVE = set()  # started and not yet closed: killed at exit if a test forgot


@atexit.register
def _kill_leftovers():
    for sim in list(_LIVE):
        sim.kill()


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def merge(base, changes):
    """Deep-merge dict ``changes`` into ``base`` in place."""
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


class Sim:
    """The firmware as a child process with a P1 line the test writes to."""

    def __init__(self, state_dir, config=None, modbus_port=None, http_port=None, raw_port=None,
                 mqtt=None, services=None, heap=None, mac=None, buttons=(), boot_timeout=20, layout=None,
                 args=(), flash=False, probation=None):
        self.state_dir = str(state_dir)
        self.config = config
        self.modbus_port = modbus_port or free_port()
        self.http_port = http_port or free_port()
        self.raw_port = raw_port or free_port()
        self.mqtt = mqtt
        self.services = services
        self.heap = heap
        self.mac = mac
        self.buttons = buttons  # e.g. ("factory@0.5",): hw_host holds the button then
        self.boot_timeout = boot_timeout
        self.layout = layout or LAYOUT
        self.args = tuple(args)
        self.flash = flash
        self.probation = probation
        self.boots = 0          # firmware processes started (restarts included)
        self.proc = None
        self._stopping = False
        self._lines = []
        self._lock = threading.Lock()
        self._p1 = None
        self._p1_ready = threading.Event()
        self._listener = None
        self.uart = None  # the settings the gateway's UART says it uses ("9600 7E1")

    # --- life cycle ---

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.kill()

    def start(self, wait=True):
        """Write the config, start the firmware and (``wait``) wait until it serves."""
        os.makedirs(self.state_dir, exist_ok=True)
        self._stopping = False
        if self.config:
            path = os.path.join(self.state_dir, "config.json")
            try:
                with open(path) as f:
                    cfg = json.load(f)
            except (OSError, ValueError):
                cfg = {}
            with open(path, "w") as f:
                json.dump(merge(cfg, self.config), f)
            self.config = None  # once: a restart keeps what the firmware stored
        _sim.build(self.layout)
        if self.flash and not os.path.exists(_sim.flash_dir(self.state_dir)):
            _sim.flash_factory(self.state_dir)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self._p1 = None
        self._p1_ready.clear()
        threading.Thread(target=self._accept_p1, args=(self._listener,), daemon=True).start()
        self._launch()
        if wait:
            self.wait_output("app: running", self.boot_timeout)
            for name, attr in _PORTS.items():
                if "app: started %s." % name in self.output():
                    self.wait_listening(getattr(self, attr), self.boot_timeout)
        return self

    def _launch(self):
        binary, extra = None, []
        if self.flash:
            binary, extra = _sim.boot_args(self.state_dir, self._log, self.probation)
        cmd, env = _sim.firmware_command(
            "tcp:127.0.0.1:%d" % self._listener.getsockname()[1], self.state_dir, self.heap,
            self.modbus_port, self.http_port, self.raw_port, self.mqtt, buttons=self.buttons,
            mac=self.mac, services=self.services, layout=self.layout, extra=tuple(extra) + self.args,
            binary=binary)
        self.proc = subprocess.Popen(cmd, env=env, cwd=_sim.ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.boots += 1
        _LIVE.add(self)
        threading.Thread(target=self._collect, args=(self.proc,), daemon=True).start()

    def _log(self, line):
        with self._lock:
            self._lines.append(line + "\n")

    def _collect(self, proc):
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            with self._lock:
                self._lines.append(line)
        rc = proc.wait()
        # A device reboots: from the flash, the bootloader starts the next firmware.
        if self.flash and self.proc is proc and not self._stopping and _sim.restarts(self.state_dir, rc):
            self._log("sim: firmware ended (%d); booting again" % rc)
            self._launch()

    def _accept_p1(self, listener):
        # Every firmware process (a restart too) connects anew: the newest connection is the line.
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the firmware stopped first
                return
            old, self._p1 = self._p1, conn
            if old:
                old.close()
            threading.Thread(target=uart_line.follow, args=(conn, self._set_uart), daemon=True).start()
            self._p1_ready.set()

    def _set_uart(self, settings):
        self.uart = settings

    def stop(self, timeout=5):
        """Terminate the firmware (SIGTERM, then SIGKILL); return its exit status."""
        self._stopping = True
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self._close()

    def kill(self):
        """SIGKILL the firmware at once (a power cut); return its exit status."""
        self._stopping = True
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        return self._close()

    def _close(self):
        _LIVE.discard(self)
        rc = None
        if self.proc:
            rc = self.proc.wait()
            self.proc.stdout.close()
        for s in (self._p1, self._listener):
            if s:
                s.close()
        self._p1 = self._listener = None
        return rc

    # --- the meter side ---

    def feed(self, data, line=None):
        """Write raw bytes into the gateway's P1 UART.

        ``line``: the meter's serial settings ("1200 7E1"); the gateway then reads
        what its UART, set as it says, would read (tools/uart_line.py). None: as given.
        """
        self._wait(self._p1_ready.is_set, self.boot_timeout, "the firmware to open its P1 port")
        if line is not None:
            self._wait(lambda: self.uart is not None, self.boot_timeout, "the gateway's UART settings")
            data = uart_line.transfer(data, line, self.uart)
        self._p1.sendall(data)

    def valid_count(self):
        """Valid telegrams the gateway counted so far (from its trace lines)."""
        found = _VALID.findall(self.output())
        return int(found[-1]) if found else 0

    def wait_valid(self, n, timeout=10):
        """Wait until the gateway counted ``n`` valid telegrams in total."""
        self._wait(lambda: self.valid_count() >= n, timeout,
                   "%d valid telegrams (saw %d)" % (n, self.valid_count()))

    # --- observing ---

    def output(self):
        """Everything the firmware printed so far."""
        with self._lock:
            return "".join(self._lines)

    def wait_output(self, text, timeout=10):
        """Wait until the firmware printed ``text``."""
        self._wait(lambda: text in self.output(), timeout, repr(text))

    def wait_running(self, n, timeout=30):
        """Wait until the ``n``-th firmware process (restarts included) is up and serving HTTP."""
        self._wait(lambda: self.output().count("app: running") >= n, timeout, "boot %d to run" % n)
        self.wait_listening(self.http_port, timeout)

    def wait_listening(self, port, timeout=10):
        """Wait until something accepts TCP connections on 127.0.0.1:``port``."""
        def up():
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return True
            except OSError:
                return False
        self._wait(up, timeout, "a listener on port %d" % port)

    def _wait(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        dead_since = None
        while not cond():
            if self.proc is None or self.proc.poll() is not None:
                # From the flash, the bootloader starts the next firmware in a moment.
                dead_since = dead_since or time.monotonic()
                if not self.flash or time.monotonic() - dead_since > 5:
                    raise AssertionError("firmware exited while waiting for %s:\n%s" % (what, self.output()))
            else:
                dead_since = None
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s:\n%s" % (what, self.output()))
            time.sleep(0.05)

    @property
    def identity(self):
        """identity.json as the firmware wrote it (serial, ssid, wpa_key, api_password)."""
        with open(os.path.join(self.state_dir, "identity.json")) as f:
            return json.load(f)

    def stored_config(self):
        """config.json as it is on the device's filesystem now."""
        with open(os.path.join(self.state_dir, "config.json")) as f:
            return json.load(f)


# --- an MQTT broker for the tests and the load bench ---

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Broker:
    """A mosquitto on 127.0.0.1: a plain anonymous listener for the test, and ``gateway_listener``
    lines (mosquitto.conf syntax, with {port}) for the one the gateway uses."""

    def __init__(self, tmp, gateway_listener=None):
        self.dir = str(tmp)
        self.port = free_port()           # the test's subscriber
        self.gw_port = free_port() if gateway_listener else self.port
        lines = ["per_listener_settings true", "user root", "persistence false",
                 "listener %d 127.0.0.1" % self.port, "allow_anonymous true"]
        if gateway_listener:
            lines += ["listener %d 127.0.0.1" % self.gw_port] + gateway_listener.strip().splitlines()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "mosquitto.log"), "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("mosquitto did not start (see %s/mosquitto.log)" % self.dir)
                time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def url(self, scheme="mqtt", host="127.0.0.1"):
        return "%s://%s:%d" % (scheme, host, self.gw_port)
