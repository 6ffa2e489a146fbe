"""Button: debounce and the PRODUCT.md section 6 press table (short / 5 s / > 10 s), on a fake clock."""
import asyncio

import button
from _support import esp32_ticks_diff
from button import AP, FACTORY, SHORT, Button


def _press(b, t0, held_ms, step=10):
    """Hold the button from t0 for held_ms (sampled every step ms); return (events, end time)."""
    events = []
    t = t0
    while t < t0 + held_ms:
        ev = b.update(True, t)
        if ev:
            events.append(ev)
        t += step
    end = t0 + held_ms
    while t < end + 200:
        ev = b.update(False, t)
        if ev:
            events.append(ev)
        t += step
    return events, t


def _event_for(held_ms):
    b = Button(None)
    b.update(False, 0)
    events, _ = _press(b, 100, held_ms)
    return events


def test_short_press_reconnects():
    assert _event_for(120) == [SHORT]


def test_press_just_under_2s_is_short():
    assert _event_for(1990) == [SHORT]


def test_release_between_2_and_5s_does_nothing():
    assert _event_for(2000) == []
    assert _event_for(4990) == []


def test_hold_5s_is_access_point():
    assert _event_for(5000) == [AP]
    assert _event_for(9990) == [AP]


def test_hold_over_10s_is_factory_reset():
    assert _event_for(10000) == [FACTORY]
    assert _event_for(30000) == [FACTORY]


def test_nothing_fires_while_still_held():
    b = Button(None)
    b.update(False, 0)
    evs = [b.update(True, t) for t in range(10, 20000, 10)]
    assert [e for e in evs if e] == []


def test_glitch_shorter_than_debounce_is_ignored():
    b = Button(None)
    b.update(False, 0)
    evs = [b.update(True, 100), b.update(True, 130), b.update(False, 140), b.update(False, 400)]
    assert evs == [None, None, None, None] and not b.down


def test_contact_bounce_does_not_split_a_press():
    b = Button(None)
    b.update(False, 0)
    evs = []
    for t, level in ((100, True), (105, False), (110, True), (115, False), (120, True)):
        evs.append(b.update(level, t))
    for t in range(130, 6000, 10):
        evs.append(b.update(True, t))
    for t, level in ((6000, False), (6004, True), (6008, False)):
        evs.append(b.update(level, t))
    for t in range(6010, 6200, 10):
        evs.append(b.update(False, t))
    assert [e for e in evs if e] == [AP]


def test_hold_time_counts_from_first_edge_not_debounce_end():
    b = Button(None)
    b.update(False, 0)
    b.update(True, 1000)
    b.update(True, 1000 + Button.debounce_ms)      # debounced down, press began at 1000
    b.update(False, 1000 + Button.short_ms)        # released exactly at 2 s
    assert b.update(False, 1000 + Button.short_ms + Button.debounce_ms) is None


def test_hold_level_marks_each_threshold():
    b = Button(None)
    b.update(False, 0)
    levels = {}
    for t in range(0, 11000, 10):
        b.update(True, 1000 + t)
        levels[t] = b.hold
    assert levels[100] == 1 and levels[1990] == 1
    assert levels[2000] == 2 and levels[4990] == 2
    assert levels[5000] == 3 and levels[9990] == 3
    assert levels[10000] == 4
    b.update(False, 13000)
    b.update(False, 13100)
    assert b.hold == 0


def test_tunables_are_class_attributes():
    class Quick(Button):
        short_ms = 200
        ap_ms = 500
        factory_ms = 1000
    b = Quick(None)
    b.update(False, 0)
    events, _ = _press(b, 100, 600)
    assert events == [AP]


class _Pin:
    def __init__(self, levels):
        self.levels = levels

    def pressed(self):
        if not self.levels:
            raise KeyboardInterrupt  # stops run()
        return self.levels.pop(0)


def test_run_polls_the_hw_button_and_reports_events():
    t = [0]

    def clock():
        t[0] += 100
        return t[0]

    got = []
    b = Button(_Pin([False, True, True, True, False, False, False]))
    try:
        asyncio.run(b.run(got.append, clock))
    except KeyboardInterrupt:
        pass
    assert got == [button.SHORT]


def test_run_steps_the_led_at_every_poll():
    t = [0]

    def clock():
        t[0] += 20
        return t[0]

    steps = []
    b = Button(_Pin([False, False, False]))
    try:
        asyncio.run(b.run(lambda ev: None, clock, steps.append))
    except KeyboardInterrupt:
        pass
    assert steps == [20, 40, 60]


def test_a_press_held_past_the_tick_counters_span_stays_a_factory_reset():
    # A jammed button: an ESP32's ticks_diff wraps after 2**29 ms (6 days).
    real = button.ticks_diff
    button.ticks_diff = esp32_ticks_diff
    try:
        b = Button(None)
        b.update(False, 0)
        events = [b.update(True, t) for t in (100, 200, 11000, (1 << 29) + 100)]
        assert b.hold == 4
        events += [b.update(False, t) for t in ((1 << 29) + 200, (1 << 29) + 300)]
    finally:
        button.ticks_diff = real
    assert [e for e in events if e] == [FACTORY]
