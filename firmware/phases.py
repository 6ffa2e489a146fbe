"""Electrical values derived from a reading, shared by the Modbus templates.

A P1 meter sends L-N voltages, unsigned currents and per-phase power; meters
emulated over Modbus also report line-to-line voltages, sums and averages.
A value the meter did not send is None, never 0 (a charger reads 0 A as
spare capacity): the register image marks it missing and a read of it gets
exception 04 (regmap, modbus_frame). A value is derived only where the
physics is exact: total power as the sum of the phases, the one phase of a
1-phase meter as the total, line-to-line voltages from all three L-N ones.
A phase the meter does not have (a 1-phase meter's L2 and L3) is 0: nothing
flows there.
"""
from math import sqrt

VOLTAGE = ("voltage_l1_v", "voltage_l2_v", "voltage_l3_v")
CURRENT = ("current_l1_a", "current_l2_a", "current_l3_a")
POWER = ("power_l1_w", "power_l2_w", "power_l3_w")


def _sent(reading, i):
    return reading[VOLTAGE[i]] is not None or reading[CURRENT[i]] is not None \
        or reading[POWER[i]] is not None


def absent(reading, i):
    """Whether phase ``i`` (0..2) is one the meter does not have: it sends L1 and nothing of it."""
    return i > 0 and not _sent(reading, i) and _sent(reading, 0)


def value(reading, field):
    """A phase's field as a float; 0.0 on an absent phase; None when the meter did not send it."""
    v = reading[field]
    if v is not None:
        return float(v)
    i = ord(field[-3]) - 0x31  # "voltage_l2_v": the phase digit
    if absent(reading, i):
        return 0.0
    if i == 0 and field == POWER[0] and absent(reading, 1) and absent(reading, 2):
        return total_power(reading)  # a 1-phase meter's total is its L1
    return None


def ll_voltages(reading):
    """(V12, V23, V31, their mean); 0.0 each on a meter without three phases, None each unless all three L-N are sent.

    |Va - Vb| for phasors 120 degrees apart is sqrt(a^2 + b^2 + ab): the
    sqrt(3) * V rule holds only for balanced phases; this is exact for any two
    magnitudes at the nominal 120 degree spacing.
    """
    if absent(reading, 1) or absent(reading, 2):
        return 0.0, 0.0, 0.0, 0.0
    v1, v2, v3 = reading[VOLTAGE[0]], reading[VOLTAGE[1]], reading[VOLTAGE[2]]
    if v1 is None or v2 is None or v3 is None:
        return None, None, None, None
    a = sqrt(v1 * v1 + v2 * v2 + v1 * v2)
    b = sqrt(v2 * v2 + v3 * v3 + v2 * v3)
    c = sqrt(v3 * v3 + v1 * v1 + v3 * v1)
    return a, b, c, (a + b + c) / 3


def frequency(reading):
    """The meter's frequency, or the 50 Hz nominal when it sends none (most P1 meters)."""
    f = reading["frequency_hz"]
    return 50.0 if f is None else f


def phase_count(reading):
    """The phases the meter has: 1 or 3."""
    return 1 if absent(reading, 1) and absent(reading, 2) else 3


def phase_sum(reading, fields):
    """Sum of ``fields`` (VOLTAGE, CURRENT, POWER) over the meter's phases; None if one of them was not sent."""
    total = 0.0
    for i in range(3):
        v = reading[fields[i]]
        if v is not None:
            total += v
        elif not absent(reading, i):
            return None
    return total


def mean_ln_voltage(reading):
    """Mean of the L-N voltages of the meter's phases (a 1-phase meter: its L1); None if one is missing."""
    total = phase_sum(reading, VOLTAGE)
    return None if total is None else total / phase_count(reading)


def total_power(reading):
    """Net active power in W, negative when exporting: 1.7.0 - 2.7.0, else the sum of the phases; or None.

    A reading from dsmr has power_w whenever it has either of 1.7.0 and 2.7.0.
    """
    p = reading["power_w"]
    if p is not None:
        return float(p)
    imp = reading["power_import_w"]
    exp = reading["power_export_w"]
    if imp is not None or exp is not None:
        return float(imp or 0) - float(exp or 0)
    return phase_sum(reading, POWER)
