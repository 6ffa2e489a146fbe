"""Client software people really run, against the real firmware in the sim.

Home Assistant's HomeWizard library (python-homewizard-energy) and the SDM630
reader sdm_modbus run in their own virtualenv (.venv-clients,
host_tests/clients/requirements.txt, made by tools/setup_host.sh) through the
probe scripts in host_tests/clients/, which print what the library understood
as JSON; every value is compared to dsmr.parse of the telegram the meter sent.
"""
import json
import os
import subprocess
import sys

import pytest

import dsmr
from simctl import ROOT, Sim
from telegram_edit import v5_telegram
from test_web_sim import Meter

CLIENTS = os.path.join(ROOT, os.environ.get("VENV", ".venv") + "-clients", "bin", "python")
PROBES = os.path.join(ROOT, "host_tests", "clients")


def probe(script, *args):
    """Run a probe in the clients' venv; its JSON output."""
    out = subprocess.run([CLIENTS, os.path.join(PROBES, script)] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def start_meter(tmp_path, **config):
    s = Sim(tmp_path, config=config or None)
    s.start()
    s.meter = Meter(s)
    s.wait_valid(1)
    return s


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = start_meter(tmp_path_factory.mktemp("clients"))
    yield s
    s.meter.stop.set()
    s.kill()


# --- Home Assistant's HomeWizard library ---------------------------------------

@pytest.fixture(scope="module")
def hwe(sim):
    return probe("homewizard_probe.py", "127.0.0.1:%d" % sim.http_port)


def _close(a, b):
    if isinstance(b, str):
        return a == b
    return a == pytest.approx(b, rel=1e-6, abs=1e-6)


# HomeWizard's Measurement attribute -> reading field (W, V, A as the reading has them)
_MEASURED = {"power_w": "power_w", "power_l1_w": "power_l1_w", "power_l2_w": "power_l2_w",
             "power_l3_w": "power_l3_w", "voltage_l1_v": "voltage_l1_v", "voltage_l2_v": "voltage_l2_v",
             "voltage_l3_v": "voltage_l3_v", "current_l1_a": "current_l1_a",
             "current_l2_a": "current_l2_a", "current_l3_a": "current_l3_a",
             "tariff": "tariff", "protocol_version": "protocol_version", "meter_model": "meter_model",
             "any_power_fail_count": "power_failures", "long_power_fail_count": "long_power_failures",
             "voltage_sag_l1_count": "voltage_sags_l1", "voltage_swell_l3_count": "voltage_swells_l3"}
# counters: exact in the reading (steps of 10**-3 kWh); gas is in external_devices
_COUNTERS = {"energy_import_kwh": "energy_import", "energy_import_t1_kwh": "energy_import_t1",
             "energy_import_t2_kwh": "energy_import_t2", "energy_export_kwh": "energy_export",
             "energy_export_t1_kwh": "energy_export_t1", "energy_export_t2_kwh": "energy_export_t2"}


def _check_measurement(m):
    r = dsmr.parse(v5_telegram())
    for attr, field in _MEASURED.items():
        assert m[attr] is not None and _close(m[attr], r[field]), (attr, m[attr], r[field])
    for attr, field in _COUNTERS.items():
        assert m[attr] == r[field] / 1000, (attr, m[attr], r[field])
    assert m["unique_id"] is not None and m["wifi_ssid"] == ""
    assert _close(m["current_a"], r["current_l1_a"] + r["current_l2_a"] + r["current_l3_a"])
    gas = [d for d in m["external_devices"].values() if d["type"] == "gas_meter"]
    assert len(gas) == 1 and gas[0]["value"] == r["gas"] / 1000 and gas[0]["unit"] == "m3"
    # the gas meter's own M-Bus id, 0-1:96.1.0(3232323241424344313233343536373839), decoded by the library
    assert gas[0]["unique_id"] == bytes.fromhex(r["gas_id"]).decode() == "2222ABCD123456789"
    assert gas[0]["timestamp"].startswith("2017-01-02T16:10:05")


def test_homewizard_measurement_maps_every_value(hwe):
    assert "ok" in hwe["measurement"], hwe["measurement"]
    _check_measurement(hwe["measurement"]["ok"])


def test_homewizard_combined_works_on_a_fresh_client(hwe, sim):
    # Home Assistant's coordinator calls it first: /api/v1/state must be a P1 meter's 404
    assert "ok" in hwe["combined"], hwe["combined"]
    c = hwe["combined"]["ok"]
    assert c["device"]["product_type"] == "HWE-P1" and c["device"]["serial"] == sim.identity["serial"]
    assert c["state"] is None and c["system"]["cloud_enabled"] is False
    _check_measurement(c["measurement"])


def test_homewizard_device_and_system(hwe, sim):
    d = hwe["device"]["ok"]
    assert d["product_type"] == "HWE-P1" and d["serial"] == sim.identity["serial"]
    assert d["api_version"].lstrip("v").split(".")[0] == "1" and d["firmware_version"]
    assert hwe["system"]["ok"]["cloud_enabled"] is False


def test_homewizard_telegram_is_the_raw_telegram(hwe):
    assert hwe["telegram"]["ok"].encode() == v5_telegram()


def test_homewizard_identify_blinks_the_led_and_is_rate_limited(hwe, sim):
    assert hwe["identify"] == {"ok": True}
    sim.wait_output("led: white")
    # a second identify right after: 429 (the library says RequestError), the LED goes back
    assert "429" in hwe["identify_again"]["error"], hwe["identify_again"]
    sim.wait_output("led: green", timeout=15)


# --- SDM630 readers: sdm_modbus and pymodbus ---------------------------------------

@pytest.fixture(scope="module")
def sdm_sim(tmp_path_factory):
    s = start_meter(tmp_path_factory.mktemp("sdm630"), MeterType="Eastron-SDM630")
    yield s
    s.meter.stop.set()
    s.kill()


@pytest.fixture(scope="module")
def sdm(sdm_sim):
    return probe("sdm630_probe.py", "127.0.0.1", sdm_sim.modbus_port)


def _f32(v):
    return pytest.approx(v, rel=1e-6, abs=1e-4)


def test_sdm_modbus_read_all_gets_every_input_register(sdm):
    r = dsmr.parse(v5_telegram())
    got = sdm["input"]
    assert len(got) == 90  # every input register sdm_modbus knows: all four batches answered
    for n in "123":
        assert got["l%s_voltage" % n] == _f32(r["voltage_l%s_v" % n])
        assert got["l%s_current" % n] == _f32(r["current_l%s_a" % n])
        assert got["l%s_power_active" % n] == _f32(r["power_l%s_w" % n])
    assert got["total_power_active"] == _f32(r["power_w"])
    assert got["total_line_current"] == _f32(r["current_l1_a"] + r["current_l2_a"] + r["current_l3_a"])
    assert got["import_energy_active"] == _f32(r["energy_import"] / 1000)
    assert got["export_energy_active"] == _f32(r["energy_export"] / 1000)
    assert got["total_energy_active"] == _f32((r["energy_import"] + r["energy_export"]) / 1000)
    assert got["frequency"] == 50.0
    # what a P1 meter does not measure reads 0, in every batch
    for k in ("l1_power_apparent", "total_demand_power_apparent", "l1_current_thd", "l3_energy_reactive"):
        assert got[k] == 0.0, k


def test_sdm_modbus_reads_the_settings_from_holding_registers(sdm, sdm_sim):
    h = sdm["holding"]
    assert h["system_type"] == 3 and h["meter_id"] == 1 and h["baud"] == 2  # 3P4W, id 1, 9600
    assert h["demand_period"] == 60 and h["network_parity_stop"] == 0
    assert h["system_voltage"] == 230.0 and h["system_current"] == 100.0
    assert h["serial_number"] == int(sdm_sim.identity["serial"][-7:], 16)


def test_pymodbus_reads_every_sdm630_batch(sdm, sdm_sim):
    from pymodbus.client import ModbusTcpClient
    c = ModbusTcpClient("127.0.0.1", port=sdm_sim.modbus_port, timeout=3, retries=0)
    assert c.connect()
    try:
        for name, (start, count) in sdm["batches"].items():
            read = c.read_input_registers if name.startswith("INPUT") else c.read_holding_registers
            rr = read(start, count=count, device_id=1)
            assert not rr.isError() and len(rr.registers) == count, (name, rr)
        # past the ranges a real SDM630 answers: exception 02
        for read, addr in ((c.read_input_registers, 0x006C), (c.read_input_registers, 0x017E),
                           (c.read_holding_registers, 0x0048)):
            rr = read(addr, count=2, device_id=1)
            assert rr.isError() and rr.exception_code == 2, hex(addr)
    finally:
        c.close()


def test_pymodbus_reads_every_empro_block_whole(sim):
    # The EMPro map checked the same way: what OpenEMS's EEM-MA370 driver reads (0x8006x57,
    # 0x8100x8) and each block whole, by FC03 and FC04 alike (a real EMPro answers both).
    from pymodbus.client import ModbusTcpClient
    c = ModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=3, retries=0)
    assert c.connect()
    try:
        for read in (c.read_holding_registers, c.read_input_registers):
            for start, count in ((0x8006, 57), (0x8100, 8), (0x8000, 0x3F), (0x0100, 2), (0x012C, 25)):
                rr = read(start, count=count, device_id=1)
                assert not rr.isError() and len(rr.registers) == count, (hex(start), rr)
            for addr, count in ((0x803F, 1), (0x8108, 1), (0x0102, 1), (0x7FFF, 2)):
                rr = read(addr, count=count, device_id=1)
                assert rr.isError() and rr.exception_code == 2, hex(addr)
    finally:
        c.close()
