"""A reading as HomeWizard P1 meter JSON (``GET /api/v1/data``, API v1).

Home Assistant's HomeWizard integration, evcc and others already read a
HomeWizard P1 meter, so they can read this gateway too. Field names and units
are HomeWizard's (kWh, W, V, A, m3; ``montly_power_peak_w`` is their spelling).
Like HomeWizard, a field the meter does not send is left out rather than null;
so is ``smr_version`` for a French meter (its protocol is a name, not a number).
Timestamps are HomeWizard's ``YYMMDDhhmmss`` number in the meter's local time
(Central European, EU summer-time rule). Written in pieces (jsonw) straight
from the reading, no dict in between; counters with exactly the meter's digits.
"""
import jsonw
from eusummer import civil_from_days, eu_summer
from reading import TOTAL_FIELDS

# (HomeWizard name, reading field), in HomeWizard's order.
_FIELDS = (
    ("smr_version", "protocol_version"),
    ("meter_model", "meter_model"),
    ("unique_id", "meter_id"),
    ("active_tariff", "tariff"),
    ("total_power_import_kwh", "energy_import"),
    ("total_power_import_t1_kwh", "energy_import_t1"),
    ("total_power_import_t2_kwh", "energy_import_t2"),
    ("total_power_export_kwh", "energy_export"),
    ("total_power_export_t1_kwh", "energy_export_t1"),
    ("total_power_export_t2_kwh", "energy_export_t2"),
    ("active_power_w", "power_w"),
    ("active_power_l1_w", "power_l1_w"),
    ("active_power_l2_w", "power_l2_w"),
    ("active_power_l3_w", "power_l3_w"),
    ("active_voltage_l1_v", "voltage_l1_v"),
    ("active_voltage_l2_v", "voltage_l2_v"),
    ("active_voltage_l3_v", "voltage_l3_v"),
    ("active_current_l1_a", "current_l1_a"),
    ("active_current_l2_a", "current_l2_a"),
    ("active_current_l3_a", "current_l3_a"),
    ("active_frequency_hz", "frequency_hz"),
    ("voltage_sag_l1_count", "voltage_sags_l1"),
    ("voltage_sag_l2_count", "voltage_sags_l2"),
    ("voltage_sag_l3_count", "voltage_sags_l3"),
    ("voltage_swell_l1_count", "voltage_swells_l1"),
    ("voltage_swell_l2_count", "voltage_swells_l2"),
    ("voltage_swell_l3_count", "voltage_swells_l3"),
    ("any_power_fail_count", "power_failures"),
    ("long_power_fail_count", "long_power_failures"),
    ("active_power_average_w", "average_power_15m_w"),
    ("montly_power_peak_w", "monthly_power_peak_w"),
    ("total_gas_m3", "gas"),
)

# (HomeWizard external type, reading value field, its timestamp field, its equipment id field, unit)
_EXTERNAL = (
    ("gas_meter", "gas", "gas_timestamp", "gas_id", "m3"),
    ("water_meter", "water", "water_timestamp", "water_id", "m3"),
    ("heat_meter", "heat", "heat_timestamp", "heat_id", "GJ"),
)


def device(serial, firmware_version):
    """HomeWizard ``GET /api`` device info; integrations key on ``product_type``."""
    return {"product_type": "HWE-P1", "product_name": "P1 meter", "serial": serial,
            "firmware_version": firmware_version, "api_version": "v1"}


def wifi_strength(rssi):
    """dBm -> HomeWizard's 0..100 %."""
    return max(0, min(100, 2 * (rssi + 100)))


def write_data(write, reading, wifi_ssid=None, rssi=None):
    """Write HomeWizard ``/api/v1/data`` JSON for ``reading`` (a reading.py dict) to ``write``.

    ``wifi_ssid`` is always sent ("" off Wi-Fi): python-homewizard-energy (Home
    Assistant) maps none of the values of a v1 answer without it.
    """
    decimals = reading["counter_decimals"]
    write("{")
    jsonw.key(write, "wifi_ssid")
    jsonw.string(write, wifi_ssid or "")
    write(",")
    if rssi is not None:
        jsonw.key(write, "wifi_strength")
        write(str(wifi_strength(rssi)))
        write(",")
    for name, field in _FIELDS:
        v = reading.get(field)
        if v is None or v.__class__ is str and name == "smr_version":  # a number; TIC names its mode
            continue
        jsonw.key(write, name)
        if field in TOTAL_FIELDS:
            jsonw.fixed(write, v, decimals)
        else:
            jsonw.value(write, v)
        write(",")
    currents = 0
    for f in ("current_l1_a", "current_l2_a", "current_l3_a"):
        c = reading.get(f)
        if c is not None:
            currents += c
    if reading.get("current_l1_a") is not None:
        jsonw.key(write, "active_current_a")
        jsonw.value(write, round(currents, 3))
        write(",")
    _stamp(write, "montly_power_peak_timestamp", reading.get("monthly_power_peak_timestamp"))
    _stamp(write, "gas_timestamp", reading.get("gas_timestamp"))
    jsonw.key(write, "external")
    write("[")
    first = True
    for kind, field, ts, ident, unit in _EXTERNAL:
        v = reading.get(field)
        if v is None:
            continue
        if not first:
            write(",")
        first = False
        write('{"unique_id":')
        # The device's own M-Bus id, as HomeWizard sends it; a meter that sends
        # none (DSMR 2.2) gets one made from the electricity meter's id.
        jsonw.string(write, reading.get(ident) or "%s-%s" % (reading.get("meter_id") or "", kind))
        write(',"type":"')
        write(kind)
        write('","value":')
        jsonw.fixed(write, v, decimals)
        write(',"unit":"')
        write(unit)
        write('","timestamp":')
        _stamp_value(write, reading.get(ts))
        write("}")
    write("]}")


def data(reading, wifi_ssid=None, rssi=None):
    """``write_data``'s JSON as one str (tests; the web server sends the pieces)."""
    out = jsonw.Buffer()
    write_data(out.write, reading, wifi_ssid, rssi)
    return bytes(out.bytes()).decode()


def _stamp(write, name, epoch):
    if epoch is not None:
        jsonw.key(write, name)
        _stamp_value(write, epoch)
        write(",")


def _stamp_value(write, epoch):
    # The digits as text: the 12-digit number itself would be a long int (heap) on an ESP32.
    write("null" if epoch is None else "%d%02d%02d%02d%02d%02d" % _local_parts(epoch))


def _local_parts(epoch):
    """(YY, MM, DD, hh, mm, ss) of UTC epoch seconds in Dutch/Belgian local time."""
    local = epoch + (7200 if eu_summer(epoch) else 3600)
    y, m, d = civil_from_days(local // 86400)
    s = local % 86400
    return y % 100, m, d, s // 3600, s // 60 % 60, s % 60


def local_stamp(epoch):
    """UTC epoch seconds -> YYMMDDhhmmss (int) in Dutch/Belgian local time, or None."""
    if epoch is None:
        return None
    y, m, d, hh, mm, ss = _local_parts(epoch)
    return ((((y * 100 + m) * 100 + d) * 100 + hh) * 100 + mm) * 100 + ss
