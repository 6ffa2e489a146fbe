"""Update a gateway over the network: `make ota HOST=192.168.1.50 BOARD=wt32_eth01`.

    ota_update.py --host 192.168.1.50 --board wt32_eth01            # build the image, send it, follow it
    ota_update.py --host 192.168.1.50 --image p1gw-wt32_eth01-0.2.0.app.bin
    ota_update.py --host 127.0.0.1:8080 --image build/sim-9.9.9.bin  # the simulator (make sim-image)

Sends the app image (``.app.bin``: what goes into an app slot) to
``POST /api/v1/firmware`` with its SHA-256, then follows the gateway through its
restart and probation until ``GET /api/v1/firmware`` says ``ok`` (the new version
runs and marked itself valid) or ``rolled_back`` (the old one runs again, and why).
The API password comes from ``--password``, ``$P1GW_PASSWORD`` or a prompt
(``api_password`` in the gateway's identity.json, on its sticker). Exit status 0
only when the new version runs and passed its probation.
"""
import argparse
import base64
import getpass
import hashlib
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esp32_image  # noqa: E402

FOLLOW_S = 240   # restart (seconds) + probation (60 s) + slack
BLOCK = 4096


def fail(msg):
    sys.exit("ota: " + msg)


def app_image(board, image):
    """The bytes of the app image to send, and what it says about itself."""
    if image is None:
        esp32_image.build(board)
        image = os.path.join(esp32_image.OUT, esp32_image.image_name(board, esp32_image.firmware_version(), True))
    try:
        with open(image, "rb") as f:
            data = f.read()
        info = esp32_image.read_image(data)
    except (OSError, esp32_image.ImageError) as e:
        fail("%s: %s" % (image, e))
    if info["kind"] != "app":
        fail("%s is a merged image for `make flash`: send the .app.bin beside it" % image)
    if info["board"] is None:
        fail("%s is not a p1gw image (its app version is %r)" % (image, info["version_field"]))
    if board and info["board"] != board:
        fail("%s is for board %s, not %s" % (image, info["board"], board))
    return data, info


class Gateway:
    def __init__(self, host, password, timeout=30):
        self.host = host
        self.timeout = timeout
        self.auth = "Basic " + base64.b64encode(("user:" + password).encode()).decode()

    def request(self, method, path, body=None, headers=None, progress=None):
        """(status, JSON body) of one request; the body sent in 4 KB pieces when ``progress`` is given."""
        conn = http.client.HTTPConnection(self.host, timeout=self.timeout)
        try:
            conn.putrequest(method, path)
            hdrs = dict(headers or {}, Authorization=self.auth)
            if body is not None:
                hdrs["Content-Length"] = str(len(body))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders()
            if body is not None:
                for i in range(0, len(body), BLOCK):
                    conn.send(body[i:i + BLOCK])
                    if progress:
                        progress(min(i + BLOCK, len(body)), len(body))
            r = conn.getresponse()
            raw = r.read()
        finally:
            conn.close()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, {"error": raw.decode("utf-8", "replace")}

    def firmware(self):
        try:
            status, doc = self.request("GET", "/api/v1/firmware")
        except OSError:
            return None  # restarting
        return doc if status == 200 else None


def _progress(done, total):
    sys.stderr.write("\rota: sent %d of %d bytes (%d%%)" % (done, total, done * 100 // total))
    if done == total:
        sys.stderr.write("\n")


def update(host, data, info, password, allow_downgrade=False, follow_s=FOLLOW_S, log=print):
    """Send ``data`` and follow the gateway until the verdict; True when the new version runs, valid."""
    gw = Gateway(host, password)
    before = gw.firmware()
    if before is None:
        fail("%s does not answer GET /api/v1/firmware (address, or password)" % host)
    log("ota: %s runs p1gw %s (%s, slot %s); sending %s (%d bytes)" % (
        host, before["version"], before.get("board"), before.get("slot"), info["version"], len(data)))
    path = "/api/v1/firmware?sha256=" + hashlib.sha256(data).hexdigest()
    if allow_downgrade:
        path += "&allow_downgrade=1"
    try:
        status, doc = gw.request("POST", path, data, {"Content-Type": "application/octet-stream"},
                                 _progress if sys.stderr.isatty() else None)
    except OSError as e:
        fail("the upload failed: %s" % e)
    if status != 200:
        fail("refused (%d): %s%s" % (status, doc.get("error"), " [%s]" % doc["field"] if doc.get("field") else ""))
    log("ota: accepted; the gateway restarts into %s and runs it on probation" % doc["version"])
    deadline = time.monotonic() + follow_s
    seen = None
    while time.monotonic() < deadline:
        time.sleep(1)
        fw = gw.firmware()
        if fw is None:
            continue
        last = fw.get("last") or {}
        now = (fw["version"], last.get("outcome"), last.get("stage"))
        if now != seen:
            seen = now
            log("ota: running %s, last update: %s%s" % (fw["version"], last.get("outcome"),
                                                        " (%s)" % last["stage"] if last.get("stage") else ""))
        if fw["version"] == info["version"] and last.get("outcome") == "ok":
            log("ota: done: %s runs and passed its probation" % fw["version"])
            return True
        if last.get("outcome") == "rolled_back":
            log("ota: rolled back, %s runs again: %s" % (fw["version"], last.get("reason")))
            return False
    log("ota: no verdict within %d s" % follow_s)
    return False


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", required=True, help="the gateway's address (host or host:port)")
    p.add_argument("--board", help="build the image for this board (make firmware) unless --image is given")
    p.add_argument("--image", help="the app image to send (.app.bin; the simulator's: make sim-image)")
    p.add_argument("--password", default=os.environ.get("P1GW_PASSWORD"),
                   help="the API password (default: $P1GW_PASSWORD, else asked)")
    p.add_argument("--allow-downgrade", action="store_true", help="install an older version")
    p.add_argument("--follow", type=int, default=FOLLOW_S, help="seconds to wait for the verdict")
    a = p.parse_args(argv)
    if not a.board and not a.image:
        p.error("give --board (to build) or --image")
    data, info = app_image(a.board, a.image)
    password = a.password or getpass.getpass("API password of %s: " % a.host)
    return 0 if update(a.host, data, info, password, a.allow_downgrade, a.follow) else 1


if __name__ == "__main__":
    sys.exit(main())
