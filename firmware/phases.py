"""Electrical values derived from a reading, shared by the Modbus templates.

A P1 meter sends L-N voltages, unsigned currents and per-phase power; meters
emulated over Modbus also report line-to-line voltages, sums and averages.
Absent fields count as missing, never as 0 V: derivations that need them
return 0 instead of a plausible-looking wrong number.
"""
from math import sqrt

VOLTAGE = ("voltage_l1_v", "voltage_l2_v", "voltage_l3_v")
CURRENT = ("current_l1_a", "current_l2_a", "current_l3_a")
POWER = ("power_l1_w", "power_l2_w", "power_l3_w")


def value(reading, field):
    """The field as a float, 0.0 when the meter does not send it."""
    v = reading[field]
    return 0.0 if v is None else float(v)


def line_to_line(a, b):
    """|Va - Vb| for phasors 120 degrees apart: sqrt(a^2 + b^2 + ab).

    The sqrt(3) * V rule holds only for balanced phases; this is exact for
    any two magnitudes at the nominal 120 degree spacing.
    """
    return sqrt(a * a + b * b + a * b)


def ll_voltages(reading):
    """(V12, V23, V31), or None unless all three L-N voltages are present."""
    v1, v2, v3 = (reading[k] for k in VOLTAGE)
    if v1 is None or v2 is None or v3 is None:
        return None
    return line_to_line(v1, v2), line_to_line(v2, v3), line_to_line(v3, v1)


def mean_ll_voltage(ll):
    """Mean of ll_voltages() (0.0 when they are unknown)."""
    return (ll[0] + ll[1] + ll[2]) / 3 if ll else 0.0


def frequency(reading):
    """The meter's frequency, or the 50 Hz nominal when it sends none (most P1 meters)."""
    f = reading["frequency_hz"]
    return 50.0 if f is None else f


def mean_ln_voltage(reading):
    """Mean of the L-N voltages present (a 1-phase meter: its L1), 0.0 if none."""
    total = 0.0
    n = 0
    for k in VOLTAGE:
        v = reading[k]
        if v is not None:
            total += v
            n += 1
    return total / n if n else 0.0


def sum_current(reading):
    """Sum of the phase currents present, 0.0 if none."""
    total = 0.0
    for k in CURRENT:
        v = reading[k]
        if v is not None:
            total += v
    return total


def total_power(reading):
    """Net active power in W, negative when exporting; 0.0 if unknown."""
    p = reading["power_w"]
    if p is not None:
        return float(p)
    imp = reading["power_import_w"]
    exp = reading["power_export_w"]
    if imp is None and exp is None:
        return 0.0
    return float(imp or 0) - float(exp or 0)


def load_type(power):
    """Sign of a phase's active power: 1 importing (load), -1 exporting, 0 none/unknown."""
    return 1 if power > 0 else -1 if power < 0 else 0
