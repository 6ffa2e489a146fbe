"""MQTT topics, the per-telegram JSON, broker URLs and the CONNECT bytes (mqtt_payload, mqtt_connect)."""
import json

import dsmr
import mqtt_connect
import mqtt_payload as mp
from broker_url import parse_broker
from _support import make_telegram, raises, telegram
from reading import INSTANT_FIELDS, TOTAL_NAMES, new_reading

NOW = 1750000000  # a set clock (2025)


def _payload(name, totals=False, now=NOW):
    return json.loads(mp.data_payload(dsmr.parse(telegram(name)), now, totals))


def test_topics_follow_xemex_layout():
    assert mqtt_connect.topics("home", "P1GW-0042") == ("devices/home/smart-connect/P1GW-0042/data",
                                               "devices/home/smart-connect/P1GW-0042/status")


def test_empty_site_is_unknown_site():
    assert mqtt_connect.topics("", "S1")[0] == "devices/unknown-site/smart-connect/S1/data"


def test_wildcards_and_levels_in_site_are_rejected():
    assert raises(ValueError, mqtt_connect.topics, "a+b", "S1")
    assert raises(ValueError, mqtt_connect.topics, "#", "S1")
    assert raises(ValueError, mqtt_connect.topics, "a/b", "S1")


def test_payload_carries_every_instant_field_and_timestamp_only():
    p = _payload("v5.p1")
    assert sorted(p) == sorted(INSTANT_FIELDS + ("timestamp",))


def test_payload_values_match_the_parsed_reading():
    r = dsmr.parse(telegram("v5.p1"))
    p = json.loads(mp.data_payload(r, NOW))
    for f in INSTANT_FIELDS:
        assert p[f] == r[f], f
    assert p["timestamp"] == r["timestamp"]


def test_dsmr4_fields_it_lacks_are_null_not_missing_or_zero():
    p = _payload("v4_2.p1")
    for f in ("voltage_l1_v", "voltage_l2_v", "voltage_l3_v", "frequency_hz", "average_power_15m_w"):
        assert f in p and p[f] is None, f
    assert p["power_w"] == 2027.0
    assert p["current_l2_a"] == 6.0


def test_totals_only_when_enabled():
    off = _payload("fluvius_v171.p1")
    on = _payload("fluvius_v171.p1", totals=True)
    for f in TOTAL_NAMES:
        assert f not in off and f in on, f
    assert on["heat_gj"] is None
    text = mp.data_payload(dsmr.parse(telegram("fluvius_v171.p1")), NOW, True)
    assert '"gas_m3":112.384,"water_m3":872.234,' in text
    assert '"energy_import_kwh":15.792,' in text and '"energy_export_t1_kwh":0.000,' in text


def test_counters_are_numbers_with_exactly_the_meters_digits():
    # On an ESP32's single-precision floats 012345.678 would read 12345.68, the sum 34256.42.
    r = dsmr.parse(make_telegram([b"1-0:1.8.1(012345.678*kWh)", b"1-0:1.8.2(021910.746*kWh)"]))
    text = mp.data_payload(r, NOW, True)
    assert '"energy_import_t1_kwh":12345.678,' in text and '"energy_import_kwh":34256.424,' in text


def test_counters_of_a_wh_meter_are_written_in_kwh():
    text = mp.data_payload(dsmr.parse(telegram("sagemcom_t210_d_r.p1")), NOW, True)
    assert '"energy_import_kwh":6545.766,' in text and '"energy_export_kwh":0.058,' in text


def test_counters_of_a_meter_with_seven_decimals_keep_them():
    text = mp.data_payload(dsmr.parse(telegram("esy5q3da1004_v304.p1")), NOW, True)
    assert '"energy_import_kwh":32549.5061662,' in text


def test_has_value_knows_the_counters_by_their_published_names():
    r = dsmr.parse(telegram("fluvius_v171.p1"))
    assert mp.has_value(r, "gas_m3") and mp.has_value(r, "energy_import_kwh") and mp.has_value(r, "power_w")
    assert not mp.has_value(r, "heat_gj") and not mp.has_value(r, "frequency_hz")


def _varint(b, i):
    n = shift = 0
    while True:
        n |= (b[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not b[i - 1] & 0x80:
            return n, i


def test_publish_header_is_written_in_front_of_a_payload_of_any_length():
    for size in (0, 127, 128, 16383, 16384, 300000):
        buf = bytearray(mp.PUBLISH_HEAD_MAX + 2)
        start = mp.publish_header(buf, mp.PUBLISH_HEAD_MAX, size)
        assert buf[start] == 0x30, size
        n, end = _varint(buf, start + 1)
        assert (n, end) == (size, mp.PUBLISH_HEAD_MAX), size


def test_timestamp_falls_back_to_clock_without_meter_time():
    p = _payload("v2_2.p1", now=NOW)
    assert p["timestamp"] == NOW


def test_timestamp_is_null_while_the_clock_was_never_set():
    # An ESP32 without NTP counts from 2000-01-01: that is no time to publish.
    assert _payload("v2_2.p1", now=946685100)["timestamp"] is None
    assert _payload("v5.p1", now=946685100)["timestamp"] == dsmr.parse(telegram("v5.p1"))["timestamp"]


def test_empty_reading_is_all_null():
    p = json.loads(mp.data_payload(new_reading(), NOW, True))
    assert [f for f in p if p[f] is not None] == ["timestamp"]


def test_broker_urls_parse():
    assert parse_broker("mqtt://10.0.0.5:1884") == (False, "10.0.0.5", 1884)
    assert parse_broker("mqtts://broker.example.com:8883") == (True, "broker.example.com", 8883)
    assert parse_broker("mqtt://host") == (False, "host", 1883)
    assert parse_broker("MQTTS://host/") == (True, "host", 8883)


def _error(url):
    try:
        parse_broker(url)
    except ValueError as e:
        return str(e)
    return None


def test_broker_url_errors_say_why():
    assert "no broker" in _error("")
    assert "scheme" in _error("host:1883")
    assert "mqtt:// or mqtts://" in _error("http://host")
    assert "1..65535" in _error("mqtt://host:0")
    assert "1..65535" in _error("mqtt://host:http")
    assert "no path" in _error("mqtt://host:1883/x")
    assert "credentials" in _error("mqtt://u:p@host")
    assert "no host" in _error("mqtt://:1883")
    assert "IPv6" in _error("mqtt://[::1]:1883")
    assert "invalid character" in _error("mqtt://ho st")


def test_connect_packet_bytes_with_credentials():
    pkt = mqtt_connect.connect_packet("S1", "u", "pw", 60, "t/s", b"offline")
    body = (b"\x00\x04MQTT\x04" + bytes([0x02 | 0x04 | 0x20 | 0x80 | 0x40]) + b"\x00\x3c"
            + b"\x00\x02S1" + b"\x00\x03t/s" + b"\x00\x07offline" + b"\x00\x01u" + b"\x00\x02pw")
    assert pkt == b"\x10" + bytes([len(body)]) + body


def test_connect_packet_without_credentials_sets_no_user_flags():
    pkt = mqtt_connect.connect_packet("S1", "", "", 30, "t", b"offline")
    assert pkt[9] == 0x26  # clean session + will + will retain
    assert pkt[10:12] == b"\x00\x1e"
    assert pkt.endswith(b"\x00\x07offline")


def test_connect_packet_long_remaining_length_uses_two_bytes():
    pkt = mqtt_connect.connect_packet("S1", "u" * 200, "p", 60, "t", b"offline")
    n = len(pkt) - 3
    assert pkt[1] == (n & 0x7F) | 0x80 and pkt[2] == n >> 7
