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
