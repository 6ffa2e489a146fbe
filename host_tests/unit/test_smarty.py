"""Smarty (Luxembourg) frame decoding: framing, resync, counters, decryption."""
import json
from binascii import unhexlify

from _support import _HERE, raises, telegram
from smarty import SmartyDecoder


def _vectors():
    with open(_HERE + "/vectors/smarty.json") as f:
        return json.load(f)


V = _vectors()
KEY = unhexlify(V["key"])
AAD = unhexlify(V["aad"])
V5 = unhexlify(V["v5"])
FRAMES = [unhexlify(c["frame"]) for c in V["frames"]]
TEXTS = [unhexlify(c["pt"]) for c in V["frames"]]


def _decoder(key=KEY, aad=AAD):
    got = []
    return SmartyDecoder(key, aad, got.append), got


def _chunks(data, seed):
    """data cut into pseudo-random pieces of 1..40 bytes (a fixed LCG: same on both runtimes)."""
    i = 0
    while i < len(data):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        k = 1 + seed % 40
        yield data[i:i + k]
        i += k


def _with(frame, pos, value):
    b = bytearray(frame)
    b[pos] = value
    return bytes(b)


def test_decoder_hands_over_the_dsmr5_telegram_once():
    dec, got = _decoder()
    dec.feed(V5)
    assert got == [telegram("v5.p1")]
    assert dec.counters == {"frames": 1, "auth_failed": 0, "malformed": 0}


def test_frames_fed_one_byte_at_a_time():
    dec, got = _decoder()
    for frame in FRAMES:
        for i in range(len(frame)):
            dec.feed(frame[i:i + 1])
    assert got == TEXTS


def test_frame_split_at_every_offset():
    frame = FRAMES[0]
    for cut in range(1, len(frame)):
        dec, got = _decoder()
        dec.feed(frame[:cut])
        dec.feed(memoryview(bytearray(frame))[cut:])
        assert got == TEXTS[:1], cut


def test_noise_and_false_starts_between_random_chunks_are_skipped():
    noise = [b"\x00\xff\xdb", b"\xdb\xdb", b"junk\xdb\x08" + b"\x00" * 20, b"\xdb\x08\x01\x02"]
    stream = bytearray()
    for i, frame in enumerate(FRAMES + [V5]):
        stream += noise[i % len(noise)] + frame
    dec, got = _decoder()
    for piece in _chunks(bytes(stream), 7):
        dec.feed(piece)
    assert got == TEXTS + [telegram("v5.p1")]
    assert dec.counters == {"frames": 4, "auth_failed": 0, "malformed": 2}


def test_false_start_just_before_a_frame_is_malformed_and_the_frame_survives():
    dec, got = _decoder()
    dec.feed(b"\xdb\x08\x55\x55" + FRAMES[1])
    assert got == TEXTS[1:2]
    assert dec.counters["malformed"] == 1


def test_wrong_key_counts_auth_failures_and_yields_nothing():
    dec, got = _decoder(key=unhexlify(V["wrong_key"]))
    for frame in FRAMES:
        dec.feed(frame)
    assert got == []
    assert dec.counters == {"frames": 0, "auth_failed": len(FRAMES), "malformed": 0}


def test_damaged_frame_is_counted_and_the_next_one_still_decrypts():
    bad = _with(FRAMES[0], 40, FRAMES[0][40] ^ 0x20)
    dec, got = _decoder()
    dec.feed(bad + FRAMES[1])
    assert got == TEXTS[1:2]
    assert dec.counters["auth_failed"] == 1


def test_frame_that_lost_a_byte_costs_only_itself():
    # Its length field makes it take the next frame's first byte; the decoder
    # finds that frame's DB 08 again inside the failed one.
    short = FRAMES[0][:50] + FRAMES[0][51:]
    for seed in (1, 2, 3):
        dec, got = _decoder()
        for piece in _chunks(short + FRAMES[1] + FRAMES[2], seed):
            dec.feed(piece)
        assert got == TEXTS[1:3], seed
        assert dec.counters["auth_failed"] == 1


def test_a_frame_whose_length_grew_costs_only_itself():
    # A damaged length field makes it swallow the next frames whole: they are still decrypted.
    grown = bytearray(FRAMES[0])
    n = (grown[11] << 8 | grown[12]) + 200
    grown[11], grown[12] = n >> 8, n & 0xFF
    for seed in (1, 2, 3):
        dec, got = _decoder()
        for piece in _chunks(bytes(grown) + FRAMES[1] + FRAMES[2] + V5, seed):
            dec.feed(piece)
        assert got == TEXTS[1:3] + [telegram("v5.p1")], seed
        assert dec.counters["auth_failed"] == 1


def _counts_after(frame):
    dec, got = _decoder()
    dec.feed(frame)
    return len(got), dec.counters["auth_failed"], dec.counters["malformed"]


def test_frame_counter_is_authenticated_through_the_iv():
    assert _counts_after(_with(FRAMES[0], 17, FRAMES[0][17] ^ 1)) == (0, 1, 0)


def test_tampered_tag_is_rejected():
    assert _counts_after(_with(FRAMES[2], len(FRAMES[2]) - 1, 0)) == (0, 1, 0)


def test_length_beyond_the_buffer_is_malformed_and_resyncs():
    huge = FRAMES[0][:11] + b"\x7f\xff" + FRAMES[0][13:]
    dec, got = _decoder()
    dec.feed(huge + FRAMES[2])
    assert got == TEXTS[2:3]
    assert dec.counters["malformed"] == 1


def test_frame_without_ciphertext_is_malformed():
    empty = FRAMES[0][:11] + b"\x00\x11" + FRAMES[0][13:18] + FRAMES[0][-12:]
    assert _counts_after(empty) == (0, 0, 1)


def test_configured_authentication_key_is_used():
    frame = unhexlify(V["custom_aad"]["frame"])
    text = unhexlify(V["custom_aad"]["pt"])
    dec, got = _decoder(aad=unhexlify(V["other_aad"]))
    dec.feed(frame)
    assert got == [text]
    dec, got = _decoder()  # default AAD: not authentic
    dec.feed(frame)
    assert got == [] and dec.counters["auth_failed"] == 1


def test_key_must_be_16_bytes():
    assert raises(ValueError, SmartyDecoder, KEY[:15], AAD, print)
