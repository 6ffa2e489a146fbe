"""Boot counter and safe mode: crash loops end in safe mode, a stable run clears the count."""
import os

import safemode
from safemode import LIMIT, boot, clear

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
    assert boot(d + "/") is False
    assert _stored() == "1"


def test_quick_crash_loop_ends_in_safe_mode():
    d = _fresh_dir()
    results = [boot(d) for _ in range(LIMIT + 1)]
    assert results == [False] * LIMIT + [True]


def test_the_boot_after_safe_mode_tries_the_full_firmware_however_it_came():
    d = _fresh_dir()
    results = [boot(d) for _ in range(LIMIT + 2)]
    assert results == [False] * LIMIT + [True, False]


def test_stable_run_clears_the_counter():
    d = _fresh_dir()
    for _ in range(LIMIT):
        boot(d)
    assert _stored() == str(LIMIT)
    clear(d)
    assert _stored() == "0" and boot(d) is False


def test_intentional_reset_is_not_a_crash():
    d = _fresh_dir()
    for _ in range(10):
        assert boot(d) is False
        clear(d)


def test_damaged_counter_file_counts_as_first_boot():
    d = _fresh_dir()
    with open(d + "/bootcount", "w") as f:
        f.write("\xff garbage")
    assert boot(d) is False and _stored() == "1"


def test_unwritable_state_dir_does_not_stop_the_boot():
    assert boot("/nonexistent-p1gw-dir") is False
