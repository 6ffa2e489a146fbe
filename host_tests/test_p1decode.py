"""tools/p1decode.py: the installer's decoder, run as a user would run it."""
import json
import os
import subprocess
import sys

import dsmr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "p1decode.py")
TELEGRAMS = os.path.join(ROOT, "host_tests", "telegrams")


def run(args, stdin=None):
    r = subprocess.run([sys.executable, TOOL] + args, input=stdin, capture_output=True, check=True)
    return [json.loads(line) for line in r.stdout.decode().splitlines()]


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
    assert recs[2]["reading"] == json.loads(json.dumps(dsmr.parse(good)))


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
    assert recs[0]["reading"] == json.loads(json.dumps(dsmr.parse(good)))
    r = subprocess.run([sys.executable, TOOL, "--key", os.urandom(16).hex(), "-"], input=frame,
                       capture_output=True, check=True)
    assert r.stdout == b"" and b"1 failed authentication (wrong --key or --aad?)" in r.stderr
