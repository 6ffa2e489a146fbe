"""EU summer time (NL/BE/LU local time) and the civil date of an epoch day.

Needed only for a meter timestamp without its summer/winter flag (DSMR 2.2/3
M-Bus readings: p1time) and for local times the HomeWizard API writes, so the
stock layout loads this code only then.
"""
from p1time import days_from_civil


def civil_from_days(days):
    """Epoch day -> (year, month, day); the inverse of days_from_civil."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def eu_summer(utc):
    """True if UTC epoch second ``utc`` falls in EU summer time (NL/BE/LU local time)."""
    y = civil_from_days(utc // 86400)[0]
    return _last_sunday(y, 3) * 86400 + 3600 <= utc < _last_sunday(y, 10) * 86400 + 3600


def _last_sunday(y, m):
    """Epoch day of the last Sunday of month m (March or October: 31 days)."""
    day = days_from_civil(y, m, 31)
    return day - (day + 4) % 7  # 1970-01-01 was a Thursday
