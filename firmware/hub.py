"""The hub: the latest reading and the gateway's shared state, in one place.

The P1 reader publishes each valid telegram here; services (Modbus, MQTT, web,
raw stream) read ``hub.reading`` or wait for the next one. A reading is swapped
in whole, so a consumer sees one telegram or the next, never a mix.
"""
import asyncio

from micropython import const

from clock import ticks_diff, ticks_ms

# ESP32 ticks wrap: ticks_diff is only meaningful within 2**29 ms (6 days), after
# which an old telegram would look new again. Ages are polled every second, so
# a telegram older than an hour is declared lost long before that can happen.
_LOST_MS = const(3600000)
_RHYTHM_MS = const(10000)
_BURST_MS = const(500)  # closer than this, telegrams came out of a buffer, not at the meter's pace


def rhythm_ms(interval_ms):
    """The meter's telegram interval for staleness rules: 1 s (DSMR 5) or 10 s.

    Before it is measured, assume the slow one; a longer measured gap is an
    outage, not the meter's rhythm, so it never stretches a stale window.
    """
    if not interval_ms or interval_ms <= 0 or interval_ms > _RHYTHM_MS:
        return _RHYTHM_MS
    return interval_ms


class Hub:
    def __init__(self, config, identity, clock=ticks_ms):
        self.config = config          # dict, Xemex-shaped (see config.py)
        self.identity = identity      # dict: serial, ssid, wpa_key, api_password
        self.clock = clock            # () -> ms ticks; injected for tests
        self.reading = None           # latest canonical reading (reading.py), or None
        self.raw = b""                # its raw telegram bytes
        self.seq = 0                  # count of valid telegrams published
        self.last_ms = None           # clock() when the last valid telegram arrived
        self.interval_ms = None       # the meter's measured rhythm (1 s DSMR 5, 10 s older)
        self.counters = None          # the framer's counters object, set by the reader
        self.status = {}              # per-service status dicts: "net", "mqtt", "modbus", ...
        self.bind = "0.0.0.0"         # address services listen on (the sim: 127.0.0.1)
        self.config_path = None       # where config.json lives, for the web API to save
        self.netman = None            # the network manager, for reconnect/AP requests
        self.led = None               # the LED driver, for PUT /api/v1/identify
        self.restart = None           # app: restart() reboots the device after a moment
        self._gap_ms = None           # the gap before the last telegram
        self._event = asyncio.Event()
        self._up_ms = 0               # uptime, folded from ticks (which wrap)
        self._up_last = clock()

    def publish(self, reading, raw):
        """Make ``reading`` (with its raw bytes) the current one and wake waiters."""
        now = self.clock()
        if self.last_ms is not None:
            gap = ticks_diff(now, self.last_ms)
            if gap >= _BURST_MS:
                # The rhythm is the shorter of the last two gaps: the telegram that ends
                # an outage must not stretch its own stale window to 3x the outage.
                self.interval_ms = gap if self._gap_ms is None else min(gap, self._gap_ms)
                self._gap_ms = gap
        self.reading = reading
        self.raw = raw
        self.last_ms = now
        self.seq += 1
        self._event.set()
        self._event.clear()

    async def next_reading(self, seq):
        """Wait until a telegram newer than ``seq`` is published; return hub.seq."""
        while self.seq == seq:
            await self._event.wait()
        return self.seq

    def uptime_s(self):
        """Seconds since boot. Call at least daily (the app does, every second): ticks wrap."""
        now = self.clock()
        self._up_ms += ticks_diff(now, self._up_last)
        self._up_last = now
        return self._up_ms // 1000

    def age_ms(self):
        """Milliseconds since the last valid telegram; None if none came within the hour."""
        if self.last_ms is None:
            return None
        age = ticks_diff(self.clock(), self.last_ms)
        if not 0 <= age <= _LOST_MS:
            self.last_ms = None
            return None
        return age
