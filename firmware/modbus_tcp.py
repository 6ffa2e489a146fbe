"""Modbus TCP server: the latest reading as an EMPro or SDM630 meter.

One register image per telegram (built by empro.py / sdm630.py into a
preallocated double buffer), answered by modbus_frame.answer. Each client gets
a 12-byte request buffer (a longer request is read and dropped past that), and
one response buffer serves every client: a response is built and handed to the
stream's write() (which sends or copies it) with no await between. A request
allocates next to nothing: deadlines are
not an ``asyncio.wait_for`` per read (two tasks, a timer and an exception each
time, ~2 KB of garbage per request at 40 requests a second), but one sweep a
second over the connections, which cancels a client that stopped mid-frame
(a started frame must be whole within ``_FRAME_S``), stopped reading, or idled
past ``Modbus.IdleTimeoutS``.

Slots: up to ``Modbus.MaxClients`` connections. When all are taken, a new
connection takes the slot of the one that has gone longest without a request
(closing it), of the client address that holds the most slots counting the
newcomer, rather than being refused (streams.evictee): a charger that
reconnects after a Wi-Fi hiccup always gets in, first in place of its own
old connection, and an address that fills the slots pushes out its own.

Stale data is never served as live data: when the last valid telegram is older
than ``Modbus.StaleAfterS`` (0 = auto: 3 telegram intervals, at least 5 s),
reads of measured registers get exception 04 ("exception" policy) or a
fail-safe image with ``Modbus.FailsafeCurrentA`` on every phase ("failsafe",
built by failsafe.py, loaded only then).
``MeterType`` and every ``Modbus.*`` setting except the port are read live.
"""
import asyncio

from micropython import const

import modbus_frame
import ondemand
import reading as _reading
from clock import ticks_diff, ticks_ms
from hub import rhythm_ms
from streams import close_stream, evictee, listen, peer_ip
from version import revision

# MeterType -> template module, imported only when chosen (RAM: ~3 KB each).
TEMPLATES = {"PhoenixContact-EMPro": "empro", "Eastron-SDM630": "sdm630"}

# EMPro register 256: the firmware revision as 0x00MMmmpp (major, minor, patch).
FIRMWARE_REVISION = revision()

_AUTO_MIN_MS = const(5000)
_DRAIN_S = const(10)    # longest wait for a client to take a response, without an idle timeout
_STATUS_S = const(1)          # refresh the stale flag this often without telegrams
_FRAME_S = const(2)          # a started request must be whole within this (~2 s past the sweep)


def stale_after_ms(stale_after_s, interval_ms):
    """Age (ms) at which data turns stale; ``stale_after_s`` 0 = auto.

    Auto is 3 telegram intervals (hub.rhythm_ms), at least 5 s.
    """
    if stale_after_s > 0:
        return stale_after_s * 1000
    return max(_AUTO_MIN_MS, 3 * rhythm_ms(interval_ms))


class ModbusServer:
    def __init__(self, hub):
        self.hub = hub
        self.status = {"clients": 0, "requests": 0, "exceptions": 0, "evicted": 0,
                       "dropped": 0, "stale": True, "failsafe": False}
        hub.status["modbus"] = self.status
        self._built = -1          # hub.seq the image holds; -1 none, -2 the fail-safe image
        self._failsafe_amps = None  # the current the fail-safe image was built with
        self._conns = []          # _Client per connection: for the sweep and eviction
        self._out = memoryview(bytearray(modbus_frame.MAX_ADU))
        self._name = None
        self._load()

    def _load(self):
        """Load the template MeterType names, unless it is loaded (MeterType is a live setting)."""
        name = TEMPLATES.get(self.hub.config.get("MeterType"), "empro")
        if name == self._name:
            return
        template = __import__(name)
        img = template.new_image()
        # Identification registers are served before the first telegram.
        template.build(img, _reading.new_reading(), self.hub.identity["serial"], FIRMWARE_REVISION)
        # Swapped in only once built: a MemoryError on the way (a live MeterType
        # change on a full heap) leaves the old template and its image whole.
        self._template, self._img, self._name, self._built = template, img, name, -1

    def data_ok(self):
        """Whether live registers may be served now; brings the image up to date."""
        hub = self.hub
        cfg = hub.config["Modbus"]
        try:
            self._load()
        except MemoryError:
            pass  # the old image, whole, until there is heap for the new one
        age = hub.age_ms()
        fresh = age is not None and age <= stale_after_ms(cfg["StaleAfterS"], hub.interval_ms)
        failsafe = not fresh and cfg["StalePolicy"] == "failsafe"
        st = self.status
        st["stale"] = not fresh
        r = seq = None  # what the image is to be built from, if not built yet
        if fresh:
            if self._built != hub.seq:
                r, seq = hub.reading, hub.seq
        elif failsafe:
            amps = cfg["FailsafeCurrentA"]
            if self._built != -2 or self._failsafe_amps != amps:  # a live setting: rebuild on change
                # Built rarely (on going stale): its code is loaded for the call only.
                r, seq = ondemand.call("failsafe", "failsafe_reading", hub.reading, amps), -2
                self._failsafe_amps = amps
        if r is not None:
            self._template.build(self._img, r, hub.identity["serial"], FIRMWARE_REVISION)
            self._built = seq
        st["failsafe"] = failsafe
        return fresh or failsafe

    async def run(self):
        hub = self.hub
        server = await listen(self._serve, hub.bind, hub.config["Modbus"]["Port"], backlog=2)
        try:
            seq = hub.seq
            while True:
                # Build each telegram's image as it arrives, so requests only copy.
                self.data_ok()
                # Cancel each client whose current wait outlived its limit (see the module doc).
                now = ticks_ms()
                for i in range(len(self._conns) - 1, -1, -1):  # backwards: _drop removes
                    conn = self._conns[i]
                    if conn.limit_s and ticks_diff(now, conn.since) > conn.limit_s * 1000:
                        self._drop(conn)
                try:
                    seq = await asyncio.wait_for(hub.next_reading(seq), _STATUS_S)
                except asyncio.TimeoutError:
                    pass
        finally:
            server.close()
            await server.wait_closed()

    def _drop(self, conn):
        """Free ``conn``'s slot now and cancel its task (which closes the socket)."""
        task, conn.task = conn.task, None  # None: it was dropped, the service is not stopping
        self._conns.remove(conn)
        self.status["clients"] -= 1
        task.cancel()

    async def _serve(self, reader, writer):
        st = self.status
        conn = _Client(asyncio.current_task(), peer_ip(writer))
        while self._conns and len(self._conns) >= self.hub.config["Modbus"]["MaxClients"]:
            st["evicted"] += 1
            self._drop(evictee(self._conns, conn.addr))
        st["clients"] += 1
        self._conns.append(conn)
        try:
            req = memoryview(bytearray(modbus_frame.REQUEST))
            out = self._out
            while True:
                conn.since = ticks_ms()
                conn.limit_s = self.hub.config["Modbus"]["IdleTimeoutS"]
                # Waiting for a request, a connection holds no frame of _read_adu's.
                got = await reader.readinto(req[:modbus_frame.HEADER])
                if not got:
                    raise EOFError
                if not await _read_adu(reader, req, got, conn):
                    st["dropped"] += 1
                    break
                conn.idle = ticks_ms()
                ok = self.data_ok()   # may switch the image: read it after
                n = modbus_frame.answer(req, out, self._img, ok)
                st["requests"] += 1
                if out[7] & 0x80:
                    st["exceptions"] += 1
                writer.write(out[:n])
                # A client that sends but never reads must not hold a slot for good.
                conn.since = ticks_ms()
                conn.limit_s = conn.limit_s or _DRAIN_S
                await writer.drain()
        except asyncio.CancelledError:
            if conn.task is not None:
                raise  # the service is stopping
        except (OSError, EOFError, MemoryError):
            pass   # peer gone or reset, or no heap for its buffers now: just close
        finally:
            if conn.task is not None:
                self._conns.remove(conn)
                st["clients"] -= 1
            await close_stream(writer)


class _Client:
    """One connection's task and the wait the sweep checks."""

    def __init__(self, task, addr):
        self.task = task      # None once dropped (timed out or its slot taken)
        self.addr = addr      # the client's address (streams.peer_ip)
        self.since = 0        # ticks_ms the current wait began
        self.limit_s = 0      # how long it may last (0: for ever)
        self.idle = ticks_ms()  # its last request (or the connect): the eviction order


async def _read_adu(reader, mreq, got, conn):
    """Read the rest of the request ADU whose first ``got`` bytes are in ``mreq``
    (what fits; the rest is read and dropped); False for a header no client
    sends. It must follow within _FRAME_S (``conn``'s limit, for the sweep)."""
    head = modbus_frame.HEADER
    conn.since = ticks_ms()
    conn.limit_s = _FRAME_S
    await _read_exactly(reader, mreq, got, head)
    n = modbus_frame.header_length(mreq)
    if n < 0:
        return False
    room = len(mreq) - head
    await _read_exactly(reader, mreq, head, head + min(n, room))
    n -= room
    while n > 0:  # e.g. a write request: answered "illegal function" from its first bytes
        k = min(n, room - 1)  # req[7], the function code, is kept
        await _read_exactly(reader, mreq, head + 1, head + 1 + k)
        n -= k
    return True


async def _read_exactly(reader, mv, start, end):
    while start < end:
        k = await reader.readinto(mv[start:end])
        if not k:
            raise EOFError
        start += k
