"""tools/sticker.py on the identity a sim device wrote: the label's text, and its QR code
decoded back (zxing-cpp) to the Wi-Fi join text of the device's access point."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import zxingcpp
from PIL import Image, ImageFont

from simctl import ROOT, Sim

STICKER = os.path.join(ROOT, "tools", "sticker.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import sticker  # noqa: E402


def test_label_from_a_sim_state_dir_has_a_qr_that_joins_the_access_point(tmp_path):
    state = tmp_path / "state"
    with Sim(state, services=()) as sim:
        ident = sim.identity
    out = subprocess.run([sys.executable, STICKER, str(state), "--out", str(tmp_path / "label")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    found = zxingcpp.read_barcodes(Image.open(tmp_path / "label.png"))
    assert [b.text for b in found] == ["WIFI:T:WPA;S:%s;P:%s;;" % (ident["ssid"], ident["wpa_key"])]
    svg = ET.parse(tmp_path / "label.svg").getroot()
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    for value in (ident["serial"], ident["ssid"], ident["wpa_key"], ident["api_password"]):
        assert any(value in t for t in texts), value


def test_label_text_fits_beside_the_qr():
    px = sticker.DPI / 25.4
    font = ImageFont.load_default(size=round(sticker._FONT_MM * px))
    room = (sticker.WIDTH_MM - sticker.QR_MM - 3 * sticker.MARGIN_MM) * px
    ident = {"serial": "240AC400517E", "ssid": "P1GW-00517E", "wpa_key": "WWWWWWWWWWWW",
             "api_password": "WWWWWWWWWWWW"}
    for line in sticker.lines(ident):
        assert font.getlength(line) <= room, line


def test_special_characters_are_escaped_in_the_wifi_text():
    assert sticker.wifi_qr_text('my;net', 'a\\b:c,"d') == 'WIFI:T:WPA;S:my\\;net;P:a\\\\b\\:c\\,\\"d;;'


def test_missing_identity_is_one_clear_line(tmp_path):
    out = subprocess.run([sys.executable, STICKER, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stderr.startswith("sticker: ") and out.stderr.count("\n") == 1
