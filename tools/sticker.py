#!/usr/bin/env python3
"""Print a device's label: serial, access point, Wi-Fi key, API password and a Wi-Fi QR code.

    python3 tools/sticker.py IDENTITY [--out PREFIX]

IDENTITY is a device's ``identity.json`` (``mpremote cp :identity.json .``
reads it off a device; the sim keeps it in its state directory, which may be
given instead). Writes PREFIX.svg (for a label printer or a print shop) and
PREFIX.png (300 dpi); PREFIX defaults to ``sticker-<serial>``. A phone's camera
that scans the QR code joins the device's access point (the standard
``WIFI:T:WPA;S:<ssid>;P:<key>;;`` text, special characters escaped), and the
page is then at http://10.10.10.10/.

The label carries secrets, as the Xemex's and Sessy's stickers do: the key is
on the box, never in the API or on the page.
"""
import argparse
import json
import os
import sys
from xml.sax.saxutils import escape

import segno
from PIL import Image, ImageDraw, ImageFont

# Label geometry in millimetres (72 x 32 mm labels) and the PNG's resolution.
WIDTH_MM, HEIGHT_MM = 72.0, 32.0
QR_MM = 28.0
MARGIN_MM = 2.0
DPI = 300
_FONT_MM = 2.2


def wifi_qr_text(ssid, key):
    """The Wi-Fi join text phones read from a QR code; \\ ; , : " escaped with a backslash."""
    def esc(s):
        for ch in '\\;,:"':
            s = s.replace(ch, "\\" + ch)
        return s
    return "WIFI:T:WPA;S:%s;P:%s;;" % (esc(ssid), esc(key))


def lines(ident):
    """The label's text lines, top to bottom."""
    serial = ident["serial"]
    return ["p1gw P1 gateway", "Serial: " + serial, "Wi-Fi: " + ident["ssid"],
            "Key: " + ident["wpa_key"], "API: user / " + ident["api_password"],
            "http://10.10.10.10/", "p1gw-%s.local" % serial.lower()]


def load(path):
    if os.path.isdir(path):
        path = os.path.join(path, "identity.json")
    with open(path) as f:
        ident = json.load(f)
    for k in ("serial", "ssid", "wpa_key", "api_password"):
        if not isinstance(ident.get(k), str) or not ident[k]:
            raise ValueError("%s: no %s" % (path, k))
    return ident


def _qr(ident):
    return segno.make_qr(wifi_qr_text(ident["ssid"], ident["wpa_key"]), error="m")


def _modules(qr):
    """(row, column) of every dark module, quiet zone included in the size."""
    m = qr.matrix
    return [(r, c) for r, row in enumerate(m) for c, v in enumerate(row) if v], len(m)


def svg(ident):
    qr = _qr(ident)
    dark, n = _modules(qr)
    quiet = 2  # modules of white border inside the QR's square
    cell = QR_MM / (n + 2 * quiet)
    path = "".join("M%.3f %.3fh%.3fv%.3fh-%.3fz" % (
        MARGIN_MM + (c + quiet) * cell, MARGIN_MM + (r + quiet) * cell, cell, cell, cell) for r, c in dark)
    x = MARGIN_MM * 2 + QR_MM
    text = "".join('<text x="%.1f" y="%.2f">%s</text>' % (x, MARGIN_MM + 3.2 + i * 3.9, escape(t))
                   for i, t in enumerate(lines(ident)))
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%gmm" height="%gmm" viewBox="0 0 %g %g">'
            '<rect width="100%%" height="100%%" fill="#fff"/><path d="%s" fill="#000"/>'
            '<g font-family="DejaVu Sans Mono, monospace" font-size="%g">%s</g></svg>\n'
            % (WIDTH_MM, HEIGHT_MM, WIDTH_MM, HEIGHT_MM, path, _FONT_MM, text))


def png(ident):
    px = DPI / 25.4
    img = Image.new("L", (round(WIDTH_MM * px), round(HEIGHT_MM * px)), 255)
    draw = ImageDraw.Draw(img)
    qr = _qr(ident)
    dark, n = _modules(qr)
    quiet = 2
    cell = int(QR_MM * px / (n + 2 * quiet))  # whole pixels: sharp modules
    x0 = y0 = round(MARGIN_MM * px) + quiet * cell
    for r, c in dark:
        draw.rectangle((x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell - 1, y0 + (r + 1) * cell - 1), fill=0)
    font = ImageFont.load_default(size=round(_FONT_MM * px))
    x = round((MARGIN_MM * 2 + QR_MM) * px)
    for i, t in enumerate(lines(ident)):
        draw.text((x, round((MARGIN_MM + 0.6 + i * 3.9) * px)), t, fill=0, font=font)
    return img


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("identity", help="identity.json, or the state directory holding it")
    ap.add_argument("--out", help="output prefix (default sticker-<serial>)")
    args = ap.parse_args(argv)
    try:
        ident = load(args.identity)
    except (OSError, ValueError) as e:
        print("sticker: %s" % e, file=sys.stderr)
        return 1
    out = args.out or "sticker-" + ident["serial"]
    with open(out + ".svg", "w") as f:
        f.write(svg(ident))
    png(ident).save(out + ".png", dpi=(DPI, DPI))
    print("%s.svg, %s.png" % (out, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
