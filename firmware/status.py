"""Device state for the LED: one of the PRODUCT.md section 6 rows, derived from plain inputs.

Integration (app.py):
    import status
    st = status.Status(hub, btn)     # reads hub.age_ms(), hub.interval_ms, hub.status["net"], btn.hold
    st.booting = False               # app clears it once its tasks are started
    led_driver = led.LedDriver(hw_led, st.state)   # its step calls st.state() at each 20 ms button poll
    hub.status["device"] = {"state": st.state()}   # e.g. for the status API

Pure logic: no clock reads of its own; time enters through the hub's injected
clock (``hub.age_ms()``), so tests step a fake clock.
"""
from micropython import const

from hub import rhythm_ms

# Device states: strings so they go straight into the status JSON.
BOOTING = "booting"
NORMAL = "normal"
AP = "ap"
NO_IP = "no_ip"
NO_P1 = "no_p1"
AP_NO_P1 = "ap_no_p1"
NO_P1_NO_IP = "no_p1_no_ip"

# Button-hold feedback states (button.py's hold levels 1..4), shown instead of
# the device state while the button is down.
HOLD_SHORT = "hold_short"        # < 2 s: release = reconnect
HOLD_NONE = "hold_none"          # 2..5 s: release = nothing
HOLD_AP = "hold_ap"              # 5..10 s: release = access-point mode
HOLD_FACTORY = "hold_factory"    # >= 10 s: release = factory reset
HOLD_STATES = (None, HOLD_SHORT, HOLD_NONE, HOLD_AP, HOLD_FACTORY)

_STALE_INTERVALS = const(3)


def p1_fresh(age_ms, interval_ms):
    """True while the last valid telegram is at most 3 telegram intervals old."""
    return age_ms is not None and age_ms <= _STALE_INTERVALS * rhythm_ms(interval_ms)


def has_ip(net):
    """True if the client interface (Wi-Fi or Ethernet) has link and an address."""
    if not net:
        return False
    ip = net.get("ip")
    return bool(net.get("link")) and bool(ip) and ip != "0.0.0.0"


def device_state(booting, p1_ok, ip_ok, ap, hold=0):
    """The state to show; hold feedback wins, then booting, then the AP rows."""
    if hold:
        return HOLD_STATES[hold]
    if booting:
        return BOOTING
    if ap:
        return AP if p1_ok else AP_NO_P1
    if p1_ok:
        return NORMAL if ip_ok else NO_IP
    return NO_P1 if ip_ok else NO_P1_NO_IP


class Status:
    """The device state as seen through the hub; ``state()`` is cheap enough to poll."""

    def __init__(self, hub, button=None):
        self.hub = hub
        self.button = button  # button.Button (its ``hold`` level) or None
        self.booting = True

    def state(self):
        hub = self.hub
        net = hub.status.get("net")
        return device_state(
            self.booting,
            p1_fresh(hub.age_ms(), hub.interval_ms),
            has_ip(net),
            bool(net and net.get("ap")),
            self.button.hold if self.button else 0,
        )
