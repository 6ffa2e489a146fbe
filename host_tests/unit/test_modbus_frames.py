"""MBAP header checks and read-register PDUs, answered from a register image."""
import empro
import modbus_frame as mf
import sdm630
from _modbus import reading_3phase, request


def _img():
    img = empro.new_image()
    empro.build(img, reading_3phase(), "SER", 7)
    return img


def _answer(req, data_ok=True, img=None):
    out = bytearray(mf.MAX_ADU)
    n = mf.answer(req, out, img or _img(), data_ok)
    return bytes(out[:n])


def test_sdm630_fc3_reads_its_settings_and_refuses_measurements():
    img = sdm630.new_image()
    sdm630.build(img, reading_3phase(), "SER", 7)
    settings = _answer(request(3, 0x000A, 2), img=img)
    assert settings[7] == 3 and settings[9:13] == b"\x40\x40\x00\x00"  # 3.0: 3P4W
    assert _answer(request(4, 0x000A, 2), img=img)[9:13] != settings[9:13]  # FC04: L3 current
    assert _answer(request(3, 0x0048, 2), img=img)[7:] == bytes([0x83, 2])


def test_header_length_of_a_read_request():
    assert mf.header_length(request(3, 0x8000, 2)) == 5


def test_header_rejects_protocol_id_other_than_zero():
    req = bytearray(request(3, 0x8000, 2))
    req[3] = 1
    assert mf.header_length(req) == -1


def test_header_rejects_length_over_adu_limit_and_without_function_code():
    assert mf.header_length(bytes([0, 1, 0, 0, 0, 255, 1])) == -1
    assert mf.header_length(bytes([0, 1, 0, 0, 1, 4, 1])) == -1
    assert mf.header_length(bytes([0, 1, 0, 0, 0, 1, 1])) == -1
    assert mf.header_length(bytes([0, 1, 0, 0, 0, 254, 1])) == 253


def test_fc3_and_fc4_return_the_same_registers():
    img = _img()
    a = _answer(request(3, 0x8006, 57), img=img)
    b = _answer(request(4, 0x8006, 57), img=img)
    assert a[8] == 114 and len(a) == 9 + 114
    assert a[9:] == b[9:]
    assert a[9:] != bytes(114)


def test_response_echoes_transaction_and_unit_id():
    resp = _answer(request(3, 0x8100, 8, tid=0xBEEF, unit=0xF7))
    assert resp[:7] == bytes([0xBE, 0xEF, 0, 0, 0, 3 + 16, 0xF7])
    assert resp[7] == 3


def test_write_and_other_functions_get_exception_01():
    for fc in (1, 2, 5, 6, 0x0F, 0x10, 0x17, 0x2B, 0x7F):
        resp = _answer(request(fc, 0x8000, 2))
        assert resp[5:] == bytes([3, 1, fc | 0x80, 1]), fc


def test_write_multiple_with_long_pdu_gets_exception_01():
    pdu = bytes([0x10, 0x80, 0x00, 0, 2, 4, 1, 2, 3, 4])
    req = bytes([0, 9, 0, 0, 0, 1 + len(pdu), 1]) + pdu
    assert _answer(req)[7:] == bytes([0x90, 1])


def test_read_outside_map_gets_exception_02():
    for addr, qty in ((0x7FFE, 2), (0x803E, 2), (0x8108, 1), (0x0000, 1), (0xFFFF, 1), (0x0102, 1)):
        assert _answer(request(3, addr, qty))[7:] == bytes([0x83, 2]), hex(addr)


def test_quantity_zero_or_over_125_gets_exception_03():
    assert _answer(request(4, 0x8000, 0))[7:] == bytes([0x84, 3])
    assert _answer(request(4, 0x8000, 126))[7:] == bytes([0x84, 3])


def test_read_pdu_of_wrong_length_gets_exception_03():
    req = bytes([0, 1, 0, 0, 0, 7]) + bytes([1, 3, 0x80, 0, 0, 2, 0])
    assert _answer(req)[7:] == bytes([0x83, 3])


def test_stale_data_gets_exception_04_but_identification_still_answers():
    assert _answer(request(3, 0x8000, 2), data_ok=False)[7:] == bytes([0x83, 4])
    assert _answer(request(3, 0x8100, 2), data_ok=False)[7:] == bytes([0x83, 4])
    resp = _answer(request(3, 300, 8), data_ok=False)
    assert resp[7] == 3 and resp[8] == 16


def test_gap_inside_block_answered_with_zeros():
    assert _answer(request(3, 0x8102, 4))[9:] == bytes(8)


def test_odd_start_read_across_values():
    img = _img()
    whole = _answer(request(3, 0x8000, 63), img=img)[9:]
    part = _answer(request(3, 0x8039, 6), img=img)[9:]
    assert part == whole[2 * 0x39:2 * 0x3F]
