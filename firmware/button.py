"""The one button: polled, debounced, classified by how long it was held.

Integration (app.py):
    import button
    btn = button.Button(hw.Button(board))
    asyncio.create_task(btn.run(on_event, each=led_driver.step))   # on_event(ev), ev in button.SHORT/AP/FACTORY
    # SHORT -> netman.request_reconnect(); AP -> netman.request_ap();
    # FACTORY -> erase config.json (identity.json stays), then hw.reset()
    st = status.Status(hub, btn)             # shows btn.hold feedback on the LED

Actions (PRODUCT.md section 6), all fired on release so the LED feedback
(led.py hold_* patterns) tells the user what letting go will do:

    held < 2 s         SHORT     reconnect to the network
    held 2 .. 5 s      nothing   (the user changed their mind)
    held 5 .. 10 s     AP        access-point mode
    held >= 10 s       FACTORY   factory reset: config erased, identity kept

Polled, never IRQ-driven (Peter Hinch's micropython-async style): a level must
stay stable for ``debounce_ms`` before it counts; the hold time is measured
from the first edge of the press to the first edge of the release. Tunables are
class attributes.
"""
from clock import sleep_ms, ticks_diff, ticks_ms

SHORT = "short"
AP = "ap"
FACTORY = "factory"
_ON_RELEASE = (None, SHORT, None, AP, FACTORY)  # by hold level


class Button:
    debounce_ms = 50
    short_ms = 2000    # shorter: SHORT
    ap_ms = 5000       # from here: AP
    factory_ms = 10000  # from here: FACTORY
    poll_ms = 20

    def __init__(self, pin):
        self.pin = pin            # hw Button (``pressed() -> bool``); only run() uses it
        self.down = False         # debounced level
        self.hold = 0             # 0 released, 1 < 2 s, 2 2..5 s, 3 5..10 s, 4 >= 10 s
        self._raw = False
        self._edge_ms = 0         # when the raw level last changed
        self._press_ms = 0        # first edge of the current press

    def update(self, pressed, now_ms):
        """Feed one raw sample; return SHORT, AP, FACTORY (on release) or None."""
        pressed = bool(pressed)
        if pressed != self._raw:
            self._raw = pressed
            self._edge_ms = now_ms
        if pressed != self.down and ticks_diff(now_ms, self._edge_ms) >= self.debounce_ms:
            self.down = pressed
            if pressed:
                self._press_ms = self._edge_ms
            else:
                level = max(self.hold, self._level(ticks_diff(self._edge_ms, self._press_ms)))
                self.hold = 0
                return _ON_RELEASE[level]
        if self.down:
            # Held until now, or until the release edge being debounced. Levels only
            # rise: a press held past 2**29 ms (6 days on an ESP32) wraps ticks_diff,
            # and must not fall back to a short press.
            end = now_ms if self._raw else self._edge_ms
            self.hold = max(self.hold, self._level(ticks_diff(end, self._press_ms)))
        return None

    def _level(self, held_ms):
        if held_ms < self.short_ms:
            return 1
        if held_ms < self.ap_ms:
            return 2
        if held_ms < self.factory_ms:
            return 3
        return 4

    async def run(self, on_event, clock=ticks_ms, each=None):
        """Poll the hw button every ``poll_ms`` and call ``on_event(ev)`` per action, and
        ``each(now_ms)`` every poll: the LED driver's step, so one task drives both."""
        while True:
            now = clock()
            ev = self.update(self.pin.pressed(), now)
            if ev:
                on_event(ev)
            if each is not None:
                each(now)
            await sleep_ms(self.poll_ms)
