"""tools/p1decode.py: the installer's decoder, run as a user would run it."""
import json
import os
import subprocess
import sys

import dsmr
from reading import TOTAL_FIELDS, TOTAL_NAMES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "p1decode.py")
TELEGRAMS = os.path.join(ROOT, "host_tests", "telegrams")


def run(args, stdin=None):
    return [json.loads(line) for line in run_text(args, stdin).splitlines()]


def run_text(args, stdin=None):
    return subprocess.run([sys.executable, TOOL] + args, input=stdin, capture_output=True, check=True).stdout.decode()


def printed(raw):
    """What the tool prints for a telegram: the reading, counters in their unit under TOTAL_NAMES."""
    r = dsmr.parse(raw)
    out = {}
    for k, v in r.items():
        if k in TOTAL_FIELDS:
            out[TOTAL_NAMES[TOTAL_FIELDS.index(k)]] = None if v is None else v / 10 ** r["counter_decimals"]
        elif k != "counter_decimals":
            out[k] = v
    return json.loads(json.dumps(out))


def raw(name):
    return open(os.path.join(TELEGRAMS, name), "rb").read()


def test_capture_with_noise_truncation_and_bitflip_from_stdin():
    good, other = raw("v5.p1"), raw("fluvius_v171.p1")
    flipped = bytearray(other)
    flipped[200] ^= 1
    capture = b"\x00\xffnoise" + good[:300] + b"\r\n" + bytes(flipped) + b"junk" + good
    recs = run(["-"], capture)
    assert [r["status"] for r in recs] == ["malformed", "crc_mismatch", "valid"]
    assert recs[1]["crc"] == "mismatch" and recs[1]["reading"] is None and recs[1]["error"]
    assert recs[2]["reading"] == printed(good)


def test_counters_are_printed_with_exactly_the_meters_digits():
    text = run_text([os.path.join(TELEGRAMS, n) for n in ("sagemcom_t210_d_r.p1", "esy5q3da1004_v304.p1",
                                                         "fluvius_v171.p1")])
    for counter in ('"energy_import_kwh":6545.766,', '"energy_export_t1_kwh":0.000,',  # a meter in Wh
                    '"energy_import_kwh":32549.5061662,',                             # EasyMeter: 7 decimals
                    '"gas_m3":112.384,', '"water_m3":872.234,'):
        assert counter in text, counter


def test_every_reference_file_decodes():
    names = sorted(n for n in os.listdir(TELEGRAMS) if n.endswith(".p1"))
    recs = run([os.path.join(TELEGRAMS, n) for n in names])
    assert [r["status"] for r in recs] == ["valid"] * len(names)
    assert {r["crc"] for r in recs} == {"ok", "absent"}


def test_smarty_capture_decodes_with_its_key_and_a_wrong_key_is_named():
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_smarty_vectors",
                                                  os.path.join(ROOT, "tools", "make_smarty_vectors.py"))
    vectors = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vectors)
    key, good = os.urandom(16), raw("v5.p1")
    frame = vectors.smarty_frame(key, vectors.DEFAULT_AAD, b"SAG12345", 42, good)
    recs = run(["--key", key.hex(), "-"], b"noise" + frame)
    assert [r["status"] for r in recs] == ["valid"]
    assert recs[0]["reading"] == printed(good)
    r = subprocess.run([sys.executable, TOOL, "--key", os.urandom(16).hex(), "-"], input=frame,
                       capture_output=True, check=True)
    assert r.stdout == b"" and b"1 failed authentication (wrong --key or --aad?)" in r.stderr


def test_an_implausible_telegram_is_named_so():
    from telegram_edit import with_crc
    body = raw("v5.p1")
    body = body[:body.index(b"!") + 1].replace(b"1-0:32.7.0(0230.0*V)", b"1-0:32.7.0(-230.0*V)")
    recs = run(["-"], with_crc(body) + raw("v5.p1"))
    assert [r["status"] for r in recs] == ["implausible", "valid"]
    assert recs[0]["error"].endswith("voltage_l1_v")


def test_tic_captures_are_told_apart_and_decoded_frame_by_frame():
    std, hist = raw("tic-standard.tic"), raw("tic-historique.tic")
    bad = std.replace(b"SINSTS2\t00094", b"SINSTS2\t00095")
    capture = b"\x00noise" + hist + hist[:50] + b"\x04" + bad + std
    for args in ([], ["--protocol", "tic"]):
        recs = run(args + ["-"], capture)
        assert [r["status"] for r in recs] == ["valid", "malformed", "crc_mismatch", "valid"], args
        assert recs[0]["reading"]["protocol_version"] == "tic-historique"
        assert recs[0]["reading"]["energy_import_kwh"] == (12034512 + 9876234) / 1000
        assert recs[3]["reading"]["power_w"] == -2215 and recs[3]["reading"]["tic"]["status_word"] == "003A4001"
        assert "checksum" in recs[2]["error"]
    assert all(r["status"] != "valid" for r in run(["--protocol", "dsmr", "-"], capture))  # no P1 telegram in it
