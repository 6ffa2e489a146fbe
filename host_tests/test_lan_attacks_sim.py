"""Denial of service from the LAN, against the real firmware in the sim (issue 13).

An attacker on the LAN holds connection slots, trickles request heads, guesses
passwords or points a DNS name of its own at the gateway; a charger, a polling
integration and the owner must get through all the same. Attackers bind
127.0.0.2-127.0.0.5 as their source address, the good clients 127.0.0.1, so
the gateway sees other machines. Every attack loop is bounded in count and time.
"""
import base64
import contextlib
import http.client
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from simctl import ROOT, Sim, free_port
from telegram_edit import read as telegram

SIM = os.path.join(ROOT, "tools", "sim.py")


def modbus_connect(sim, source):
    s = socket.create_connection(("127.0.0.1", sim.modbus_port), timeout=3, source_address=(source, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def modbus_read(s, tid=1):
    """One read of 2 registers at 0x8006 (voltage L1); the response ADU, or b"" when it fails."""
    try:
        s.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, 0x8006, 2))
        out = b""
        while len(out) < 13:
            chunk = s.recv(13 - len(out))
            if not chunk:
                return b""
            out += chunk
        return out
    except OSError:
        return b""


def closed_within(s, wait):
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except (socket.timeout, BlockingIOError):  # BlockingIOError: a wait of 0 found nothing
        return False


@pytest.fixture
def sim(tmp_path):
    # Station mode (Ethernet: always up in the sim): no access point, so a foreign Host is refused, not redirected.
    with Sim(tmp_path / "state", config={"DefaultNetIf": "Ethernet"}) as s:
        s.feed(telegram("v5.p1"))
        s.wait_valid(1)
        yield s


# --- Modbus slots ---------------------------------------------------------------------------

def test_half_sent_modbus_frames_are_closed_within_seconds_not_the_idle_timeout(sim):
    holders = [modbus_connect(sim, "127.0.0.2") for _ in range(4)]
    for s in holders:
        s.sendall(b"\x00\x01\x00")  # 3 bytes of a header, then silence (the idle timeout is 60 s)
    assert all(closed_within(s, 6) for s in holders)
    for s in holders:
        s.close()


def test_a_charger_reconnecting_gets_in_while_an_attacker_keeps_every_slot_taken(sim):
    stop = threading.Event()
    opened = [0]

    def attacker():
        # Keeps 4 connections each holding half a frame; reopens each as soon as it is closed.
        socks = []
        while not stop.is_set() and opened[0] < 400:
            socks = [s for s in socks if not closed_within(s, 0)]
            while len(socks) < 4 and opened[0] < 400:
                try:
                    s = modbus_connect(sim, "127.0.0.2")
                    s.sendall(b"\x00\x01\x00")
                    socks.append(s)
                    opened[0] += 1
                except OSError:
                    break
            stop.wait(0.05)
        for s in socks:
            s.close()

    holders = [modbus_connect(sim, "127.0.0.2") for _ in range(4)]
    for s in holders:
        s.sendall(b"\x00\x01\x00")
    t = threading.Thread(target=attacker, daemon=True)
    t.start()
    reads = []
    try:
        end = time.monotonic() + 8
        while time.monotonic() < end:   # a charger that reconnects every second and reads twice
            with modbus_connect(sim, "127.0.0.1") as c:
                reads.append(modbus_read(c, 1)[7:8])
                time.sleep(0.3)
                reads.append(modbus_read(c, 2)[7:8])
            time.sleep(0.5)
    finally:
        stop.set()
        t.join(10)
        for s in holders:
            s.close()
    print("\nmodbus: %d charger reads while the attacker opened %d connections" % (len(reads), opened[0]))
    assert opened[0] > 4 and reads and reads == [b"\x03"] * len(reads)


# --- HTTP slots ------------------------------------------------------------------------------

def test_a_polling_client_gets_200_within_2_s_while_20_slowloris_clients_reconnect(sim):
    stop = threading.Event()
    opened = [0]

    def slowloris(source):
        while not stop.is_set() and opened[0] < 3000:
            try:
                s = socket.create_connection(("127.0.0.1", sim.http_port), 2, source_address=(source, 0))
                opened[0] += 1
                s.sendall(b"GET /api/v1/data HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                while not stop.is_set():   # a header line a second, never the blank line
                    if closed_within(s, 1):
                        break
                    s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass
            finally:
                s.close()
            stop.wait(0.2)

    # On 3 addresses: fewer than the 4 slots, so their newcomers push out their own (README).
    threads = [threading.Thread(target=slowloris, args=("127.0.0.%d" % (2 + i % 3),), daemon=True)
               for i in range(20)]
    for t in threads:
        t.start()
    polls = []
    try:
        time.sleep(2)  # the slots are full of slow heads by now
        end = time.monotonic() + 12
        while time.monotonic() < end:
            c = http.client.HTTPConnection("127.0.0.1", sim.http_port, timeout=2, source_address=("127.0.0.1", 0))
            try:
                c.request("GET", "/api/v1/data")   # the 2 s timeout: an answer later than that fails
                polls.append(c.getresponse().status)
            except OSError as e:
                polls.append(type(e).__name__)
            finally:
                c.close()
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    print("\nhttp: %d polls while the slow clients opened %d connections" % (len(polls), opened[0]))
    assert opened[0] > 20 and polls and polls == [200] * len(polls), polls


def test_one_address_cannot_hold_every_http_slot(sim):
    slow = []
    for _ in range(6):  # more than the 4 slots, all from one address
        s = socket.create_connection(("127.0.0.1", sim.http_port), 3, source_address=("127.0.0.2", 0))
        s.sendall(b"GET / HTTP/1.1\r\n")
        slow.append(s)
    time.sleep(0.3)
    c = http.client.HTTPConnection("127.0.0.1", sim.http_port, timeout=3, source_address=("127.0.0.3", 0))
    c.request("GET", "/api/v1/data")
    assert c.getresponse().status == 200
    c.close()
    assert sum(closed_within(s, 0.5) for s in slow) >= 3  # its own oldest made room for its newest
    for s in slow:
        s.close()


def test_idle_keep_alive_connections_yield_their_slots_to_a_new_client(sim):
    kept = []
    for i in range(4):  # four clients each keeping its connection open after a request
        c = http.client.HTTPConnection("127.0.0.1", sim.http_port, timeout=3,
                                       source_address=("127.0.0.%d" % (2 + i), 0))
        c.request("GET", "/api/v1/data")
        r = c.getresponse()
        r.read()
        assert r.status == 200 and r.getheader("Connection") == "keep-alive"
        kept.append(c)
    assert _get(sim, "/api/v1/data", "127.0.0.1")[0] == 200
    assert closed_within(kept[0].sock, 1)  # the one idle longest gave its slot
    for c in kept:
        c.close()


# --- password guessing -----------------------------------------------------------------------

def _get(sim, path, source, password=None, host=None):
    c = http.client.HTTPConnection("127.0.0.1", sim.http_port, timeout=5, source_address=(source, 0))
    headers = {}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(b"user:" + password.encode()).decode()
    if host is not None:
        c.putrequest("GET", path, skip_host=True)
        c.putheader("Host", host)
    else:
        c.putrequest("GET", path)
    for k, v in headers.items():
        c.putheader(k, v)
    c.endheaders()
    try:
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_a_guesser_slows_only_itself_and_the_owner_logs_in_at_once(sim):
    password = sim.identity["api_password"]
    codes = [_get(sim, "/api/v1/config", "127.0.0.2", "guess%d" % i)[0] for i in range(12)]
    assert codes[:4] == [401] * 4 and 429 in codes[4:]
    assert _get(sim, "/api/v1/config", "127.0.0.2", password)[0] == 429  # locked: not even checked
    for _ in range(5):
        assert _get(sim, "/api/v1/config", "127.0.0.1", password)[0] == 200


# --- DNS rebinding ---------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "p1gw.evil.example", "p1gw-000000000000.local",
                                  "127.0.0.2", "[::1]"])
def test_a_host_that_is_not_the_gateway_gets_421(sim, host):
    for path in ("/api/v1/data", "/api/v1/telegram"):
        assert _get(sim, path, "127.0.0.1", host=host)[0] == 421
    assert _get(sim, "/api/v1/config", "127.0.0.1", sim.identity["api_password"], host=host)[0] == 421


def test_the_gateways_own_addresses_and_names_are_served(sim):
    name = "p1gw-" + sim.identity["serial"].lower()
    for host in ("127.0.0.1", "127.0.0.1:%d" % sim.http_port, "localhost", name, name + ".local",
                 name.upper() + ".fritz.box:80"):
        assert _get(sim, "/api/v1/data", "127.0.0.1", host=host)[0] == 200, host


def test_an_unknown_http_version_is_refused(sim):
    for version, code in ((b"HTTP/1.9", 505), (b"HTTP/2.0", 505), (b"HTTP/1.x", 400)):
        with socket.create_connection(("127.0.0.1", sim.http_port), 5) as s:
            s.sendall(b"GET /api/v1/data " + version + b"\r\nHost: 127.0.0.1\r\n\r\n")
            assert int(s.recv(100).split(b" ")[1]) == code, version


# --- the simulator ---------------------------------------------------------------------------

def _sim_py(tmp_path, *args):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, SIM, "--state-dir", str(tmp_path / "state"), "--quiet"] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                            cwd=ROOT, text=True)


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def _wait(cond, timeout, what):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, what
        time.sleep(0.05)


def test_sigterm_stops_the_sims_firmware_and_quick_restarts_are_no_crash_loop(tmp_path):
    port = free_port()
    for run in range(4):  # the 4th quick start would be safe mode if each stop counted as a crash
        p = _sim_py(tmp_path, "--services", "modbus_tcp", "--modbus-port", str(port))
        try:
            _wait(lambda: _listening(port) or p.poll() is not None, 30, "the sim's Modbus port")
            children = _children(p.pid)
            assert children, "no firmware process"
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert "Traceback" not in err, err
        for child in children:
            _wait(lambda: not os.path.exists("/proc/%d" % child) or
                  open("/proc/%d/stat" % child).read().split()[2] == "Z", 5, "the firmware to end")
        assert not _listening(port)
        assert "safe mode" not in out, (run, out)
    # --services modbus_tcp: the banner lists what runs, and nothing else
    assert "modbus tcp   127.0.0.1:%d" % port in out
    assert "web / api" not in out and "raw stream" not in out and "mqtt " not in out


@contextlib.contextmanager
def taken_port():
    """A port on 127.0.0.1 another program listens on (this test)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        yield taken.getsockname()[1]


def test_a_busy_port_stops_the_sim_with_one_line_and_no_banner(tmp_path):
    with taken_port() as port:
        p = _sim_py(tmp_path, "--http-port", str(port), "--modbus-port", str(free_port()),
                    "--raw-port", str(free_port()))
        out, err = p.communicate(timeout=60)
    assert p.returncode != 0
    assert err.count("\n") == 1 and "127.0.0.1:%d" % port in err and "--http-port" in err
    assert "Traceback" not in err and "web / api" not in out and "modbus tcp" not in out


def test_a_service_whose_port_is_taken_says_so_in_one_line(tmp_path):
    with taken_port() as port:
        with Sim(tmp_path / "state", services=("raw_stream",), raw_port=port) as sim:
            sim.wait_output("cannot listen", 10)
            out = sim.output()
    line = [ln for ln in out.splitlines() if "cannot listen" in ln][0]
    assert "port %d" % port in line and "in use" in line
    assert "Traceback" not in out and "EADDRINUSE" not in out


def test_a_button_press_written_before_boot_is_not_pressed_again(tmp_path):
    # What a factory reset leaves behind in the sim: its press still in the control file
    # when the firmware starts again. It must not be replayed (a reset after every boot).
    control = tmp_path / "button"
    control.write_text("factory\n")
    with Sim(tmp_path / "state", services=(), args=("--control", str(control))) as sim:
        time.sleep(1.5)  # the control file is polled every 200 ms
        with open(control, "a") as f:
            f.write("short\n")   # a press after boot is still taken
        sim.wait_output("button: short press", 5)
        assert "factory press" not in sim.output()
