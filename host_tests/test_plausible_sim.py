"""Telegrams with a right CRC but values no meter sends, fed to the real firmware in the sim.

Each is counted as implausible and never served: Modbus keeps answering the
last good telegram until it goes stale (then exception 04), HTTP keeps the
last good reading and says stale; nothing of the implausible telegram shows.
"""
import base64
import http.client
import json
import re
import time

from simctl import Sim
from telegram_edit import read, with_crc
from test_modbus_sim import connect, raw_read

_COUNT = re.compile(r"implausible=(\d+)")


def _body(name):
    raw = read(name)
    return raw[:raw.index(b"!") + 1]


def _edit(name, *subs, crc=True):
    """Reference telegram ``name`` with each (regex, replacement) applied; a fresh CRC when it had one."""
    body = _body(name)
    for pattern, repl in subs:
        body, n = re.subn(pattern, repl, body)
        assert n, pattern
    return with_crc(body) if crc else body + b"\r\n"


V5 = "v5.p1"
# (what the issue found, the telegram): every one of them has a right CRC
IMPLAUSIBLE = (
    ("99999.999 kW", _edit(V5, (rb"1-0:1\.7\.0\([^)]*\)", b"1-0:1.7.0(99999.999*kW)"))),
    ("-230 V on L1", _edit(V5, (rb"1-0:32\.7\.0\([^)]*\)", b"1-0:32.7.0(-230.0*V)"))),
    ("99999.9 V", _edit(V5, (rb"1-0:52\.7\.0\([^)]*\)", b"1-0:52.7.0(99999.9*V)"))),
    ("9999 A", _edit(V5, (rb"1-0:71\.7\.0\([^)]*\)", b"1-0:71.7.0(9999*A)"))),
    ("a 60-digit current", _edit(V5, (rb"1-0:31\.7\.0\([^)]*\)", b"1-0:31.7.0(" + b"4" * 60 + b"*A)"))),
    ("a 400-digit power", _edit(V5, (rb"1-0:1\.7\.0\([^)]*\)", b"1-0:1.7.0(" + b"9" * 400 + b"*kW)"))),
    ("-50 Hz", _edit(V5, (rb"(1-0:32\.7\.0)", rb"1-0:14.7.0(-50.00*Hz)\r\n\1"))),
    ("negative import energy", _edit(V5, (rb"1-0:1\.8\.1\([^)]*\)", b"1-0:1.8.1(-000001.000*kWh)"))),
    ("nan*kWh", _edit(V5, (rb"1-0:1\.8\.1\([^)]*\)", b"1-0:1.8.1(nan*kWh)"))),
    ("import energy running back", _edit(V5, (rb"1-0:1\.8\.1\([^)]*\)", b"1-0:1.8.1(000004.000*kWh)"))),
)


class Gateway:
    def __init__(self, sim):
        self.sim = sim
        self.modbus = connect(sim)
        self.auth = "Basic " + base64.b64encode(b"user:" + sim.identity["api_password"].encode()).decode()

    def implausible(self):
        found = _COUNT.findall(self.sim.output())
        return int(found[-1]) if found else 0

    def feed(self, telegram, implausible):
        """Feed a telegram; wait until the gateway counted ``implausible`` in total (or took a good one)."""
        seen = len(self.sim.output())
        self.sim.feed(telegram)
        deadline = time.monotonic() + 10
        while self.implausible() < implausible or len(self.sim.output().splitlines()) == len(
                self.sim.output()[:seen].splitlines()):
            assert time.monotonic() < deadline, self.sim.output()[-2000:]
            time.sleep(0.05)
        assert self.implausible() == implausible, self.sim.output()[-2000:]

    def registers(self):
        """The EMPro measurement and energy blocks as the charger reads them (response ADUs from the function code)."""
        return raw_read(self.modbus, 3, 0x8000, 63)[7:], raw_read(self.modbus, 4, 0x8100, 8)[7:]

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.sim.http_port, timeout=10)
        try:
            c.request("GET", path, headers={"Authorization": self.auth})
            r = c.getresponse()
            return r.status, json.loads(r.read())
        finally:
            c.close()

    def close(self):
        self.modbus.close()


def test_implausible_telegrams_are_counted_and_never_served(tmp_path):
    with Sim(str(tmp_path / "state"), config={"Modbus": {"StaleAfterS": 2}}) as sim:
        gw = Gateway(sim)
        try:
            n = 0
            for what, telegram in IMPLAUSIBLE:
                sim.feed(read(V5))   # the last good telegram, fresh
                sim.wait_valid(2 * n + 1)
                good = gw.registers()
                assert good[0][0] == 3 and good[1][0] == 4, what
                _, data = gw.get("/api/v1/data")
                n += 1
                gw.feed(telegram, n)
                assert gw.registers() == good, what
                assert gw.get("/api/v1/data")[1] == data, what
            # Only implausible telegrams from now on: the last good one goes stale.
            deadline = time.monotonic() + 10
            while gw.registers() != (bytes([0x83, 4]), bytes([0x84, 4])):
                assert time.monotonic() < deadline, "never went stale"
                n += 1
                gw.feed(IMPLAUSIBLE[n % len(IMPLAUSIBLE)][1], n)
                time.sleep(0.3)
            status, st = gw.get("/api/v1/status")
            assert status == 200
            assert st["counters"]["implausible"] == n and st["modbus"]["stale"] is True
            assert st["meter"]["telegrams"] == len(IMPLAUSIBLE)
            # The next good telegram is served at once.
            sim.feed(read(V5))
            deadline = time.monotonic() + 10
            while gw.registers()[0][0] != 3:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            gw.close()


def test_a_telegram_without_crc_is_checked_too(tmp_path):
    # A DSMR 2.2/3 meter sends no CRC: -229.2 V is caught all the same.
    with Sim(str(tmp_path / "state")) as sim:
        gw = Gateway(sim)
        try:
            sim.feed(read("v3.p1"))
            sim.wait_valid(1)
            good = gw.registers()
            assert raw_read(gw.modbus, 3, 0x8016, 2)[7] == 3
            gw.feed(_edit("v3.p1", (rb"(1-0:2\.7\.0)", rb"1-0:32.7.0(-229.2*V)\r\n\1"), crc=False), 1)
            assert gw.registers() == good
            _, data = gw.get("/api/v1/data")
            assert "active_voltage_l1_v" not in data and data["active_power_w"] == 1190
        finally:
            gw.close()


def test_voltages_and_currents_without_power_lines_get_exception_04_for_power_never_0_w(tmp_path):
    telegram = _edit(V5, (rb"1-0:[12]\.7\.0\([^)]*\)\r\n", b""), (rb"1-0:[246][12]\.7\.0\([^)]*\)\r\n", b""))
    with Sim(str(tmp_path / "state")) as sim:
        gw = Gateway(sim)
        try:
            sim.feed(telegram)
            sim.wait_valid(1)
            for addr, qty in ((0x8016, 2), (0x801E, 6), (0x8036, 3), (0x8006, 57), (0x8000, 63)):
                assert raw_read(gw.modbus, 3, addr, qty)[7:] == bytes([0x83, 4]), hex(addr)
            for addr, qty in ((0x8006, 6), (0x800E, 6), (0x8039, 6), (0x8100, 8)):
                assert raw_read(gw.modbus, 3, addr, qty)[7] == 3, hex(addr)
            _, data = gw.get("/api/v1/data")
            assert "active_power_w" not in data and data["active_current_l1_a"] == 0.48
            assert gw.implausible() == 0
        finally:
            gw.close()
