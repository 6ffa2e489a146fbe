"""TIC frames from PRODUCT.md's rules (tools/tic_frames.py), decoded by the firmware and by enedis-tic.

``enedis_tic.link_layer.FrameFactory`` (PyPI ``enedis-tic``) is the independent
reference: it checks each data set's checksum (both variants) and splits
label, horodate and data. For every profile (Linky standard three- and
single-phase with PV export, historique three- and single-phase, an older
meter's checksum) and many meter states, every value the firmware reads must
be the reference's; a wrong checksum is refused by both; a noisy capture cut
into random chunks yields exactly the frames that were made valid.
"""
import os
import random
import sys

import pytest
from enedis_tic.link_layer import FrameFactory, InvalidChecksumError

import tic

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import meter_sim  # noqa: E402
import tic_frames  # noqa: E402

PROFILES = ("tic-standard", "tic-standard-1ph", "tic-historique", "tic-historique-1ph", "tic-cbe")

# label -> reading field holding its number (the index labels: see _INDEXES)
_FIELDS = {"EAST": "energy_import", "BASE": "energy_import", "EAIT": "energy_export",
           "PAPP": "power_import_w", "SINSTS": "power_import_w", "SINSTI": "power_export_w",
           "SINSTS1": "power_l1_w", "SINSTS2": "power_l2_w", "SINSTS3": "power_l3_w",
           "IINST": "current_l1_a", "IINST1": "current_l1_a", "IINST2": "current_l2_a", "IINST3": "current_l3_a",
           "IRMS1": "current_l1_a", "IRMS2": "current_l2_a", "IRMS3": "current_l3_a",
           "URMS1": "voltage_l1_v", "URMS2": "voltage_l2_v", "URMS3": "voltage_l3_v", "NTARF": "tariff"}
_INDEXES = ("BASE", "HCHC", "HCHP", "EJPHN", "EJPHPM", "EASF01", "EASF02", "EASF03", "EASF04", "EASF05",
            "EASF06", "EASF07", "EASF08", "EASF09", "EASF10")


def firmware(data, chunk_sizes=None):
    """[(status, reading)] the firmware's framer and parser make of ``data``."""
    found = []

    def on_frame(status, crc, buf, n):
        found.append((status, tic.parse(buf, n, crc != "ok") if status == "valid" else None, bytes(buf[:n])))
    f = tic.Framer(on_frame, bytearray(4096), {"valid": 0, "crc_mismatch": 0, "malformed": 0, "too_long": 0})
    i = 0
    sizes = iter(chunk_sizes or ())
    while i < len(data):
        n = next(sizes, len(data))
        f.feed(data[i:i + n])
        i += n
    return found


def reference(frame):
    return FrameFactory(frame.decode("ascii")).to_dict()


def frames(profile, count=12):
    """``count`` frames of a simulated meter across a day and a year (PV, tariffs, seasons)."""
    out = []
    for k in range(count):
        m = meter_sim.METER_TYPES[profile][0](k, 1704067200 + k * 31 * 86400 + k * 7919)
        m.step(0)
        for _ in range(k % 3):
            m.step(600)
        out.append(m.telegram())
    return out


def assert_same(reading, ref):
    for label, v in ref.items():
        data = v["data"]
        if label in _FIELDS:
            assert reading[_FIELDS[label]] == int(data), label
        if label in _INDEXES:
            assert reading["tic"]["indexes"][label] == int(data), label
        if label in ("ADCO", "ADSC"):
            assert reading["meter_id"] == data
        elif label == "DATE":
            assert reading["timestamp"] == int(v["datetime"].timestamp())
        elif label in ("PTEC", "LTARF"):
            assert reading["tic"]["tariff_name"] == data.rstrip()
        elif label == "ISOUSC":
            assert reading["tic"]["subscribed_a"] == int(data)
        elif label == "PREF":
            assert reading["tic"]["subscribed_kva"] == int(data)
        elif label == "STGE":
            assert reading["tic"]["status_word"] == data
        elif label == "MSG1":
            assert reading["text_message"] == data.rstrip()
    standard = "ADSC" in ref
    assert reading["protocol_version"] == ("tic-standard" if standard else "tic-historique")
    exp = int(ref["SINSTI"]["data"]) if "SINSTI" in ref else 0
    imp = int(ref["SINSTS" if standard else "PAPP"]["data"])
    assert reading["power_w"] == imp - exp
    low = sum(int(ref[k]["data"]) for k in ("HCHC", "EJPHN", "EASF01") if k in ref)
    assert reading["energy_import_t1"] == low


@pytest.mark.parametrize("profile", PROFILES)
def test_every_value_the_firmware_reads_is_the_references(profile):
    compared = 0
    for frame in frames(profile):
        found = firmware(frame)
        assert [s for s, _, _ in found] == ["valid"], frame
        if b"  \r" in frame:
            continue  # a checksum that is a space: enedis-tic takes it for a separator (below)
        assert_same(found[0][1], reference(frame))
        compared += 1
    assert compared >= 5


def test_a_checksum_that_is_a_space_is_read_where_the_reference_trips():
    # Historique separators are spaces too: the checksum is the last byte before CR, whatever it is.
    papp = next(v for v in ("%05d" % n for n in range(99999))
                if tic_frames.data_set("PAPP", v).endswith(b"  \r"))
    frame = tic_frames.frame([tic_frames.data_set("ADCO", "031762120163"), tic_frames.data_set("PAPP", papp)])
    with pytest.raises(Exception):  # TypeError from its error path
        reference(frame)
    assert firmware(frame)[0][1]["power_import_w"] == int(papp)


def test_the_older_meters_checksum_differs_and_both_accept_it():
    old, new = frames("tic-cbe", 1)[0], frames("tic-historique-1ph", 1)[0]
    assert old != new
    assert reference(old) == reference(new)
    assert firmware(old)[0][1] == firmware(new)[0][1]


@pytest.mark.parametrize("standard", (False, True))
def test_a_wrong_checksum_is_refused_by_both(standard):
    sets = [tic_frames.data_set("ADSC" if standard else "ADCO", "031762120163", standard),
            tic_frames.data_set("SINSTS" if standard else "PAPP", "01250", standard, bad=True)]
    frame = tic_frames.frame(sets)
    with pytest.raises(InvalidChecksumError):
        reference(frame)
    assert [s for s, _, _ in firmware(frame)] == ["crc_mismatch"]


def test_a_noisy_capture_in_random_chunks_yields_exactly_the_valid_frames():
    rng = random.Random(15)
    capture = b""
    made_valid = []
    for k in range(60):
        frame = frames(PROFILES[k % len(PROFILES)], 1 + k % 4)[-1]
        kind = rng.choice(("valid", "valid", "bad", "eot", "noise_inside"))
        if kind == "bad":  # one data set's checksum off by one
            cr = frame.index(b"\r", rng.randrange(1, len(frame) - 2))
            frame = frame[:cr - 1] + bytes((0x20 + (frame[cr - 1] - 0x1F) % 64,)) + frame[cr:]
        elif kind == "eot":  # cut short, as a meter does
            frame = frame[:rng.randrange(2, len(frame) - 1)] + tic_frames.EOT
        elif kind == "noise_inside":  # a damaged byte: the sum no longer fits
            i = rng.randrange(3, len(frame) - 3)
            while frame[i] in b"\r\n\t \x02\x03":
                i += 1
            frame = frame[:i] + bytes((frame[i] ^ 0x01,)) + frame[i + 1:]
        else:
            made_valid.append(frame)
        noise = bytes(rng.choice(b"\x00\x7f\r\n\x03\x04 abcXYZ0123\xff") for _ in range(rng.randrange(0, 40)))
        capture += noise + frame
    sizes = [rng.randrange(1, 300) for _ in range(len(capture))]
    found = firmware(capture, sizes)
    valid = [raw for s, _, raw in found if s == "valid"]
    assert valid == [f for f in made_valid]
    for raw in valid:
        if b"  \r" not in raw:  # (a space checksum: see above)
            reference(raw)  # the reference accepts each of them too
    assert len(valid) < 60 and len(found) >= 60
