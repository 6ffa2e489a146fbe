"""RGB LED patterns for the device states, and the task that drives the LED.

Integration (app.py):
    import led
    drv = led.LedDriver(hw.Led(board), st.state)   # st = status.Status(hub, btn)
    asyncio.create_task(drv.run())                 # 50 ms steps, writes only on change

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
from clock import sleep_ms, ticks_diff, ticks_ms

OFF = (0, 0, 0)
RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
ORANGE = (255, 96, 0)   # green at ~40 % of red reads as orange on RGB LEDs
WHITE = (160, 160, 160)  # dimmer than full white: three dies at 100 % draw ~60 mA

# state -> (ms per colour, colours); ms 0 = steady.
PATTERNS = {
    "booting": (0, (RED,)),
    "normal": (0, (GREEN,)),
    "ap": (500, (BLUE, OFF)),
    "no_ip": (500, (GREEN, ORANGE)),
    "no_p1": (500, (RED, GREEN)),
    "ap_no_p1": (500, (BLUE, RED)),
    "no_p1_no_ip": (500, (RED, ORANGE)),
    "hold_short": (0, (WHITE,)),
    "hold_none": (0, (OFF,)),
    "hold_ap": (125, (BLUE, OFF)),
    "hold_factory": (125, (RED, OFF)),
    "identify": (250, (WHITE, OFF)),
}
_UNKNOWN = (0, (RED,))


def colour_at(state, elapsed_ms):
    """The (r, g, b) of ``state``'s pattern ``elapsed_ms`` after it began."""
    step, colours = PATTERNS.get(state, _UNKNOWN)
    if not step:
        return colours[0]
    return colours[(elapsed_ms // step) % len(colours)]


class LedPattern:
    """Tracks when the current state began, so each pattern starts at its first colour."""

    def __init__(self):
        self.state = None
        self._since = 0

    def colour(self, state, now_ms):
        if state != self.state:
            self.state = state
            self._since = now_ms
        return colour_at(state, ticks_diff(now_ms, self._since))


class LedDriver:
    """Applies the pattern of ``state_fn()`` to a hardware ``Led``; writes only on change."""

    period_ms = 50
    identify_ms = 5000
    identify_every_ms = 15000

    def __init__(self, led, state_fn):
        self.led = led
        self.state_fn = state_fn
        self.pattern = LedPattern()
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
        c = self.pattern.colour(state, now_ms)
        if c != self.shown:
            self.led.set(c[0], c[1], c[2])
            self.shown = c

    async def run(self, clock=ticks_ms):
        while True:
            self.step(clock())
            await sleep_ms(self.period_ms)
