"""What the MQTT publisher sends: topics, JSON payloads, CONNECT.

Pure: strings and bytes from a reading and config values, so every byte the
gateway puts on the wire is tested without a network. Conventions follow the
Xemex Smart Connect (PRODUCT.md section 4); Home Assistant discovery is in
ha_discovery.py.
"""
import json

from clock import SET_AFTER_S
from reading import INSTANT_FIELDS, TOTAL_FIELDS

ONLINE = b"online"
OFFLINE = b"offline"
def topics(site, serial):
    """(data topic, status topic) for this device: ``devices/<site>/smart-connect/<serial>/...``."""
    site = site or "unknown-site"
    for part in (site, serial):
        if "+" in part or "#" in part or "/" in part or "\0" in part:
            # One topic level each: consumers subscribe to devices/+/smart-connect/+/data.
            raise ValueError("MQTT site %r / serial %r: '+', '#', '/' are not allowed" % (site, serial))
    base = "devices/%s/smart-connect/%s/" % (site, serial)
    return base + "data", base + "status"


def data_fields(totals):
    """The reading fields a data message carries: instantaneous, plus counters when ``totals``."""
    return INSTANT_FIELDS + TOTAL_FIELDS if totals else INSTANT_FIELDS


def data_payload(reading, now_s, totals=False):
    """The JSON for one telegram: every field of ``data_fields(totals)`` (None -> null) and ``timestamp``.

    ``timestamp`` is the meter's own (UTC epoch s) when the telegram has one,
    else the device's clock ``now_s``, or null while that was never set (no
    NTP yet): the meter's clock is right even when the device never got NTP.
    """
    d = {}
    for f in data_fields(totals):
        d[f] = reading.get(f)
    ts = reading.get("timestamp")
    if ts is None and now_s >= SET_AFTER_S:
        ts = now_s
    d["timestamp"] = ts
    return json.dumps(d)


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
    """An MQTT 3.1.1 CONNECT: clean session, retained QoS 0 last will, optional credentials.

    umqtt.simple builds the same packet inside its blocking ``connect()``; the
    publisher sends this one over its own non-blocking stream instead.
    """
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
