"""Smarty decoding and AES-GCM against the `cryptography` package, on fresh random data.

Each run draws new keys, IVs, plaintexts, noise and chunk sizes; the seed is in
every assertion message. The same streams are decoded by our code under
CPython (cryptolib shim) and by the MicroPython unix port in a subprocess.
"""
import importlib.util
import json
import os
import random
import subprocess

from aesgcm import AesGcm
from smarty import SmartyDecoder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
TELEGRAMS = os.path.join(ROOT, "host_tests", "telegrams")

_spec = importlib.util.spec_from_file_location("make_smarty_vectors",
                                               os.path.join(ROOT, "tools", "make_smarty_vectors.py"))
assert _spec and _spec.loader
vectors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vectors)

# Runs in the unix port: decodes a stream file fed in the given chunk sizes and
# prints one JSON line per plaintext (hex), then the counters.
MP_DRIVER = """
import sys, json
from binascii import hexlify, unhexlify
from smarty import SmartyDecoder
key, aad, stream_path, sizes_path = sys.argv[1:5]
def out(pt):
    print(json.dumps({"pt": hexlify(pt).decode()}))
dec = SmartyDecoder(unhexlify(key), unhexlify(aad), out)
with open(sizes_path) as f:
    sizes = [int(s) for s in f.read().split()]
with open(stream_path, "rb") as f:
    for k in sizes:
        dec.feed(f.read(k))
print(json.dumps({"counters": dec.counters}))
"""

MP_GCM_DRIVER = """
import sys, json
from binascii import hexlify, unhexlify
from aesgcm import AesGcm
f = open(sys.argv[1])  # one JSON case per line: the whole set exceeds a 96 KB heap
for line in f:
    c = json.loads(line)
    key, iv, aad, ct, tag = [unhexlify(c[k]) for k in ("key", "iv", "aad", "ct", "tag")]
    try:
        print(json.dumps({"pt": hexlify(AesGcm(key).decrypt(iv, aad, ct, tag)).decode()}))
    except ValueError:
        print(json.dumps({"pt": None}))
"""


def _seed():
    return int.from_bytes(os.urandom(4), "big")


def _micropython(tmp_path, driver, *args):
    assert os.path.exists(MICROPYTHON), "no MicroPython unix port in .venv: make setup installs it"
    script = tmp_path / "driver.py"
    script.write_text(driver)
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware"))
    r = subprocess.run([MICROPYTHON, "-X", "heapsize=96k", str(script)] + [str(a) for a in args],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def _stream(rnd, key, aad):
    """(stream bytes, good plaintexts, number of bad frames) with noise between frames.

    A bad frame has the wrong key, a flipped bit, or a byte lost on the line
    (it then takes a byte of what follows); the stream ends with a good frame,
    so a short last frame is completed and counted too.
    """
    title = rnd.randbytes(8)
    good, bad = [], 0
    stream = bytearray()
    names = sorted(n for n in os.listdir(TELEGRAMS) if n.endswith(".p1"))
    for counter in range(rnd.randrange(1 << 20), 1 << 32):
        stream += rnd.randbytes(rnd.choice((0, 0, 1, 5, 40)))
        if rnd.random() < 0.3:
            stream += rnd.choice((b"\xdb", b"\xdb\xdb", b"\xdb\x08", b"\xdb\x08\x00"))
        last = len(good) + bad == 24
        if rnd.random() < 0.5:
            with open(os.path.join(TELEGRAMS, rnd.choice(names)), "rb") as f:
                pt = f.read()
        else:  # up to the 4 KB the framer takes (a long text message)
            pt = rnd.randbytes(rnd.randrange(1, 4097 if rnd.random() < 0.1 else 2000))
        kind = "good" if last else rnd.choice(("good", "good", "good", "wrong_key", "ciphertext", "tag",
                                               "lost_byte"))
        frame = bytearray(vectors.smarty_frame(rnd.randbytes(16) if kind == "wrong_key" else key,
                                               aad, title, counter, pt))
        if kind == "ciphertext":
            frame[rnd.randrange(18, len(frame) - 12)] ^= 1 << rnd.randrange(8)
        elif kind == "tag":
            frame[rnd.randrange(len(frame) - 12, len(frame))] ^= 1 << rnd.randrange(8)
        elif kind == "lost_byte":
            del frame[rnd.randrange(18, len(frame))]
        stream += frame
        if kind == "good":
            good.append(pt)
        else:
            bad += 1
        if last:
            return bytes(stream), good, bad
    raise AssertionError("unreachable")


def _sizes(rnd, n):
    sizes = []
    while sum(sizes) < n:
        sizes.append(rnd.choice((1, 2, 7, 18, 64, 300, 1500)))
    return sizes


def test_random_streams_decode_to_exactly_the_good_plaintexts_in_cpython():
    for _ in range(3):
        seed = _seed()
        rnd = random.Random(seed)
        key, aad = rnd.randbytes(16), b"\x30" + rnd.randbytes(16)
        stream, good, bad = _stream(rnd, key, aad)
        got = []
        dec = SmartyDecoder(key, aad, got.append)
        i = 0
        for k in _sizes(rnd, len(stream)):
            dec.feed(memoryview(stream)[i:i + k])
            i += k
        assert got == good, seed
        assert dec.counters["frames"] == len(good), seed
        assert dec.counters["auth_failed"] == bad, seed


def test_random_streams_decode_to_exactly_the_good_plaintexts_in_micropython(tmp_path):
    seed = _seed()
    rnd = random.Random(seed)
    key, aad = rnd.randbytes(16), vectors.DEFAULT_AAD
    stream, good, bad = _stream(rnd, key, aad)
    (tmp_path / "stream.bin").write_bytes(stream)
    (tmp_path / "sizes.txt").write_text(" ".join(map(str, _sizes(rnd, len(stream)))))
    lines = _micropython(tmp_path, MP_DRIVER, key.hex(), aad.hex(), tmp_path / "stream.bin",
                         tmp_path / "sizes.txt")
    assert [bytes.fromhex(l["pt"]) for l in lines[:-1]] == good, seed
    counters = lines[-1]["counters"]
    assert (counters["frames"], counters["auth_failed"]) == (len(good), bad), seed


def _gcm_cases(rnd, n):
    cases = []
    for _ in range(n):
        key, iv = rnd.randbytes(16), rnd.randbytes(12)
        aad, pt = rnd.randbytes(rnd.randrange(0, 40)), rnd.randbytes(rnd.randrange(0, 1200))
        ct, tag = vectors.gcm_encrypt(key, iv, aad, pt, rnd.randrange(12, 17))
        if rnd.random() < 0.3:  # damage one byte somewhere: must be refused
            parts = [bytearray(x) for x in (aad, ct, tag)]
            part = rnd.choice([p for p in parts if p])
            part[rnd.randrange(len(part))] ^= 1 << rnd.randrange(8)
            aad, ct, tag = map(bytes, parts)
            pt = None
        cases.append(dict(key=key, iv=iv, aad=aad, ct=ct, tag=tag, pt=pt))
    return cases


def test_aesgcm_matches_the_reference_library_in_cpython():
    seed = _seed()
    for c in _gcm_cases(random.Random(seed), 200):
        try:
            pt = AesGcm(c["key"]).decrypt(c["iv"], c["aad"], c["ct"], c["tag"])
        except ValueError:
            pt = None
        assert pt == c["pt"], seed


def test_aesgcm_matches_the_reference_library_in_micropython(tmp_path):
    seed = _seed()
    cases = _gcm_cases(random.Random(seed), 60)
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps({k: v.hex() for k, v in c.items() if k != "pt"}) + "\n"
                            for c in cases))
    lines = _micropython(tmp_path, MP_GCM_DRIVER, path)
    got = [None if l["pt"] is None else bytes.fromhex(l["pt"]) for l in lines]
    assert got == [c["pt"] for c in cases], seed


def test_freshly_wrapped_dsmr5_telegram_decrypts_to_identical_bytes():
    with open(os.path.join(TELEGRAMS, "v5.p1"), "rb") as f:
        v5 = f.read()
    key, title = os.urandom(16), os.urandom(8)
    frame = vectors.smarty_frame(key, vectors.DEFAULT_AAD, title, 123456, v5)
    for k, expected in ((key, [v5]), (os.urandom(16), [])):
        got = []
        SmartyDecoder(k, vectors.DEFAULT_AAD, got.append).feed(frame)
        assert got == expected
