"""Home Assistant discovery configs, one per payload field."""
import json

import ha_discovery as ha
import mqtt_connect
import mqtt_payload as mp
from reading import INSTANT_FIELDS, TOTAL_NAMES


def _config(field, serial, data, status):
    out = []
    ha.write_config(out.append, field, serial, data, status)
    return json.loads("".join(out))


def test_every_payload_field_has_a_discovery_row():
    for f in INSTANT_FIELDS + TOTAL_NAMES:
        assert f in ha.SENSORS, f


def test_discovery_for_power_is_a_measurement_in_watts():
    data, status = mqtt_connect.topics("home", "S-1")
    c = _config("power_l1_w", "S-1", data, status)
    assert ha.topic("power_l1_w", "S-1") == "homeassistant/sensor/p1gw_S_1/power_l1_w/config"
    assert (c["device_class"], c["unit_of_measurement"], c["state_class"]) == ("power", "W", "measurement")
    assert c["state_topic"] == data and c["availability_topic"] == status
    assert c["value_template"] == "{{ value_json.power_l1_w }}"
    assert c["device"]["identifiers"] == ["p1gw_S_1"]
    assert c["unique_id"] == "p1gw_S_1_power_l1_w"
    # HA 2025.10 deprecated object_id; 2026.4 ignores it.
    assert c["default_entity_id"] == "sensor.p1gw_S_1_power_l1_w" and "object_id" not in c


def test_discovery_counters_are_total_increasing():
    for f, cls, unit in (("energy_import_kwh", "energy", "kWh"), ("gas_m3", "gas", "m\u00b3"),
                         ("water_m3", "water", "m\u00b3")):
        c = _config(f, "S", "d", "s")
        assert (c["device_class"], c["unit_of_measurement"], c["state_class"]) == (cls, unit, "total_increasing")


def test_discovery_voltage_and_current_are_measurements():
    for f, unit in (("voltage_l2_v", "V"), ("current_l3_a", "A")):
        c = _config(f, "S", "d", "s")
        assert c["unit_of_measurement"] == unit and c["state_class"] == "measurement"


def test_discovery_tariff_has_no_unit_or_class():
    c = _config("tariff", "S", "d", "s")
    assert "unit_of_measurement" not in c and "device_class" not in c and "state_class" not in c


def test_discovery_config_is_the_whole_document_and_escapes_the_topics():
    c = _config("energy_import_kwh", "S-1", 'devices/my "site"/d', "s\\t")
    assert c == {
        "name": "Energy import", "has_entity_name": True,
        "unique_id": "p1gw_S_1_energy_import_kwh", "default_entity_id": "sensor.p1gw_S_1_energy_import_kwh",
        "state_topic": 'devices/my "site"/d', "value_template": "{{ value_json.energy_import_kwh }}",
        "availability_topic": "s\\t", "payload_available": "online", "payload_not_available": "offline",
        "device": {"identifiers": ["p1gw_S_1"], "name": "P1 gateway S-1", "manufacturer": "p1gw",
                   "model": "P1 gateway", "serial_number": "S-1"},
        "device_class": "energy", "unit_of_measurement": "kWh", "state_class": "total_increasing",
    }


def test_a_retained_publish_header_sets_the_retain_bit():
    buf = bytearray(8)
    start = mp.publish_header(buf, 5, 300, retain=True)
    assert buf[start] == 0x31 and mp.publish_header(buf, 5, 300) == start and buf[start] == 0x30


def test_a_french_meters_power_is_announced_as_apparent_power_in_va():
    data, status = mqtt_connect.topics("home", "S-1")
    out = []
    ha.write_config(out.append, "power_w", "S-1", data, status, True)
    c = json.loads("".join(out))
    assert (c["device_class"], c["unit_of_measurement"]) == ("apparent_power", "VA")
    out = []
    ha.write_config(out.append, "current_l1_a", "S-1", data, status, True)
    assert json.loads("".join(out))["unit_of_measurement"] == "A"
