"""A French meter on the real firmware (unix port): TIC in, EMPro registers and MQTT out; line search.

The test plays a simulated Linky (tools/meter_sim.py) through simctl, on a
serial line the gateway's UART reads as a real one would (tools/uart_line.py:
other settings than the meter's give garbage), and checks what a charger
(pymodbus) and an MQTT consumer (paho-mqtt on a mosquitto started here) get
against enedis-tic's reading of the same frames.
"""
import json
import os
import re
import sys
import time

import pytest
from enedis_tic.link_layer import FrameFactory
from pymodbus.client import ModbusTcpClient

from simctl import Broker, Sim
from telegram_edit import read as telegram
from test_modbus_sim import close, floats
from test_mqtt_sim import Subscriber, api, topics

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import meter_sim  # noqa: E402


def linky(profile, seed=3):
    """A frame of a simulated French meter at a June noon (PV export in standard mode)."""
    m = meter_sim.METER_TYPES[profile][0](seed, 1718190000)
    m.step(0)
    return m.telegram()


def ref(frame):
    """label -> int data, as enedis-tic reads the frame."""
    out = {}
    for label, v in FrameFactory(frame.decode("ascii")).to_dict().items():
        try:
            out[label] = int(v["data"])
        except ValueError:
            pass
    return out


def feed_until_valid(sim, frame, line, n, timeout=30):
    """Send ``frame`` on a ``line`` meter every 0.3 s until the gateway counted ``n`` valid telegrams."""
    deadline = time.monotonic() + timeout
    while sim.valid_count() < n:
        assert time.monotonic() < deadline, "no valid frame on %s:\n%s" % (line, sim.output()[-3000:])
        sim.feed(frame, line=line)
        time.sleep(0.3)


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    yield b
    b.stop()


def test_a_linky_in_standard_mode_serves_empro_registers_and_mqtt(tmp_path, broker):
    sub = Subscriber(broker.port)
    cfg = {"P1": {"Protocol": "tic", "Baud": "9600"}, "MQTT": {"Site": "home", "IncludeTotals": True,
                                                               "HomeAssistant": True}}
    frame = linky("tic-standard")
    r = ref(frame)
    assert r["SINSTI"] > 0  # PV export: the total goes negative
    try:
        with Sim(tmp_path / "state", config=cfg, mqtt=broker.url()) as sim:
            data_t, _ = topics(sim)
            feed_until_valid(sim, frame, "9600 7E1", 1)
            c = ModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=3, retries=0)
            assert c.connect()
            try:
                v = floats(c, 0x8000, 24)
                for i in (1, 2, 3):
                    assert close(v[2 + i], r["URMS%d" % i])
                    assert close(v[6 + i], r["IRMS%d" % i])
                    assert close(v[14 + i], r["SINSTS%d" % i])
                assert close(v[11], r["SINSTS"] - r["SINSTI"])
                e = floats(c, 0x8100, 4)
                assert close(e[0], r["EAST"]) and close(e[3], r["EAIT"])  # Wh
            finally:
                c.close()
            msg = json.loads(sub.wait(data_t, sim=sim)[-1][0])
            assert msg["power_w"] == r["SINSTS"] - r["SINSTI"]
            assert msg["power_import_w"] == r["SINSTS"] and msg["power_export_w"] == r["SINSTI"]
            assert [msg["power_l%d_w" % i] for i in (1, 2, 3)] == [r["SINSTS%d" % i] for i in (1, 2, 3)]
            assert [msg["voltage_l%d_v" % i] for i in (1, 2, 3)] == [r["URMS%d" % i] for i in (1, 2, 3)]
            assert msg["energy_import_kwh"] == r["EAST"] / 1000 and msg["energy_export_kwh"] == r["EAIT"] / 1000
            assert msg["energy_import_t1_kwh"] == r["EASF01"] / 1000 and msg["tariff"] == r["NTARF"]
            power = "homeassistant/sensor/p1gw_%s/power_w/config" % sim.identity["serial"]
            disc = json.loads(sub.wait(power, sim=sim)[-1][0])
            assert (disc["device_class"], disc["unit_of_measurement"]) == ("apparent_power", "VA")
            status = api(sim, "/api/v1/status")
            assert status["p1"]["protocol"] == "tic" and status["p1"]["tic"]["subscribed_kva"] == r["PREF"]
            assert status["meter"]["protocol_version"] == "tic-standard"
    finally:
        sub.close()


def test_a_historique_meter_has_no_voltage_and_power_only_in_total(tmp_path):
    frame = linky("tic-historique")
    r = ref(frame)
    with Sim(tmp_path / "state", config={"P1": {"Protocol": "tic", "Baud": "1200"}},
             services=("modbus_tcp", "raw_stream")) as sim:
        feed_until_valid(sim, frame, "1200 7E1", 1)
        c = ModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=3, retries=0)
        assert c.connect()
        try:
            # Historique sends no voltage: never served as 0 V (README, Plausibility), the rest is.
            e = c.read_holding_registers(0x8006, count=6, device_id=1)
            assert e.isError() and e.exception_code == 4
            assert [round(x) for x in floats(c, 0x800E, 3)] == [r["IINST%d" % i] for i in (1, 2, 3)]
            assert close(floats(c, 0x8016, 1)[0], r["PAPP"])
            assert close(floats(c, 0x8100, 1)[0], r["HCHC"] + r["HCHP"])
        finally:
            c.close()


def test_the_sdm630_template_serves_a_single_phase_linky(tmp_path):
    frame = linky("tic-standard-1ph")
    r = ref(frame)
    with Sim(tmp_path / "state", config={"MeterType": "Eastron-SDM630", "P1": {"Protocol": "tic", "Baud": "9600"}},
             services=("modbus_tcp",)) as sim:
        feed_until_valid(sim, frame, "9600 7E1", 1)
        c = ModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=3, retries=0)
        assert c.connect()
        try:
            v = floats(c, 0x0000, 9, fc=4, order="big")  # V, A, W per phase
            assert v[0] == r["URMS1"] and v[3] == r["IRMS1"] and v[6] == r["SINSTS"]
            assert v[1:3] == [0.0, 0.0] and v[7:9] == [0.0, 0.0]
            assert close(floats(c, 0x0034, 1, fc=4, order="big")[0], r["SINSTS"] - r["SINSTI"])
            e = floats(c, 0x0048, 2, fc=4, order="big")  # kWh
            assert close(e[0], r["EAST"] / 1000) and close(e[1], r["EAIT"] / 1000)
        finally:
            c.close()


def test_the_raw_stream_passes_tic_frames_as_received(tmp_path):
    import socket
    frame = linky("tic-standard-1ph")
    with Sim(tmp_path / "state", config={"P1": {"Protocol": "tic", "Baud": "9600"}},
             services=("raw_stream",)) as sim:
        s = socket.create_connection(("127.0.0.1", sim.raw_port), 5)
        try:
            time.sleep(0.3)
            feed_until_valid(sim, frame, "9600 7E1", 1)
            got = b""
            while not got.endswith(b"\x03"):
                got += s.recv(4096)
            assert got == frame
        finally:
            s.close()


_TRYING = re.compile(r"p1: no valid telegram; trying (\w+ \d+ \w+)")


def test_auto_detection_finds_each_of_the_four_line_settings(tmp_path):
    # The meter changes in the order the search tries the settings, so the test
    # waits one window per change (25 s for a DSMR setting, 10 s for TIC): the
    # gateway keeps reading the last meter's setting, gets garbage (never a
    # valid frame) and moves on to the next setting, where it finds the new meter.
    meters = (("dsmr 115200 8N1", telegram("v5.p1"), "115200 8N1"),
              ("dsmr 9600 7E1", telegram("v2_2.p1"), "9600 7E1"),
              ("tic 9600 7E1", linky("tic-standard"), "9600 7E1"),
              ("tic 1200 7E1", linky("tic-historique-1ph"), "1200 7E1"))
    with Sim(tmp_path / "state", services=()) as sim:
        for n, (found, data, line) in enumerate(meters, 1):
            feed_until_valid(sim, data, line, n, timeout=40)
            tried = _TRYING.findall(sim.output())
            assert (tried[-1] if tried else "dsmr 115200 8N1") == found, (found, tried[-4:])
            assert sim.valid_count() == n  # nothing valid on the wrong settings
