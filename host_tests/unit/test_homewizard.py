"""Readings as HomeWizard P1 JSON: names, units, omissions, local timestamps."""
import json

import dsmr
import homewizard
from _support import make_telegram, telegram


def _v5():
    return dsmr.parse(telegram("v5.p1"))


def _data(r, ssid=None, rssi=None):
    return json.loads(homewizard.data(r, ssid, rssi))


def test_power_and_energy_use_homewizard_names_and_units():
    r = _v5()
    d = _data(r)
    assert d["active_power_w"] == r["power_w"] and d["active_power_l3_w"] == r["power_l3_w"]
    assert d["active_voltage_l2_v"] == r["voltage_l2_v"] and d["active_current_l1_a"] == r["current_l1_a"]
    assert d["smr_version"] == 50 and d["unique_id"] == r["meter_id"] and d["active_tariff"] == 2
    text = homewizard.data(r)
    for counter in ('"total_power_import_kwh":6.825,', '"total_power_import_t1_kwh":4.426,',
                    '"total_power_export_t1_kwh":2.444,', '"total_power_export_t2_kwh":0.000,',
                    '"total_gas_m3":0.107,'):
        assert counter in text, counter


def test_counters_keep_the_meters_digits_beyond_single_precision():
    # 12345.678 + 21910.746 kWh: a single-precision float would give 34256.42.
    r = dsmr.parse(make_telegram([b"1-0:1.8.1(012345.678*kWh)", b"1-0:1.8.2(021910.746*kWh)",
                                  b"0-1:24.1.0(003)", b"0-1:24.2.1(200426223001S)(123456.789*m3)"]))
    text = homewizard.data(r)
    assert '"total_power_import_kwh":34256.424,' in text
    assert '"total_power_import_t1_kwh":12345.678,' in text
    assert '"total_gas_m3":123456.789,' in text and '"value":123456.789,' in text


def test_fields_the_meter_lacks_are_left_out_not_null():
    d = _data(_v5())
    assert "active_frequency_hz" not in d and "montly_power_peak_w" not in d
    assert None not in d.values()


def test_total_current_is_the_sum_of_phases():
    r = _v5()
    assert abs(_data(r)["active_current_a"] - (0.48 + 0.44 + 0.86)) < 1e-5  # single floats on a device


def test_belgian_peak_uses_homewizard_spelling_and_local_stamp():
    r = dsmr.parse(telegram("fluvius_v171.p1"))
    d = _data(r)
    assert d["montly_power_peak_w"] == r["monthly_power_peak_w"] == 2589.0
    assert d["active_power_average_w"] == r["average_power_15m_w"]
    # the telegram says 1-0:1.6.0(200509134558S): the meter's own local time again
    assert d["montly_power_peak_timestamp"] == 200509134558


def test_mbus_devices_listed_in_external():
    text = homewizard.data(dsmr.parse(telegram("fluvius_v171.p1")))
    d = json.loads(text)
    kinds = dict((e["type"], e) for e in d["external"])
    assert sorted(kinds) == ["gas_meter", "water_meter"]
    assert '"type":"water_meter","value":872.234,"unit":"m3"' in text
    assert kinds["gas_meter"]["timestamp"] == d["gas_timestamp"]


def test_mbus_device_keeps_its_own_equipment_id():
    # fluvius: 0-1:96.1.1 (e-MUCS); v5_two_mbus: the gas meter on channel 2 (0-2:96.1.0)
    d = _data(dsmr.parse(telegram("fluvius_v171.p1")))
    assert d["external"][0]["unique_id"] == "37464C4F32313139303333373333"
    d = _data(dsmr.parse(telegram("v5_two_mbus.p1")))
    assert [e["unique_id"] for e in d["external"]] == ["4730303339303031393336393930363139"]


def test_mbus_device_without_an_id_is_named_after_the_meter():
    r = dsmr.parse(make_telegram([b"0-0:96.1.1(4B384547303034303436333935353037)",
                                  b"0-1:24.1.0(003)", b"0-1:24.2.1(200426223001S)(00012.345*m3)"]))
    assert _data(r)["external"][0]["unique_id"] == "4B384547303034303436333935353037-gas_meter"


def test_wifi_ssid_always_sent_and_strength_clamped():
    # python-homewizard-energy maps no value of an answer without wifi_ssid (Ethernet: "")
    d = _data(_v5())
    assert d["wifi_ssid"] == "" and "wifi_strength" not in d
    d = _data(_v5(), "home", -60)
    assert d["wifi_ssid"] == "home" and d["wifi_strength"] == 80
    assert homewizard.wifi_strength(-20) == 100 and homewizard.wifi_strength(-120) == 0


def test_local_stamp_follows_eu_summer_time():
    # 2023-03-26 00:59:59 UTC is 01:59:59 CET; one second later 03:00:00 CEST
    assert homewizard.local_stamp(1679792399) == 230326015959
    assert homewizard.local_stamp(1679792400) == 230326030000
    # 2023-10-29 00:59:59 UTC is 02:59:59 CEST; one second later 02:00:00 CET
    assert homewizard.local_stamp(1698541199) == 231029025959
    assert homewizard.local_stamp(1698541200) == 231029020000
    assert homewizard.local_stamp(None) is None


def test_device_info_has_what_integrations_expect():
    d = homewizard.device("A1B2C3", "1.2.3")
    assert d["product_type"] == "HWE-P1" and d["api_version"] == "v1"
    assert (d["serial"], d["firmware_version"]) == ("A1B2C3", "1.2.3") and d["product_name"]


def test_written_timestamps_are_the_local_stamp_numbers():
    r = dsmr.parse(telegram("fluvius_v171.p1"))
    text = homewizard.data(r)
    assert '"gas_timestamp":%d,' % homewizard.local_stamp(r["gas_timestamp"]) in text
    assert '"montly_power_peak_timestamp":200509134558,' in text
    # a stamp of 2005 has no leading zero: it is a JSON number
    d = json.loads(homewizard.data(dsmr.parse(make_telegram([b"1-0:1.6.0(050101010000W)(02.589*kW)"]))))
    assert d["montly_power_peak_timestamp"] == 50101010000
