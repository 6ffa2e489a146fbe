from eusummer import civil_from_days, eu_summer
from p1time import days_from_civil, dsmr_timestamp


def test_civil_and_days_are_inverse_across_leap_years():
    for day in range(10000, 25000, 37):
        assert days_from_civil(*civil_from_days(day)) == day
    assert civil_from_days(days_from_civil(2024, 2, 29)) == (2024, 2, 29)


def test_eu_summer_time_switches_at_0100_utc_on_the_last_sundays():
    start = days_from_civil(2026, 3, 29) * 86400 + 3600
    end = days_from_civil(2026, 10, 25) * 86400 + 3600
    assert not eu_summer(start - 1) and eu_summer(start)
    assert eu_summer(end - 1) and not eu_summer(end)


def test_flagless_timestamp_follows_the_calendar():
    assert dsmr_timestamp(b"161107190000", 0) == 1478541600  # November: UTC+1
    assert dsmr_timestamp(b"160707190000", 0) == 1467910800  # July: UTC+2


def test_placeholder_date_is_none():
    assert dsmr_timestamp(b"632525252525W", 0) is None
    assert dsmr_timestamp(b"000101000000W", 0) is None  # 2000-01-01: "no value" too
