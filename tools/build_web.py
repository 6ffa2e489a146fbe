"""Build the config page: web/ sources -> firmware/www/index.html.gz.

The page, its CSS and its JS are inlined into one HTML file (one request from
the phone, one file on the device) and gzip-compressed, so the device streams
it as is with ``Content-Encoding: gzip``. Run it after editing web/; a test
checks the committed .gz matches the sources.
"""
import gzip
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "web")
OUT = os.path.join(ROOT, "firmware", "www", "index.html.gz")


def _read(name):
    with open(os.path.join(SRC, name), encoding="utf-8") as f:
        return f.read()


def _squeeze(text):
    """Drop indentation, blank lines and whole-line // comments: ~20% smaller, still readable."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("//"):
            out.append(line)
    return "\n".join(out) + "\n"


def page():
    """The inlined page as bytes."""
    html = _read("index.html")
    html = html.replace("/*STYLE*/", _squeeze(_read("style.css")))
    html = html.replace("/*SCRIPT*/", _squeeze(_read("app.js")))
    return _squeeze(html).encode()


def main():
    data = page()
    gz = gzip.compress(data, 9, mtime=0)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "wb") as f:
        f.write(gz)
    os.replace(OUT + ".tmp", OUT)
    print("%s: %d bytes (%d before gzip)" % (os.path.relpath(OUT, ROOT), len(gz), len(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
