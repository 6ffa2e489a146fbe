"""What the MQTT publisher sends: topics, JSON payloads, discovery configs, CONNECT.

Pure: strings and bytes from a reading and config values, so every byte the
gateway puts on the wire is tested without a network. Conventions follow the
Xemex Smart Connect (PRODUCT.md section 4); Home Assistant discovery follows
https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery.
"""
import json

from clock import SET_AFTER_S
from reading import INSTANT_FIELDS, TOTAL_FIELDS

ONLINE = b"online"
OFFLINE = b"offline"
DISCOVERY_PREFIX = "homeassistant"

_M = "measurement"
_T = "total_increasing"

# field -> (name, device_class, unit, state_class); HA's Energy dashboard needs
# device_class + unit + state_class on the counters. Every payload field has a row.
SENSORS = {
    "power_w": ("Power", "power", "W", _M),
    "power_import_w": ("Power import", "power", "W", _M),
    "power_export_w": ("Power export", "power", "W", _M),
    "power_l1_w": ("Power L1", "power", "W", _M),
    "power_l2_w": ("Power L2", "power", "W", _M),
    "power_l3_w": ("Power L3", "power", "W", _M),
    "voltage_l1_v": ("Voltage L1", "voltage", "V", _M),
    "voltage_l2_v": ("Voltage L2", "voltage", "V", _M),
    "voltage_l3_v": ("Voltage L3", "voltage", "V", _M),
    "current_l1_a": ("Current L1", "current", "A", _M),
    "current_l2_a": ("Current L2", "current", "A", _M),
    "current_l3_a": ("Current L3", "current", "A", _M),
    "frequency_hz": ("Frequency", "frequency", "Hz", _M),
    "tariff": ("Tariff", None, None, None),
    "average_power_15m_w": ("Average power 15 min", "power", "W", _M),
    "energy_import_kwh": ("Energy import", "energy", "kWh", _T),
    "energy_export_kwh": ("Energy export", "energy", "kWh", _T),
    "energy_import_t1_kwh": ("Energy import tariff 1", "energy", "kWh", _T),
    "energy_import_t2_kwh": ("Energy import tariff 2", "energy", "kWh", _T),
    "energy_export_t1_kwh": ("Energy export tariff 1", "energy", "kWh", _T),
    "energy_export_t2_kwh": ("Energy export tariff 2", "energy", "kWh", _T),
    "gas_m3": ("Gas", "gas", "m\u00b3", _T),
    "water_m3": ("Water", "water", "m\u00b3", _T),
    "heat_gj": ("Heat", "energy", "GJ", _T),
}


def topics(site, serial):
    """(data topic, status topic) for this device: ``devices/<site>/smart-connect/<serial>/...``."""
    site = site or "unknown-site"
    for part in (site, serial):
        if "+" in part or "#" in part or "\0" in part:
            raise ValueError("MQTT site %r / serial %r: '+', '#' are not allowed in a topic" % (site, serial))
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


def node_id(serial):
    """The HA discovery node id: the serial reduced to [a-zA-Z0-9_]."""
    return "p1gw_" + "".join(c if c.isalpha() or c.isdigit() else "_" for c in serial)


def discovery(field, serial, data_topic, status_topic):
    """(topic, JSON) of the retained Home Assistant config message for one payload field."""
    name, device_class, unit, state_class = SENSORS[field]
    node = node_id(serial)
    cfg = {
        "name": name,
        "has_entity_name": True,
        "unique_id": "%s_%s" % (node, field),
        "object_id": "%s_%s" % (node, field),
        "state_topic": data_topic,
        "value_template": "{{ value_json.%s }}" % field,
        "availability_topic": status_topic,
        "payload_available": ONLINE.decode(),
        "payload_not_available": OFFLINE.decode(),
        "device": {"identifiers": [node], "name": "P1 gateway %s" % serial,
                   "manufacturer": "p1gw", "model": "P1 gateway", "serial_number": serial},
    }
    if device_class:
        cfg["device_class"] = device_class
    if unit:
        cfg["unit_of_measurement"] = unit
    if state_class:
        cfg["state_class"] = state_class
    return "%s/sensor/%s/%s/config" % (DISCOVERY_PREFIX, node, field), json.dumps(cfg)


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
