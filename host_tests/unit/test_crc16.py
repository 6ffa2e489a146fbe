from crc16 import crc16
from _support import telegram


def test_check_value_of_crc16_arc():
    # The catalogue check value of CRC-16/ARC over "123456789".
    assert crc16(b"123456789") == 0xBB3D


def test_range_arguments_match_a_slice():
    data = b"xx/ABC5 meter\r\n!yy"
    assert crc16(data, 2, 16) == crc16(data[2:16])


def test_real_telegram_crc_matches_its_trailer():
    t = telegram("v5.p1")
    bang = t.index(b"!")
    assert crc16(t, 0, bang + 1) == int(t[bang + 1:bang + 5], 16)
