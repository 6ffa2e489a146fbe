"""EMPro register image: map, word order, derived values, one telegram per image."""
import math

import dsmr
import empro
import reading
from _modbus import close, f32_cdab, reading_3phase, regs
from _support import telegram


def _image(r, serial="P1GW-0001", firmware=0x010203):
    img = empro.new_image()
    empro.build(img, r, serial, firmware)
    return img


def _f(img, addr):
    a, b = regs(img, addr, 2)
    return f32_cdab(a, b)


def test_float_low_word_first_as_product_sheet_shows():
    r = reading.new_reading()
    r["voltage_l1_v"] = 123.456
    assert regs(_image(r), 0x8006, 2) == [0xE979, 0x42F6]


def test_firmware_revision_uint32_low_word_first():
    assert regs(_image(reading.new_reading(), firmware=0x00012345), 0x0100, 2) == [0x2345, 0x0001]


def test_device_name_ascii_first_char_in_low_byte():
    words = regs(_image(reading.new_reading()), 300, 8)
    text = "".join(chr(w & 0xFF) + chr(w >> 8) for w in words).rstrip("\0")
    assert text == empro.NAME
    assert words[0] == ord(empro.NAME[0]) | ord(empro.NAME[1]) << 8


def test_serial_number_at_316():
    words = regs(_image(reading.new_reading(), serial="ABCDEFGHIJKLMNOPQRST"), 316, 9)
    assert "".join(chr(w & 0xFF) + chr(w >> 8) for w in words) == "ABCDEFGHIJKLMNOPQR"


def test_measured_values_at_their_addresses():
    r = reading_3phase()
    img = _image(r)
    for i, n in enumerate("123"):
        assert close(_f(img, 0x8006 + 2 * i), r["voltage_l%s_v" % n])
        assert close(_f(img, 0x800E + 2 * i), r["current_l%s_a" % n])
        assert close(_f(img, 0x801E + 2 * i), r["power_l%s_w" % n])
    assert close(_f(img, 0x8016), r["power_w"])


def test_line_to_line_voltage_uses_phasor_difference_for_unbalanced_phases():
    r = reading_3phase()
    img = _image(r)
    v = (r["voltage_l1_v"], r["voltage_l2_v"], r["voltage_l3_v"])
    for i in range(3):
        a, b = v[i], v[(i + 1) % 3]
        # |a at 0 deg - b at -120 deg|, computed from the phasors themselves
        re = a - b * math.cos(-2 * math.pi / 3)
        im = -b * math.sin(-2 * math.pi / 3)
        assert close(_f(img, 0x8000 + 2 * i), math.sqrt(re * re + im * im))
    assert close(_f(img, 0x803B), sum(_f(img, 0x8000 + 2 * i) for i in range(3)) / 3)


def test_a_voltage_the_meter_did_not_send_is_missing_with_what_is_derived_from_it():
    r = reading_3phase()
    r["voltage_l3_v"] = None
    img = _image(r)
    i = img.locate(0x8000, 2)
    for addr in (0x8000, 0x8002, 0x8004, 0x800A, 0x803B, 0x803D):
        assert img.lacks(i, addr, 2), hex(addr)
    assert not img.lacks(i, 0x8006, 4)       # L1, L2 voltage were sent
    assert not img.lacks(i, 0x800C, 0x803B - 0x800C)  # frequency .. system current


def test_a_1_phase_meter_serves_its_missing_phases_as_0_and_its_total_as_l1():
    r = reading.new_reading()
    r.update({"voltage_l1_v": 231.0, "current_l1_a": 4.0, "power_w": 900, "power_import_w": 900,
              "power_export_w": 0})
    img = _image(r)
    assert not img.lacks(img.locate(0x8000, 0x3F), 0x8000, 0x3F)
    assert _f(img, 0x801E) == 900.0 and _f(img, 0x8020) == 0.0 and _f(img, 0x8010) == 0.0
    assert [_f(img, 0x8000 + 2 * i) for i in range(3)] == [0.0, 0.0, 0.0]
    assert _f(img, 0x803D) == 231.0 and _f(img, 0x8039) == 4.0


def test_power_without_power_lines_is_missing_but_the_sum_of_the_phases_is_exact():
    r = reading_3phase()
    r["power_w"] = r["power_import_w"] = r["power_export_w"] = None
    img = _image(r)
    assert close(_f(img, 0x8016), 1100.0 - 650.0 + 2750.0)
    r["power_l2_w"] = None
    img = _image(r)
    i = img.locate(0x8016, 2)
    assert img.lacks(i, 0x8016, 2) and img.lacks(i, 0x8020, 2) and img.lacks(i, 0x8037, 1)
    assert not img.lacks(i, 0x801E, 2) and not img.lacks(i, 0x800E, 6)


def test_energy_the_meter_did_not_send_is_missing_not_0_wh():
    r = reading_3phase()
    r["energy_export"] = None
    img = _image(r)
    i = img.locate(0x8100, 8)
    assert not img.lacks(i, 0x8100, 2) and img.lacks(i, 0x8106, 2) and img.lacks(i, 0x8100, 8)


def test_frequency_nominal_unless_meter_sends_it():
    r = reading.new_reading()
    assert _f(_image(r), 0x800C) == 50.0
    r["frequency_hz"] = 49.97
    assert close(_f(_image(r), 0x800C), 49.97)


def test_total_power_negative_when_exporting():
    r = reading.new_reading()
    r["power_import_w"] = 0.0
    r["power_export_w"] = 1830.0
    r["power_w"] = -1830.0
    assert _f(_image(r), 0x8016) == -1830.0


def test_load_type_registers_follow_power_sign():
    r = reading_3phase()
    r["power_l3_w"] = None
    assert regs(_image(r), 0x8036, 3) == [1, 0xFFFF, 0]  # sint16 1, -1, 0


def test_odd_aligned_system_values():
    r = reading_3phase()
    img = _image(r)
    assert close(_f(img, 0x8039), r["current_l1_a"] + r["current_l2_a"] + r["current_l3_a"])
    assert close(_f(img, 0x803D), (r["voltage_l1_v"] + r["voltage_l2_v"] + r["voltage_l3_v"]) / 3)


def test_energy_in_wh():
    r = reading_3phase()
    img = _image(r)
    assert close(_f(img, 0x8100), 12345678.0)
    assert close(_f(img, 0x8106), 2345500.0)


def test_energy_in_wh_from_a_meter_with_finer_digits():
    r = dsmr.parse(telegram("esy5q3da1004_v304.p1"))  # 1.8.0 = 32549.5061662 kWh
    assert r["counter_decimals"] == 7
    assert close(_f(_image(r), 0x8100), 32549506.1662)


def test_gaps_and_unmeasured_values_read_zero():
    img = _image(reading_3phase())
    assert regs(img, 0x8014, 2) == [0, 0]            # neutral current
    assert regs(img, 0x8018, 6) == [0] * 6           # reactive, apparent, PF
    assert regs(img, 0x8024, 18) == [0] * 18         # per-phase reactive/apparent/PF
    assert regs(img, 0x8102, 4) == [0] * 4


def test_openems_blocks_are_mapped():
    img = empro.new_image()
    assert img.locate(0x8006, 57) >= 0
    assert img.locate(0x8100, 8) >= 0
    assert img.locate(0x8100, 9) < 0
    assert img.locate(0x7FFF, 2) < 0


def test_dsmr4_reads_voltage_zero():
    r = dsmr.parse(telegram("v4_2.p1"))
    assert r["voltage_l1_v"] is None
    img = _image(r)
    assert regs(img, 0x8000, 12) == [0] * 12
    assert close(_f(img, 0x800E), r["current_l1_a"])


def test_real_telegram_every_value():
    r = dsmr.parse(telegram("v5.p1"))
    img = _image(r)
    assert close(_f(img, 0x8006), r["voltage_l1_v"])
    assert close(_f(img, 0x8012), r["current_l3_a"])
    assert close(_f(img, 0x8016), r["power_w"])
    assert close(_f(img, 0x8022), r["power_l3_w"])
    assert close(_f(img, 0x8100), r["energy_import"])  # Wh: the reading counts in them
    assert close(_f(img, 0x8106), r["energy_export"])


def test_build_swaps_whole_image_leaving_held_one_untouched():
    img = empro.new_image()
    r1 = reading_3phase()
    empro.build(img, r1, "S", 1)
    held = img.front
    before = bytes(held)
    r2 = reading_3phase()
    r2["voltage_l1_v"] = 240.0
    empro.build(img, r2, "S", 1)
    assert bytes(held) == before
    assert img.front is not held
    assert _f(img, 0x8006) == 240.0


def test_no_value_of_an_older_telegram_survives():
    img = empro.new_image()
    empro.build(img, reading_3phase(), "S", 1)
    empro.build(img, reading_3phase(), "S", 1)   # both buffers now hold old values
    empro.build(img, reading.new_reading(), "S", 1)
    assert regs(img, 0x8006, 6) == [0] * 6
    assert regs(img, 0x800E, 6) == [0] * 6
