"""MQTT publisher service: one JSON message per valid telegram, never stalling the loop.

A blocking MQTT client (umqtt.simple's ``connect()`` resolves, connects and
reads with a blocking socket) would freeze Modbus and the web server while a
broker is slow or gone. So this service opens the socket itself, non-blocking,
waits for it with the event loop, drives the TLS handshake through asyncio's
stream (the handshake runs a step per socket event), and frames its few
packets (CONNECT, QoS 0 PUBLISH, PINGREQ, DISCONNECT) into one buffer that
goes out through the same stream. Every network wait has a timeout. Opening a
session is ``mqtt_connect.py``, loaded per attempt and dropped: a connected
gateway holds only the publishing.

What can still block, by design and bounded:
- DNS: ``getaddrinfo`` blocks on every port (lwIP's resolver on the ESP32,
  a few seconds at most when the DNS server is gone). The answer is cached and
  looked up again only after a connection to it failed, so it happens at most
  once per back-off step (1 s doubling to 60 s). An IP literal broker never
  needs the resolver.
- TLS: each mbedtls handshake step is CPU work that runs to completion (on an
  ESP32, some hundred ms for the signature checks). TLS also needs the real
  time (NTP) to check certificate dates, and ~20-40 KB of RAM per connection.

QoS 0, no queue: while the broker is away readings are simply not sent, and
the first message after a reconnect is the newest reading. Status for the API
and the page lives in ``hub.status["mqtt"]``.
"""
import asyncio
import errno
import sys

import jsonw
import mqtt_payload
import ondemand
from clock import epoch_s, ticks_diff, ticks_ms

_PINGREQ = b"\xc0\0"
_DISCONNECT = b"\xe0\0"


class _Out(jsonw.Buffer):
    """The packets to send: one buffer, sent as one stream write per packet batch.

    The buffer is reused (``clear``), so a message costs no allocation here;
    it grows only past the largest message (a data message with totals takes
    about 600 bytes, a Home Assistant config about 800). The packets to send
    are ``buf[start:]``.
    """

    def __init__(self, size=800):
        super().__init__(size)
        self.start = 0

    def clear(self):
        super().clear()
        self.start = 0

    def publish(self, topic, fill, retain=False):
        """Frame a QoS 0 PUBLISH of ``topic`` (bytes) whose payload is ``fill`` (bytes), or
        what ``fill(write)`` writes.

        The payload goes straight into the buffer, never into a message string
        first. Its length is known only once it is written, so the fixed header
        (at most 5 bytes) is written last, into room kept in front of the topic,
        and the packet starts at ``start``. Only on an empty buffer: every
        packet is flushed before the next is framed.
        """
        if self.buf:
            raise ValueError("PUBLISH framed on an unsent packet")
        head = mqtt_payload.PUBLISH_HEAD_MAX
        self.write(b"\0\0\0\0\0\0\0")  # fixed header room, topic length
        self.buf[head] = len(topic) >> 8
        self.buf[head + 1] = len(topic) & 0xFF
        self.write(topic)
        if isinstance(fill, bytes):
            self.write(fill)
        else:
            fill(self.write)
        self.start = mqtt_payload.publish_header(self.buf, head, len(self.buf) - head, retain)


def _ha():
    """ha_discovery, imported only with HomeAssistant on and dropped after use:
    its table stays off the heap the rest of the time."""
    import ha_discovery
    return ha_discovery


def _describe(e):
    """A short text for ``last_error`` (here, not loaded on demand: the error may be a full heap)."""
    if isinstance(e, asyncio.TimeoutError):
        return "timed out"
    if isinstance(e, OSError) and e.args and isinstance(e.args[0], int):
        code = e.args[0]
        return "%s (errno %d)" % (errno.errorcode.get(code, "OSError"), code)
    return "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__


class MqttPublisher:
    """Publishes each reading of ``hub`` to the broker in ``hub.config["MQTT"]``."""

    CONNECT_TIMEOUT_MS = 10000    # TCP connect
    SESSION_TIMEOUT_MS = 10000    # TLS handshake + CONNECT/CONNACK
    WRITE_TIMEOUT_MS = 10000      # one flush; a broker that stops reading is dropped
    BACKOFF_MS = (1000, 60000)    # first and largest wait between attempts
    KEEPALIVE_S = 60              # PINGREQ every KEEPALIVE_S / 2; unanswered by the next: dropped
    IDLE_MS = 2000                # how often a disabled service looks at the config
    TICK_MS = 1000                # the longest wait in a session: how soon a config change is seen

    def __init__(self, hub):
        self.hub = hub
        self.status = {"enabled": False, "connected": False, "broker": "", "last_error": None,
                       "messages_sent": 0, "reconnects": 0}
        hub.status["mqtt"] = self.status
        self._dns = None          # (host, port, getaddrinfo entry) of the last good lookup
        self._sent_seq = 0        # hub.seq of the last reading published
        self._out = _Out()
        self._sock = None         # the broker socket (TLS-wrapped for mqtts)
        self._stream = None       # asyncio stream over _sock
        self._stage = ""          # what the session was doing, for last_error
        self._lost = False
        self._rx_ms = 0
        self._ha_fields = []      # fields with a retained HA config on the broker (this boot)

    # --- public ---

    async def run(self):
        """Connect, publish, reconnect with back-off; until cancelled."""
        st = self.status
        backoff = self.BACKOFF_MS[0]
        attempts = 0
        while True:
            cfg = dict(self.hub.config.get("MQTT") or {})  # a snapshot: changes show as a difference
            st["enabled"] = bool(cfg.get("Enabled"))
            st["broker"] = cfg.get("Broker", "")
            if not st["enabled"]:
                st["connected"] = False
                await asyncio.sleep(self.IDLE_MS / 1000)
                continue
            if attempts:
                st["reconnects"] += 1
            attempts += 1
            try:
                await self._session(cfg)
                backoff = self.BACKOFF_MS[0]  # a config change: reconnect at once
                continue
            except Exception as e:
                st["last_error"] = "%s: %s" % (self._stage, _describe(e))
                print("mqtt: %s" % st["last_error"])
                if st["connected"]:
                    backoff = self.BACKOFF_MS[0]  # it worked until now: retry soon
            finally:
                st["connected"] = False
                self._close()
            await self._sleep_unless_changed(backoff, cfg)
            backoff = min(backoff * 2, self.BACKOFF_MS[1])

    # --- connection ---

    def _close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = self._stream = None

    async def _sleep_unless_changed(self, ms, cfg):
        """Back-off sleep, cut short when the MQTT config changes."""
        while ms > 0 and self.hub.config.get("MQTT") == cfg:
            step = min(ms, 1000)
            await asyncio.sleep(step / 1000)
            ms -= step

    async def _flush(self, timeout_ms=None):
        """Send what is framed; the stream writes now and drains in the background of the loop."""
        out = self._out
        stream = self._stream
        if stream is None:
            raise OSError("not connected")
        stream.write(memoryview(out.buf)[out.start:])
        out.clear()
        await asyncio.wait_for(stream.drain(), (timeout_ms or self.WRITE_TIMEOUT_MS) / 1000)

    async def _watch(self, stream):
        """Read what the broker sends (PINGRESP); mark the link lost on EOF or error."""
        try:
            while True:
                if not await stream.read(32):
                    break
                self._rx_ms = ticks_ms()
        except Exception:
            pass
        self._lost = True

    async def _session(self, cfg):
        """One connection: connect, publish until it breaks (raise) or the config changes (return)."""
        topics = await ondemand.call("mqtt_connect", "session", self, cfg)
        stream = self._stream
        status_t = topics[1].encode()  # bytes: lengths on the wire count bytes
        self.status["connected"] = True
        self.status["last_error"] = None
        self._lost = False
        self._rx_ms = ticks_ms()
        watcher = asyncio.create_task(self._watch(stream))
        try:
            self._stage = "publish"
            out = self._out
            out.publish(status_t, mqtt_payload.ONLINE, True)
            await self._flush()
            await self._publish_loop(cfg, topics)
            # The config changed: say goodbye properly (no last will on DISCONNECT).
            out.publish(status_t, mqtt_payload.OFFLINE, True)
            out.write(_DISCONNECT)
            await self._flush()
        finally:
            watcher.cancel()

    async def _publish_loop(self, cfg, topics):
        """Publish the newest reading whenever there is one and the rate limit allows; ping when idle."""
        hub = self.hub
        data_t = topics[0].encode()
        totals = bool(cfg.get("IncludeTotals"))
        fields = mqtt_payload.data_fields(totals)
        announced = 0 if cfg.get("HomeAssistant") else -1  # bit i: discovery sent for fields[i]
        await self._retract(fields if announced == 0 else ())
        min_ms = int(cfg.get("MinIntervalS") or 0) * 1000
        ping_every_ms = self.KEEPALIVE_S * 500
        pub_ms = None   # when the last data message went out
        ping_ms = ticks_ms()  # when the last PINGREQ went out (first: a period after CONNECT)
        pinged = False
        while True:
            if self._lost:
                raise OSError("connection closed by the broker")
            if hub.config.get("MQTT") != cfg:
                return
            now = ticks_ms()
            hold_ms = 0 if pub_ms is None else min_ms - ticks_diff(now, pub_ms)
            if hold_ms <= 0 and hub.seq != self._sent_seq and hub.reading is not None:
                seq = hub.seq
                reading = hub.reading
                if announced != -1:
                    announced = await self._announce(reading, fields, announced, topics)
                now_s = epoch_s()
                self._out.publish(data_t, lambda write: mqtt_payload.write_data(write, reading, now_s, totals))
                await self._flush()
                self._sent_seq = seq
                self.status["messages_sent"] += 1
                pub_ms = now
                continue
            ping_in_ms = ping_every_ms - ticks_diff(now, ping_ms)
            if ping_in_ms <= 0:
                # Pinged on a clock of its own, not after silence: QoS 0 messages get
                # no answer, so only a PINGRESP shows that a hung broker still listens.
                if pinged and ticks_diff(self._rx_ms, ping_ms) < 0:
                    raise OSError("no answer to PINGREQ")
                self._out.write(_PINGREQ)
                await self._flush()
                ping_ms = now
                pinged = True
                continue
            wait_ms = min(ping_in_ms, self.TICK_MS)
            if hold_ms > 0:
                await asyncio.sleep(min(hold_ms, wait_ms) / 1000)  # rate limit: newest reading wins
            else:
                try:
                    await asyncio.wait_for(hub.next_reading(self._sent_seq), wait_ms / 1000)
                except asyncio.TimeoutError:
                    pass

    async def _announce(self, reading, fields, announced, topics):
        """Send HA discovery for fields this meter fills that were not announced yet."""
        serial = self.hub.identity["serial"]
        apparent = isinstance(reading["protocol_version"], str)  # only TIC names it ("tic-standard"): VA
        for i, f in enumerate(fields):
            if announced & (1 << i) or not mqtt_payload.has_value(reading, f):
                continue
            ha = _ha()
            self._out.publish(ha.topic(f, serial).encode(),
                              lambda write: ha.write_config(write, f, serial, topics[0], topics[1], apparent), True)
            await self._flush()
            announced |= 1 << i
            if f not in self._ha_fields:
                self._ha_fields.append(f)
        sys.modules.pop("ha_discovery", None)  # its table is needed again only on a reconnect
        return announced

    async def _retract(self, keep):
        """Remove the HA sensors announced earlier whose field is no longer sent (empty retained config)."""
        gone = [f for f in self._ha_fields if f not in keep]
        if not gone:
            return
        serial = self.hub.identity["serial"]
        for f in gone:
            self._out.publish(_ha().topic(f, serial).encode(), b"", True)
            await self._flush()
            self._ha_fields.remove(f)
        sys.modules.pop("ha_discovery", None)
