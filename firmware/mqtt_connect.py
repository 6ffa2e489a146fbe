"""Opening an MQTT session for the publisher (mqtt_publisher.py): loaded per attempt and dropped.

A session starts with the broker URL (``broker_url``), the topics, a TLS
context when ``mqtts`` (``mqtt_tls``, for its own call), the broker's address
(cached in the publisher: see there for what blocks), a non-blocking TCP
connect the event loop waits on, the TLS wrap (the handshake runs as the first
bytes go out), CONNECT and the CONNACK check. ``topics`` and ``connect_packet`` are pure: the bytes are tested
without a network.
"""
import asyncio
import errno
import select
import socket

import ondemand
from broker_url import parse_broker
from clock import ticks_diff, ticks_ms
from mqtt_payload import OFFLINE

_POLL_FAIL = select.POLLERR | select.POLLHUP
_CONNACK_ERRORS = {1: "unacceptable protocol version", 2: "client id rejected",
                   3: "server unavailable", 4: "bad user name or password", 5: "not authorized"}


def topics(site, serial):
    """(data topic, status topic) for this device: ``devices/<site>/smart-connect/<serial>/...``."""
    site = site or "unknown-site"
    for part in (site, serial):
        if "+" in part or "#" in part or "/" in part or "\0" in part:
            # One topic level each: consumers subscribe to devices/+/smart-connect/+/data.
            raise ValueError("MQTT site %r / serial %r: '+', '#', '/' are not allowed" % (site, serial))
    base = "devices/%s/smart-connect/%s/" % (site, serial)
    return base + "data", base + "status"


def _put_len(out, n):
    """Append MQTT's variable-length integer (7 bits per byte, high bit = more)."""
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return


def _put_str(out, s):
    if isinstance(s, str):
        s = s.encode()
    out.append(len(s) >> 8)
    out.append(len(s) & 0xFF)
    out.extend(s)


def connect_packet(client_id, user, password, keepalive_s, will_topic, will_msg):
    """An MQTT 3.1.1 CONNECT: clean session, retained QoS 0 last will, optional credentials."""
    flags = 0x02 | 0x04 | 0x20  # clean session, will, will retain
    if user:
        flags |= 0x80
        if password:
            flags |= 0x40
    body = bytearray(b"\x00\x04MQTT\x04")
    body.append(flags)
    body.append(keepalive_s >> 8)
    body.append(keepalive_s & 0xFF)
    _put_str(body, client_id)
    _put_str(body, will_topic)
    _put_str(body, will_msg)
    if user:
        _put_str(body, user)
        if password:
            _put_str(body, password)
    out = bytearray(b"\x10")
    _put_len(out, len(body))
    out.extend(body)
    return bytes(out)


async def session(pub, cfg):
    """Connect ``pub`` (the MqttPublisher) to the broker of ``cfg`` (its MQTT section):
    CONNECT accepted, the stream in ``pub._stream``; returns the (data, status) topics."""
    pub._stage = "MQTT config"
    tls, host, port = parse_broker(cfg.get("Broker", ""))
    serial = pub.hub.identity["serial"]
    both = topics(cfg.get("Site", ""), serial)
    # mqtt_tls and pem are in the heap only while a context is built
    tls_ctx = ondemand.call("mqtt_tls", "context", cfg) if tls else None
    pub._out.clear()
    stream = await _open(pub, host, port, tls_ctx)
    if tls_ctx is None:
        pub._stage = "MQTT CONNECT"
    pub._out.write(connect_packet(serial, cfg.get("Username") or None, cfg.get("Password") or None,
                                  pub.KEEPALIVE_S, both[1], OFFLINE))
    await asyncio.wait_for(_handshake(pub, stream), pub.SESSION_TIMEOUT_MS / 1000)
    print("mqtt: connected to %s:%d" % (host, port))
    return both


def _address(pub, host, port):
    """getaddrinfo entry for the broker, from the publisher's cache when it has one."""
    d = pub._dns
    if d is None or d[0] != host or d[1] != port:
        pub._stage = "DNS lookup of %s" % host
        ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        if not ai:
            raise OSError("no address for %s" % host)
        pub._dns = d = (host, port, ai[0])
    return d[2]


async def _open(pub, host, port, tls_ctx):
    """A connected stream to the broker (TLS wrapped, handshake pending), or raise."""
    ai = _address(pub, host, port)
    pub._stage = "connect to %s:%d" % (host, port)
    s = socket.socket(ai[0], ai[1], ai[2])
    try:
        s.setblocking(False)
        try:
            s.connect(ai[-1])
        except OSError as e:
            if e.args[0] != errno.EINPROGRESS:
                raise
        # Poll for the connect to finish; select.poll is the public way to
        # wait on a socket without handing it to an asyncio stream yet.
        poller = select.poll()
        poller.register(s, select.POLLOUT)
        start = ticks_ms()
        while True:
            ev = poller.poll(0)
            if ev:
                if ev[0][1] & _POLL_FAIL:
                    raise OSError(errno.ECONNREFUSED)
                break
            if ticks_diff(ticks_ms(), start) >= pub.CONNECT_TIMEOUT_MS:
                raise asyncio.TimeoutError()
            await asyncio.sleep(0.01)
        poller.unregister(s)
    except BaseException:
        s.close()
        pub._dns = None  # the address may be stale: resolve again next time
        raise
    if tls_ctx is not None:
        pub._stage = "TLS handshake with %s" % host
        try:
            s = tls_ctx.wrap_socket(s, server_hostname=host, do_handshake_on_connect=False)
        except BaseException:  # e.g. no heap for mbedtls: the TCP socket must not leak
            s.close()
            raise
    pub._sock = s
    # MicroPython's stream wraps any non-blocking socket (CPython's differs).
    pub._stream = asyncio.StreamWriter(s, {})  # type: ignore[call-arg]
    return pub._stream


async def _handshake(pub, stream):
    """Send CONNECT (driving the TLS handshake first) and check the CONNACK."""
    await pub._flush(pub.SESSION_TIMEOUT_MS)
    pub._stage = "waiting for CONNACK"
    resp = await stream.readexactly(4)
    if resp[0] != 0x20 or resp[1] != 2:
        raise OSError("not an MQTT broker (no CONNACK)")
    if resp[3]:
        raise OSError("broker refused: %s" % _CONNACK_ERRORS.get(resp[3], "code %d" % resp[3]))
