"""What the MQTT publisher sends: JSON payloads and the PUBLISH header (topics and CONNECT: mqtt_connect.py).

Pure: strings and bytes from a reading and config values, so every byte the
gateway puts on the wire is tested without a network. Conventions follow the
Xemex Smart Connect (PRODUCT.md section 4); Home Assistant discovery is in
ha_discovery.py. The data message is written in pieces (jsonw), straight into
the publisher's packet buffer, with the meter's counters exact.
"""
import jsonw
from clock import SET_AFTER_S
from reading import INSTANT_FIELDS, TOTAL_FIELDS, TOTAL_NAMES

ONLINE = b"online"
OFFLINE = b"offline"


def data_fields(totals):
    """The names a data message carries: instantaneous, plus the counters' (``TOTAL_NAMES``) when ``totals``."""
    return INSTANT_FIELDS + TOTAL_NAMES if totals else INSTANT_FIELDS


def has_value(reading, name):
    """True when the data message's field ``name`` (of ``data_fields``) is not null for ``reading``."""
    for i in range(len(TOTAL_NAMES)):
        if TOTAL_NAMES[i] == name:
            return reading.get(TOTAL_FIELDS[i]) is not None
    return reading.get(name) is not None


def write_data(write, reading, now_s, totals=False):
    """Write the JSON for one telegram to ``write``: ``data_fields(totals)`` (None -> null) and ``timestamp``.

    Counters are written exactly, in their unit (``gas_m3``: 112.384), never
    through a float. ``timestamp`` is the meter's own (UTC epoch s) when the
    telegram has one, else the device's clock ``now_s``, or null while that
    was never set (no NTP yet): the meter's clock is right even when the
    device never got NTP.
    """
    write("{")
    for f in INSTANT_FIELDS:
        jsonw.key(write, f)
        jsonw.value(write, reading.get(f))
        write(",")
    if totals:
        decimals = reading.get("counter_decimals")
        for i in range(len(TOTAL_FIELDS)):
            jsonw.key(write, TOTAL_NAMES[i])
            jsonw.fixed(write, reading.get(TOTAL_FIELDS[i]), decimals)
            write(",")
    ts = reading.get("timestamp")
    if ts is None and now_s >= SET_AFTER_S:
        ts = now_s
    jsonw.key(write, "timestamp")
    jsonw.value(write, ts)
    write("}")


def data_payload(reading, now_s, totals=False):
    """``write_data``'s JSON as one str (tests; the publisher writes into its packet buffer)."""
    out = jsonw.Buffer()
    write_data(out.write, reading, now_s, totals)
    return bytes(out.bytes()).decode()


PUBLISH_HEAD_MAX = 5  # a PUBLISH's fixed header: the type byte and up to 4 length bytes


def publish_header(buf, end, size, retain=False):
    """Write a QoS 0 PUBLISH's fixed header into ``buf`` so that it ends at ``end``.

    ``size`` is the remaining length (topic and payload). Returns where the
    header, and so the packet, starts: a payload written into the buffer
    before its length was known gets its header in the room left in front.
    """
    n = 1
    x = size
    while x > 0x7F:
        x >>= 7
        n += 1
    start = end - 1 - n
    buf[start] = 0x31 if retain else 0x30
    i = start + 1
    while True:
        b = size & 0x7F
        size >>= 7
        buf[i] = b | 0x80 if size else b
        i += 1
        if not size:
            return start
