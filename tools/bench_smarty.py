"""Smarty decrypt cost in the MicroPython unix port (96 KB heap): one line for `make bench`.

Feeds the 1 KB-plaintext frame of host_tests/unit/vectors/smarty_bench.json through
SmartyDecoder (header check, GHASH, tag check, counter-mode decryption, the
plaintext handed on) and prints
    smarty decrypt: X ms per 1 KB frame, Y bytes allocated
Y counts the heap bytes one frame allocates, the 1024-byte plaintext handed to
the callback included. Run it with the unix port, or with CPython, which
re-runs it in the unix port found next to the interpreter or in .venv:
    MICROPYPATH=firmware .venv/bin/micropython -X heapsize=96k tools/bench_smarty.py
    .venv/bin/python tools/bench_smarty.py
"""
import sys

_ROUNDS = 50


def _root():
    return (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/.."


def _in_micropython():
    import json
    import time
    from binascii import unhexlify

    from heapmeter import allocated
    from smarty import SmartyDecoder

    with open(_root() + "/host_tests/unit/vectors/smarty_bench.json") as f:
        v = json.load(f)
    frame = unhexlify(v["frame"])
    got = []
    dec = SmartyDecoder(unhexlify(v["key"]), unhexlify(v["aad"]), got.append)
    dec.feed(frame)  # warm up: tables built, buffers allocated
    if got != [got[0]] or len(got[0]) != 1024:
        raise SystemExit("bench frame did not decrypt")
    got.clear()
    alloc = allocated(dec.feed, frame)
    got.clear()
    t = time.ticks_us()
    for _ in range(_ROUNDS):
        dec.feed(frame)
        got.clear()
    us = time.ticks_diff(time.ticks_us(), t) / _ROUNDS
    print("smarty decrypt: %.2f ms per 1 KB frame, %d bytes allocated" % (us / 1000, alloc))


def _in_cpython():
    import os
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(mp):
        mp = os.path.join(root, ".venv", "bin", "micropython")
    env = dict(os.environ)
    env.setdefault("MICROPYPATH", os.path.join(root, "firmware"))
    sys.exit(subprocess.run([mp, "-X", "heapsize=96k", os.path.abspath(__file__)], env=env).returncode)


if __name__ == "__main__":
    if sys.implementation.name == "micropython":
        _in_micropython()
    else:
        _in_cpython()
