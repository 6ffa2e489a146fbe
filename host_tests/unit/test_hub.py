from hub import Hub


class _Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


def test_age_counts_from_the_last_telegram():
    clock = _Clock()
    hub = Hub({}, {}, clock)
    assert hub.age_ms() is None
    hub.publish({"power_w": 1}, b"/x")
    clock.ms = 2500
    assert hub.age_ms() == 2500


def test_a_telegram_older_than_an_hour_is_lost_before_ticks_can_wrap():
    clock = _Clock()
    hub = Hub({}, {}, clock)
    hub.publish({"power_w": 1}, b"/x")
    clock.ms = 3600001
    assert hub.age_ms() is None
    clock.ms = 1000  # what a wrapped tick counter would look like: still lost
    assert hub.age_ms() is None


def test_uptime_keeps_counting_across_calls():
    clock = _Clock()
    hub = Hub({}, {}, clock)
    clock.ms = 1500
    assert hub.uptime_s() == 1
    clock.ms = 4000
    assert hub.uptime_s() == 4


def _telegrams(hub, clock, *gaps):
    for gap in gaps:
        clock.ms += gap
        hub.publish({"power_w": 1}, b"/x")


def test_the_telegram_after_an_outage_keeps_the_meters_rhythm():
    clock = _Clock()
    hub = Hub({}, {}, clock)
    _telegrams(hub, clock, 0, 1000, 1000, 9000)  # a 1 s meter, then a 9 s outage
    assert hub.interval_ms == 1000


def test_a_meter_that_sends_every_10_s_is_measured_as_such():
    clock = _Clock()
    hub = Hub({}, {}, clock)
    _telegrams(hub, clock, 0, 1000, 10000, 10000)  # e.g. another meter plugged in
    assert hub.interval_ms == 10000


def test_telegrams_parsed_back_to_back_from_a_buffer_are_not_the_rhythm():
    clock = _Clock()
    hub = Hub({}, {}, clock)
    _telegrams(hub, clock, 0, 1000, 3000, 2, 998)  # the loop was held up, then caught up
    assert hub.interval_ms == 998  # not 2
