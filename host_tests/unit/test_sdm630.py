"""SDM630 input-register image: standard addresses, float32 high word first."""
import dsmr
import reading
import sdm630
from _modbus import close, f32_abcd, reading_3phase, regs
from _support import telegram


def _image(r):
    img = sdm630.new_image()
    sdm630.build(img, r, "S", 1)
    return img


def _f(img, addr):
    a, b = regs(img, addr, 2)
    return f32_abcd(a, b)


def test_float_high_word_first():
    r = reading.new_reading()
    r["voltage_l1_v"] = 123.456
    assert regs(_image(r), 0x0000, 2) == [0x42F6, 0xE979]


def test_standard_addresses():
    r = reading_3phase()
    img = _image(r)
    for i, n in enumerate("123"):
        assert close(_f(img, 0x0000 + 2 * i), r["voltage_l%s_v" % n])
        assert close(_f(img, 0x0006 + 2 * i), r["current_l%s_a" % n])
        assert close(_f(img, 0x000C + 2 * i), r["power_l%s_w" % n])
    assert close(_f(img, 0x0034), r["power_w"])
    assert close(_f(img, 0x0030), r["current_l1_a"] + r["current_l2_a"] + r["current_l3_a"])
    assert close(_f(img, 0x002E), (r["current_l1_a"] + r["current_l2_a"] + r["current_l3_a"]) / 3)
    assert close(_f(img, 0x0048), 12345.678)
    assert close(_f(img, 0x004A), 2345.5)
    assert close(_f(img, 0x0156), 14691.178)


def test_frequency_nominal_unless_meter_sends_it():
    r = reading.new_reading()
    assert _f(_image(r), 0x0046) == 50.0
    r["frequency_hz"] = 50.02
    assert close(_f(_image(r), 0x0046), 50.02)


def test_line_to_line_same_rule_as_empro():
    r = reading_3phase()
    img = _image(r)
    a, b = r["voltage_l1_v"], r["voltage_l2_v"]
    assert close(_f(img, 0x00C8), (a * a + b * b + a * b) ** 0.5)
    r["voltage_l2_v"] = None
    assert regs(_image(r), 0x00C8, 8) == [0] * 8


def test_export_reads_negative_total_power():
    r = reading.new_reading()
    r["power_export_w"] = 500.0
    assert _f(_image(r), 0x0034) == -500.0


def test_unmeasured_values_read_zero():
    img = _image(reading_3phase())
    assert regs(img, 0x0012, 24) == [0] * 24    # VA, VAr, PF, phase angle per phase
    assert regs(img, 0x00E0, 2) == [0, 0]       # neutral current


def test_blocks_are_a_real_sdm630s_input_ranges():
    # 30001-30108, 30201-30270, 30335-30382: every batch sdm_modbus reads fits one
    img = sdm630.new_image()
    for addr, qty in ((0x0000, 80), (0x0050, 28), (0x00C8, 70), (0x014E, 48), (0x0000, 108)):
        assert img.locate(addr, qty) >= 0, hex(addr)
    for addr, qty in ((0x0000, 109), (0x006C, 2), (0x00C6, 2), (0x010E, 1), (0x014C, 2),
                      (0x017E, 1), (0x8000, 2)):
        assert img.locate(addr, qty) < 0, hex(addr)


def test_holding_registers_are_settings_not_measurements():
    img = _image(reading_3phase())
    h = img.holding
    assert _f(h, 0x000A) == 3.0          # system type 3P4W (FC04 0x000A is the L3 current)
    assert _f(h, 0x0014) == 1.0 and _f(h, 0x001C) == 2.0 and _f(h, 0x0002) == 60.0
    assert _f(h, 0x0006) == 230.0 and _f(h, 0x0024) == 69000.0
    assert h.locate(0x0000, 38) >= 0 and h.locate(0xF910, 2) >= 0 and h.locate(0xFC00, 2) >= 0
    assert h.locate(0x0000, 39) < 0 and h.locate(0x0048, 2) < 0
    assert not any(h.live)
    s = sdm630.new_image()
    sdm630.build(s, reading_3phase(), "240AC400517E", 1)
    a, b = regs(s.holding, 0xFC00, 2)
    assert a << 16 | b == 0x400517E


def test_dsmr4_telegram():
    r = dsmr.parse(telegram("v4_2.p1"))
    img = _image(r)
    assert regs(img, 0x0000, 6) == [0] * 6
    assert r["counter_decimals"] == 3
    assert close(_f(img, 0x0048), r["energy_import"] / 1000)
    assert close(_f(img, 0x0034), r["power_w"])
