"""Status model: every row of the PRODUCT.md section 6 LED table, from plain inputs and via the hub."""
import status
from hub import Hub


class FakeClock:
    def __init__(self, t=0):
        self.t = t

    def __call__(self):
        return self.t


class FakeButton:
    hold = 0


def _hub(clock):
    return Hub({}, {"serial": "X"}, clock=clock)


def _net(ip=None, ap=False):
    return {"iface": "wifi", "ip": ip, "link": bool(ip), "ap": ap, "ssid": "home", "rssi": -60}


def test_booting_wins_over_everything_but_hold():
    assert status.device_state(True, True, True, True) == status.BOOTING
    assert status.device_state(True, False, False, False) == status.BOOTING


def test_normal_needs_p1_and_ip():
    assert status.device_state(False, True, True, False) == status.NORMAL


def test_ap_mode_with_p1_data():
    assert status.device_state(False, True, True, True) == status.AP
    assert status.device_state(False, True, False, True) == status.AP


def test_no_ip_address():
    assert status.device_state(False, True, False, False) == status.NO_IP


def test_no_p1_data():
    assert status.device_state(False, False, True, False) == status.NO_P1


def test_ap_mode_without_p1_data():
    assert status.device_state(False, False, False, True) == status.AP_NO_P1
    assert status.device_state(False, False, True, True) == status.AP_NO_P1


def test_no_p1_and_no_ip():
    assert status.device_state(False, False, False, False) == status.NO_P1_NO_IP


def test_hold_feedback_overrides_device_state():
    got = [status.device_state(True, False, False, False, h) for h in (1, 2, 3, 4)]
    assert got == [status.HOLD_SHORT, status.HOLD_NONE, status.HOLD_AP, status.HOLD_FACTORY]


def test_p1_fresh_up_to_three_intervals():
    assert status.p1_fresh(3000, 1000)
    assert not status.p1_fresh(3001, 1000)


def test_p1_fresh_assumes_10s_interval_until_measured():
    assert status.p1_fresh(30000, None)
    assert not status.p1_fresh(30001, None)


def test_p1_fresh_caps_a_long_measured_gap():
    assert not status.p1_fresh(30001, 120000)


def test_no_telegram_yet_is_no_p1_data():
    assert not status.p1_fresh(None, 1000)


def test_has_ip_requires_link_and_address():
    assert status.has_ip(_net("192.168.1.5"))
    assert not status.has_ip(_net(None))
    assert not status.has_ip({"ip": "0.0.0.0", "link": True})
    assert not status.has_ip({"ip": "192.168.1.5", "link": False})
    assert not status.has_ip(None)


def test_status_from_hub_follows_telegrams_and_network():
    clock = FakeClock(1000)
    hub = _hub(clock)
    st = status.Status(hub)
    assert st.state() == status.BOOTING
    st.booting = False
    assert st.state() == status.NO_P1_NO_IP
    hub.status["net"] = _net("192.168.1.5")
    assert st.state() == status.NO_P1
    hub.publish({}, b"")
    clock.t += 1000
    hub.publish({}, b"")           # interval now measured: 1 s
    assert st.state() == status.NORMAL
    clock.t += 3001                # more than 3 intervals without a telegram
    assert st.state() == status.NO_P1
    hub.publish({}, b"")
    hub.status["net"] = _net(None, ap=True)
    assert st.state() == status.AP
    clock.t += 10000
    assert st.state() == status.AP_NO_P1
    hub.status["net"] = _net(None)
    hub.publish({}, b"")
    assert st.state() == status.NO_IP


def test_status_shows_button_hold_level():
    hub = _hub(FakeClock())
    btn = FakeButton()
    st = status.Status(hub, btn)
    st.booting = False
    btn.hold = 3
    assert st.state() == status.HOLD_AP
