"""Plausibility: the formats a meter sends and the bounds of a reading (plausible.py, via dsmr)."""
import dsmr
import plausible
from _support import make_telegram, raises, telegram, telegram_names
from plausible import Implausible


def _parse(*lines):
    """The reading of a telegram with ``lines`` and a right CRC, bounds checked; or the reason it is implausible."""
    try:
        r = dsmr.parse(make_telegram(list(lines)), None, False)
    except Implausible as e:
        return e.args[0]
    return plausible.bounds(r) or r


def test_every_real_telegram_is_plausible():
    for name in telegram_names():
        t = telegram(name)
        r = dsmr.parse(t, None, t.rstrip()[-1:] == b"!")
        assert plausible.bounds(r) is None, name
        assert plausible.backwards(r, r) is None, name


def test_values_no_meter_sends_are_implausible():
    for line in (b"1-0:1.7.0(99999.999*kW)",       # 5 whole digits of kW
                 b"1-0:32.7.0(-230.0*V)",
                 b"1-0:32.7.0(99999.9*V)",
                 b"1-0:31.7.0(9999*A)",
                 b"1-0:31.7.0(" + b"1" * 60 + b"*A)",
                 b"1-0:1.7.0(" + b"9" * 400 + b"*kW)",
                 b"1-0:14.7.0(-50.00*Hz)",
                 b"1-0:1.8.1(-000001.000*kWh)",
                 b"1-0:1.8.1(nan*kWh)",
                 b"1-0:32.7.0(230.0*kV)",           # a unit no meter uses for a voltage
                 b"1-0:31.7.0(005)",                # no unit
                 b"1-0:21.7.0(00.100*kWh)"):
        got = _parse(b"1-0:2.7.0(00.000*kW)", line)
        assert type(got) is str, line


def test_bounds_refuse_what_the_format_lets_through():
    for line, field in ((b"1-0:32.7.0(0301.0*V)", "voltage_l1_v"),
                        (b"1-0:51.7.0(201*A)", "current_l2_a"),
                        (b"1-0:61.7.0(060.001*kW)", "power_l3_w"),
                        (b"1-0:1.7.0(180001*W)", "power_import_w"),
                        (b"1-0:14.7.0(44.99*Hz)", "frequency_hz"),
                        (b"1-0:14.7.0(0*Hz)", "frequency_hz")):
        assert _parse(line) == field, line


def test_the_edges_of_the_bounds_are_plausible():
    r = _parse(b"1-0:32.7.0(300.0*V)", b"1-0:32.7.0(0.0*V)", b"1-0:31.7.0(200*A)",
               b"1-0:21.7.0(60.000*kW)", b"1-0:22.7.0(00.000*kW)", b"1-0:1.7.0(180000*W)",
               b"1-0:14.7.0(45.0*Hz)", b"1-0:1.8.1(0000000.000*kWh)")
    assert type(r) is dict, r


def test_an_easymeter_signed_power_stays_plausible():
    r = _parse(b"1-0:1.7.0*255(-001000.00*W)", b"1-0:21.7.0*255(-001000.00*W)")
    assert type(r) is dict and r["power_w"] == -1000.0


def test_a_counter_running_back_is_implausible_forward_is_not():
    a = _parse(b"1-0:1.8.1(000100.000*kWh)", b"0-1:24.1.0(003)", b"0-1:24.2.1(170102161005W)(00010.000*m3)")
    same = _parse(b"1-0:1.8.1(000099.999*kWh)", b"0-1:24.1.0(003)", b"0-1:24.2.1(170102161005W)(00010.000*m3)")
    back = _parse(b"1-0:1.8.1(000099.998*kWh)", b"0-1:24.1.0(003)", b"0-1:24.2.1(170102161005W)(00010.000*m3)")
    gas = _parse(b"1-0:1.8.1(000100.000*kWh)", b"0-1:24.1.0(003)", b"0-1:24.2.1(170102161005W)(00009.990*m3)")
    assert plausible.backwards(same, a) is None          # 0.001 kWh of slack
    assert plausible.backwards(back, a) == "energy_import_t1"
    assert plausible.backwards(gas, a) == "gas"
    assert plausible.backwards(a, back) is None
    assert plausible.backwards(back, None) is None       # the first telegram has nothing to compare


def test_a_counter_compares_across_finer_decimals_and_another_meter_resets_it():
    a = _parse(b"1-0:1.8.0(000100.000*kWh)")
    finer = _parse(b"1-0:1.8.0(00000099.9000000*kWh)")
    assert finer["counter_decimals"] == 7
    assert plausible.backwards(finer, a) == "energy_import"
    other = _parse(b"0-0:96.1.1(4530303334303036393938343132373137)", b"1-0:1.8.0(000001.000*kWh)")
    assert plausible.backwards(other, a) is None


def test_format_check_gives_the_unit_shift():
    assert plausible.check_format(plausible.POWER, b"*kW)", 0, 4, 2, 3) == 3
    assert plausible.check_format(plausible.POWER, b"*W)", 0, 3, 9, 0) == 0
    assert raises(Implausible, plausible.check_format, plausible.POWER, b"*W)", 0, 3, 10, 0)
    assert raises(Implausible, plausible.check_format, plausible.POWER, b"*kvarh)", 0, 7, 1, 0)
    assert raises(Implausible, plausible.check_format, plausible.POWER, b")", 0, 1, 1, 0)


def test_check_keeps_the_last_reading_within_bounds_as_the_baseline():
    a = _parse(b"1-0:1.8.1(000100.000*kWh)")
    dip = _parse(b"1-0:1.8.1(000050.000*kWh)")
    wild = dsmr.parse(make_telegram([b"1-0:1.8.1(000200.000*kWh)", b"1-0:32.7.0(-230.0*V)"]))
    why, base = plausible.check(a, None)
    assert why is None and base is a
    why, base = plausible.check(wild, base)        # out of bounds: not a baseline
    assert why == "voltage_l1_v" and base is a
    why, base = plausible.check(dip, base)         # one dip is refused ...
    assert why == "energy_import_t1" and base is dip
    why, base = plausible.check(dip, base)         # ... a meter replaced costs one telegram
    assert why is None
