"""Meter timestamps to UTC epoch seconds, with integer calendar math only.

``time.mktime`` differs between ports (epoch 2000 on bare metal, 1970 on
unix) and knows no DST flag, so the conversion is done here. The EU summer-time
rule, which only a timestamp without its flag needs, is in eusummer.py.
"""
from micropython import const

_Y2000 = const(946684800)  # 2000-01-01 00:00:00 in the same local seconds: a placeholder


def days_from_civil(y, m, d):
    """Days from 1970-01-01 to the proleptic Gregorian date y-m-d."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _two(buf, i):
    a = buf[i] - 0x30
    b = buf[i + 1] - 0x30
    if not (0 <= a <= 9 and 0 <= b <= 9):
        raise ValueError("bad timestamp digit")
    return a * 10 + b


def dsmr_timestamp(buf, i, end=None, x=None):
    """Parse ``YYMMDDhhmmssX`` at ``buf[i:end]`` (X: S summer = UTC+2, W winter = UTC+1).

    Without X (DSMR 2.2/3 gas readings) the EU summer-time rule decides. ``x``:
    the flag's byte when it is not after the digits (a TIC horodate: tic.py).
    Returns UTC epoch seconds, or None for a placeholder date: an impossible
    one (632525252525) or 2000-01-01 00:00:00 (000101000000), both sent for
    "no value". Raises ValueError when the field is not a timestamp at all.
    """
    if end is None:
        end = len(buf)
    if i + 12 > end:
        raise ValueError("timestamp cut short")
    yy = _two(buf, i)
    mo = _two(buf, i + 2)
    dd = _two(buf, i + 4)
    hh = _two(buf, i + 6)
    mi = _two(buf, i + 8)
    ss = _two(buf, i + 10)
    if not (1 <= mo <= 12 and 1 <= dd <= 31) or hh > 23 or mi > 59 or ss > 60:
        return None
    local = days_from_civil(2000 + yy, mo, dd) * 86400 + hh * 3600 + mi * 60 + ss
    if local == _Y2000:
        return None
    if x is None:
        x = buf[i + 12] if i + 12 < end else 0
    if x == 0x53:  # "S"
        return local - 7200
    if x == 0x57:  # "W"
        return local - 3600
    # DSMR 2.2/3 M-Bus timestamps carry no flag: apply the EU rule (its code
    # loaded only for such a meter).
    from eusummer import eu_summer
    return local - (7200 if eu_summer(local - 3600) else 3600)
