import dsmr
from plausible import Implausible
from reading import FIELDS
from _support import make_telegram, raises, telegram


def test_a_line_that_cannot_be_read_is_an_error_when_strict_and_skipped_when_not():
    t = make_telegram([b"1-0:1.7.0(01.500*kW)", b"0-0:1.0.0(1701X)",
                       b"0-0:96.14.0()", b"1-0:31.7.0(003*A)", b"garbage"])
    assert raises(ValueError, dsmr.parse, t)
    r = dsmr.parse(t, None, False)
    assert (r["power_import_w"], r["timestamp"], r["tariff"], r["current_l1_a"]) == (1500, None, None, 3)


def test_an_unreadable_energy_counter_with_a_crc_is_implausible_not_left_out():
    # Left out, Modbus would serve 0 Wh as the meter's counter.
    for line in (b"1-0:1.8.1(nan*kWh)", b"1-0:1.8.1(x*kWh)", b"1-0:2.8.2()"):
        t = make_telegram([b"1-0:1.7.0(01.500*kW)", line])
        assert raises(Implausible, dsmr.parse, t, None, False), line
        assert raises(ValueError, dsmr.parse, t), line  # without a CRC: damage, malformed


def test_a_damaged_digit_is_an_error_never_a_shorter_number():
    for line in (b"1-0:32.7.0(23x.0*V)", b"1-0:1.7.0(00.244 *kW)", b"0-0:96.14.0(00x2)", b"1-0:1.8.1(12.5"):
        assert raises(ValueError, dsmr.parse, make_telegram([line])), line


def test_an_unreadable_power_voltage_or_current_fails_the_telegram_even_with_a_crc():
    # Served as 0 on Modbus it would look like spare capacity; a failed telegram goes stale.
    for line in (b"1-0:31.7.0()", b"1-0:32.7.0(23x*V)", b"1-0:21.7.0(*kW)"):
        assert raises(ValueError, dsmr.parse, make_telegram([b"1-0:1.7.0(01.500*kW)", line]), None, False)


def test_a_belgian_peak_that_cannot_be_read_leaves_both_its_fields_null():
    r = dsmr.parse(make_telegram([b"1-0:1.6.0(200509134558S)(bad*kW)"]), None, False)
    assert r["monthly_power_peak_w"] is None and r["monthly_power_peak_timestamp"] is None


def test_every_field_is_present_and_missing_ones_are_none():
    r = dsmr.parse(make_telegram([b"1-0:1.7.0(01.500*kW)"]))
    assert sorted(r) == sorted(FIELDS)
    assert r["power_import_w"] == 1500.0 and r["voltage_l1_v"] is None and r["gas"] is None


def test_net_power_is_negative_when_exporting():
    r = dsmr.parse(make_telegram([b"1-0:1.7.0(00.000*kW)", b"1-0:2.7.0(02.601*kW)"]))
    assert r["power_w"] == -2601.0


def test_per_phase_power_is_import_minus_export():
    r = dsmr.parse(make_telegram([b"1-0:21.7.0(00.100*kW)", b"1-0:22.7.0(00.350*kW)"]))
    assert r["power_l1_w"] == -250.0 and r["power_l2_w"] is None


def test_signed_power_of_an_easymeter_splits_into_import_and_export():
    r = dsmr.parse(make_telegram([b"1-0:1.7.0*255(-000997.90*W)", b"1-0:21.7.0*255(-001000.00*W)"]))
    assert (r["power_w"], r["power_import_w"], r["power_export_w"]) == (-997.9, 0, 997.9)
    assert r["power_l1_w"] == -1000.0
    r = dsmr.parse(make_telegram([b"1-0:1.7.0(-01.500*kW)", b"1-0:2.7.0(00.000*kW)"]))
    assert (r["power_w"], r["power_import_w"], r["power_export_w"]) == (-1500, 0, 1500)


def test_a_signed_current_is_served_as_its_magnitude():
    r = dsmr.parse(make_telegram([b"1-0:31.7.0(-012.34*A)", b"1-0:51.7.0(005*A)"]))
    assert (r["current_l1_a"], r["current_l2_a"]) == (12.34, 5)


def test_smarty_logical_device_name_is_the_meter_id_when_nothing_better_is_sent():
    lu = b"0-0:42.0.0(53414731)"
    assert dsmr.parse(make_telegram([lu]))["meter_id"] == "53414731"
    for lines in ([lu, b"0-0:96.1.0(3132)"], [b"0-0:96.1.0(3132)", lu]):
        assert dsmr.parse(make_telegram(lines))["meter_id"] == "3132"


def test_single_phase_meter_leaves_l2_l3_null():
    r = dsmr.parse(make_telegram([b"1-0:21.7.0(00.812*kW)", b"1-0:32.7.0(231.0*V)", b"1-0:31.7.0(003*A)"]))
    assert r["power_l1_w"] == 812.0 and r["voltage_l1_v"] == 231.0 and r["current_l1_a"] == 3.0
    assert r["power_l2_w"] is None and r["voltage_l3_v"] is None and r["current_l2_a"] is None


def test_w_and_wh_units_are_scaled():
    r = dsmr.parse(telegram("sagemcom_t210_d_r.p1"))
    assert r["power_import_w"] == 286.0
    assert (r["energy_import"], r["energy_import_t1"], r["counter_decimals"]) == (6545766, 5017120, 3)


def test_counters_are_exact_integers_in_thousandths():
    r = dsmr.parse(make_telegram([b"1-0:1.8.1(012345.678*kWh)", b"1-0:2.8.2(000000.5*kWh)",
                                  b"0-1:24.1.0(003)", b"0-1:24.2.1(200426223001S)(00981.44*m3)"]))
    assert (r["energy_import_t1"], r["energy_export_t2"], r["gas"], r["counter_decimals"]) == (
        12345678, 500, 981440, 3)
    assert type(r["energy_import_t1"]) is int and type(r["gas"]) is int


def test_a_meter_with_finer_digits_keeps_them_all():
    # EasyMeter sends 7 decimals of a kWh: every counter of its reading counts 0.1 mWh.
    r = dsmr.parse(make_telegram([b"1-0:1.8.1(000100.500*kWh)", b"1-0:1.8.0*255(00032549.5061662*kWh)",
                                  b"1-0:1.8.2(000001.25*kWh)"]))
    assert r["counter_decimals"] == 7
    assert (r["energy_import"], r["energy_import_t1"], r["energy_import_t2"]) == (
        325495061662, 1005000000, 12500000)


def test_more_than_nine_decimals_is_malformed():
    assert raises(ValueError, dsmr.parse, make_telegram([b"1-0:1.8.1(1.0000000001*kWh)"]))


def test_totals_are_the_sum_of_tariffs_when_absent():
    r = dsmr.parse(make_telegram([b"1-0:1.8.1(000100.500*kWh)", b"1-0:1.8.2(000200.250*kWh)"]))
    assert r["energy_import"] == 300750 and r["energy_export"] is None


def test_winter_and_summer_timestamps_to_utc():
    w = dsmr.parse(make_telegram([b"0-0:1.0.0(161113205757W)"]))
    s = dsmr.parse(make_telegram([b"0-0:1.0.0(200512135409S)"]))
    assert w["timestamp"] == 1479067077  # 2016-11-13 19:57:57 UTC
    assert s["timestamp"] == 1589284449  # 2020-05-12 11:54:09 UTC


def test_dsmr22_gas_value_on_the_next_line():
    r = dsmr.parse(telegram("v2_2.p1"))
    assert r["gas"] == 1001 and r["gas_timestamp"] == 1478541600


def test_belgian_peak_average_and_water():
    r = dsmr.parse(telegram("fluvius_v171.p1"))
    assert r["average_power_15m_w"] == 2351.0 and r["monthly_power_peak_w"] == 2589.0
    assert r["monthly_power_peak_timestamp"] == 1589024758
    assert r["gas"] == 112384 and r["water"] == 872234
    assert r["current_l1_a"] == 0.0 and r["protocol_version"] == 50217


def test_heat_meter_in_gj():
    r = dsmr.parse(telegram("unpadded_crc.p1"))
    assert r["heat"] == 240860 and r["gas"] is None


def test_empty_mbus_channel_does_not_hide_the_real_gas_meter():
    r = dsmr.parse(telegram("v5_two_mbus.p1"))
    assert r["gas"] == 246138


def test_mbus_channel_3_and_4():
    r = dsmr.parse(make_telegram([
        b"0-3:24.1.0(007)", b"0-3:24.2.1(200426223001S)(00012.500*m3)",
        b"0-4:24.1.0(003)", b"0-4:24.2.1(200426223001S)(00246.138*m3)"]))
    assert r["water"] == 12500 and r["gas"] == 246138


def test_mbus_device_without_a_field_of_ours_hides_nothing():
    # Warm water (006) on channel 1 is neither gas nor water: the gas meter on 2 counts.
    r = dsmr.parse(make_telegram([
        b"0-1:24.1.0(006)", b"0-1:24.2.1(200426223001S)(00004.321*m3)",
        b"0-2:24.1.0(003)", b"0-2:24.2.1(200426223001S)(01500.000*m3)"]))
    assert r["gas"] == 1500000 and r["water"] is None


def test_mbus_heat_needs_gj_and_inlet_heat_meters_count():
    r = dsmr.parse(make_telegram([b"0-1:24.1.0(012)", b"0-1:24.2.1(260215200523W)(123.456*GJ)"]))
    assert r["heat"] == 123456 and r["gas"] is None
    r = dsmr.parse(make_telegram([b"0-1:24.1.0(004)", b"0-1:24.2.1(260215200523W)(1234.567*kWh)"]))
    assert r["heat"] is None and r["gas"] is None


def test_mbus_device_type_beyond_a_byte_is_no_type_of_ours():
    r = dsmr.parse(make_telegram([b"0-1:24.1.0(259)", b"0-1:24.2.1(200426223001S)(00012.345*m3)"]))
    assert r["gas"] is None and r["water"] is None


def test_dsmr3_mbus_value_takes_the_unit_of_its_24_3_0_line():
    r = dsmr.parse(make_telegram([b"0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(GJ)",
                                  b"(00012.345)"], header=b"/KFM5KAIFA-METER"))
    assert r["heat"] == 12345 and r["gas"] is None


def test_unknown_obis_lines_are_ignored():
    r = dsmr.parse(make_telegram([b"1-0:99.99.9(whatever)(1)", b"1-0:1.7.0(00.100*kW)"]))
    assert r["power_w"] == 100.0


def test_text_message_of_2048_characters():
    text = b"0123456789ABCDEF" * 64  # 1024 characters, 2048 hex digits
    hexed = b"".join(b"%02X" % c for c in text)
    r = dsmr.parse(make_telegram([b"0-0:96.13.0(" + hexed + b")"]))
    assert r["text_message"] == text.decode()


def test_text_message_in_utf8_keeps_its_accents():
    r = dsmr.parse(make_telegram([b"0-0:96.13.0(436166C3A9)"]))
    assert r["text_message"] == "Caf\u00e9"


def test_text_message_that_is_not_utf8_is_shown_as_sent():
    assert dsmr.parse(make_telegram([b"0-0:96.13.0(436166E9)"]))["text_message"] == "436166E9"


def test_empty_text_message_is_null():
    assert dsmr.parse(make_telegram([b"0-0:96.13.0()"]))["text_message"] is None


def test_a_lone_decimal_point_is_no_number():
    # "(.*A)" is not 0 A: a load balancer would take 0 A for spare capacity.
    assert raises(ValueError, dsmr.parse, make_telegram([b"1-0:31.7.0(.*A)"]))
    assert dsmr.parse(make_telegram([b"1-0:31.7.0(.5*A)"]))["current_l1_a"] == 0.5


def test_obis_id_with_an_empty_part_is_malformed():
    for obis in (b"1-0:2.7.", b"1-0:2..0", b"1-:2.7.0", b"-0:2.7.0", b"1-0:2.7.*255"):
        assert raises(ValueError, dsmr.parse, make_telegram([obis + b"(00.500*kW)"])), obis


def test_timestamp_cut_short_is_a_value_error():
    assert raises(ValueError, dsmr.parse, b"/X\r\n\r\n0-0:1.0.0(2401")
    assert raises(ValueError, dsmr.parse, make_telegram([b"0-0:1.0.0(2401)"]))


def test_line_without_value_is_malformed():
    assert raises(ValueError, dsmr.parse, make_telegram([b"1-0:1.7.0 garbage"]))


def test_bad_number_is_malformed():
    assert raises(ValueError, dsmr.parse, make_telegram([b"1-0:1.7.0(xx.500*kW)"]))


def test_bad_obis_is_malformed():
    assert raises(ValueError, dsmr.parse, make_telegram([b"1-0:1.7.x(01.500*kW)"]))


def test_not_a_telegram():
    assert raises(ValueError, dsmr.parse, b"hello\r\n!")


def test_too_many_decimals_is_malformed_not_a_crash():
    assert raises(ValueError, dsmr.parse, make_telegram([b"1-0:1.8.1(000001.0000000001*kWh)"]))


def test_summed_total_has_no_float_noise():
    r = dsmr.parse(make_telegram([b"1-0:1.8.1(012034.513*kWh)", b"1-0:1.8.2(009876.234*kWh)"]))
    assert r["energy_import"] == 21910747


def test_summed_total_beyond_single_precision_is_exact():
    # An ESP32's float gives 21910.746 + 12345.678 as 34256.42.
    r = dsmr.parse(make_telegram([b"1-0:1.8.1(021910.746*kWh)", b"1-0:1.8.2(012345.678*kWh)"]))
    assert r["energy_import"] == 34256424
