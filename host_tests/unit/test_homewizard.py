"""Readings as HomeWizard P1 JSON: names, units, omissions, local timestamps."""
import dsmr
import homewizard
from _support import telegram


def _v5():
    return dsmr.parse(telegram("v5.p1"))


def test_power_and_energy_use_homewizard_names_and_units():
    r = _v5()
    d = homewizard.data(r)
    assert d["active_power_w"] == r["power_w"] and d["active_power_l3_w"] == r["power_l3_w"]
    assert d["total_power_import_kwh"] == r["energy_import_kwh"]
    assert d["total_power_export_t1_kwh"] == r["energy_export_t1_kwh"]
    assert d["active_voltage_l2_v"] == r["voltage_l2_v"] and d["active_current_l1_a"] == r["current_l1_a"]
    assert d["smr_version"] == 50 and d["unique_id"] == r["meter_id"] and d["active_tariff"] == 2
    assert d["total_gas_m3"] == r["gas_m3"]


def test_fields_the_meter_lacks_are_left_out_not_null():
    d = homewizard.data(_v5())
    assert "active_frequency_hz" not in d and "montly_power_peak_w" not in d
    assert None not in d.values()


def test_total_current_is_the_sum_of_phases():
    r = _v5()
    assert abs(homewizard.data(r)["active_current_a"] - (0.48 + 0.44 + 0.86)) < 1e-9


def test_belgian_peak_uses_homewizard_spelling_and_local_stamp():
    r = dsmr.parse(telegram("fluvius_v171.p1"))
    d = homewizard.data(r)
    assert d["montly_power_peak_w"] == r["monthly_power_peak_w"] == 2589.0
    assert d["active_power_average_w"] == r["average_power_15m_w"]
    # the telegram says 1-0:1.6.0(200509134558S): the meter's own local time again
    assert d["montly_power_peak_timestamp"] == 200509134558


def test_mbus_devices_listed_in_external():
    d = homewizard.data(dsmr.parse(telegram("fluvius_v171.p1")))
    kinds = dict((e["type"], e) for e in d["external"])
    assert sorted(kinds) == ["gas_meter", "water_meter"]
    assert kinds["water_meter"]["value"] == 872.234 and kinds["water_meter"]["unit"] == "m3"
    assert kinds["gas_meter"]["timestamp"] == d["gas_timestamp"]


def test_wifi_fields_only_when_known_and_strength_clamped():
    assert "wifi_ssid" not in homewizard.data(_v5())
    d = homewizard.data(_v5(), "home", -60)
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
