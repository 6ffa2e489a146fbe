#!/usr/bin/env python3
"""Decode P1 and TIC captures: one JSON object per telegram (or TIC frame) found, one per line.

    python3 tools/p1decode.py FILE... ('-' = stdin) [--protocol dsmr|tic|auto] [--key HEX [--aad HEX]]

Reads any byte capture (one or many telegrams, noise between them, a raw dump
of the serial port) through the firmware's own framer and parser, so what it
prints is exactly what the gateway would make of the same bytes: the reading,
its counters written by the firmware's own JSON writer in their unit under the
names every output uses (``"energy_import_kwh": 12345.678``, exactly the meter's
digits). ``--key`` decrypts Luxembourg (Smarty) frames first. ``--protocol tic``
reads a French meter's TIC capture (historique or standard frames, STX ... ETX)
through firmware/tic.py; ``auto`` (the default) takes TIC for a capture whose
first STX comes before its first "/".
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "firmware"), os.path.join(ROOT, "host_tests", "shim")]

import dsmr  # noqa: E402
import jsonw  # noqa: E402
import plausible  # noqa: E402
import tic  # noqa: E402
from framer import Framer  # noqa: E402
from reading import COUNTER_DECIMALS, TOTAL_FIELDS, TOTAL_NAMES  # noqa: E402

ERRORS = {
    "crc_mismatch": "CRC in the telegram does not match its contents",
    "malformed": "telegram cut off, its CRC lost or not hex, or a \"!\" inside a line",
    "too_long": "telegram longer than the framer's buffer",
    "implausible": "a value no meter sends (README, Plausibility): ",
}
TIC_ERRORS = {
    "crc_mismatch": "a data set's checksum does not match it",
    "malformed": "frame cut short (EOT, or a new STX before ETX), or not made of LF ... CR data sets",
    "too_long": "frame longer than the framer's buffer",
}


def shown(reading):
    """The reading as printed: counters (ints) under TOTAL_NAMES, ``counter_decimals`` left out."""
    out = {}
    for k, v in reading.items():
        if k in TOTAL_FIELDS:
            out[TOTAL_NAMES[TOTAL_FIELDS.index(k)]] = v
        elif k != "counter_decimals":
            out[k] = v
    return out


def decoder(out, protocol="dsmr"):
    """A framer (P1 or TIC) whose telegrams are written to ``out`` as JSON lines."""
    parse, errors = (tic.parse, TIC_ERRORS) if protocol == "tic" else (dsmr.parse, ERRORS)
    baseline = [None]  # plausible.check's, from one telegram to the next

    def on_telegram(status, crc, buf, n):
        rec = {"status": status, "crc": crc, "error": errors.get(status), "reading": None}
        decimals = COUNTER_DECIMALS
        if status == "valid":
            try:
                r = parse(buf, n, crc != "ok")
                rec["reading"] = shown(r)
                decimals = r["counter_decimals"]
                why, baseline[0] = plausible.check(r, baseline[0])
                if why is not None:
                    rec.update(status="implausible", error=ERRORS["implausible"] + why)
            except plausible.Implausible as e:
                rec.update(status="implausible", error=ERRORS["implausible"] + str(e))
            except ValueError as e:
                rec.update(status="malformed", error=str(e))
        jsonw.value(out.write, rec, TOTAL_NAMES, decimals)
        out.write("\n")
    if protocol == "tic":
        return tic.Framer(on_telegram, bytearray(4096), dict.fromkeys(("valid",) + tuple(TIC_ERRORS), 0))
    return Framer(on_telegram)


def sniff(data):
    """"tic" if the capture's first STX comes before its first "/" (a P1 telegram's start), else "dsmr"."""
    stx, slash = data.find(b"\x02"), data.find(b"/")
    return "tic" if stx >= 0 and (slash < 0 or stx < slash) else "dsmr"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="capture files, '-' for stdin")
    ap.add_argument("--protocol", choices=("auto", "dsmr", "tic"), default="auto",
                    help="P1 (DSMR) or French TIC; auto (default) tells them apart per file")
    ap.add_argument("--key", help="Smarty (Luxembourg) decryption key, 32 hex digits")
    ap.add_argument("--aad", default="3000112233445566778899AABBCCDDEEFF",
                    help="Smarty additional authenticated data (default: the meters' default)")
    args = ap.parse_args(argv)
    if args.key:
        from smarty import SmartyDecoder
        try:
            key, aad = bytes.fromhex(args.key), bytes.fromhex(args.aad)
        except ValueError:
            ap.error("--key and --aad must be hex")
        if len(key) != 16:
            ap.error("--key must be 16 bytes (32 hex digits)")
    if args.key and args.protocol == "tic":
        ap.error("--key decrypts Smarty (DSMR) frames, not TIC")
    for name in args.files:
        # Each file is its own capture: a fresh framer, as if the meter was plugged in anew.
        f = sys.stdin.buffer if name == "-" else open(name, "rb")
        with f:
            chunk = f.read(4096)
            protocol = args.protocol
            if protocol == "auto":
                protocol = "dsmr" if args.key else sniff(chunk)
            sink = decoder(sys.stdout, protocol).feed
            smarty = SmartyDecoder(key, aad, sink) if args.key else None
            if smarty:
                sink = smarty.feed
            while chunk:
                sink(chunk)
                chunk = f.read(4096)
        if smarty and (smarty.counters["auth_failed"] or smarty.counters["malformed"]):
            # Frames that fail yield no telegram, so no JSON line: say so here.
            c = smarty.counters
            print("p1decode: %s: %d Smarty frames decrypted, %d failed authentication%s, %d malformed"
                  % (name, c["frames"], c["auth_failed"],
                     " (wrong --key or --aad?)" if c["auth_failed"] and not c["frames"] else "",
                     c["malformed"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
