"""The P1 driver: UART bytes -> (Smarty decryption) -> framer -> parser -> hub.

A telegram that parses but carries a value no meter sends (plausible.py) is
counted as ``implausible`` and not published: the last good reading stays
until it goes stale. One read buffer serves every chunk; per valid telegram it allocates only the
reading dict. The raw bytes the hub keeps are copied into a buffer of their own,
allocated at boot (``RAW_INITIAL``) and again only for a longer telegram: a meter sends
telegrams of nearly one size, so a fragmented heap never has to find ~1 KB in
one piece every second. With ``P1.Baud`` "auto"
it alternates between 115200 8N1 (DSMR 4/5) and 9600 7E1 (DSMR 2.2/3) until a
valid telegram arrives, and again whenever the meter falls silent that long (a
telegram framed to its CRC that fails it only was damaged: no reason to switch).
"""
from binascii import unhexlify

import dsmr
import plausible
from clock import ticks_diff, ticks_ms
from framer import Framer

# (baud, bits, parity): parity 0 is even, as machine.UART counts it.
SERIAL = {"115200": (115200, 8, None), "9600": (9600, 7, 0)}


class P1Reader:
    """Reads the meter's port and publishes each valid telegram to the hub."""

    BUF_LEN = 256
    RAW_SLACK = 64  # telegrams grow a little (a longer text message, a new M-Bus reading)
    # The raw buffer's first size, allocated with the framer's at boot while the
    # heap is still in one piece: a DSMR 5 telegram (~900 bytes) fits, so the
    # first one need not find ~1 KB in one piece of a heap fragmented by then.
    RAW_INITIAL = 1024
    # Longer than one DSMR 2.2/3 interval (10 s) with room for a telegram that
    # started just before the switch.
    AUTOBAUD_MS = 25000

    def __init__(self, hub, port, clock=ticks_ms, log=None):
        self.hub = hub
        self.port = port
        self.clock = clock
        self.log = log  # log(status, reading_or_reason) per telegram, when tracing
        p1 = hub.config["P1"]
        self.framer = Framer(self._on_telegram)
        self.counters = self.framer.counters
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
        self._auto = p1["Baud"] == "auto" and not p1["SmartyKey"]  # Smarty: always 115200
        self.serial = SERIAL["115200" if p1["Baud"] == "auto" else p1["Baud"]]
        self._since = clock()  # last telegram framed whole, or last serial switch
        self._buf = bytearray(self.BUF_LEN)
        self._raw = bytearray(self.RAW_INITIAL)  # the hub's copy of the last valid telegram
        self._status = hub.status["p1"] = {}
        port.configure(*self.serial)
        self._show()

    def _show(self):
        baud, bits, parity = self.serial
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
        if status == "crc_mismatch":
            # Framed to its CRC at this speed: damaged on the line, not the wrong baud.
            self._since = self.clock()
        if status != "valid":
            if self.log:
                self.log(status, self.counters)
            return
        try:
            reading = dsmr.parse(buf, n, crc != "ok")  # a matching CRC: skip odd lines
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
        self.hub.publish(reading, self._keep(buf, n))
        if self.log:
            self.log("valid", reading)

    def _keep(self, buf, n):
        """A view of ``buf[:n]`` copied into the reader's raw buffer.

        Consumers only hand it to a stream's write(), which sends or copies it
        before the next telegram can be published, so reusing the buffer is safe.
        """
        if n > len(self._raw):
            self._raw = bytearray(0)  # the old one is garbage before the new one is needed
            self._raw = bytearray(n + self.RAW_SLACK)
        raw = memoryview(self._raw)[:n]
        raw[:] = memoryview(buf)[:n]
        return raw

    def check_serial(self):
        """With auto baud, switch serial settings after a silence; True if switched."""
        now = self.clock()
        if not self._auto or ticks_diff(now, self._since) < self.AUTOBAUD_MS:
            return False
        self.serial = SERIAL["9600" if self.serial[0] == 115200 else "115200"]
        self._since = now
        self.framer.reset()
        self.port.configure(*self.serial)
        self._show()
        print("p1: no valid telegram; trying %s" % self._status["serial"])
        return True

    async def run(self):
        buf = self._buf
        while True:
            n = await self.port.readinto(buf)
            if n:
                self.feed(buf, n)
            self.check_serial()
