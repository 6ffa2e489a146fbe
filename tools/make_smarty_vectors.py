"""Write the AES-GCM and Smarty test vectors in host_tests/unit/vectors/ (CPython).

The MicroPython unit tests cannot call the `cryptography` package, so the
expected ciphertexts and tags are made here with it and committed as JSON.
The NIST GCM test cases (McGrew & Viega, "The Galois/Counter Mode of
Operation", test cases 1-4) are checked against their published values first.
Output is deterministic (seeded), so re-running changes nothing.

    .venv/bin/python tools/make_smarty_vectors.py
"""
import json
import os
import random
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "host_tests", "unit", "vectors")
DEFAULT_AAD = bytes.fromhex("3000112233445566778899AABBCCDDEEFF")

_K3 = "feffe9928665731c6d6a8f9467308308"
_IV3 = "cafebabefacedbaddecaf888"
_P3 = ("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
       "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
_C3 = ("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
       "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985")
# name, key, iv, aad, plaintext, published ciphertext, published tag
NIST = [
    ("nist_tc1", "00" * 16, "00" * 12, "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"),
    ("nist_tc2", "00" * 16, "00" * 12, "", "00" * 16, "0388dace60b6a392f328c2b971b2fe78",
     "ab6e47d42cec13bdf53a67b21257bddf"),
    ("nist_tc3", _K3, _IV3, "", _P3, _C3, "4d5c2af327cd64a62cf35abd2ba6fab4"),
    ("nist_tc4", _K3, _IV3, "feedfacedeadbeeffeedfacedeadbeefabaddad2", _P3[:120], _C3[:120],
     "5bc94fbc3221a5db94fae95ae7121a47"),
]


def gcm_encrypt(key, iv, aad, plaintext, tag_len=16):
    """(ciphertext, tag) from the reference implementation."""
    sealed = AESGCM(key).encrypt(iv, plaintext, aad)
    return sealed[:-16], sealed[-16:][:tag_len]


def smarty_frame(key, aad, title, counter, plaintext):
    """A Smarty P1 frame: DB 08 title 82 len 30 counter ciphertext tag(12)."""
    iv = title + counter.to_bytes(4, "big")
    ct, tag = gcm_encrypt(key, iv, aad, plaintext, 12)
    n = 17 + len(ct)
    return b"\xdb\x08" + title + b"\x82" + n.to_bytes(2, "big") + b"\x30" + iv[8:] + ct + tag


def _gcm_cases(rnd):
    cases = []
    for name, key, iv, aad, pt, ct, tag in NIST:
        got_ct, got_tag = gcm_encrypt(bytes.fromhex(key), bytes.fromhex(iv), bytes.fromhex(aad),
                                      bytes.fromhex(pt))
        if (got_ct.hex(), got_tag.hex()) != (ct, tag):
            sys.exit("%s: reference library disagrees with the published vector" % name)
        cases.append(dict(name=name, key=key, iv=iv, aad=aad, pt=pt, ct=ct, tag=tag))
    # Lengths around block and chunk (256 bytes) edges, a Smarty-sized one, and
    # both tag sizes the decoder must take.
    for size, aad_len, tag_len in ((1, 0, 16), (15, 17, 12), (16, 17, 12), (17, 1, 16),
                                   (255, 17, 12), (256, 0, 16), (257, 33, 12), (1500, 17, 12)):
        key, iv = rnd.randbytes(16), rnd.randbytes(12)
        aad, pt = rnd.randbytes(aad_len), rnd.randbytes(size)
        ct, tag = gcm_encrypt(key, iv, aad, pt, tag_len)
        cases.append(dict(name="random_%d_aad%d_tag%d" % (size, aad_len, tag_len), key=key.hex(),
                          iv=iv.hex(), aad=aad.hex(), pt=pt.hex(), ct=ct.hex(), tag=tag.hex()))
    return cases


def _smarty_cases(rnd):
    key = rnd.randbytes(16)
    title = b"SAG" + rnd.randbytes(5)
    with open(os.path.join(ROOT, "host_tests", "telegrams", "v5.p1"), "rb") as f:
        v5 = f.read()
    other_aad = b"\x30" + rnd.randbytes(16)
    return dict(
        key=key.hex(), aad=DEFAULT_AAD.hex(), other_aad=other_aad.hex(),
        wrong_key=rnd.randbytes(16).hex(),
        # A real DSMR 5 telegram, wrapped as a Smarty meter would send it.
        v5=smarty_frame(key, DEFAULT_AAD, title, 0x0001A2B3, v5).hex(),
        # Short synthetic telegrams with consecutive frame counters.
        frames=[dict(frame=smarty_frame(key, DEFAULT_AAD, title, 1000 + i, pt).hex(), pt=pt.hex())
                for i, pt in enumerate(b"/TST5\r\n\r\n1-0:1.8.1(%09.3f*kWh)\r\n!" % (i * 1.5)
                                       for i in range(3))],
        # The same plaintext sealed with a non-default authentication key.
        custom_aad=dict(frame=smarty_frame(key, other_aad, title, 7, b"/X5\r\n!").hex(),
                        pt=b"/X5\r\n!".hex()),
    )


def _bench(rnd):
    """The frame tools/bench_smarty.py times: 1024 bytes of telegram text."""
    key = rnd.randbytes(16)
    with open(os.path.join(ROOT, "host_tests", "telegrams", "v5.p1"), "rb") as f:
        text = (f.read() * 2)[:1024]
    frame = smarty_frame(key, DEFAULT_AAD, b"SAG" + rnd.randbytes(5), 0x00010000, text)
    return dict(key=key.hex(), aad=DEFAULT_AAD.hex(), frame=frame.hex())


def main():
    rnd = random.Random(20240601)
    os.makedirs(OUT, exist_ok=True)
    for name, data in (("gcm.json", _gcm_cases(rnd)), ("smarty.json", _smarty_cases(rnd)),
                       ("smarty_bench.json", _bench(rnd))):
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        print("wrote", os.path.relpath(os.path.join(OUT, name), ROOT))


if __name__ == "__main__":
    main()
