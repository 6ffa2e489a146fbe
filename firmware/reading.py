"""The canonical reading: one dict per valid telegram, the only thing consumers see.

Every output (Modbus image, MQTT payload, HTTP JSON) is built from a reading,
never from telegram text. SI units: W (not kW), V, A; timestamps in UTC epoch
seconds. A field the telegram does not carry is None (JSON null), never 0 and
never missing. A published reading is treated as immutable.

The meter's counters (energy, gas, water, heat: TOTAL_FIELDS) are exact
integers, never floats: a count of the meter's smallest step, 10**-d of the
counter's unit (kWh, m3, GJ) where d is ``counter_decimals``, 3 unless the
meter sends finer digits (an EasyMeter sends 7 decimals of a kWh). So with
d = 3 ``energy_import`` counts Wh, ``gas`` and ``water`` dm3 (litres), ``heat``
MJ. An ESP32 computes in single-precision floats, which keep about 7 digits:
a float would publish 012345.678*kWh as 12345.68 and 21910.746 + 12345.678 as
34256.42. An integer below 2**30 is exact, and costs MicroPython no heap at
all. Outputs write them back in the counter's unit with exactly the meter's
digits (jsonw.fixed: 12345678 is 12345.678) under TOTAL_NAMES; the Modbus
registers convert to float only when packing (``counter``).
"""

# Instantaneous values: what changes from one telegram to the next and says
# nothing cumulative (the Xemex MQTT payload carries only these by default).
INSTANT_FIELDS = (
    "power_w", "power_import_w", "power_export_w",
    "power_l1_w", "power_l2_w", "power_l3_w",
    "voltage_l1_v", "voltage_l2_v", "voltage_l3_v",
    "current_l1_a", "current_l2_a", "current_l3_a",
    "frequency_hz", "tariff", "average_power_15m_w",
)

# Cumulative counters: meter registers that only grow. Integers in steps of
# 10**-counter_decimals of their unit (see the module doc).
TOTAL_FIELDS = (
    "energy_import", "energy_export",
    "energy_import_t1", "energy_import_t2",
    "energy_export_t1", "energy_export_t2",
    "gas", "water", "heat",
)

# The same counters as every output names them, in their unit (MQTT, Home
# Assistant, the status API; HomeWizard has names of its own). Spelled once as
# keyword arguments too, as FIELDS below and for the same reason: each name is
# then a qstr, not a string object here and in each module that spells it.
dict(energy_import_kwh=0, energy_export_kwh=0, energy_import_t1_kwh=0, energy_import_t2_kwh=0,
     energy_export_t1_kwh=0, energy_export_t2_kwh=0, gas_m3=0, water_m3=0, heat_gj=0)
TOTAL_NAMES = (
    "energy_import_kwh", "energy_export_kwh",
    "energy_import_t1_kwh", "energy_import_t2_kwh",
    "energy_export_t1_kwh", "energy_export_t2_kwh",
    "gas_m3", "water_m3", "heat_gj",
)

COUNTER_DECIMALS = 3  # a reading's counter_decimals unless the meter sends more

# Every field of a reading (in no particular order). Spelled as keyword
# arguments on purpose: a keyword is an identifier, so each field name becomes
# a qstr, interned once when this module loads. A module loaded later that
# spells a field name as a string constant (dsmr, empro, modbus_tcp, app, ...)
# then gets that qstr for nothing, where a string constant longer than 10
# characters is otherwise a heap object of its own in every module (and every
# tuple) that holds it: ~2 KB of the stock layout's heap. The dict is only
# read for its keys and dropped.
FIELDS = tuple(dict(
    timestamp=None, meter_id=None, meter_model=None, protocol_version=None, tariff=None,
    power_w=None, power_import_w=None, power_export_w=None,
    power_l1_w=None, power_l2_w=None, power_l3_w=None,
    voltage_l1_v=None, voltage_l2_v=None, voltage_l3_v=None,
    current_l1_a=None, current_l2_a=None, current_l3_a=None,
    frequency_hz=None,
    energy_import=None, energy_export=None,
    energy_import_t1=None, energy_import_t2=None,
    energy_export_t1=None, energy_export_t2=None,
    counter_decimals=None,
    average_power_15m_w=None, monthly_power_peak_w=None, monthly_power_peak_timestamp=None,
    power_failures=None, long_power_failures=None,
    voltage_sags_l1=None, voltage_sags_l2=None, voltage_sags_l3=None,
    voltage_swells_l1=None, voltage_swells_l2=None, voltage_swells_l3=None,
    text_message=None,
    gas=None, gas_timestamp=None, water=None, water_timestamp=None, heat=None, heat_timestamp=None,
    gas_id=None, water_id=None, heat_id=None,  # the M-Bus devices' equipment ids (0-n:96.1.0)
))

POW10 = (1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000)


def new_reading() -> dict:
    """Return a reading with every field present and None (counter_decimals: 3)."""
    r = dict.fromkeys(FIELDS)
    r["counter_decimals"] = COUNTER_DECIMALS
    return r


def counter(reading, field, decimals):
    """Counter ``field`` as a float in steps of 10**-decimals of its unit; None when absent.

    For the Modbus registers, whose float32 holds about 7 digits: ``decimals``
    3 gives Wh, 0 kWh.
    """
    n = reading[field]
    if n is None:
        return None
    return scaled(n, reading["counter_decimals"] - decimals)


def scaled(n, shift):
    """The int ``n`` / 10**shift as a float (a negative shift multiplies).

    The whole part is divided off as an integer, so it stays exact as far as
    the float's digits go; only the fraction is rounded before the sum.
    """
    if shift <= 0:
        return float(n * POW10[-shift])
    q, rem = divmod(n, POW10[shift])
    return q + rem / POW10[shift]
