"""The P1 driver: bytes in, readings on the hub; counters, passthrough, auto baud, Smarty, TIC."""
import asyncio
import json
from binascii import unhexlify

from _support import _HERE, telegram
from crc16 import crc16
from hub import Hub
from p1reader import LINES, P1Reader

_DSMR_WINDOW = LINES[0][3]  # how long a silent DSMR line is given before the next is tried


class FakePort:
    """A P1Port that records settings and TX, and hands out given chunks."""

    def __init__(self, chunks=()):
        self.chunks = list(chunks)
        self.settings = []
        self.tx = bytearray()

    def configure(self, baud, bits, parity, invert=True):
        self.settings.append((baud, bits, parity))
        self.inverted = invert

    def write(self, data):
        self.tx += data

    async def readinto(self, buf):
        if not self.chunks:
            raise _Done()
        chunk = self.chunks.pop(0)
        buf[:len(chunk)] = chunk
        return len(chunk)


class _Done(Exception):
    pass


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def _reader(p1=None, port=None, clock=None):
    # Only the P1 section matters here (config.py's defaults, minus its import cost).
    cfg = {"P1": {"Protocol": "auto", "Baud": "auto", "SmartyKey": "", "SmartyAad": "3000112233445566778899AABBCCDDEEFF",
                  "Passthrough": False}}
    cfg["P1"].update(p1 or {})
    clock = clock or Clock()
    hub = Hub(cfg, {}, clock)
    return P1Reader(hub, port or FakePort(), clock), hub


def _feed(reader, data, size=37):
    buf = bytearray(size)
    for i in range(0, len(data), size):
        chunk = data[i:i + size]
        buf[:len(chunk)] = chunk
        reader.feed(buf, len(chunk))


def _with_crc(body):
    """A telegram from its text up to and including "!", with the right CRC."""
    return body + b"%04X\r\n" % crc16(body)


def test_telegram_in_small_chunks_reaches_the_hub_with_its_raw_bytes():
    reader, hub = _reader()
    data = telegram("v5.p1")
    _feed(reader, data)
    assert hub.seq == 1
    assert hub.raw == data
    assert hub.reading["voltage_l1_v"] == 230.0


def test_hub_counters_are_the_framers():
    reader, hub = _reader()
    bad = bytearray(telegram("v5.p1"))
    bad[30] ^= 1  # one flipped bit: the CRC no longer fits
    _feed(reader, bytes(bad) + telegram("v5.p1"))
    assert hub.counters is reader.framer.counters
    assert hub.counters["valid"] == 1 and hub.counters["crc_mismatch"] == 1
    assert hub.seq == 1


def test_unparsable_telegram_without_crc_is_counted_and_not_published():
    # Without a CRC, reading every line is the only check a telegram gets.
    reader, hub = _reader({"Baud": "9600"})
    _feed(reader, telegram("v2_2.p1").replace(b"(161107190000)", b"(16110719X000)"))
    assert hub.counters["valid"] == 1
    assert hub.counters["parse_error"] == 1
    assert hub.seq == 0 and hub.reading is None


def test_a_line_a_telegram_with_crc_cannot_read_is_skipped_and_the_rest_published():
    text = telegram("v5.p1")
    body = text[:text.index(b"!") + 1].replace(b"170102192002W", b"17010X192002W")
    reader, hub = _reader()
    _feed(reader, _with_crc(body))
    assert hub.counters["parse_error"] == 0 and hub.seq == 1
    assert hub.reading["timestamp"] is None and hub.reading["power_import_w"] == 244


def test_passthrough_copies_every_byte_to_tx():
    port = FakePort()
    reader, _ = _reader({"Passthrough": True}, port)
    noise = b"\x00garbage\r\n"
    _feed(reader, noise + telegram("v4_2.p1"))
    assert bytes(port.tx) == noise + telegram("v4_2.p1")


def test_no_passthrough_by_default():
    port = FakePort()
    reader, _ = _reader(port=port)
    _feed(reader, telegram("v4_2.p1"))
    assert port.tx == bytearray()


def test_auto_starts_at_dsmr_115200_and_tries_each_line_in_turn_while_nothing_valid_arrives():
    port = FakePort()
    clock = Clock()
    reader, hub = _reader(port=port, clock=clock)
    tried = []
    for proto, _, serial, window in LINES + LINES[:1]:
        tried.append((hub.status["p1"]["protocol"], hub.status["p1"]["serial"]))
        clock.t += window - 1
        assert not reader.check_serial()
        clock.t += 1
        assert reader.check_serial()
    assert tried == [("dsmr", "115200 8N1"), ("dsmr", "9600 7E1"), ("tic", "9600 7E1"),
                     ("tic", "1200 7E1"), ("dsmr", "115200 8N1")]
    assert port.settings == [ln[2] for ln in LINES + LINES[:2]]


def test_auto_baud_stays_while_valid_telegrams_arrive():
    port = FakePort()
    clock = Clock()
    reader, _ = _reader(port=port, clock=clock)
    for _ in range(5):
        clock.t += _DSMR_WINDOW // 2
        _feed(reader, telegram("v5.p1"))
        assert not reader.check_serial()
    assert port.settings == [(115200, 8, None)]


def test_auto_baud_keeps_a_10s_meter_through_damaged_telegrams():
    port = FakePort()
    clock = Clock()
    reader, hub = _reader(port=port, clock=clock)
    t = telegram("v4_2.p1")
    damaged = t[:100] + bytes([t[100] ^ 0x04]) + t[101:]  # framed whole, CRC mismatch
    for i in range(12):
        clock.t = 10000 * i
        _feed(reader, damaged if i in (3, 4, 5) else t)
        assert not reader.check_serial(), i
    assert port.settings == [(115200, 8, None)] and hub.seq == 9


def test_garbage_does_not_count_as_a_telegram_for_auto_baud():
    port = FakePort()
    clock = Clock()
    reader, _ = _reader(port=port, clock=clock)
    clock.t = _DSMR_WINDOW
    _feed(reader, b"\xff\xfe/garbage without end" * 10)
    assert reader.check_serial()
    assert port.settings[-1] == (9600, 7, 0)


def test_fixed_protocol_and_baud_is_set_once_and_never_switched():
    port = FakePort()
    clock = Clock()
    reader, hub = _reader({"Protocol": "dsmr", "Baud": "9600"}, port, clock)
    clock.t = 10 * _DSMR_WINDOW
    assert not reader.check_serial()
    assert port.settings == [(9600, 7, 0)]
    assert hub.status["p1"]["serial"] == "9600 7E1"


def test_a_fixed_9600_baud_with_auto_protocol_looks_for_dsmr_and_tic_there():
    port = FakePort()
    clock = Clock()
    reader, hub = _reader({"Baud": "9600"}, port, clock)
    clock.t = _DSMR_WINDOW
    assert reader.check_serial()
    assert hub.status["p1"]["protocol"] == "tic" and port.settings == [(9600, 7, 0)] * 2


def test_dsmr2_telegram_without_crc_is_published():
    reader, hub = _reader({"Baud": "9600"})
    _feed(reader, telegram("v2_2.p1"))
    assert hub.seq == 1


def test_run_reads_the_port_until_it_stops():
    port = FakePort([telegram("v5.p1")[:100], telegram("v5.p1")[100:], telegram("v4_2.p1")])
    reader, hub = _reader(port=port)
    try:
        asyncio.run(reader.run())
    except _Done:
        pass
    assert hub.seq == 2
    assert hub.raw == telegram("v4_2.p1")


def test_smarty_frames_are_decrypted_before_framing():
    with open(_HERE + "/vectors/smarty.json") as f:
        v = json.load(f)
    port = FakePort()
    reader, hub = _reader({"SmartyKey": v["key"], "SmartyAad": v["aad"], "Passthrough": True}, port)
    frame = unhexlify(v["v5"])
    _feed(reader, frame)
    assert hub.seq == 1
    assert hub.raw == telegram("v5.p1")
    assert bytes(port.tx) == frame  # passthrough forwards what the meter sent
    assert hub.status["p1"]["smarty"] is True


def test_auto_baud_stays_at_115200_with_a_smarty_key():
    with open(_HERE + "/vectors/smarty.json") as f:
        v = json.load(f)
    reader, hub = _reader({"SmartyKey": v["key"], "SmartyAad": v["aad"]}, FakePort())
    reader.clock = lambda: 10 ** 6  # long silence
    assert reader.check_serial() is False and reader.serial[0] == 115200


def test_the_raw_telegram_is_kept_at_the_end_of_the_frame_buffer():
    # No buffer of its own: the next telegram is framed in front of it.
    reader, hub = _reader()
    raw = telegram("v5.p1")
    _feed(reader, raw)
    _feed(reader, raw)
    assert bytes(hub.raw) == raw and hub.seq == 2 and len(reader._raw) == 0
    assert reader.framer.room == len(reader.framer.buf) - len(raw)


def test_a_telegram_growing_into_the_kept_bytes_moves_them_out_unchanged():
    reader, hub = _reader()
    raw = telegram("v5.p1")
    _feed(reader, raw)
    # The next telegram is longer than what is left in front of them (a long text message).
    _feed(reader, b"/ISK5\\2M550T-1012\r\n\r\n0-0:96.13.0(" + b"41" * 1700)
    assert bytes(hub.raw) == raw and len(reader._raw) >= len(raw)
    assert reader.framer.room == len(reader.framer.buf)


def test_telegrams_over_half_the_frame_buffer_are_kept_whole():
    # Each next one grows into the last one's bytes: those move to a buffer of their own first.
    reader, hub = _reader()
    short = telegram("v5.p1")
    body = short[:short.index(b"!") + 1].replace(b"0-0:96.13.0()", b"0-0:96.13.0(" + b"41" * 1100 + b")")
    longer = _with_crc(body)
    assert len(longer) > len(reader.framer.buf) // 2
    _feed(reader, longer)
    assert bytes(hub.raw) == longer and hub.reading["text_message"] == "A" * 1100 and len(reader._raw) == 0
    _feed(reader, longer)
    assert bytes(hub.raw) == longer and hub.seq == 2 and len(reader._raw) >= len(longer)
    _feed(reader, short)  # back at the frame buffer's end
    assert bytes(hub.raw) == short and hub.seq == 3


def test_an_implausible_telegram_is_counted_and_the_last_good_reading_stays():
    good = telegram("v5.p1")
    body = good[:good.index(b"!") + 1]
    reader, hub = _reader()
    _feed(reader, good)
    first = hub.reading
    _feed(reader, _with_crc(body.replace(b"1-0:1.7.0(00.244*kW)", b"1-0:1.7.0(99999.999*kW)")))
    _feed(reader, _with_crc(body.replace(b"1-0:1.8.1(000004.426*kWh)", b"1-0:1.8.1(000004.000*kWh)")))
    assert hub.counters["implausible"] == 2 and hub.counters["parse_error"] == 0
    assert hub.seq == 1 and hub.reading is first
    _feed(reader, good)
    assert hub.seq == 2


def test_auto_finds_a_tic_meter_on_its_line_and_stays_there():
    import sys
    port = FakePort()
    clock = Clock()
    reader, hub = _reader(port=port, clock=clock)
    frame = telegram("tic-historique.tic")
    while hub.status["p1"]["serial"] != "1200 7E1":
        _feed(reader, frame[:60])  # what the wrong UART settings make of it: never a whole frame
        clock.t += 30000
        assert reader.check_serial()
        assert hub.seq == 0
    assert "tic" in sys.modules and port.inverted is False  # a demodulator's output is not inverted
    for _ in range(5):
        clock.t += 2000
        _feed(reader, frame)
        assert not reader.check_serial()
    assert hub.seq == 5 and hub.raw == frame
    assert hub.reading["protocol_version"] == "tic-historique"
    assert hub.status["p1"]["protocol"] == "tic" and hub.status["p1"]["tic"]["subscribed_a"] == 30


def test_tic_code_is_dropped_when_the_search_moves_back_to_p1():
    import sys
    clock = Clock()
    reader, hub = _reader({"Protocol": "auto"}, FakePort(), clock)
    for _ in range(3):
        clock.t += 30000
        reader.check_serial()
    assert hub.status["p1"]["serial"] == "1200 7E1" and "tic" in sys.modules
    clock.t += 30000
    reader.check_serial()
    assert hub.status["p1"]["protocol"] == "dsmr" and "tic" not in sys.modules
    _feed(reader, telegram("v5.p1"))
    assert hub.seq == 1


def test_a_tic_frame_with_a_bad_checksum_keeps_the_line_but_is_not_published():
    clock = Clock()
    reader, hub = _reader({"Protocol": "tic"}, FakePort(), clock)  # 9600, then 1200
    frame = telegram("tic-standard.tic")
    bad = frame.replace(b"SINSTS2\t00094", b"SINSTS2\t00095")
    clock.t = 9000
    _feed(reader, bad)
    clock.t = 18000
    assert not reader.check_serial()
    assert hub.seq == 0 and hub.counters["crc_mismatch"] == 1
    _feed(reader, frame)
    assert hub.seq == 1 and hub.reading["power_l2_w"] == 94
