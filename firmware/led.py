"""RGB LED patterns for the device states, and the task that drives the LED.

Integration (app.py):
    import led
    drv = led.LedDriver(hw.Led(board), st.state)   # st = status.Status(hub, btn)
    btn.run(on_event, each=drv.step)               # steps with the button's 20 ms poll, writes only on change

Patterns (PRODUCT.md section 6; "1 Hz alternating" = each colour 500 ms, one
cycle per second; "blinking" = 500 ms on, 500 ms off):

    booting          red steady
    normal           green steady
    ap               blue / off         1 Hz
    no_ip            green / orange     1 Hz
    no_p1            red / green        1 Hz
    ap_no_p1         blue / red         1 Hz
    no_p1_no_ip      red / orange       1 Hz

While the button is held (feedback for what a release would do now):

    hold_short       white steady         < 2 s: reconnect
    hold_none        off                  2-5 s: nothing
    hold_ap          blue / off   4 Hz    5-10 s: access-point mode
    hold_factory     red / off    4 Hz    >= 10 s: factory reset

Identify (``PUT /api/v1/identify``, as on a HomeWizard meter): white / off at
2 Hz for ``identify_ms`` over whatever the state shows, so an installer finds
the device in a meter cupboard. Anyone on the LAN may ask, so a new blink
starts at most every ``identify_every_ms``: the state shows in between.

A pattern starts with its first colour when the state changes, so a threshold
shows the instant it is reached. An unknown state shows red steady.
"""
from clock import ticks_diff

OFF = (0, 0, 0)
RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
ORANGE = (255, 96, 0)   # green at ~40 % of red reads as orange on RGB LEDs
WHITE = (160, 160, 160)  # dimmer than full white: three dies at 100 % draw ~60 mA

_PALETTE = (OFF, RED, GREEN, BLUE, ORANGE, WHITE)
# One row of _TABLE per state of _STATES: ms per colour / 125 (0 = steady), then
# its two colours as _PALETTE indexes (a steady pattern shows the first). One
# bytes constant instead of a dict of tuples: a fraction of the heap.
_STATES = ("booting", "normal", "ap", "no_ip", "no_p1", "ap_no_p1", "no_p1_no_ip",
           "hold_short", "hold_none", "hold_ap", "hold_factory", "identify")
_TABLE = (b"\x00\x01\x01" b"\x00\x02\x02" b"\x04\x03\x00" b"\x04\x02\x04" b"\x04\x01\x02" b"\x04\x03\x01"
          b"\x04\x01\x04" b"\x00\x05\x05" b"\x00\x00\x00" b"\x01\x03\x00" b"\x01\x01\x00" b"\x02\x05\x00")


def colour_at(state, elapsed_ms):
    """The (r, g, b) of ``state``'s pattern ``elapsed_ms`` after it began; red steady if unknown."""
    i = _STATES.index(state) * 3 if state in _STATES else 0
    step = _TABLE[i] * 125
    return _PALETTE[_TABLE[i + 1 + (step and (elapsed_ms // step) & 1)]]


class LedDriver:
    """Applies the pattern of ``state_fn()`` to a hardware ``Led`` at each ``step``; writes only on change."""

    identify_ms = 5000
    identify_every_ms = 15000

    def __init__(self, led, state_fn):
        self.led = led
        self.state_fn = state_fn
        self.state = None         # the state shown, and since when: a pattern starts at its first colour
        self._since = 0
        self.shown = None
        self._identify_ms = None   # when the last identify blink began

    def identify(self, now_ms):
        """Start the identify blink; 0 if started, else the seconds until one may start."""
        since = self._identify_ms
        if since is not None:
            wait = self.identify_every_ms - ticks_diff(now_ms, since)
            if wait > 0:
                return (wait + 999) // 1000
        self._identify_ms = now_ms
        return 0

    def step(self, now_ms):
        state = self.state_fn()
        since = self._identify_ms
        if since is not None:
            if ticks_diff(now_ms, since) < self.identify_ms:
                state = "identify"
            elif ticks_diff(now_ms, since) >= self.identify_every_ms:
                self._identify_ms = None  # ticks wrap: forget it before it could look new
        if state != self.state:
            self.state = state
            self._since = now_ms
        c = colour_at(state, ticks_diff(now_ms, self._since))
        if c != self.shown:
            self.led.set(c[0], c[1], c[2])
            self.shown = c
