"""Build the config page: web/ sources -> firmware/webpage.py.

The page, its CSS and its JS are inlined into one HTML file (one request from
the phone) and gzip-compressed, so the device sends it as is with
``Content-Encoding: gzip``. The result is a module holding those bytes: frozen
into the p1gw image, the page lives in flash and costs no heap. A stock-layout
install gets the same bytes as a file, ``www/index.html.gz``, streamed in
chunks (``write_gz``). Run it after editing web/; a test checks the committed
module matches the sources.
"""
import ast
import gzip
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "web")
OUT = os.path.join(ROOT, "firmware", "webpage.py")
GZ_FILE = os.path.join("www", "index.html.gz")  # where the stock layout keeps it


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


def committed_gz():
    """The gzipped page as firmware/webpage.py holds it."""
    with open(OUT) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "GZ":
            return ast.literal_eval(node.value)
    raise ValueError("%s has no GZ" % OUT)


def write_gz(out_dir):
    """Write the committed page as ``out_dir``/www/index.html.gz (the stock layout); return its path."""
    path = os.path.join(out_dir, GZ_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(committed_gz())
    os.replace(path + ".tmp", path)
    return path


def main():
    data = page()
    gz = gzip.compress(data, 9, mtime=0)
    lines = ['"""The config page, gzipped: generated from web/ by tools/build_web.py, do not edit."""',
             "GZ = ("]
    for i in range(0, len(gz), 48):
        lines.append("    %r" % gz[i:i + 48])
    lines.append(")")
    with open(OUT + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(OUT + ".tmp", OUT)
    print("%s: %d bytes gzipped (%d before gzip)" % (os.path.relpath(OUT, ROOT), len(gz), len(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
