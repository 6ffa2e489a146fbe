"""Every reference telegram decodes to the values dsmr_parser (an independent parser) gives.

The meter's counters are checked exactly: in the reading (integers) and as the
device writes them, by the firmware's own parser and JSON writer running in
the 32-bit, single-precision MicroPython build (an ESP32's arithmetic), on every
telegram of host_tests/telegrams/ and ../shared/telegrams/.
"""
import json
import os
import subprocess
from decimal import Decimal

import pytest
from dsmr_parser import telegram_specifications as ts
from dsmr_parser.parsers import TelegramParser

import dsmr
from framer import Framer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TELEGRAMS = os.path.join(HERE, "telegrams")
SHARED = os.path.join(ROOT, "..", "shared", "telegrams")  # the team's capture collection, when present
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")  # 32-bit, single floats (tools/mpbuild.py)

SPECS = {
    "v2_2": ts.V2_2, "v3": ts.V3, "v4_2": ts.V4, "v5": ts.V5, "v5_two_mbus": ts.V5,
    "fluvius_v171": ts.BELGIUM_FLUVIUS, "fluvius_v171_alt": ts.BELGIUM_FLUVIUS,
    "iskra_ie": ts.ISKRA_IE, "sagemcom_t210_d_r": ts.V5, "v5_eon_hu": ts.EON_HUNGARY,
    "esy5q3da1004_v304": ts.Q3D, "esy5q3db1024_v304": ts.Q3D, "unpadded_crc": ts.V5,
}

# our field -> dsmr_parser object names that carry it (first present wins)
SCALARS = {
    "protocol_version": ["P1_MESSAGE_HEADER", "BELGIUM_VERSION_INFORMATION"],
    "meter_id": ["EQUIPMENT_IDENTIFIER", "BELGIUM_EQUIPMENT_IDENTIFIER", "EQUIPMENT_SERIAL_NUMBER",
                 "Q3D_EQUIPMENT_SERIALNUMBER", "EQUIPMENT_IDENTIFIER_GAS"],
    "tariff": ["ELECTRICITY_ACTIVE_TARIFF"],
    "power_import_w": ["CURRENT_ELECTRICITY_USAGE"],
    "power_export_w": ["CURRENT_ELECTRICITY_DELIVERY"],
    "voltage_l1_v": ["INSTANTANEOUS_VOLTAGE_L1"], "voltage_l2_v": ["INSTANTANEOUS_VOLTAGE_L2"],
    "voltage_l3_v": ["INSTANTANEOUS_VOLTAGE_L3"],
    "current_l1_a": ["INSTANTANEOUS_CURRENT_L1"], "current_l2_a": ["INSTANTANEOUS_CURRENT_L2"],
    "current_l3_a": ["INSTANTANEOUS_CURRENT_L3"],
    "frequency_hz": ["FREQUENCY"],
    "average_power_15m_w": ["BELGIUM_CURRENT_AVERAGE_DEMAND"],
    "monthly_power_peak_w": ["BELGIUM_MAXIMUM_DEMAND_MONTH"],
    "power_failures": ["SHORT_POWER_FAILURE_COUNT"], "long_power_failures": ["LONG_POWER_FAILURE_COUNT"],
    "voltage_sags_l1": ["VOLTAGE_SAG_L1_COUNT"], "voltage_sags_l2": ["VOLTAGE_SAG_L2_COUNT"],
    "voltage_sags_l3": ["VOLTAGE_SAG_L3_COUNT"], "voltage_swells_l1": ["VOLTAGE_SWELL_L1_COUNT"],
    "voltage_swells_l2": ["VOLTAGE_SWELL_L2_COUNT"], "voltage_swells_l3": ["VOLTAGE_SWELL_L3_COUNT"],
}
# the energy counters: our reading field -> dsmr_parser object (its value in kWh or Wh)
ENERGY = {
    "energy_import_t1": "ELECTRICITY_USED_TARIFF_1", "energy_import_t2": "ELECTRICITY_USED_TARIFF_2",
    "energy_export_t1": "ELECTRICITY_DELIVERED_TARIFF_1", "energy_export_t2": "ELECTRICITY_DELIVERED_TARIFF_2",
    "energy_import": "ELECTRICITY_IMPORTED_TOTAL", "energy_export": "ELECTRICITY_EXPORTED_TOTAL",
}
# canonical SI unit of each field, to convert dsmr_parser's (value, unit)
TO_SI = {("kW", "W"): 1000, ("W", "W"): 1, ("kWh", "kWh"): 1, ("Wh", "kWh"): Decimal("0.001")}
MBUS_KINDS = {3: "gas", 7: "water", 4: "heat"}
PHASES = [("power_l%d_w" % i, "INSTANTANEOUS_ACTIVE_POWER_L%d_POSITIVE" % i,
           "INSTANTANEOUS_ACTIVE_POWER_L%d_NEGATIVE" % i) for i in (1, 2, 3)]


def si(field, obj):
    value, unit = obj.value, getattr(obj, "unit", None)
    if field.endswith("_w"):
        return value * TO_SI[(unit, "W")]
    if field.startswith("energy_"):
        return value * TO_SI[(unit, "kWh")]
    if field != "meter_id" and isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def telegram_files():
    """(name, path) of every capture: host_tests/telegrams/ and, when present, ../shared/telegrams/."""
    found = []
    for top in (TELEGRAMS, SHARED):
        for folder, _, files in sorted(os.walk(top)):
            for f in sorted(files):
                if f.endswith(".p1"):
                    found.append((f[:-3], os.path.join(folder, f)))
    return found


def expected(name, path=None):
    raw = open(path or os.path.join(TELEGRAMS, name + ".p1"), "rb").read().decode("latin-1")
    assert name in SPECS, "%s: which dsmr_parser specification reads it? add it to SPECS" % name
    t = TelegramParser(SPECS[name]).parse(raw)
    objs = {k: v for k, v in t}
    exp = {}
    for field, names in SCALARS.items():
        for n in names:
            if n in objs and objs[n] is not None and getattr(objs[n], "value", None) is not None:
                exp[field] = si(field, objs[n])
                break
    for field, n in ENERGY.items():
        if n in objs and objs[n].value is not None:
            exp[field] = si(field, objs[n])
    if "P1_MESSAGE_TIMESTAMP" in objs:
        exp["timestamp"] = int(objs["P1_MESSAGE_TIMESTAMP"].value.timestamp())
        if name == "iskra_ie":
            # This capture says "S" (UTC+2) in February. dsmr_parser trusts the
            # calendar, we trust the meter's flag as DSMR specifies: one hour apart.
            exp["timestamp"] -= 3600
    if "BELGIUM_MAXIMUM_DEMAND_MONTH" in objs:
        exp["monthly_power_peak_timestamp"] = int(objs["BELGIUM_MAXIMUM_DEMAND_MONTH"].datetime.timestamp())
    for field, pos, neg in PHASES:
        if pos in objs:
            exp[field] = si(field, objs[pos]) - (si(field, objs[neg]) if neg in objs else 0)
    text = objs.get("TEXT_MESSAGE")
    if text is not None and text.value:
        exp["text_message"] = bytes.fromhex(text.value).decode()
    for dev in getattr(t, "MBUS_DEVICES", None) or []:
        d = {k: v for k, v in dev}
        kind = d.get("MBUS_DEVICE_TYPE") or d.get("DEVICE_TYPE")
        reading = d.get("MBUS_METER_READING") or d.get("GAS_METER_READING") or d.get("HOURLY_GAS_METER_READING")
        if reading is None or reading.unit is None:
            continue
        key = MBUS_KINDS[int(kind.value)]
        if key in exp:  # the lowest channel of a kind wins
            continue
        exp[key] = reading.value
        exp[key + "_timestamp"] = int(reading.datetime.timestamp())
        ident = d.get("MBUS_EQUIPMENT_IDENTIFIER") or d.get("EQUIPMENT_IDENTIFIER_GAS")
        if ident is not None and ident.value:
            exp[key + "_id"] = ident.value  # the device's own id (0-n:96.1.0), HomeWizard's unique_id
    return exp


def expected_counters(name, path):
    """dsmr_parser's counters as Decimals in kWh / m3 / GJ, under the names outputs use.

    A total the meter does not send is the exact sum of its tariffs, as the gateway gives it.
    """
    exp = expected(name, path)
    for total in ("energy_import", "energy_export"):
        if total not in exp and total + "_t1" in exp and total + "_t2" in exp:
            exp[total] = exp[total + "_t1"] + exp[total + "_t2"]
    out = {}
    for field, public in (("energy_import", "energy_import_kwh"), ("energy_export", "energy_export_kwh"),
                          ("energy_import_t1", "energy_import_t1_kwh"), ("energy_import_t2", "energy_import_t2_kwh"),
                          ("energy_export_t1", "energy_export_t1_kwh"), ("energy_export_t2", "energy_export_t2_kwh"),
                          ("gas", "gas_m3"), ("water", "water_m3"), ("heat", "heat_gj")):
        if field in exp:
            out[public] = Decimal(exp[field])
    return out


def counter_decimal(reading, field):
    """A reading's counter (an int of 10**-counter_decimals steps) as an exact Decimal."""
    return Decimal(reading[field]).scaleb(-reading["counter_decimals"])


@pytest.mark.parametrize("name", sorted(SPECS))
def test_reading_matches_dsmr_parser(name):
    data = open(os.path.join(TELEGRAMS, name + ".p1"), "rb").read()
    found = []
    Framer(lambda status, crc, buf, n: found.append((status, bytes(buf[:n])))).feed(data)
    assert [s for s, _ in found] == ["valid"]
    ours = dsmr.parse(found[0][1])
    exp = expected(name)
    assert len(exp) >= 4, "reference decoded too little to compare"
    for field, want in exp.items():
        got = ours[field]
        if field in ENERGY or field in MBUS_KINDS.values():
            assert isinstance(got, int) and counter_decimal(ours, field) == want, field  # exact
        elif isinstance(want, (Decimal, float)):
            assert got == pytest.approx(float(want), rel=1e-12, abs=1e-9), field
        else:
            assert got == want, field


@pytest.mark.parametrize("name", sorted(SPECS))
def test_fields_the_reference_lacks_are_null_or_derived(name):
    """A field neither dsmr_parser nor our derivations produce must be None, never 0."""
    data = open(os.path.join(TELEGRAMS, name + ".p1"), "rb").read()
    ours = dsmr.parse(data)
    exp = expected(name)
    derived = {"power_w", "energy_import", "energy_export", "meter_model", "timestamp",
               "meter_id", "power_l1_w", "power_l2_w", "power_l3_w", "frequency_hz",
               "power_import_w", "power_export_w", "gas", "gas_timestamp"}
    for field, value in ours.items():
        if field not in exp and field not in derived and field != "counter_decimals":
            assert value is None, field


# Run in the 32-bit single-float MicroPython: each capture through the framer
# and parser, then the MQTT payload (IncludeTotals) and HomeWizard data as the
# device writes them, one JSON line each.
_DEVICE_SCRIPT = """
import sys
import dsmr, homewizard, mqtt_payload
from framer import Framer
out = []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    Framer(lambda status, crc, buf, n: out.append(dsmr.parse(buf, n, crc != "ok"))).feed(data)
    r = out.pop()
    print(mqtt_payload.data_payload(r, 0, True))
    print(homewizard.data(r))
"""

# HomeWizard's names for the counters (and its ``external`` list for M-Bus meters)
HOMEWIZARD = {"energy_import_kwh": "total_power_import_kwh", "energy_export_kwh": "total_power_export_kwh",
              "energy_import_t1_kwh": "total_power_import_t1_kwh", "energy_import_t2_kwh": "total_power_import_t2_kwh",
              "energy_export_t1_kwh": "total_power_export_t1_kwh", "energy_export_t2_kwh": "total_power_export_t2_kwh",
              "gas_m3": "total_gas_m3"}
EXTERNAL = {"gas_m3": "gas_meter", "water_m3": "water_meter", "heat_gj": "heat_meter"}


def _numbers(line):
    """A JSON line with every number as the Decimal of its text (a string stays a str)."""
    return json.loads(line, parse_float=Decimal, parse_int=Decimal)


# Counters where a single-precision float would show: 9 digits, sums of such,
# a gas meter past 100,000 m3 (the real captures all stay below 65,536, where
# a float32 still round-trips 3 decimals).
BIG_COUNTERS = [b"1-3:0.2.8(50)", b"0-0:1.0.0(240101120000W)", b"1-0:1.8.1(123456.789*kWh)",
                b"1-0:1.8.2(987654.321*kWh)", b"1-0:2.8.1(021910.746*kWh)", b"1-0:2.8.2(012345.678*kWh)",
                b"0-1:24.1.0(003)", b"0-1:24.2.1(240101120000W)(123456.789*m3)"]


def test_counters_as_the_32bit_single_float_device_writes_them_match_dsmr_parser_exactly(tmp_path):
    from crc16 import crc16
    body = b"/ISK5\\2M550T-1012\r\n\r\n" + b"".join(line + b"\r\n" for line in BIG_COUNTERS) + b"!"
    big = tmp_path / "v5_big_counters.p1"
    big.write_bytes(body + b"%04X\r\n" % crc16(body))
    SPECS.setdefault("v5_big_counters", ts.V5)
    files = telegram_files() + [("v5_big_counters", str(big))]
    assert len([f for f in files if f[1].startswith(TELEGRAMS)]) >= 13
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware"))
    run = subprocess.run([MICROPYTHON, "-X", "heapsize=1m", "-c", _DEVICE_SCRIPT] + [p for _, p in files],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2 * len(files), run.stdout
    compared = 0
    for i, (name, path) in enumerate(files):
        want = expected_counters(name, path)
        mqtt, hw = _numbers(lines[2 * i]), _numbers(lines[2 * i + 1])
        external = {e["type"]: e["value"] for e in hw["external"]}
        assert want, "%s: dsmr_parser found no counter" % name
        for public in ("energy_import_kwh", "energy_export_kwh", "energy_import_t1_kwh", "energy_import_t2_kwh",
                       "energy_export_t1_kwh", "energy_export_t2_kwh", "gas_m3", "water_m3", "heat_gj"):
            ref = want.get(public)
            # MQTT: a JSON number whose text is exactly the meter's value; null when the meter has none
            assert mqtt[public] == ref and (ref is None or isinstance(mqtt[public], Decimal)), (path, public)
            if public in HOMEWIZARD:
                assert hw.get(HOMEWIZARD[public]) == ref, (path, public)
            if public in EXTERNAL:
                assert external.get(EXTERNAL[public]) == ref, (path, public)
            compared += ref is not None
    assert compared >= 60
