"""Home Assistant MQTT discovery: one retained config message per payload field.

Follows https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery. Pure,
like mqtt_payload; the publisher imports it only when ``MQTT.HomeAssistant``
is on, so gateways without Home Assistant never hold its table.
"""
import jsonw
from mqtt_payload import OFFLINE, ONLINE

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


def node_id(serial):
    """The HA discovery node id: the serial reduced to [a-zA-Z0-9_]."""
    return "p1gw_" + "".join(c if c.isalpha() or c.isdigit() else "_" for c in serial)


def topic(field, serial):
    """The retained config topic of ``field``'s sensor; an empty message there removes it."""
    return "%s/sensor/%s/%s/config" % (DISCOVERY_PREFIX, node_id(serial), field)


def write_config(write, field, serial, data_topic, status_topic, apparent=False):
    """Write the retained Home Assistant config message for one payload field, as JSON.

    Written in pieces (jsonw) straight into the MQTT packet: a config is some
    700 bytes, too many to need in one piece of an ESP32's heap. The node id
    and the field name need no escaping ([a-zA-Z0-9_]). ``apparent``: the
    meter's power is apparent power (a French meter's TIC), in VA.
    """
    name, device_class, unit, state_class = SENSORS[field]
    if apparent and device_class == "power":
        device_class, unit = "apparent_power", "VA"  # a French meter's TIC counts VA, not W
    node = node_id(serial)
    write('{"name":"')
    write(name)
    write('","has_entity_name":true,"unique_id":"')
    write(node)
    write("_")
    write(field)
    write('","default_entity_id":"sensor.')  # object_id: deprecated since HA 2025.10
    write(node)
    write("_")
    write(field)
    write('","state_topic":')
    jsonw.string(write, data_topic)
    write(',"value_template":"{{ value_json.')
    write(field)
    write(' }}","availability_topic":')
    jsonw.string(write, status_topic)
    write(',"payload_available":"')
    write(ONLINE.decode())
    write('","payload_not_available":"')
    write(OFFLINE.decode())
    write('","device":{"identifiers":["')
    write(node)
    write('"],"name":')
    jsonw.string(write, "P1 gateway " + serial)
    write(',"manufacturer":"p1gw","model":"P1 gateway","serial_number":')
    jsonw.string(write, serial)
    write("}")
    for k, v in (("device_class", device_class), ("unit_of_measurement", unit), ("state_class", state_class)):
        if v is not None:  # (a sensor without a class or unit: the tariff)
            write(',"')
            write(k)
            write('":')
            jsonw.string(write, v)
    write("}")
