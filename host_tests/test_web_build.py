"""The committed page (firmware/webpage.py) is built from the current web/ sources."""
import gzip
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import build_web  # noqa: E402


def test_committed_page_matches_sources():
    committed = gzip.decompress(build_web.committed_gz())
    assert committed == build_web.page(), "web/ changed: run .venv/bin/python tools/build_web.py"


def test_page_inlines_style_and_script():
    html = build_web.page()
    assert b"/*STYLE*/" not in html and b"/*SCRIPT*/" not in html
    assert b"api/v1/status" in html and b".power" in html


def test_page_stays_small_for_the_device():
    assert len(build_web.committed_gz()) < 8 * 1024
