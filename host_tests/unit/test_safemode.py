"""Boot counter and safe mode: crash loops end in safe mode, a stable run clears the count."""
import asyncio
import os

import safemode
from safemode import BootCounter

_DIR = "/tmp/p1gw-test-safemode"


def _fresh_dir():
    try:
        os.mkdir(_DIR)
    except OSError:
        pass
    try:
        os.remove(_DIR + "/bootcount")
    except OSError:
        pass
    return _DIR


def _stored():
    with open(_DIR + "/bootcount") as f:
        return f.read().strip()


def test_parse_count_tolerates_damage():
    assert safemode.parse_count("2\n") == 2
    assert safemode.parse_count("") == 0
    assert safemode.parse_count("x\x00") == 0
    assert safemode.parse_count("-5") == 0


def test_first_boot_is_normal_and_counted():
    d = _fresh_dir()
    bc = BootCounter(d + "/")
    assert bc.boot() is False
    assert _stored() == "1"


def test_quick_crash_loop_ends_in_safe_mode():
    d = _fresh_dir()
    results = [BootCounter(d).boot() for _ in range(BootCounter.limit + 1)]
    assert results == [False] * BootCounter.limit + [True]


def test_the_boot_after_safe_mode_tries_the_full_firmware_however_it_came():
    d = _fresh_dir()
    results = [BootCounter(d).boot() for _ in range(BootCounter.limit + 2)]
    assert results == [False] * BootCounter.limit + [True, False]


def test_stable_run_clears_the_counter():
    d = _fresh_dir()
    for _ in range(BootCounter.limit - 1):
        BootCounter(d).boot()
    bc = BootCounter(d)
    bc.boot()
    bc.update(BootCounter.stable_ms - 1)
    assert _stored() == str(BootCounter.limit)
    bc.update(BootCounter.stable_ms)
    assert _stored() == "0" and BootCounter(d).boot() is False


def test_intentional_reset_is_not_a_crash():
    d = _fresh_dir()
    for _ in range(10):
        bc = BootCounter(d)
        assert bc.boot() is False
        bc.clean_reset()


def test_damaged_counter_file_counts_as_first_boot():
    d = _fresh_dir()
    with open(d + "/bootcount", "w") as f:
        f.write("\xff garbage")
    bc = BootCounter(d)
    assert bc.boot() is False and bc.count == 1


def test_unwritable_state_dir_does_not_stop_the_boot():
    bc = BootCounter("/nonexistent-p1gw-dir")
    assert bc.boot() is False


def test_run_clears_after_stable_uptime():
    d = _fresh_dir()
    bc = BootCounter(d)
    bc.boot()
    bc.check_ms = 0
    t = [0]

    def clock():
        t[0] += 60000
        return t[0]

    asyncio.run(bc.run(clock))
    assert bc.stable and _stored() == "0"
