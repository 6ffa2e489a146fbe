from framer import Framer
from _support import telegram, telegram_names


class _Lcg:
    """Deterministic PRNG that behaves the same under CPython and MicroPython."""

    def __init__(self, seed):
        self.x = seed

    def next(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return self.x % n


def _collect(max_len=4096):
    out = []
    f = Framer(lambda status, crc, buf, n: out.append((status, crc, bytes(buf[:n]))), max_len)
    return f, out


def _flip(data, i):
    b = bytearray(data)
    b[i] ^= 0x04
    return bytes(b)


def test_every_reference_telegram_is_valid():
    for name in telegram_names():
        f, out = _collect()
        f.feed(telegram(name))
        assert [o[0] for o in out] == ["valid"], name


def test_telegram_ends_at_crc_line():
    t = telegram("v5.p1")
    f, out = _collect()
    f.feed(t)
    assert out[0][2] == t and out[0][1] == "ok"


def test_unpadded_crc_is_accepted():
    f, out = _collect()
    f.feed(telegram("unpadded_crc.p1"))
    assert out[0][:2] == ("valid", "ok")


def test_dsmr2_without_crc_reports_absent():
    f, out = _collect()
    f.feed(telegram("v2_2.p1"))
    assert out[0][:2] == ("valid", "absent")


def test_bit_flip_is_a_crc_mismatch():
    t = telegram("v4_2.p1")
    f, out = _collect()
    f.feed(_flip(t, 100))
    assert out[0][:2] == ("crc_mismatch", "mismatch")
    assert f.counters["crc_mismatch"] == 1 and f.counters["valid"] == 0


def test_truncated_telegram_is_malformed_and_next_one_survives():
    t = telegram("v5.p1")
    f, out = _collect()
    f.feed(t[:400] + b"\r\n" + t)
    assert [o[0] for o in out] == ["malformed", "valid"]
    assert out[1][2] == t


def test_non_hex_crc_is_malformed():
    t = telegram("v5.p1")
    f, out = _collect()
    f.feed(t[:-6] + b"ZZZZ\r\n")
    assert out[0][0] == "malformed"


def test_a_slash_after_noise_restarts_the_telegram():
    t = telegram("v4_2.p1")
    f, out = _collect()
    f.feed(t[:300] + b"\x00\x13noise" + t)
    assert [o[0] for o in out] == ["malformed", "valid"] and out[1][2] == t


def test_too_long_is_dropped_counted_and_buffer_never_grows():
    t = telegram("v5.p1")
    f, out = _collect(max_len=512)
    size = len(f.buf)
    f.feed(t + telegram("unpadded_crc.p1"))
    assert [o[0] for o in out] == ["too_long", "valid"]
    assert len(f.buf) == size and f.counters["too_long"] == 1


def test_noise_truncation_bitflips_and_random_chunks_yield_exactly_the_valid_ones():
    rng = _Lcg(7)
    framed = []  # (telegram as framed, has a CRC): one stream comes from meters that send CRCs
    for name in telegram_names():
        f, out = _collect()
        f.feed(telegram(name))
        if out[0][1] == "ok":
            framed.append((out[0][2], True))
    stream = bytearray()
    expected = []
    for k in range(60):
        t, has_crc = framed[rng.next(len(framed))]
        kind = rng.next(4)
        stream += bytes(rng.next(256) & 0xDF for _ in range(rng.next(40)))  # noise, never "/"
        if kind == 0:
            stream += t[:rng.next(t.index(b"!") - 10) + 10] + b"\r\n"  # cut before "!"
            expected.append("malformed")
        elif kind == 1 and has_crc:
            bang = t.index(b"!")
            stream += _flip(t, 20 + rng.next(bang - 30))
            expected.append("crc_mismatch")
        else:
            stream += t
            expected.append(("valid", t))
    stream += framed[0][0]  # a last good telegram ends any cut-off one before it
    expected.append(("valid", framed[0][0]))
    f, out = _collect()
    i = 0
    while i < len(stream):
        n = 1 + rng.next(300)
        f.feed(stream[i:i + n])
        i += n
    valid = [o[2] for o in out if o[0] == "valid"]
    assert valid == [e[1] for e in expected if isinstance(e, tuple)]
    assert f.counters["crc_mismatch"] == expected.count("crc_mismatch")
    assert f.counters["malformed"] == expected.count("malformed")


def test_missing_crc_after_crc_telegrams_is_malformed():
    t = telegram("v5.p1")
    stripped = t[:t.index(b"!") + 1] + b"\r\n"
    f, out = _collect()
    f.feed(stripped + t + stripped)
    assert [o[0] for o in out] == ["valid", "valid", "malformed"]


def test_a_bang_inside_a_line_is_a_damaged_byte_even_before_any_crc():
    t = telegram("v5.p1")
    damaged = t.replace(b"1-0:2.7.0(00.000*kW)", b"1-0:2.7.0(00.000*kW!")  # ")" ^ 0x09
    f, out = _collect()
    f.feed(damaged + t)
    assert [o[0] for o in out] == ["malformed", "valid"]


def test_a_crc_mismatch_does_not_make_a_meter_without_crc_look_damaged():
    t = telegram("v2_2.p1")
    noisy = t[:t.rindex(b"!") + 1] + b"1234\r\n"  # noise after "!" reads as a CRC
    f, out = _collect()
    f.feed(noisy + t + t)
    assert [o[0] for o in out] == ["crc_mismatch", "valid", "valid"]


def test_reset_forgets_that_the_meter_sent_crcs():
    f, out = _collect()
    f.feed(telegram("v5.p1"))
    f.reset()  # the reader changed baud rate: maybe a DSMR 2.2 meter now
    f.feed(telegram("v2_2.p1"))
    assert [o[0] for o in out] == ["valid", "valid"]


def test_buffer_ending_at_bang_is_too_long_once_and_never_valid():
    t = telegram("v5.p1")
    bang = t.index(b"!")
    f, out = _collect(max_len=bang + 1)
    f.feed(t)
    assert [o[0] for o in out] == ["too_long"]
