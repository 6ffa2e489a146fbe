"""Parse one P1 telegram (DSMR 2.2 to 5, e-MUCS, Smarty plaintext) into a reading.

One pass over the bytes, no regular expressions, no substrings: each line's
OBIS id is folded into a small int (B is the M-Bus channel in the top bits)
and each number is read digit by digit, so a telegram costs the reading dict,
one float per fractional value (whole numbers stay small ints, which MicroPython
doesn't allocate) and a few strings. Meter counters are read as exact integers
(reading.py), never through a float. Lines we don't know are skipped.
"""
from binascii import unhexlify

from micropython import const

import plausible
from p1time import dsmr_timestamp
from reading import POW10 as _POW10, TOTAL_FIELDS, new_reading

_LPAREN = const(0x28)
_RPAREN = const(0x29)
_STAR = const(0x2A)

# OBIS ids fold into 0xAACCDDEE (A 0/1, C, D, E: ``_obis``); the M-Bus channel B
# sits above on "0-n:" lines.
_TIMESTAMP = const(0x00010000)       # 0-0:1.0.0
_METER_ID = const(0x00600101)        # 0-0:96.1.1
_METER_ID_ALT = const(0x00600100)    # 0-0:96.1.0: Irish/Hungarian meters
_METER_ID_ESY = const(0x006001FF)    # 0-0:96.1.255: EasyMeter
_DEVICE_NAME = const(0x002A0000)     # 0-0:42.0.0: logical device name, Smarty's only id
_TEXT = const(0x00600D00)            # 0-0:96.13.0
_MBUS_TYPE = const(0x00180100)       # 0-n:24.1.0
_MBUS_READING = const(0x00180201)    # 0-n:24.2.1
_MBUS_READING_BE = const(0x00180203)  # 0-n:24.2.3
_MBUS_READING_OLD = const(0x00180300)  # 0-n:24.3.0, DSMR 2.2/3: value on the next line
# An M-Bus device's own equipment id: 0-n:96.1.0 (NL), 0-n:96.1.1 (BE e-MUCS).
_PEAK_BE = const(0x01010600)         # 1-0:1.6.0

# Values stored as sent: OBIS -> field (one dict of small ints and names the
# reading already interned). What a value is follows from its OBIS id
# (IEC 62056-61): on an "1-0:" line group D 8 is an energy counter, an exact
# count in kWh / 10**counter_decimals (a meter sends kWh or Wh: unit shift -3,
# which the "k" prefix takes back); D 7 (4: a 15-minute average) a measurement,
# whose quantity C % 20 gives (_kind; a value in kW is stored in W); anything
# else an integer count.
_FIELDS = {
    0x01010800: "energy_import",         # 1-0:1.8.0
    0x01010801: "energy_import_t1",      # 1-0:1.8.1
    0x01010802: "energy_import_t2",      # 1-0:1.8.2
    0x01020800: "energy_export",         # 1-0:2.8.0
    0x01020801: "energy_export_t1",      # 1-0:2.8.1
    0x01020802: "energy_export_t2",      # 1-0:2.8.2
    0x01010700: "power_import_w",        # 1-0:1.7.0
    0x01020700: "power_export_w",        # 1-0:2.7.0
    0x01150700: "power_l1_w",            # 1-0:21.7.0
    0x01290700: "power_l2_w",            # 1-0:41.7.0
    0x013D0700: "power_l3_w",            # 1-0:61.7.0
    0x01160700: "_export_l1",            # 1-0:22.7.0: netted against import (_derive)
    0x012A0700: "_export_l2",            # 1-0:42.7.0
    0x013E0700: "_export_l3",            # 1-0:62.7.0
    0x01200700: "voltage_l1_v",          # 1-0:32.7.0
    0x01340700: "voltage_l2_v",          # 1-0:52.7.0
    0x01480700: "voltage_l3_v",          # 1-0:72.7.0
    0x011F0700: "current_l1_a",          # 1-0:31.7.0
    0x01330700: "current_l2_a",          # 1-0:51.7.0
    0x01470700: "current_l3_a",          # 1-0:71.7.0
    0x010E0700: "frequency_hz",          # 1-0:14.7.0
    0x01010400: "average_power_15m_w",   # 1-0:1.4.0
    0x00600715: "power_failures",        # 0-0:96.7.21
    0x00600709: "long_power_failures",   # 0-0:96.7.9
    0x01202000: "voltage_sags_l1",       # 1-0:32.32.0
    0x01342000: "voltage_sags_l2",       # 1-0:52.32.0
    0x01482000: "voltage_sags_l3",       # 1-0:72.32.0
    0x01202400: "voltage_swells_l1",     # 1-0:32.36.0
    0x01342400: "voltage_swells_l2",     # 1-0:52.36.0
    0x01482400: "voltage_swells_l3",     # 1-0:72.36.0
    0x00600E00: "tariff",                # 0-0:96.14.0
    0x01000208: "protocol_version",      # 1-0:0.2.8
    0x00600104: "protocol_version",      # 0-0:96.1.4 (e-MUCS)
}

# M-Bus device types (0-n:24.1.0, EN 13757-3) that have a field in the reading.
# Others (warm water, cooling, ...) are left out rather than taken for gas.
_MBUS_GAS = const(3)
_MBUS_HEAT = const(4)        # heat meter, sensor on the outlet
_MBUS_HEAT_INLET = const(12)
_MBUS_WATER = const(7)
_UNIT_M3 = const(0x6D)       # first letter of the unit: "m3"
_UNIT_GJ = const(0x47)       # "GJ"



_MAX_CHARS = const(20)  # a number's digits and point: the widest real one has 16

_CHANNEL_SHIFT = const(25)
_BASE_MASK = const(0x1FFFFFF)


def _obis(buf, i, end):
    """Fold "A-B:C.D.E" (optionally "*F") at buf[i:end] into one int; -1 if not OBIS.

    The low 25 bits are 0xAACCDDEE; B sits above them on "0-n:" lines,
    where it is the M-Bus channel ("1-3:0.2.8" is not a channel).
    """
    part = 0
    v = 0
    a = b = c = d = 0
    mark = i                            # where the current part began
    for j in range(i, end):
        ch = buf[j]
        if 0x30 <= ch <= 0x39:
            v = v * 10 + ch - 0x30
            if v > 255:
                return -1
            continue
        if j == mark:
            return -1                   # an empty part: "1-0:2.7."
        if part == 0 and ch == 0x2D:    # "-"
            a = v
        elif part == 1 and ch == 0x3A:  # ":"
            b = v
        elif part == 2 and ch == 0x2E:  # "."
            c = v
        elif part == 3 and ch == 0x2E:
            d = v
        elif part == 4 and ch == _STAR:
            break                       # EasyMeter "*255" suffix
        else:
            return -1
        part += 1
        v = 0
        mark = j + 1
    if part < 4 or mark >= end or a > 1 or b > 7:
        return -1
    key = ((a * 256 + c) * 256 + d) * 256 + v
    return key if a else key | b << _CHANNEL_SHIFT


def _number(buf, i, end, shift, r=None, kind=-1):
    """Read "[-]digits[.digits][*unit]" at buf[i:end] scaled by 10**shift.

    A unit starting with "k" multiplies by 1000. Whole results are ints, others
    floats; a missing number raises ValueError. EasyMeters sign their power.
    With ``r``, the reading, the number is a meter counter: always an exact int,
    in steps of 10**-r["counter_decimals"], which a number with more decimals
    raises for every counter of the reading.
    With ``kind`` (plausible.POWER, ...), the unit and the count of digits must
    be what a meter sends for that quantity, else plausible.Implausible.
    """
    neg = i < end and buf[i] == 0x2D
    if neg:
        i += 1
    mant = 0
    dec = -1
    j = i
    while j < end:
        ch = buf[j]
        if 0x30 <= ch <= 0x39:
            if j - i >= _MAX_CHARS:  # stop before a 400-digit value costs a 400-digit int
                raise (ValueError if kind < 0 else plausible.Implausible)("too many digits")
            mant = mant * 10 + ch - 0x30
            if dec >= 0:
                dec += 1
        elif ch == 0x2E and dec < 0:
            dec = 0
        else:
            break
        j += 1
    if j == i or (j == i + 1 and dec == 0):  # nothing, or a lone "."
        raise ValueError("no number")
    if j >= end or buf[j] != _STAR and buf[j] != _RPAREN:
        # "23x*V", "0.244 *kW": a damaged digit or an odd unit, never a shorter number
        raise ValueError("junk after a number")
    if kind >= 0:
        whole = j - i if dec < 0 else j - i - dec - 1
        shift += plausible.check_format(kind, buf, j, end, whole, dec if dec > 0 else 0)
    elif buf[j] == _STAR and j + 1 < end and buf[j + 1] == 0x6B:  # "*k"
        shift += 3
    exp = shift - (dec if dec > 0 else 0)
    if not -len(_POW10) < exp < len(_POW10):
        raise ValueError("too many decimals")
    if r is not None:
        d = r["counter_decimals"]
        if -exp > d:
            # A meter that sends more than 3 decimals (EasyMeter: 7 of a kWh):
            # every counter of the reading is counted in the finer step from now
            # on, so tariffs still add up as ints.
            m = _POW10[-exp - d]
            for f in TOTAL_FIELDS:
                if r[f] is not None:
                    r[f] *= m
            d = r["counter_decimals"] = -exp
        exp += d  # >= 0: a whole number of steps
    if neg:
        mant = -mant
    if exp >= 0:
        return mant * _POW10[exp]
    return mant / _POW10[-exp]


def _int(buf, i, end):
    v = 0
    j = i
    while j < end and 0x30 <= buf[j] <= 0x39:
        v = v * 10 + buf[j] - 0x30
        j += 1
    if j == i:
        raise ValueError("no integer")
    if j >= end or buf[j] != _RPAREN:
        raise ValueError("junk after an integer")
    return v


def _text(buf, i, end, hexed):
    """The string in buf[i:end]; hex-encoded octet strings are decoded when printable."""
    if i >= end:
        return None
    if hexed:
        # C on both runtimes; a memoryview, not a copy of up to 2 KB (the stubs
        # say bytes, but both runtimes take any buffer).
        try:
            out = unhexlify(memoryview(buf)[i:end])  # pyright: ignore[reportArgumentType]
        except ValueError:  # not hex after all: shown as sent
            out = None
        if out is not None:
            # On the bytes: UTF-8 puts every byte of a multi-byte character at 0x80 or above.
            for ch in out:
                if ch < 0x20 and ch not in (0x09, 0x0A, 0x0D) or ch == 0x7F:
                    return _printable(buf, i, end)
            try:
                return out.decode()  # UTF-8: accents in a Belgian message
            except UnicodeError:     # not UTF-8: shown as sent
                pass
    return _printable(buf, i, end)


def _printable(buf, i, end):
    out = bytearray(end - i)
    for k in range(end - i):
        ch = buf[i + k]
        out[k] = ch if 0x20 <= ch <= 0x7E else 0x3F  # "?" keeps JSON valid UTF-8
    return out.decode()


def parse(buf, n=None, strict=True):
    """Parse the telegram in buf[:n] into a new reading dict; ValueError if malformed.

    ``strict``: any line that can't be read makes the telegram malformed, the
    only check a telegram without CRC gets. With ``strict=False`` (for a matching
    CRC) such a line is skipped, unless it carries a power, voltage or current.
    """
    if n is None:
        n = len(buf)
    if n < 3 or buf[0] != 0x2F:
        raise ValueError("telegram does not start with '/'")
    r = new_reading()
    eol = buf.find(b"\n", 0, n)
    if eol < 0:
        raise ValueError("no line end after the header")
    r["meter_model"] = _printable(buf, 1, eol - 1 if buf[eol - 1] == 0x0D else eol)

    mbus = None              # device type per M-Bus channel 1..4, made when first seen
    pending = 0              # DSMR 2.2/3: channel whose value comes on the next line
    pending_ts = None
    pending_unit = 0
    exports = None           # export per phase, netted against import at the end
    meter_id_alt = None
    mbus_ids = None  # type: list | None  # equipment id per M-Bus channel, made when first seen
    pos = eol + 1
    while pos < n:
        eol = buf.find(b"\n", pos, n)
        if eol < 0:
            eol = n
        line_end = eol - 1 if eol > pos and buf[eol - 1] == 0x0D else eol
        if line_end <= pos:
            pos = eol + 1
            continue
        if buf[pos] == 0x21:  # "!"
            break
        spec = None
        measured = False         # a line whose value a charger may be served
        try:
            if buf[pos] == _LPAREN:
                # A value on its own line: the DSMR 2.2/3 gas reading after 0-n:24.3.0.
                if pending:
                    v = _number(buf, pos + 1, line_end, 0, r)
                    _mbus_value(r, mbus[pending] if mbus else 0, pending_unit, v, pending_ts,
                                mbus_ids[pending] if mbus_ids else None)
                    pending = 0
                pos = eol + 1
                continue
            paren = buf.find(b"(", pos, line_end)
            if paren < 0:
                raise ValueError("line without value")
            key = _obis(buf, pos, paren)
            if key < 0:
                raise ValueError("bad OBIS id")
            ch = key >> _CHANNEL_SHIFT
            key &= _BASE_MASK
            v0 = paren + 1  # first value's first byte
            field = "" if ch else _FIELDS.get(key, "")
            d = key >> 8 & 0xFF
            measured = field != "" and key >> 24 == 1 and (d == 8 or d == 7 or d == 4)
            if measured and d == 8:
                r[field] = _number(buf, v0, line_end, -3, r, plausible.ENERGY)
            elif measured:
                q = (key >> 16 & 0xFF) % 20  # C = 20 * phase + quantity
                v = _number(buf, v0, line_end, 0, None,
                            plausible.CURRENT if q == 11 else plausible.VOLTAGE if q == 12
                            else plausible.FREQUENCY if q == 14 else plausible.POWER)
                if field[0] == "_":
                    if exports is None:
                        exports = [None, None, None]
                    exports[ord(field[-1]) - 0x31] = v
                else:
                    r[field] = v
            elif field:
                r[field] = _int(buf, v0, line_end)
            elif ch > 4:
                pass  # M-Bus channels 5-7: no field of ours
            elif ch:
                if key == _METER_ID or key == _METER_ID_ALT:
                    if mbus_ids is None:
                        mbus_ids = [None] * 5
                    mbus_ids[ch] = _text(buf, v0, buf.find(b")", v0, line_end), False)
                elif key == _MBUS_TYPE:
                    if mbus is None:
                        mbus = bytearray(5)
                    mbus[ch] = min(_int(buf, v0, line_end), 255)  # 255: no type of ours
                elif key == _MBUS_READING or key == _MBUS_READING_BE:
                    p = buf.find(b"(", v0, line_end) + 1
                    star = buf.find(b"*", p, line_end)
                    # A reading without a unit is an empty placeholder channel.
                    if star > 0:
                        _mbus_value(r, mbus[ch] if mbus else 0, buf[star + 1],
                                    _number(buf, p, line_end, 0, r), dsmr_timestamp(buf, v0, line_end),
                                    mbus_ids[ch] if mbus_ids else None)
                elif key == _MBUS_READING_OLD:
                    pending = ch
                    pending_ts = dsmr_timestamp(buf, v0, line_end)
                    # The unit is the line's last group: ...(0-1:24.2.1)(m3)
                    pending_unit = buf[buf.rfind(b"(", v0, line_end) + 1]
            elif key == _TIMESTAMP:
                r["timestamp"] = dsmr_timestamp(buf, v0, line_end)
            elif key == _METER_ID:
                r["meter_id"] = _text(buf, v0, buf.find(b")", v0, line_end), False)
            elif key == _METER_ID_ALT or key == _METER_ID_ESY or key == _DEVICE_NAME and meter_id_alt is None:
                meter_id_alt = _text(buf, v0, buf.find(b")", v0, line_end), False)
            elif key == _TEXT:
                r["text_message"] = _text(buf, v0, buf.find(b")", v0, line_end), True)
            elif key == _PEAK_BE:
                ts = dsmr_timestamp(buf, v0, line_end)
                r["monthly_power_peak_w"] = _number(buf, buf.find(b"(", v0, line_end) + 1, line_end, 0,
                                                    None, plausible.POWER)
                r["monthly_power_peak_timestamp"] = ts
        except ValueError as e:
            # The CRC vouches for these bytes: a line we can't read is the meter's
            # own format. Skip it, as dsmr_parser does, and keep the rest; but not
            # a power, voltage, current or energy counter: the meter sent a value
            # no meter can mean (nan*kWh), and left out it would read as 0 (spare
            # capacity to a charger) where stale data gets exception 04. Without
            # a CRC an unreadable line is damage: the telegram is malformed.
            if measured and not strict and not isinstance(e, plausible.Implausible):
                raise plausible.Implausible(e.args[0])
            if strict or measured:
                raise
        pos = eol + 1

    if r["meter_id"] is None:
        r["meter_id"] = meter_id_alt
    _derive(r, exports)
    return r


def _mbus_value(r, kind, unit, v, ts, equipment_id):
    """Store an M-Bus reading by device type, or by its unit when the telegram names no type.

    ``equipment_id``: the channel's 0-n:96.1.0 id if it came before the reading
    (DSMR sends it first), stored as ``gas_id``/``water_id``/``heat_id``.

    A value in a unit other than its field's (heat in kWh, say) is left out,
    never stored under the wrong unit.
    """
    if kind == 0:  # DSMR 2.2/3 and meters without a 24.1.0 line
        kind = _MBUS_HEAT if unit == _UNIT_GJ else _MBUS_GAS
    if kind == _MBUS_GAS and unit == _UNIT_M3:
        field, stamp, ident = "gas", "gas_timestamp", "gas_id"
    elif kind == _MBUS_WATER and unit == _UNIT_M3:
        field, stamp, ident = "water", "water_timestamp", "water_id"
    elif (kind == _MBUS_HEAT or kind == _MBUS_HEAT_INLET) and unit == _UNIT_GJ:
        field, stamp, ident = "heat", "heat_timestamp", "heat_id"
    else:
        return
    if r[field] is None:  # the lowest channel of a kind wins
        r[field] = v
        r[stamp] = ts
        r[ident] = equipment_id


def _derive(r, exports):
    """Fill the fields computed from others: net power, totals from tariffs."""
    imp = r["power_import_w"]
    exp = r["power_export_w"]
    if imp is not None and imp < 0 and not exp:
        # A signed 1.7.0, negative when exporting (EasyMeter): both stay >= 0 here.
        imp, exp = 0, -imp
        r["power_import_w"], r["power_export_w"] = imp, exp
    if imp is not None:
        r["power_w"] = imp - exp if exp is not None else imp
    elif exp is not None:
        r["power_w"] = -exp
    for f in ("current_l1_a", "current_l2_a", "current_l3_a"):
        # What loads the fuse is the magnitude: a signed current would read as spare capacity.
        if r[f] is not None and r[f] < 0:
            r[f] = -r[f]
    if exports is not None:
        for i, f in enumerate(("power_l1_w", "power_l2_w", "power_l3_w")):
            e = exports[i]
            if e is not None:
                r[f] = (r[f] or 0) - e
    for total, t1, t2 in (("energy_import", "energy_import_t1", "energy_import_t2"),
                          ("energy_export", "energy_export_t1", "energy_export_t2")):
        if r[total] is None and r[t1] is not None and r[t2] is not None:
            r[total] = r[t1] + r[t2]  # exact: integers in the same step
