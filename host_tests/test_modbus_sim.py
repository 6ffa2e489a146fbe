"""Modbus TCP against the real firmware in the unix port, read the way chargers do.

pymodbus and Debian's mbpoll are the masters; the test plays the meter through
the simulator and compares every register with dsmr.parse of what it sent.
Timing is printed, never asserted.
"""
import random
import re
import socket
import struct
import subprocess
import threading
import time

import pytest
from pymodbus.client import ModbusTcpClient

import dsmr
from simctl import Sim
from telegram_edit import read as _read, v5_telegram


F32 = ModbusTcpClient.DATATYPE.FLOAT32


def fed(sim, name):
    """Feed a reference telegram, wait until the gateway took it, return its reading."""
    raw = _read(name)
    sim.feed(raw)
    sim.wait_valid(1)
    return dsmr.parse(raw)


def client(sim):
    c = ModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=3, retries=0)
    assert c.connect()
    return c


def floats(c, addr, n, fc=3, order="little"):
    read = c.read_holding_registers if fc == 3 else c.read_input_registers
    rr = read(addr, count=2 * n, device_id=1)
    assert not rr.isError(), rr
    return [c.convert_from_registers(rr.registers[2 * i:2 * i + 2], F32, word_order=order)
            for i in range(n)]


def close(a, b):
    return abs(a - b) <= 1e-5 * max(1.0, abs(b))


def raw_request(fc, addr, qty, tid=1, unit=1):
    return struct.pack(">HHHBBHH", tid, 0, 6, unit, fc, addr, qty)


def recv_exactly(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return buf
        buf += chunk
    return buf


def raw_read(s, fc, addr, qty, tid=1):
    """Send one request on socket s; the response ADU (b"" if closed)."""
    s.sendall(raw_request(fc, addr, qty, tid))
    head = recv_exactly(s, 7)
    if len(head) < 7:
        return b""
    return head + recv_exactly(s, struct.unpack(">H", head[4:6])[0] - 1)


def connect(sim, source="127.0.0.1"):
    """A raw connection to the gateway's Modbus port from ``source`` (any 127.0.0.x)."""
    s = socket.create_connection(("127.0.0.1", sim.modbus_port), timeout=3, source_address=(source, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def is_closed(s, wait=3.0):
    """True when the peer closed s (EOF or reset) within ``wait`` seconds."""
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def start(tmp_path, config=None, **modbus):
    cfg = dict(config or {})
    if modbus:
        cfg["Modbus"] = modbus
    return Sim(str(tmp_path / "state"), config=cfg or None)


@pytest.fixture
def sim(tmp_path):
    with start(tmp_path) as s:
        yield s


# --- the register map against the decoded telegram -----------------------

def test_every_empro_register_matches_the_decoded_telegram(sim):
    r = fed(sim, "v5.p1")
    c = client(sim)
    try:
        for fc in (3, 4):
            v = floats(c, 0x8000, 24, fc)   # 0x8000..0x802F
            ll = [(a * a + b * b + a * b) ** 0.5 for a, b in (
                (r["voltage_l1_v"], r["voltage_l2_v"]), (r["voltage_l2_v"], r["voltage_l3_v"]),
                (r["voltage_l3_v"], r["voltage_l1_v"]))]
            for i in range(3):
                assert close(v[i], ll[i])
                assert close(v[3 + i], r["voltage_l%d_v" % (i + 1)])
                assert close(v[7 + i], r["current_l%d_a" % (i + 1)])
                assert close(v[15 + i], r["power_l%d_w" % (i + 1)])
            assert v[6] == 50.0
            assert v[10] == 0.0                          # neutral current: not measured
            assert close(v[11], r["power_w"])
            odd = floats(c, 0x8039, 3, fc)
            assert close(odd[0], r["current_l1_a"] + r["current_l2_a"] + r["current_l3_a"])
            assert close(odd[1], sum(ll) / 3)
            assert close(odd[2], (r["voltage_l1_v"] + r["voltage_l2_v"] + r["voltage_l3_v"]) / 3)
            e = floats(c, 0x8100, 4, fc)
            assert close(e[0], r["energy_import"])
            assert close(e[3], r["energy_export"])
            lt = c.read_holding_registers(0x8036, count=3, device_id=1).registers
            assert lt == [1 if r["power_l%d_w" % (i + 1)] > 0 else 0 for i in range(3)]
    finally:
        c.close()


def test_word_order_is_low_word_first_and_big_endian_reads_differ(sim):
    r = fed(sim, "v5.p1")
    c = client(sim)
    try:
        assert close(floats(c, 0x8100, 1, order="little")[0], r["energy_import"])
        assert not close(floats(c, 0x8100, 1, order="big")[0], r["energy_import"])
    finally:
        c.close()


def _mbpoll(sim, *args):
    out = subprocess.run(["mbpoll", "-m", "tcp", "-p", str(sim.modbus_port), "-a", "1", "-0", "-1",
                          "-o", "2"] + list(args) + ["127.0.0.1"],
                         capture_output=True, text=True, timeout=20)
    return dict((int(a), b) for a, b in re.findall(r"^\[(\d+)\]:\s+(\S+)", out.stdout, re.M)), out


def test_mbpoll_reads_empro_floats_with_its_default_word_order(sim):
    r = fed(sim, "v5.p1")
    vals, out = _mbpoll(sim, "-t", "4:float", "-r", str(0x8006), "-c", "3")
    assert [float(vals[0x8006 + 2 * i]) for i in range(3)] == pytest.approx(
        [r["voltage_l%d_v" % (i + 1)] for i in range(3)], rel=1e-5), out.stdout
    vals, out = _mbpoll(sim, "-t", "4:float", "-B", "-r", str(0x8100), "-c", "1")
    assert float(vals[0x8100]) != pytest.approx(r["energy_import"], rel=1e-3), out.stdout


def test_sdm630_template_high_word_first(tmp_path):
    raw = _read("v5.p1")
    r = dsmr.parse(raw)
    with start(tmp_path, config={"MeterType": "Eastron-SDM630"}) as sim:
        sim.feed(raw)
        sim.wait_valid(1)
        vals, out = _mbpoll(sim, "-t", "3:float", "-B", "-r", "0", "-c", "9")
        got = [float(vals[2 * i]) for i in range(9)]
        want = [r["voltage_l%d_v" % n] for n in (1, 2, 3)] + [r["current_l%d_a" % n] for n in (1, 2, 3)] \
            + [r["power_l%d_w" % n] for n in (1, 2, 3)]
        assert got == pytest.approx(want, rel=1e-5), out.stdout
        c = client(sim)
        try:
            assert close(floats(c, 0x0034, 1, fc=4, order="big")[0], r["power_w"])
            assert close(floats(c, 0x0048, 1, fc=4, order="big")[0], r["energy_import"] / 1000)
            assert close(floats(c, 0x004A, 1, fc=4, order="big")[0], r["energy_export"] / 1000)
        finally:
            c.close()


def test_dsmr4_voltages_it_does_not_send_get_exception_04_its_currents_and_power_are_served(sim):
    r = fed(sim, "v4_2.p1")
    s = connect(sim)
    c = client(sim)
    try:
        for addr, qty in ((0x8000, 2), (0x8006, 6), (0x8006, 57), (0x803B, 4)):
            assert raw_read(s, 3, addr, qty)[7:] == bytes([0x83, 4]), hex(addr)
        assert floats(c, 0x800E, 3) == pytest.approx([r["current_l%d_a" % n] for n in (1, 2, 3)])
        assert close(floats(c, 0x8016, 1)[0], r["power_w"])
        assert floats(c, 0x801E, 3) == pytest.approx([r["power_l%d_w" % n] for n in (1, 2, 3)])
    finally:
        c.close()
        s.close()


def test_identification_registers(sim):
    c = client(sim)
    try:
        rr = c.read_holding_registers(316, count=9, device_id=1)
        text = b"".join(struct.pack("<H", w) for w in rr.registers).rstrip(b"\0").decode()
        assert text == sim.identity["serial"]
        assert c.read_holding_registers(300, count=8, device_id=1).registers[0] == ord("E") | ord("E") << 8
    finally:
        c.close()


# --- stale data ------------------------------------------------------------

def test_no_data_yet_and_stale_data_get_exception_04(tmp_path):
    with start(tmp_path, StaleAfterS=2) as sim:
        s = connect(sim)
        assert raw_read(s, 3, 0x8000, 2)[7:] == bytes([0x83, 4])
        sim.feed(_read("v5.p1"))
        sim.wait_valid(1)
        assert raw_read(s, 3, 0x8000, 2)[7] == 3
        deadline = time.time() + 10
        while raw_read(s, 3, 0x8000, 2)[7:] != bytes([0x83, 4]):
            assert time.time() < deadline, "never went stale"
            time.sleep(0.2)
        assert raw_read(s, 3, 300, 8)[7] == 3        # identification still served
        sim.feed(_read("v5.p1"))
        sim.wait_valid(2)
        assert raw_read(s, 3, 0x8000, 2)[7] == 3
        s.close()


def test_failsafe_policy_serves_the_failsafe_current(tmp_path):
    with start(tmp_path, StaleAfterS=1, StalePolicy="failsafe", FailsafeCurrentA=32.0) as sim:
        sim.feed(_read("v5.p1"))
        sim.wait_valid(1)
        c = client(sim)
        try:
            deadline = time.time() + 10
            while floats(c, 0x800E, 3) != [32.0, 32.0, 32.0]:
                assert time.time() < deadline, "never switched to the failsafe current"
                time.sleep(0.2)
        finally:
            c.close()


# --- clients -----------------------------------------------------------------

def test_four_clients_at_10hz_see_every_telegram(tmp_path):
    n_telegrams = 8
    with start(tmp_path, StaleAfterS=30) as sim:
        sim.feed(v5_telegram(1000.0))
        sim.wait_valid(1)
        stop = threading.Event()
        seen = set()
        errors = []
        latencies = []
        lock = threading.Lock()

        def poll():
            c = client(sim)
            try:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    rr = c.read_holding_registers(0x8100, count=8, device_id=1)
                    rr2 = c.read_holding_registers(0x8006, count=57, device_id=1)
                    dt = time.perf_counter() - t0
                    with lock:
                        latencies.append(dt / 2)
                        if rr.isError() or rr2.isError():
                            errors.append((rr, rr2))
                        else:
                            seen.add(round(c.convert_from_registers(rr.registers[:2], F32, word_order="little")))
                    time.sleep(max(0.0, 0.1 - dt))
            except Exception as e:   # noqa: BLE001 - reported below
                errors.append(e)
            finally:
                c.close()

        threads = [threading.Thread(target=poll) for _ in range(4)]
        for t in threads:
            t.start()
        sent = []
        for k in range(n_telegrams):
            t1 = 1001.0 + k
            sim.feed(v5_telegram(t1))
            sent.append(round((t1 + 2.399) * 1000))
            sim.wait_valid(2 + k)
            time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(10)
        latencies.sort()
        print("\n4 clients x 10 Hz: %d requests, p50 %.2f ms, p99 %.2f ms, max %.2f ms" % (
            len(latencies), 1000 * latencies[len(latencies) // 2],
            1000 * latencies[int(len(latencies) * 0.99)], 1000 * latencies[-1]))
        assert not errors
        assert set(sent) <= seen


def test_fifth_client_takes_the_slot_of_the_one_idle_longest_and_the_others_keep_working(sim):
    sim.feed(_read("v5.p1"))
    sim.wait_valid(1)
    socks = [connect(sim) for _ in range(4)]
    for s in socks:
        assert raw_read(s, 3, 0x8006, 2)[7] == 3
    for s in socks[1:]:   # socks[0] is now the one idle longest
        assert raw_read(s, 3, 0x8006, 2)[7] == 3
    fifth = connect(sim)
    assert raw_read(fifth, 3, 0x8006, 2)[7] == 3
    assert is_closed(socks[0])
    for s in socks[1:] + [fifth]:
        assert raw_read(s, 4, 0x8006, 2)[7] == 4
    for s in socks + [fifth]:
        s.close()


def test_idle_connection_is_closed(tmp_path):
    with start(tmp_path, IdleTimeoutS=1) as sim:
        s = connect(sim)
        assert len(raw_read(s, 3, 300, 8)) == 9 + 16
        assert is_closed(s, wait=5)
        s.close()


@pytest.mark.parametrize("frame", [
    b"\x00\x01\x00\x01\x00\x06\x01\x03\x80\x00\x00\x02",      # protocol id 1
    b"\x00\x01\x00\x00\x01\x10\x01\x03\x80\x00\x00\x02",      # length 272
    b"GET / HTTP/1.1\r\n\r\n",                               # not Modbus at all
])
def test_bad_header_disconnects_only_that_client(sim, frame):
    good = connect(sim)
    bad = connect(sim)
    bad.sendall(frame)
    assert is_closed(bad)
    assert len(raw_read(good, 3, 300, 8)) == 9 + 16
    good.close()
    bad.close()


def test_truncated_header_is_dropped_after_idle_timeout(tmp_path):
    with start(tmp_path, IdleTimeoutS=1) as sim:
        s = connect(sim)
        s.sendall(b"\x00\x01\x00")
        assert is_closed(s, wait=5)
        s.close()


def test_fuzz_10000_frames_then_still_answers(sim):
    r = fed(sim, "v5.p1")
    rnd = random.Random(4)
    watcher = client(sim)
    # From another address, as another machine: its own stale connections are what
    # its reconnects push out, not the watcher's (modbus_tcp, "Slots").
    fuzz = connect(sim, "127.0.0.2")
    fuzz.setblocking(False)
    answered = dropped = 0
    t0 = time.time()
    for frames in range(1, 10001):
        kind = rnd.random()
        if kind < 0.4:   # a valid request with 1-3 bytes mutated
            f = bytearray(raw_request(rnd.choice((3, 4)), rnd.choice((0x8000, 0x8006, 0x8100, 300, 256)),
                                      rnd.randint(1, 60), tid=rnd.randrange(65536)))
            for _ in range(rnd.randint(1, 3)):
                f[rnd.randrange(len(f))] = rnd.randrange(256)
        elif kind < 0.8:  # well-formed header, random function and payload
            pdu = bytes([rnd.randrange(256)]) + bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 20)))
            f = struct.pack(">HHHB", rnd.randrange(65536), 0, 1 + len(pdu), rnd.randrange(256)) + pdu
        else:             # noise
            f = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 40)))
        gone = False
        try:
            fuzz.sendall(bytes(f))
            while True:
                data = fuzz.recv(4096)
                if not data:
                    gone = True
                    break
                answered += 1
        except BlockingIOError:
            pass
        except OSError:
            gone = True
        if gone or frames % 100 == 0:   # also start afresh now and then: the server
            dropped += gone              # may be waiting for the rest of a long "frame"
            fuzz.close()
            fuzz = connect(sim, "127.0.0.2")
            fuzz.setblocking(False)
        if frames % 500 == 0:
            assert close(floats(watcher, 0x8006, 1)[0], r["voltage_l1_v"])
    print("\nfuzz: 10000 frames in %.1f s, %d responses, %d disconnects by the server" % (
        time.time() - t0, answered, dropped))
    fuzz.close()
    assert close(floats(watcher, 0x8100, 1)[0], r["energy_import"])
    after = connect(sim)
    resp = raw_read(after, 4, 0x8006, 2, tid=0x4242)
    assert resp[:2] == b"\x42\x42" and resp[7] == 4
    after.close()
    watcher.close()
