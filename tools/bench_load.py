#!/usr/bin/env python3
"""A charger's and a phone's load on the firmware, and what its heap makes of it (issue 11, part 4).

    .venv/bin/python tools/bench_load.py [--layout image|stock|both] [--heap SIZE]
                                         [--seconds S] [--search S] [--no-keepalive] [--log FILE]

Runs the real firmware in the 32-bit unix port (host_tests/simctl.py) at a
layout's heap (default: its device budget, image 64k, stock 128k) and puts on
it, for ``--seconds`` (default 600):

- a DSMR 5 meter (``--meter-type``: or a French Linky's TIC): one live telegram a second
  (tools/meter_sim.py), fed into the P1 UART;
- 4 Modbus TCP clients, each reading the EMPro block 0x8000, 63 registers (up
  to the system L-N voltage at 0x803D), at 10 Hz: two with FC03, two with FC04;
- a phone's browser: ``GET /`` and ``GET /api/v1/status`` every second on one
  keep-alive connection (``--no-keepalive``: a connection per request), and a
  config PATCH every 30 s on it: MQTT.Site and Modbus.IdleTimeoutS, alternating;
- 2 raw-stream clients on the raw port;
- MQTT to a mosquitto started here (127.0.0.1, by PID), with HomeAssistant and
  IncludeTotals on, and a subscriber counting the data messages.

The firmware samples its own heap: ``--heap-log 5`` (firmware/main_host.py)
prints gc.mem_alloc()/gc.mem_free() after gc.collect() and micropython.mem_info()
every 5 s. Printed: one table of figures per run, MemoryError sites, heap per
minute and its slope. Nothing here is a timed assertion: every figure is a
count. ``--search S`` then looks for the smallest heap (8 KB steps) at which the
layout survives S seconds of the same load: no MemoryError, every Modbus read
answered with data, every HTTP request 200, no raw or MQTT telegram missed.

``tools/bench.py`` (``make bench``) runs both layouts; host_tests/test_load_sim.py
runs one minute of it as a test.
"""
import argparse
import base64
import http.client
import json
import os
import re
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))
from simctl import Broker, Sim  # noqa: E402
import meter_sim  # noqa: E402  (tools/, on the path through simctl)
from sim import HEAP  # noqa: E402


TELEGRAM_PERIOD_S = 1.0
MODBUS_CLIENTS = 4
MODBUS_PERIOD_S = 0.1          # 10 Hz per client
MODBUS_BLOCK = (0x8000, 63)    # 0x8000 .. 0x803E: the whole EMPro instantaneous block
MODBUS_TIMEOUT_S = 5
PHONE_PERIOD_S = 1.0
PHONE_PATHS = ("/", "/api/v1/status")
HTTP_TIMEOUT_S = 10
PATCH_PERIOD_S = 30.0
PATCHES = ({"MQTT": {"Site": "load-b"}}, {"Modbus": {"IdleTimeoutS": 61}},
           {"MQTT": {"Site": "load-a"}}, {"Modbus": {"IdleTimeoutS": 60}})
RAW_CLIENTS = 2
HEAP_LOG_S = 5
GRACE_S = 3.0                  # after the last telegram: room for its MQTT message and raw copies
STEP = 8 * 1024
# "Flat": the per-minute minimum of the post-gc heap at the last minute is at
# most this much above minute 2's (in-flight requests make single samples noisy;
# a minute's minimum is the floor the firmware keeps returning to).
FLAT_BYTES = 1024
BROWSER = {  # what a phone's browser sends with each request (~450 bytes of head)
    "User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/126.0.0.0 Mobile Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "Accept-Encoding": "gzip, deflate",
    "Accept-Language": "nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7",
}

_TRACE = re.compile(r"p1: valid=(\d+) crc_mismatch=(\d+) malformed=(\d+) too_long=(\d+) parse_error=(\d+)")
_HEAP = re.compile(r"^heap: (\d+) (\d+)")
_MAXFREE = re.compile(r"max free sz: (\d+)")
_END = re.compile(rb"![0-9A-Fa-f]{0,4}\r\n")  # a telegram's last line
_TIC_END = re.compile(rb"\x03")  # a TIC frame's ETX
_ALLOC = re.compile(r"allocating (\d+) bytes")
_FILE = re.compile(r'^\s+File "([^"]+)", line (\d+), in (\S+)')
GC_BLOCK = 16  # bytes per GC block with 32-bit words


def kib(n):
    """'64k' -> 65536."""
    n = str(n).lower()
    return int(n[:-1]) * 1024 if n.endswith("k") else int(n)


# --- the firmware, with a time on every line --------------------------------------

class TimedSim(Sim):
    """simctl.Sim that keeps when each line came (for the heap per minute)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.times = []

    def _collect(self, proc):
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            with self._lock:
                self._lines.append(line)
                self.times.append(time.monotonic())

    def timed_lines(self):
        with self._lock:
            return list(zip(self.times, self._lines))


# --- the clients --------------------------------------------------------------------

def _bump(d, key, n=1):
    d[key] = d.get(key, 0) + n


def _why(e):
    """A short name for a client-side failure: 'timeout', 'reset', 'refused', 'closed'..."""
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, ConnectionResetError):
        return "reset"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, (EOFError, http.client.RemoteDisconnected, BrokenPipeError)):
        return "closed"
    return type(e).__name__


def recv_exactly(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed by the gateway")
        buf += chunk
    return buf


class ModbusClient(threading.Thread):
    """A charger: one connection, the 0x8000 block at 10 Hz; reconnects after a failure."""

    def __init__(self, port, fc, stop):
        super().__init__(daemon=True)
        self.port, self.fc, self.stop = port, fc, stop
        self.ok = 0
        self.exceptions = {}      # exception code -> count
        self.conn_errors = {}     # why -> count (connect failures, resets, timeouts, closes)
        self.bad = 0              # an answer that is neither data of the right size nor an exception
        self.implausible = 0      # data, but voltage L1 not a mains voltage
        self.latencies = []

    def run(self):
        addr, qty = MODBUS_BLOCK
        sock = None
        tid = 0
        next_t = time.monotonic()
        while not self.stop.is_set():
            if sock is None:
                try:
                    sock = socket.create_connection(("127.0.0.1", self.port), MODBUS_TIMEOUT_S)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError as e:
                    _bump(self.conn_errors, "connect " + _why(e))
                    sock = None
                    self.stop.wait(1)
                    next_t = time.monotonic()
                    continue
            tid = (tid + 1) & 0xFFFF
            t0 = time.monotonic()
            try:
                sock.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 1, self.fc, addr, qty))
                head = recv_exactly(sock, 9)
                if struct.unpack(">H", head[:2])[0] != tid:
                    raise EOFError("transaction id mismatch")
                if head[7] == self.fc:
                    body = recv_exactly(sock, head[8])
                    if head[8] != 2 * qty:
                        self.bad += 1
                    else:
                        self.ok += 1
                        lo, hi = struct.unpack(">HH", body[12:16])  # 0x8006: voltage L1, low word first
                        if not 150 < struct.unpack(">f", struct.pack(">HH", hi, lo))[0] < 300:
                            self.implausible += 1
                elif head[7] == self.fc | 0x80:
                    _bump(self.exceptions, head[8])
                else:
                    self.bad += 1
                    raise EOFError("unexpected function code %d" % head[7])
                self.latencies.append(time.monotonic() - t0)
            except (OSError, EOFError) as e:
                _bump(self.conn_errors, _why(e))
                sock.close()
                sock = None
            next_t += MODBUS_PERIOD_S
            now = time.monotonic()
            if next_t < now - 1:   # fell behind (a stall): don't burst to catch up
                next_t = now
            self.stop.wait(max(0.0, next_t - now))
        if sock:
            sock.close()


class Phone(threading.Thread):
    """A browser with the config page open: the page and the status every second, a PATCH every 30 s."""

    def __init__(self, port, password, stop, keepalive=True):
        super().__init__(daemon=True)
        self.port, self.stop, self.keepalive = port, stop, keepalive
        token = base64.b64encode(("user:%s" % password).encode()).decode()
        self.headers = dict(BROWSER, Authorization="Basic " + token,
                            Connection="keep-alive" if keepalive else "close")
        self.ok = {}         # path -> count of 200
        self.non200 = {}     # (method path, status) -> count
        self.errors = {}     # (method path, why) -> count
        self.connections = 0
        self.last_status = None
        self._conn = None

    def _request(self, method, path, body=None):
        key = path if method == "GET" else "%s %s" % (method, path)
        headers = dict(self.headers)
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT_S)
                self.connections += 1
            self._conn.request(method, path, body, headers)
            r = self._conn.getresponse()
            data = r.read()
            if r.will_close or not self.keepalive:
                self._conn.close()
                self._conn = None
        except (OSError, http.client.HTTPException) as e:
            _bump(self.errors, (key, _why(e)))
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            return None
        if r.status != 200:
            _bump(self.non200, (key, r.status))
            return None
        _bump(self.ok, key)
        return data

    def run(self):
        next_t = time.monotonic()
        next_patch = next_t + PATCH_PERIOD_S
        n_patch = 0
        while not self.stop.is_set():
            for path in PHONE_PATHS:
                data = self._request("GET", path)
                if data is not None and path == "/api/v1/status":
                    try:
                        self.last_status = json.loads(data)
                    except ValueError:
                        _bump(self.errors, (path, "bad JSON"))
            if time.monotonic() >= next_patch:
                data = self._request("PATCH", "/api/v1/config", PATCHES[n_patch % len(PATCHES)])
                if data is not None and not json.loads(data).get("saved"):
                    _bump(self.errors, ("PATCH /api/v1/config", "not saved"))
                n_patch += 1
                next_patch += PATCH_PERIOD_S
            next_t += PHONE_PERIOD_S
            now = time.monotonic()
            if next_t < now - 1:
                next_t = now
            self.stop.wait(max(0.0, next_t - now))
        if self._conn:
            self._conn.close()

    def total_ok(self):
        return sum(self.ok.values())


class RawClient(threading.Thread):
    """Home Assistant's DSMR integration on the raw port: counts the telegrams that arrive whole."""

    def __init__(self, port, sent, stop, tic=False):
        super().__init__(daemon=True)
        self.port, self.sent, self.stop = port, sent, stop
        self.start_byte, self.end = (b"\x02", _TIC_END) if tic else (b"/", _END)  # TIC: STX ... ETX
        self.got = set()      # indexes of sent telegrams received byte for byte
        self.dupes = 0
        self.foreign = 0      # complete frames that are none of the telegrams sent
        self.disconnects = {}
        self.sock = None

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), 5)
        self.sock.settimeout(0.5)

    def run(self):
        buf = b""
        while not self.stop.is_set():
            if self.sock is None:
                try:
                    self.connect()
                except OSError as e:
                    _bump(self.disconnects, "connect " + _why(e))
                    self.stop.wait(1)
                    continue
                buf = b""
            try:
                chunk = self.sock.recv(8192)
                if not chunk:
                    raise EOFError
            except socket.timeout:
                continue
            except (OSError, EOFError) as e:
                _bump(self.disconnects, _why(e))
                self.sock.close()
                self.sock = None
                continue
            buf += chunk
            while True:
                start = buf.find(self.start_byte)
                m = self.end.search(buf, max(start, 0))
                if start < 0 or not m:
                    break
                frame, buf = buf[start:m.end()], buf[m.end():]
                i = self.sent.get(frame)
                if i is None:
                    self.foreign += 1
                elif i in self.got:
                    self.dupes += 1
                else:
                    self.got.add(i)
        if self.sock:
            self.sock.close()


class MqttCounter:
    """paho-mqtt on the broker: data messages (by telegram timestamp) and discovery messages."""

    def __init__(self, port):
        import paho.mqtt.client as paho
        self.lock = threading.Lock()
        self.data_ts = []        # the "timestamp" of each data message
        self.bad_json = 0
        self.discovery = 0
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-load-%d" % os.getpid())
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            [("devices/+/smart-connect/+/data", 0), ("homeassistant/#", 0)])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            if msg.topic.startswith("homeassistant/"):
                self.discovery += 1
                return
            try:
                self.data_ts.append(json.loads(msg.payload)["timestamp"])
            except (ValueError, KeyError, TypeError):
                self.bad_json += 1

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


# --- one run ------------------------------------------------------------------------

def is_memory_error(line):
    """A line that reports a MemoryError: by name, or by its message alone (str(e), e.g. a parse error)."""
    return "MemoryError" in line or "memory allocation failed" in line


def p1_counts(output):
    """(valid, parsed, errors) from the last trace line: valid passed the CRC, parsed also dsmr.parse."""
    tr = _TRACE.findall(output)
    if not tr:
        return 0, 0, 0
    c = [int(x) for x in tr[-1]]
    return c[0], c[0] - c[4], sum(c[1:])


def memory_error_sites(lines):
    """{site: [events, smallest request, largest request]} for the MemoryErrors in the firmware's output.

    An event is a line that says MemoryError; the traceback a supervisor prints
    after its "crashed (MemoryError...)" line belongs to that event and names
    its innermost frames (innermost first). Request sizes come from
    "allocating N bytes". Numbers that vary (sizes, back-off) read N in the site.
    """
    events = []       # [site text, where, size, traceback expected]
    frames = []
    in_tb = False
    for line in lines:
        if line.startswith("Traceback (most recent call last)"):
            frames, in_tb = [], True
            continue
        m = _FILE.match(line)
        if in_tb and m:
            frames.append("%s:%s in %s" % m.groups())
            continue
        if is_memory_error(line):
            size = _ALLOC.search(line)
            size = int(size.group(1)) if size else None
            if in_tb and line.startswith("MemoryError"):
                where = " < ".join(reversed(frames[-3:]))
                if events and events[-1][3]:
                    events[-1][1], events[-1][3] = where, False
                else:
                    events.append(["uncaught, its task ended", where, size, False])
            else:
                text = line.strip()
                if text.startswith("p1: valid="):  # the trace line: its counters are no site
                    text = "p1: " + text.partition(" | ")[2]
                text = _ALLOC.sub("allocating N bytes", text)
                text = re.sub(r"restarting in \d+ ms", "restarting in N ms", text)
                events.append([text, "", size, " crashed (" in line])
        if not line.startswith(" "):
            in_tb = False
    sites = {}
    for text, where, size, _ in events:
        key = text + (" at " + where if where else "")
        n, lo, hi = sites.get(key, (0, None, None))
        if size is not None:
            lo = size if lo is None else min(lo, size)
            hi = size if hi is None else max(hi, size)
        sites[key] = [n + 1, lo, hi]
    return sites


def heap_samples(timed_lines, t0):
    """[(seconds since t0, alloc, free, largest free block in bytes or None)] from --heap-log lines."""
    out = []
    maxfree = None
    for t, line in timed_lines:
        m = _MAXFREE.search(line)
        if m:
            maxfree = int(m.group(1)) * GC_BLOCK
            continue
        m = _HEAP.match(line)
        if m:
            out.append((t - t0, int(m.group(1)), int(m.group(2)), maxfree))
            maxfree = None
    return out


def slope_per_min(points):
    """Least-squares slope of [(seconds, bytes)] in bytes per minute (None for fewer than 2 points)."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if not sxx:
        return None
    return 60 * sum((p[0] - mx) * (p[1] - my) for p in points) / sxx


# The P1 settings each meter type gets (the default for P1, a fixed TIC line for a French meter:
# the load starts at once, no search).
P1_CONFIG = {"dsmr5": {}, "tic-standard": {"Protocol": "tic", "Baud": "9600"},
             "tic-historique": {"Protocol": "tic", "Baud": "1200"}}


def run_load(layout, heap=None, seconds=600, keepalive=True, log=None, progress=None, meter_type="dsmr5"):
    """Put the load on the firmware for ``seconds``; a dict of every figure (see ``survived``)."""
    heap = heap or HEAP[layout]
    r = {"layout": layout, "heap": heap, "seconds": seconds, "booted": False, "exit": None}
    stop = threading.Event()
    threads = []
    sent = {}        # telegram bytes -> index
    sent_ts = {}     # its timestamp (UTC epoch s, as MQTT publishes it) -> index
    folder = tempfile.mkdtemp(prefix="p1gw-load-")
    broker = sim = sub = None
    try:
        broker = Broker(folder)
        sub = MqttCounter(broker.port)
        sim = TimedSim(os.path.join(folder, "state"), layout=layout, heap=heap,
                       mqtt="mqtt://127.0.0.1:%d" % broker.port, args=("--heap-log", str(HEAP_LOG_S)),
                       config={"MQTT": {"Site": "load-a", "HomeAssistant": True, "IncludeTotals": True},
                               "Modbus": {"IdleTimeoutS": 60}, "P1": P1_CONFIG[meter_type]})
        make, line, _ = meter_sim.METER_TYPES[meter_type]
        meter = make(None)
        line = None if meter_type == "dsmr5" else line  # a French meter on its own serial line
        meter.step(0)
        try:
            sim.start()
            sim.feed(meter.telegram(), line=line)
            meter.step(TELEGRAM_PERIOD_S)
            sim.wait_valid(1, 20)
            sim.wait_output("mqtt: connected", 30)
        except AssertionError as e:
            r["boot_error"] = str(e).splitlines()[0]
            return r
        finally:
            if sim.proc is not None:
                r["boot_lines"] = sim.output().count("\n")
        r["booted"] = True
        r["boot_free"] = _boot_free(sim.output())
        password = sim.identity["api_password"]
        raws = [RawClient(sim.raw_port, sent, stop, meter_type != "dsmr5") for _ in range(RAW_CLIENTS)]
        for c in raws:
            c.connect()
        _wait_raw_clients(sim.http_port, password, RAW_CLIENTS)
        modbus = [ModbusClient(sim.modbus_port, 3 if i % 2 == 0 else 4, stop) for i in range(MODBUS_CLIENTS)]
        phone = Phone(sim.http_port, password, stop, keepalive)
        threads = raws + modbus + [phone]
        valid0, parsed0, _ = p1_counts(sim.output())
        t0 = time.monotonic()
        r["t0"] = t0
        for t in threads:
            t.start()
        n = 0
        next_t = t0
        last_progress = t0
        while time.monotonic() - t0 < seconds:
            tg = meter.telegram()
            sent[tg] = n
            sent_ts[int(meter.t)] = n
            try:
                sim.feed(tg, line=line)
            except OSError as e:
                r["feed_error"] = "telegram %d: %s" % (n, e)
                break
            n += 1
            meter.step(TELEGRAM_PERIOD_S)
            if sim.proc.poll() is not None:
                break
            if progress and time.monotonic() - last_progress >= 60:
                last_progress = time.monotonic()
                progress("  %s %s: %d s, %d telegrams, %d MemoryError lines so far" % (
                    layout, heap, last_progress - t0, n, sum(map(is_memory_error, sim.output().splitlines()))))
            next_t += TELEGRAM_PERIOD_S
            time.sleep(max(0.0, next_t - time.monotonic()))
        time.sleep(GRACE_S)
        stop.set()
        for t in threads:
            t.join(HTTP_TIMEOUT_S + 5)
        r["duration_s"] = time.monotonic() - t0
        r["sent"] = n
        valid, parsed, r["p1_errors"] = p1_counts(sim.output())
        r["valid"], r["parsed"] = valid - valid0, parsed - parsed0
        r["exit"] = sim.proc.poll()
        r["modbus"] = _modbus_figures(modbus)
        r["http"] = {"ok": dict(phone.ok), "non200": dict(phone.non200), "errors": dict(phone.errors),
                     "connections": phone.connections}
        r["fw_status"] = phone.last_status
        r["raw"] = [{"got": len(c.got), "dupes": c.dupes, "foreign": c.foreign,
                     "disconnects": dict(c.disconnects)} for c in raws]
        with sub.lock:
            ts = list(sub.data_ts)
            r["mqtt"] = {"messages": len(ts), "telegrams": len(set(ts) & set(sent_ts)),
                         "other_ts": len(set(ts) - set(sent_ts)), "bad_json": sub.bad_json,
                         "discovery": sub.discovery}
        return r
    finally:
        stop.set()
        if sim is not None:
            r["exit"] = sim.proc.poll() if sim.proc else None
            lines = sim.timed_lines()
            sim.stop()
            out = [l for _, l in lines]
            r["memory_errors"] = sum(map(is_memory_error, out))
            r["memory_error_sites"] = memory_error_sites(out)
            samples = heap_samples(lines, r.get("t0", lines[0][0] if lines else 0))
            r["heap_samples"] = [x for x in samples if 0 <= x[0] < seconds]  # the load, not boot or grace
            r["crashes"] = [l.strip() for l in out if " crashed (" in l]
            loaded = [l.split()[1:] for l in out if l.startswith("modules:")]
            r["modules"] = loaded[-1] if loaded else []
            if log:
                with open(log, "a") as f:
                    f.write("=== %s at %s ===\n" % (layout, heap))
                    f.writelines(out)
        if sub is not None:
            sub.close()
        if broker is not None:
            broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _boot_free(output):
    m = re.search(r"app: running \(serial \S+, (\d+) bytes heap free\)", output)
    return int(m.group(1)) if m else None


def _wait_raw_clients(port, password, n, timeout=10):
    """Until the firmware counts ``n`` raw-stream clients: they get every telegram from the next one."""
    token = base64.b64encode(("user:%s" % password).encode()).decode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/api/v1/status", headers={"Authorization": "Basic " + token})
            st = json.loads(c.getresponse().read())
            c.close()
            if (st.get("raw") or {}).get("clients", 0) >= n:
                return
        except (OSError, ValueError, http.client.HTTPException):
            pass
        time.sleep(0.2)


def _modbus_figures(clients):
    lat = sorted(x for c in clients for x in c.latencies)
    exc, conn = {}, {}
    for c in clients:
        for k, v in c.exceptions.items():
            _bump(exc, k, v)
        for k, v in c.conn_errors.items():
            _bump(conn, k, v)
    return {"ok": sum(c.ok for c in clients), "exceptions": exc, "conn_errors": conn,
            "bad": sum(c.bad for c in clients), "implausible": sum(c.implausible for c in clients),
            "p50_ms": 1000 * lat[len(lat) // 2] if lat else None,
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
            "max_ms": 1000 * lat[-1] if lat else None}


def failures(r):
    """What broke the budget in run ``r``: [] when it survived."""
    if not r["booted"]:
        return ["did not boot: %s" % r.get("boot_error", "?")]
    f = []
    if r["exit"] is not None:
        f.append("firmware exited (status %s)" % r["exit"])
    if r["memory_errors"]:
        f.append("%d MemoryError lines" % r["memory_errors"])
    if r["parsed"] != r["sent"]:
        f.append("P1: %d of %d telegrams parsed" % (r["parsed"], r["sent"]))
    mb = r["modbus"]
    if mb["exceptions"] or mb["conn_errors"] or mb["bad"] or mb["implausible"]:
        f.append("Modbus: %d exceptions, %d connection errors, %d malformed, %d implausible" % (
            sum(mb["exceptions"].values()), sum(mb["conn_errors"].values()), mb["bad"], mb["implausible"]))
    h = r["http"]
    if h["non200"] or h["errors"]:
        f.append("HTTP: %d non-200, %d errors" % (sum(h["non200"].values()), sum(h["errors"].values())))
    for i, c in enumerate(r["raw"]):
        if c["got"] != r["sent"] or c["foreign"]:
            f.append("raw client %d: %d of %d telegrams" % (i + 1, c["got"], r["sent"]))
    if r["mqtt"]["telegrams"] != r["sent"]:
        f.append("MQTT: %d of %d telegrams" % (r["mqtt"]["telegrams"], r["sent"]))
    _, growth, _ = heap_trend(r["heap_samples"])
    if growth is not None and growth > FLAT_BYTES:
        f.append("heap after gc.collect() grew %d bytes from minute 2" % growth)
    return f


def survived(r):
    return not failures(r)


# --- printing -----------------------------------------------------------------------

def _fmt_counts(d):
    return ", ".join("%s %d" % (k if not isinstance(k, tuple) else " ".join(map(str, k)), v)
                     for k, v in sorted(d.items(), key=lambda kv: -kv[1])) or "none"


def heap_per_minute(samples):
    """[(minute, n, min alloc, max alloc, min largest free block)], minute 1 = the first 60 s."""
    rows = {}
    for t, alloc, _free, maxfree in samples:
        if t < 0:
            continue
        rows.setdefault(int(t // 60) + 1, []).append((alloc, maxfree))
    out = []
    for m in sorted(rows):
        a = [x[0] for x in rows[m]]
        mf = [x[1] for x in rows[m] if x[1] is not None]
        out.append((m, len(a), min(a), max(a), min(mf) if mf else None))
    return out


def heap_trend(samples):
    """(slope in bytes/min, growth of the per-minute minimum from minute 2 to the last, what the slope spans).

    The slope is fitted from minute 2 on (boot and the first MQTT discovery
    settle in minute 1) once there are 2 minutes of it, over the whole run before that.
    """
    late = [(t, a) for t, a, _, _ in samples if t >= 60]
    per_min = heap_per_minute(samples)
    growth = None
    mins = [row for row in per_min if row[0] >= 2]
    if len(mins) >= 2:
        growth = mins[-1][2] - mins[0][2]
    if late and late[-1][0] - late[0][0] >= 60:
        return slope_per_min(late), growth, "from minute 2"
    return slope_per_min([(t, a) for t, a, _, _ in samples]), growth, "over the run"


def report(r, out=print):
    """The figures of one run, as a table."""
    kb = kib(r["heap"])
    out("Load on the %s layout at -X heapsize=%s (%d bytes)" % (r["layout"], r["heap"], kb))
    if not r["booted"]:
        out("  did not boot: %s" % r.get("boot_error"))
        _report_memory_errors(r, out)
        return
    sent = r["sent"]
    rows = [
        ("duration", "%.0f s" % r["duration_s"]),
        ("free heap after boot", "%s bytes" % r.get("boot_free")),
        ("telegrams sent/valid/parsed", "%d / %d / %d  (valid: CRC right; parsed: dsmr.parse too; "
         "P1 errors counted in all: %s)" % (sent, r["valid"], r["parsed"], r.get("p1_errors"))),
        ("MemoryError lines", "%d  (%d events: a crash and its traceback are one)" % (
            r["memory_errors"], sum(v[0] for v in r["memory_error_sites"].values()))),
        ("service crashes", "%d" % len(r["crashes"])),
        ("firmware", "running" if r["exit"] is None else "exited with %s" % r["exit"]),
    ]
    mb = r["modbus"]
    total = mb["ok"] + sum(mb["exceptions"].values()) + mb["bad"] + sum(mb["conn_errors"].values())
    rows += [
        ("Modbus reads ok", "%d of %d  (FC03/FC04 0x%04X x%d, %d clients at 10 Hz)" % (
            mb["ok"], total, MODBUS_BLOCK[0], MODBUS_BLOCK[1], MODBUS_CLIENTS)),
        ("Modbus exceptions", _fmt_counts({"code %d" % k: v for k, v in mb["exceptions"].items()})),
        ("Modbus connection errors", _fmt_counts(mb["conn_errors"])),
        ("Modbus malformed / implausible", "%d / %d" % (mb["bad"], mb["implausible"])),
        ("Modbus latency p50/p99/max", "%s ms" % "/".join(
            "-" if x is None else "%.1f" % x for x in (mb["p50_ms"], mb["p99_ms"], mb["max_ms"]))),
    ]
    h = r["http"]
    rows += [
        ("HTTP 200", _fmt_counts(h["ok"])),
        ("HTTP non-200", _fmt_counts(h["non200"])),
        ("HTTP errors", _fmt_counts(h["errors"])),
        ("HTTP connections opened", "%d" % h["connections"]),
    ]
    for i, c in enumerate(r["raw"]):
        rows.append(("raw client %d" % (i + 1), "%d of %d telegrams  (dupes %d, foreign %d, disconnects: %s)" % (
            c["got"], sent, c["dupes"], c["foreign"], _fmt_counts(c["disconnects"]))))
    mq = r["mqtt"]
    rows.append(("MQTT data messages", "%d of %d telegrams  (%d messages, %d of telegrams before the load, "
                 "%d bad JSON; %d discovery messages)" % (
                     mq["telegrams"], sent, mq["messages"], mq["other_ts"], mq["bad_json"], mq["discovery"])))
    st = r.get("fw_status") or {}
    if st:
        rows.append(("firmware's own counters", "modbus %s; raw %s; mqtt sent %s reconnects %s" % (
            json.dumps(st.get("modbus"), separators=(",", ":")), json.dumps(st.get("raw"), separators=(",", ":")),
            (st.get("mqtt") or {}).get("messages_sent"), (st.get("mqtt") or {}).get("reconnects"))))
    slope, growth, span = heap_trend(r["heap_samples"])
    rows.append(("heap after gc.collect()", "slope %s bytes/min %s; per-minute minimum %s%s" % (
        "-" if slope is None else "%+d" % round(slope), span,
        "-" if growth is None else "%+d bytes from minute 2 to the last" % growth,
        "" if growth is None else (": flat" if growth <= FLAT_BYTES else ": GROWING"))))
    verdict = failures(r)
    rows.append(("verdict", "SURVIVED" if not verdict else "FAILED: " + "; ".join(verdict)))
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        out("  %-*s  %s" % (w, k, v))
    per_min = heap_per_minute(r["heap_samples"])
    if per_min:
        out("  heap after gc.collect(), sampled every %d s (bytes of %d):" % (HEAP_LOG_S, kb))
        out("    %6s %8s %10s %10s %16s" % ("minute", "samples", "min alloc", "max alloc", "min max-free-blk"))
        for m, n, lo, hi, mf in per_min:
            out("    %6d %8d %10d %10d %16s" % (m, n, lo, hi, "-" if mf is None else mf))
    _report_memory_errors(r, out)


def _report_memory_errors(r, out):
    sites = r.get("memory_error_sites") or {}
    if sites:
        out("  MemoryError sites (events, request sizes, where):")
        for site, (n, lo, hi) in sorted(sites.items(), key=lambda kv: -kv[1][0]):
            sizes = "-" if lo is None else ("%d B" % lo if lo == hi else "%d-%d B" % (lo, hi))
            out("    %5d  %-11s %s" % (n, sizes, site))
    if r.get("crashes"):
        out("  service crashes (%d%s):" % (len(r["crashes"]), "; the first 5" if len(r["crashes"]) > 5 else ""))
        for line in r["crashes"][:5]:
            out("    " + line)


def smallest_heap(layout, seconds, known=None, floor="32k", cap="256k", keepalive=True, out=print, log=None):
    """The smallest heap, in 8 KB steps, at which ``layout`` survives ``seconds`` of the load.

    ``known``: {heap bytes: survived} already measured (e.g. the budget run).
    Bisection between the largest failing and the smallest surviving heap
    tried; survival is not strictly monotonic in the heap (fragmentation), so
    every heap tried is printed. Returns (bytes or None, [(bytes, survived, why)]).
    """
    tried = []
    results = dict(known or {})

    def tries(b):
        if b not in results:
            r = run_load(layout, "%dk" % (b // 1024), seconds, keepalive, log=log)
            results[b] = survived(r)
            why = "; ".join(failures(r)) or "survived"
            tried.append((b, results[b], why))
            out("  %s at %3dk: %s" % (layout, b // 1024, why))
        return results[b]

    lo, hi = kib(floor), kib(cap)
    start = kib(HEAP[layout])
    if tries(start):
        hi = start
    else:
        lo = start
        if not tries(hi):
            return None, tried
    # lo fails (or is the floor, assumed to fail), hi survives.
    while hi - lo > STEP:
        mid = (lo + hi) // 2 // STEP * STEP
        if mid <= lo:
            mid = lo + STEP
        if tries(mid):
            hi = mid
        else:
            lo = mid
    return hi, tried


def summary(results, out=print):
    """Both layouts side by side: [(run, smallest surviving heap or None or "-")]."""
    head = ("layout", "heap", "secs", "sent/parsed", "MemErr", "Modbus ok/exc/conn", "HTTP 200/other/err",
            "raw min", "MQTT", "post-gc heap", "slope B/min", "smallest", "verdict")
    rows = []
    for r, best in results:
        smallest = best if isinstance(best, str) else ("none <= 256k" if best is None else "%dk" % (best // 1024))
        if not r["booted"]:
            rows.append((r["layout"], r["heap"], "-", "-", str(r.get("memory_errors", "-")), "-", "-", "-", "-",
                         "-", "-", smallest, "did not boot"))
            continue
        mb, h = r["modbus"], r["http"]
        alloc = [a for _, a, _, _ in r["heap_samples"]]
        slope, _, _ = heap_trend(r["heap_samples"])
        rows.append((
            r["layout"], r["heap"], "%.0f" % r["duration_s"], "%d/%d" % (r["sent"], r["parsed"]),
            str(r["memory_errors"]),
            "%d/%d/%d" % (mb["ok"], sum(mb["exceptions"].values()) + mb["bad"], sum(mb["conn_errors"].values())),
            "%d/%d/%d" % (sum(h["ok"].values()), sum(h["non200"].values()), sum(h["errors"].values())),
            "%d" % min(c["got"] for c in r["raw"]), "%d" % r["mqtt"]["telegrams"],
            "%d-%d" % (min(alloc), max(alloc)) if alloc else "-",
            "-" if slope is None else "%+d" % round(slope), smallest,
            "ok" if survived(r) else "FAILED"))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    for row in (head,) + tuple(rows):
        out("  " + "  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


def bench(layouts=("image", "stock"), seconds=600, search_seconds=60, heap=None, keepalive=True,
          log=None, out=print, meter_type="dsmr5"):
    """Each layout under the load at its budget (or ``heap``), then the smallest heap it survives on."""
    results = []
    for layout in layouts:
        h = heap or HEAP[layout]
        r = run_load(layout, h, seconds, keepalive, log=log, progress=out, meter_type=meter_type)
        report(r, out)
        best = "-"
        if search_seconds:
            out("  smallest heap at which the %s layout survives %.0f s of the load (8 KB steps):"
                % (layout, search_seconds))
            # A longer run that survived also survives a shorter one; one that failed may not have.
            known = {kib(h): True} if seconds >= search_seconds and survived(r) else None
            best, _ = smallest_heap(layout, search_seconds, known, keepalive=keepalive, out=out, log=log)
        results.append((r, best))
        out("")
    out("Summary: the load on each layout (Modbus exc = exceptions + malformed; heap in bytes "
        "allocated after gc.collect(), min-max over the run)")
    summary(results, out)
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layout", choices=("image", "stock", "both"), default="both")
    ap.add_argument("--heap", help="heap size (default: the layout's budget: image %(image)s, stock %(stock)s)"
                    % HEAP)
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("P1GW_LOAD_SECONDS", 600)),
                    help="length of the load run (default 600; env P1GW_LOAD_SECONDS)")
    ap.add_argument("--search", type=float, default=float(os.environ.get("P1GW_LOAD_SEARCH_SECONDS", 0)),
                    metavar="S", help="then search the smallest surviving heap with runs of S seconds "
                    "(default 0: no search; env P1GW_LOAD_SEARCH_SECONDS)")
    ap.add_argument("--no-keepalive", action="store_true", help="the phone opens a connection per request")
    ap.add_argument("--log", help="append the firmware's output of every run to this file")
    ap.add_argument("--meter-type", choices=sorted(P1_CONFIG), default="dsmr5",
                    help="the meter (tools/meter_sim.py): dsmr5 (default), or tic-standard / tic-historique "
                    "(a French meter, P1.Protocol tic at its speed)")
    args = ap.parse_args(argv)
    layouts = ("image", "stock") if args.layout == "both" else (args.layout,)
    bench(layouts, args.seconds, args.search, args.heap, not args.no_keepalive, args.log,
          meter_type=args.meter_type)


if __name__ == "__main__":
    main()
