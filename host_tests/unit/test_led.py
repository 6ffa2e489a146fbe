"""LED patterns: every row of the PRODUCT.md section 6 LED table and the button-hold feedback."""
import led
import status
from button import Button
from led import BLUE, GREEN, OFF, ORANGE, RED, WHITE, LedDriver, colour_at


def _seq(state, step_ms=250, until_ms=2000):
    return [colour_at(state, t) for t in range(0, until_ms, step_ms)]


def _alternating_1hz(state, first, second):
    # 1 Hz: each colour for 500 ms, a full cycle per second
    return _seq(state) == [first, first, second, second] * 2


def test_booting_is_red_steady():
    assert set(_seq(status.BOOTING)) == {RED}


def test_normal_is_green_steady():
    assert set(_seq(status.NORMAL)) == {GREEN}


def test_access_point_is_blue_blinking():
    assert _alternating_1hz(status.AP, BLUE, OFF)


def test_no_ip_is_green_orange_1hz():
    assert _alternating_1hz(status.NO_IP, GREEN, ORANGE)


def test_no_p1_is_red_green_1hz():
    assert _alternating_1hz(status.NO_P1, RED, GREEN)


def test_ap_without_p1_is_blue_red_1hz():
    assert _alternating_1hz(status.AP_NO_P1, BLUE, RED)


def test_no_p1_no_ip_is_red_orange_1hz():
    assert _alternating_1hz(status.NO_P1_NO_IP, RED, ORANGE)


def test_every_device_state_has_its_own_pattern():
    states = (status.BOOTING, status.NORMAL, status.AP, status.NO_IP, status.NO_P1,
              status.AP_NO_P1, status.NO_P1_NO_IP) + status.HOLD_STATES[1:]
    seqs = [tuple(_seq(s, 125)) for s in states]
    assert len(set(seqs)) == len(states)


def test_hold_feedback_patterns():
    assert set(_seq(status.HOLD_SHORT)) == {WHITE}
    assert set(_seq(status.HOLD_NONE)) == {OFF}
    assert _seq(status.HOLD_AP, 125, 500) == [BLUE, OFF, BLUE, OFF]
    assert _seq(status.HOLD_FACTORY, 125, 500) == [RED, OFF, RED, OFF]


def test_unknown_state_shows_red():
    assert colour_at("nonsense", 700) == RED


class _Led:
    def __init__(self):
        self.writes = []

    def set(self, r, g, b):
        self.writes.append((r, g, b))


def test_pattern_restarts_on_state_change():
    hw = _Led()
    state = [status.NO_P1]
    drv = LedDriver(hw, lambda: state[0])
    drv.step(0)
    drv.step(600)
    assert hw.writes[-1] == GREEN
    state[0] = status.NO_IP
    drv.step(600)
    assert hw.writes[-1] == GREEN                     # new state begins with its first colour
    drv.step(1100)
    assert hw.writes[-1] == ORANGE


def test_driver_writes_only_on_change():
    hw = _Led()
    state = [status.NO_P1]
    drv = LedDriver(hw, lambda: state[0])
    for t in range(0, 1000, 50):
        drv.step(t)
    assert hw.writes == [RED, GREEN]
    state[0] = status.NORMAL
    for t in range(1000, 2000, 50):
        drv.step(t)
    assert hw.writes == [RED, GREEN]                  # green already shown


def test_button_hold_shows_each_threshold_on_the_led():
    hw = _Led()
    b = Button(None)
    drv = LedDriver(hw, lambda: status.device_state(False, True, True, False, b.hold))
    seen = {}
    b.update(False, 0)
    for t in range(0, 10500, 50):
        b.update(True, 1000 + t)
        drv.step(1000 + t)
        seen[t] = drv.shown
    assert seen[0] == GREEN            # not yet debounced
    assert seen[100] == WHITE          # pressed: release would reconnect
    assert seen[2000] == OFF           # 2 s: release would do nothing
    assert seen[5000] == BLUE          # 5 s: access point
    assert seen[10000] == RED          # 10 s: factory reset


def test_identify_blinks_white_over_the_state_then_gives_it_back():
    hw = _Led()
    drv = LedDriver(hw, lambda: status.NORMAL)
    drv.step(1000)
    assert drv.identify(1000) == 0
    shown = []
    for t in range(1000, 1000 + drv.identify_ms, 250):
        drv.step(t)
        shown.append(drv.shown)
    assert shown[:4] == [WHITE, OFF, WHITE, OFF] and set(shown) == {WHITE, OFF}
    drv.step(1000 + drv.identify_ms)
    assert drv.shown == GREEN


def test_identify_is_rate_limited():
    drv = LedDriver(_Led(), lambda: status.NORMAL)
    assert drv.identify(0) == 0
    assert drv.identify(1000) == (drv.identify_every_ms - 1000) // 1000
    assert drv.identify(drv.identify_every_ms) == 0
