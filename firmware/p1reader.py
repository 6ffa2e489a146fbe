"""The meter driver: UART bytes -> (Smarty decryption) -> framer -> parser -> hub.

A telegram that parses but carries a value no meter sends (plausible.py) is
counted as ``implausible`` and not published: the last good reading stays
until it goes stale. One read buffer serves every chunk; per valid telegram it allocates only the
reading dict. The raw bytes the hub keeps are copied to the end of the frame
buffer, where the next telegram is framed in front of them: no buffer of their
own while two telegrams fit in it (a 4 KB buffer; a DSMR 5 telegram is ~900
bytes). A telegram that grows into them first moves them into a buffer of their
own, kept from then on for telegrams of that size: a meter sends telegrams of
nearly one size, so a fragmented heap never has to find ~1 KB in one piece
every second.

Two protocols share the port: P1 (DSMR: dsmr.py) and French meters' TIC (tic.py);
each parser is imported only while a line of its protocol is tried or used. ``P1.Protocol`` and ``P1.Baud`` pick the
line settings to try from ``LINES``; with more than one ("auto") the reader tries
them in that order, each for its ``window`` of silence, until one gives a
valid telegram, and again whenever the meter falls silent that long (a telegram
framed to its checksum that fails it only was damaged: no reason to switch).
"""
from binascii import unhexlify

from micropython import const

import plausible
from clock import ticks_diff, ticks_ms
from framer import Framer

_BUF_LEN = const(256)
_RAW_SLACK = const(64)  # telegrams grow a little (a longer text message, a new M-Bus reading)

# The line settings a meter can use, in the order "auto" tries them:
# (protocol, P1.Baud, (baud, bits, parity), window ms). Parity 0 is even, as
# machine.UART counts it. A window is how long a silent line is given: DSMR 4
# and 2.2/3 send every 10 s (25 s: a telegram that started before the switch
# and the next), a Linky sends frame after frame (at 1200 baud one takes ~2 s).
LINES = (
    ("dsmr", "115200", (115200, 8, None), 25000),
    ("dsmr", "9600", (9600, 7, 0), 25000),
    ("tic", "9600", (9600, 7, 0), 10000),
    ("tic", "1200", (1200, 7, 0), 10000),
)


class P1Reader:
    """Reads the meter's port and publishes each valid telegram to the hub."""

    def __init__(self, hub, port, clock=ticks_ms, log=None):
        self.hub = hub
        self.port = port
        self.clock = clock
        self.log = log  # log(status, reading_or_reason) per telegram, when tracing
        p1 = hub.config["P1"]
        self._dsmr = Framer(self._on_telegram)  # its buffer and counters serve TIC too
        self.framer = self._dsmr
        self.counters = self._dsmr.counters
        self.counters["parse_error"] = 0
        self.counters["implausible"] = 0
        self._baseline = None  # the last reading within bounds (plausible.check)
        hub.counters = self.counters
        self._passthrough = p1["Passthrough"]
        self.smarty = None
        if p1["SmartyKey"]:
            from smarty import SmartyDecoder
            self.smarty = SmartyDecoder(unhexlify(p1["SmartyKey"]), unhexlify(p1["SmartyAad"]),
                                        self.framer.feed)
        # The LINES that P1.Protocol and P1.Baud allow (a Smarty meter: 115200 only);
        # config_check refuses a choice that leaves none.
        proto = p1["Protocol"]
        baud = "115200" if p1["SmartyKey"] else p1["Baud"]
        lines = []
        for ln in LINES:
            if proto in ("auto", ln[0]) and baud in ("auto", ln[1]):
                lines.append(ln)
        self._lines = lines or LINES[:1]
        self._line = 0
        self._since = clock()  # last telegram framed whole, or last serial switch
        self._buf = bytearray(_BUF_LEN)
        self._raw = bytearray(0)  # the hub's copy of the last telegram when not in the frame buffer
        self._status = hub.status["p1"] = {}
        self._use(0)

    def _use(self, k):
        """Switch to line ``k`` of the lines to try: its UART settings and its framer."""
        self._line = k
        proto, _, self.serial, _ = self._lines[k]
        self._unstash()  # the other framer knows nothing of what the buffer's end holds
        self._dsmr.reset()
        if proto == "tic":
            import tic
            self.framer = tic.Framer(self._on_telegram, self._dsmr.buf, self.counters)
            self._parse = tic.parse
        else:
            import dsmr
            self.framer = self._dsmr
            self._parse = dsmr.parse
            self._status.pop("tic", None)
        # The other protocol's parser is dropped (the stock layout: its code is heap).
        import sys
        sys.modules.pop("dsmr" if proto == "tic" else "tic", None)
        baud, bits, parity = self.serial
        # A P1 line is inverted (open collector); a TIC demodulator's output is not.
        self.port.configure(baud, bits, parity, proto == "dsmr")
        self._status["protocol"] = proto
        self._status["serial"] = "%d %d%s1" % (baud, bits, "N" if parity is None else "E")
        self._status["smarty"] = self.smarty is not None
        if self.smarty is not None:
            self._status["smarty_counters"] = self.smarty.counters

    def feed(self, buf, n):
        """Process ``n`` bytes that just arrived in ``buf``."""
        if self._passthrough:
            self.port.write(memoryview(buf)[:n])
        if self.smarty is None:
            self.framer.feed(buf, n)
        else:
            self.smarty.feed(memoryview(buf)[:n])

    def _on_telegram(self, status, crc, buf, n):
        if status == "full":
            self._unstash()
            return
        if status == "crc_mismatch":
            # Framed to its checksum at this speed: damaged on the line, not the wrong line.
            self._since = self.clock()
        if status != "valid":
            if self.log:
                self.log(status, self.counters)
            return
        try:
            reading = self._parse(buf, n, crc != "ok")  # a matching checksum: skip odd lines
            why, self._baseline = plausible.check(reading, self._baseline)
        except plausible.Implausible as e:
            why = e.args[0]
        except Exception as e:  # ValueError for bad input; anything else is counted, never fatal
            self.counters["parse_error"] += 1
            if self.log:
                self.log("parse_error", "%s: %s" % (type(e).__name__, e))
            return
        self._since = self.clock()  # parsed: the right speed, even if the values are nonsense
        if why is not None:
            self.counters["implausible"] += 1
            if self.log:
                self.log("implausible", why)
            return
        if "tic" in reading:
            self._status["tic"] = reading["tic"]  # subscribed power, status word...: the status API
        # The hub gets a view of a copy of the bytes at the buffer's end (see the
        # module doc). Consumers only hand it to a stream's write(), which sends or
        # copies it before the next telegram can be published: reusing it is safe.
        size = len(buf)
        mv = memoryview(buf)
        mv[size - n:] = mv[:n]  # (a memmove: they overlap for a telegram over half the buffer)
        self.framer.room = size - n
        self.hub.publish(reading, mv[size - n:])
        if self.log:
            self.log("valid", reading)

    def _unstash(self):
        """Move the last telegram's bytes from the frame buffer's end into a buffer of their own."""
        if self.framer.room < len(self._dsmr.buf):
            raw = self.hub.raw
            n = len(raw)
            try:
                if n > len(self._raw):
                    self._raw = bytearray(0)  # the old one is garbage before the new one is needed
                    self._raw = bytearray(n + _RAW_SLACK)
                self.hub.raw = memoryview(self._raw)[:n]
                self.hub.raw[:] = raw
            except MemoryError:
                self.hub.raw = b""  # none until the next telegram, rather than overwritten bytes
            self.framer.room = len(self._dsmr.buf)

    def check_serial(self):
        """With more than one line to try, switch after a silence; True if switched."""
        now = self.clock()
        if len(self._lines) < 2 or ticks_diff(now, self._since) < self._lines[self._line][3]:
            return False
        self._since = now
        self._use((self._line + 1) % len(self._lines))
        print("p1: no valid telegram; trying %s %s" % (self._status["protocol"], self._status["serial"]))
        return True

    async def run(self):
        buf = self._buf
        while True:
            n = await self.port.readinto(buf)
            if n:
                self.feed(buf, n)
            self.check_serial()
