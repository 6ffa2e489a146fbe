"""What a meter can send: the value formats the parser enforces and the physical bounds of a reading.

A telegram whose CRC is right can still carry values no meter measures
(99999.999 kW, -230 V, a 60-digit current, nan): a fault in the meter, a
bad firmware, a crafted telegram. A charger sizes its current from these
values, so such a telegram is counted (``implausible``) and never published;
the last good reading stays until it goes stale, as after a CRC error.
README "Plausibility" gives the bounds and their reasons.

Two checks, both allocation-free per value (comparisons of ints and floats
already in the reading, constants folded at compile time):
- the format, per quantity (``_FORMATS``): the units and the most digits a
  meter sends; ``dsmr`` applies it to each number as it reads it;
- the bounds of a parsed reading (``bounds``) and its counters against the
  previous telegram's (``backwards``); ``check`` applies both in turn.
Pure logic: no clock, no I/O.
"""
from micropython import const

from reading import TOTAL_FIELDS

# Quantity kinds of a numeric telegram value: where its row starts in _FORMATS.
POWER = const(0)
VOLTAGE = const(5)
CURRENT = const(10)
FREQUENCY = const(15)
ENERGY = const(20)

# Units folded into an int, one byte per letter (``check_format``).
_KW = const(0x6B57)       # "kW"
_W = const(0x57)          # "W"
_V = const(0x56)          # "V"
_A = const(0x41)          # "A"
_HZ = const(0x487A)       # "Hz"
_KWH = const(0x6B5768)    # "kWh"
_WH = const(0x5768)       # "Wh"

# Per kind, a row of five: unit, its most whole digits, the unit a meter may
# send instead, its most whole digits, most decimals (one flat tuple: one object).
# DSMR 5.0.2 and e-MUCS specify kW F5(3,3), V F4(1,1), A F3(0,0) (e-MUCS
# F5(2,2)), kWh F9(3,3) (e-MUCS F10(3,3)); real meters send wider: DSMR 2.2
# power 0001.01 kW, EasyMeter 001688.21 W and 00032549.5061662 kWh, Sagemcom
# T210 000000286 W and 006545766 Wh, the 0230.0 V of dsmr_parser's DSMR 5
# sample, 50.00 Hz (Hungary). The limits take the widest real format of each:
# enough to refuse 99999.999 kW or a 60-digit current before it is a number.
_FORMATS = (
    _KW, 4, _W, 9, 3,
    _V, 4, _V, 4, 2,
    _A, 3, _A, 3, 2,
    _HZ, 3, _HZ, 3, 3,
    _KWH, 10, _WH, 10, 7,
)

# Physical bounds (README "Plausibility").
_V_MAX = const(300)                # L-N volts: 230 V + 30 %; the grid keeps +-10 % (EN 50160)
_I_MAX = const(200)                # amperes per phase: direct-connected meters end at 100-120 A
_P_PHASE_MAX = const(60000)        # watts per phase: _V_MAX x _I_MAX
_P_MAX = const(180000)             # watts for the connection: three such phases
_F_MIN = const(45)                 # hertz: the grid keeps 50 Hz +4 %/-6 % (EN 50160),
_F_MAX = const(55)                 # a meter without voltage sends nothing
_COUNTER_SLACK_DECIMALS = const(3)  # a counter may go back by at most 0.001 of its unit


class Implausible(ValueError):
    """A value no meter sends: the telegram is counted as implausible, not published."""


def check_format(kind, buf, i, end, whole, decimals):
    """The shift the unit adds (3 for the "k" unit, 0 for the other); Implausible if off-format.

    ``buf[i]`` is the byte after the number: "*" before its unit, or ")" for none.
    ``whole`` and ``decimals``: the number's count of digits before and after the point.
    """
    unit = 0  # the unit folded into an int, one byte per letter
    if buf[i] == 0x2A:
        i += 1
        while i < end and buf[i] != 0x29:
            if unit > 0xFFFF:
                raise Implausible("unit")  # over 3 letters
            unit = unit << 8 | buf[i]
            i += 1
    f = _FORMATS
    if unit == f[kind]:
        shift = 0 if unit == f[kind + 2] else 3
        most = f[kind + 1]
    elif unit == f[kind + 2]:
        shift = 0
        most = f[kind + 3]
    else:
        raise Implausible("unit")
    if whole > most:
        raise Implausible("too many digits")
    if decimals > f[kind + 4]:
        raise Implausible("too many decimals")
    return shift


# field, lowest, highest: the physical bounds (README "Plausibility"), one flat
# tuple (one object); the counters have no upper bound but their format.
_BOUNDS = (
    "voltage_l1_v", 0, _V_MAX, "voltage_l2_v", 0, _V_MAX, "voltage_l3_v", 0, _V_MAX,
    "current_l1_a", 0, _I_MAX, "current_l2_a", 0, _I_MAX, "current_l3_a", 0, _I_MAX,
    "power_l1_w", -_P_PHASE_MAX, _P_PHASE_MAX, "power_l2_w", -_P_PHASE_MAX, _P_PHASE_MAX,
    "power_l3_w", -_P_PHASE_MAX, _P_PHASE_MAX,
    "power_import_w", 0, _P_MAX, "power_export_w", 0, _P_MAX, "power_w", -_P_MAX, _P_MAX,
    "average_power_15m_w", 0, _P_MAX, "monthly_power_peak_w", 0, _P_MAX,
    "frequency_hz", _F_MIN, _F_MAX,
)


def bounds(r):
    """The first field of reading ``r`` outside its physical bounds, or None."""
    b = _BOUNDS
    for i in range(0, len(b), 3):
        v = r[b[i]]
        if v is not None and not b[i + 1] <= v <= b[i + 2]:
            return b[i]
    for k in TOTAL_FIELDS:
        v = r[k]
        if v is not None and v < 0:
            return k
    return None


def check(r, prev):
    """(None or the first field of reading ``r`` that is not plausible, the baseline for the next telegram).

    ``prev`` is the baseline this call returned for the telegram before (None
    at first): the last reading within bounds, whose counters ``r``'s must not
    run back from.
    """
    why = bounds(r)
    if why is not None:
        return why, prev
    return backwards(r, prev), r


def backwards(r, prev):
    """The first counter of ``r`` that ran back from ``prev`` (the telegram before), or None.

    Counters only grow. A step back of more than 0.001 of the unit is a fault,
    unless the meter changed (another meter id). ``prev`` is the previous
    telegram within bounds, published or not: a meter replaced under the same
    id (counters starting again) costs one telegram, not every one after.
    """
    if prev is None or prev["meter_id"] != r["meter_id"]:
        return None
    d = r["counter_decimals"]
    dp = prev["counter_decimals"]
    top = d if d > dp else dp
    slack = 10 ** (top - _COUNTER_SLACK_DECIMALS)  # counter_decimals is 3 or more
    for k in TOTAL_FIELDS:
        v = r[k]
        old = prev[k]
        if v is None or old is None:
            continue
        if d != dp:  # an EasyMeter's finer step: compare in the finer one (rare)
            v *= 10 ** (top - d)
            old *= 10 ** (top - dp)
        if v < old - slack:
            return k
    return None
