"""The device's web face: config page, Xemex-shaped API, HomeWizard API, captive portal.

Routes (Basic auth, user ``user`` + identity ``api_password``, unless noted):
    GET  /                      the config page (pre-gzipped: webpage.py, or www/ in the stock layout)
    GET  /api/v1/config         settings, secrets shown as "********"
    PATCH /api/v1/config        JSON merge-patch; 400 {"error", "field"}; saved atomically
    GET  /api/v1/status         meter, network, MQTT, Modbus, counters, uptime, free heap
    GET  /api/v1/firmware       version, build, app slots, the last update's outcome
    POST /api/v1/firmware       the update: the image as an application/octet-stream body
                                with ?sha256= (ota.py, loaded for it); 501 without app slots
    POST /api/v1/reset          reconnect to the network; {"restart": true}: reboot
    GET  /api/v1/wifi/scan      access points in range
    GET  /api, /api/v1/data, /api/v1/telegram, /api/v1/system   HomeWizard-compatible; open
                                while ``Http.OpenData`` (default) so integrations need no password
    PUT  /api/v1/identify       blink the status LED (HomeWizard's identify; rate-limited: 429)
    GET  /api/v1/state          open, unrouted: 404, as a HomeWizard P1 meter answers (Home
                                Assistant asks before it knows the device type)
Writes must be ``Content-Type: application/json`` (the firmware upload:
``application/octet-stream``; 415 otherwise): a form on
another web site cannot send that without the browser asking first, so the
browser's cached password cannot be abused cross-site.
Captive portal: the phones' connectivity probes, and in AP mode any request for a
host name that is not ours, are redirected to http://10.10.10.10/.
DNS rebinding: a request whose ``Host`` is not one of ours (``own_host``) gets
421 while the access point is down, so a web page the owner visits cannot
point its own host name at the gateway and read it through the browser.
"""
import asyncio
import gc
import os
import sys

import config
import jsonw
import ondemand
from http_server import App, BasicAuth, Response, Server, error_response, file_response, json_response
from streams import serve
from version import VERSION

# Connectivity probes of Android, Apple, Windows and Firefox, each between spaces
# (a path has none, and no probe is part of an earlier one): one constant, not a
# heap object per path.
_PROBES = (" /generate_204 /gen_204 /hotspot-detect.html /library/test/success.html"
           " /connecttest.txt /ncsi.txt /redirect /success.txt /canonical.html ")
_OPEN = ("/api", "/api/", "/api/v1/data", "/api/v1/telegram", "/api/v1/system",
         "/api/v1/identify", "/api/v1/state")
_WRITES = ("POST", "PATCH", "PUT")
try:
    from webpage import GZ as _PAGE_GZ  # frozen into the image: sent straight from flash
except ImportError:  # the stock layout keeps the page as a file rather than in the heap
    _PAGE_GZ = None
_PAGE = (__file__.rsplit("/", 1)[0] + "/" if "/" in __file__ else "") + "www/index.html.gz"
_HTML = "text/html; charset=utf-8"


class WebServer:
    """HTTP service on ``Http.Port`` (listen address ``hub.bind``)."""

    def __init__(self, hub):
        self.hub = hub
        self.auth = BasicAuth("user", hub.identity["api_password"])
        self.server = Server(App(self._before))
        if hub.config_path:  # a large upload (certificates) is spooled beside config.json
            self.server.spool = hub.config_path.rsplit("/", 1)[0] + "/upload.tmp"
        self._routes(self.server.app)

    async def run(self):
        sweeper = asyncio.create_task(self.server.sweep())
        try:
            await serve(self.server.handle, self.hub.bind, self.hub.config["Http"]["Port"])
        finally:
            sweeper.cancel()

    # -- before routing: captive portal, open data, auth, JSON-only writes -----

    async def _before(self, req):
        net = self.hub.status.get("net") or {}
        own = own_host(req.headers.get("host"), net, self.hub.identity["serial"], self.hub.bind)
        path = req.path
        i = _PROBES.find(path)
        if i > 0 and _PROBES[i - 1] == " " and _PROBES.startswith(" ", i + len(path)) \
                or (net.get("ap") and not own):
            why = "portal"
        elif not own:
            why = "elsewhere"
        elif path in _OPEN and self.hub.config["Http"]["OpenData"]:
            return None
        else:
            why = self.auth.check(req.headers.get("authorization"), req.peer)
            if why == "ok":
                if req.method not in _WRITES:
                    return None
                why = "application/octet-stream" if path == "/api/v1/firmware" else "application/json"
                if req.headers.get("content-type", "").split(";")[0].strip().lower() == why:
                    return None
        # Refused: the answer's code is loaded for it (a browser's first request, a probe).
        return ondemand.call("webrefuse", "refuse", self.auth, req, why)

    # -- routes ------------------------------------------------------------------

    def _routes(self, app):
        # One handler for every route: a function and a closure per route would hold heap for good.
        answer = self._answer
        route = app.route
        for path in ("/", "/api/v1/status", "/api/v1/wifi/scan", "/api", "/api/", "/api/v1/data",
                     "/api/v1/system", "/api/v1/telegram"):
            route(path)(answer)
        route("/api/v1/config", ("GET", "PATCH"))(answer)
        route("/api/v1/reset", ("POST",))(answer)
        route("/api/v1/identify", ("PUT",))(answer)
        route("/api/v1/firmware", ("GET", "POST"), stream=True)(answer)

    async def _answer(self, req):
        """The response to a routed request (App has checked its path and method)."""
        hub = self.hub
        path = req.path
        if path == "/api/v1/status":
            doc = self.status()  # once: json_response writes it twice (it measures first)
            return json_response(lambda write: jsonw.value(write, doc))
        if path == "/":
            if _PAGE_GZ is not None:
                return file_response(_PAGE_GZ, _HTML, len(_PAGE_GZ), gzip=True)
            try:
                size = os.stat(_PAGE)[6]
            except OSError:
                return error_response(404, "page not installed (www/index.html.gz)")
            return file_response(_PAGE, _HTML, size, gzip=True)
        if path == "/api/v1/config" and req.method == "GET":
            return json_response(config.redact(hub.config))
        if path == "/api/v1/firmware":
            # The update's code (and the upload's buffer) exist only for the request.
            if req.method == "POST":
                return await ondemand.call("ota", "upload", hub, req)
            doc = _firmware()
            doc.update(ondemand.call("ota", "info", hub))
            return json_response(doc)
        if path == "/api" or path == "/api/":
            import homewizard  # ~4 KB of heap: loaded on the first HomeWizard request, not at boot
            return json_response(homewizard.device(hub.identity["serial"], VERSION))
        if path == "/api/v1/data":
            if hub.reading is None:
                return error_response(503, "no telegram from the meter yet")
            import homewizard
            net = hub.status.get("net") or {}
            r = hub.reading
            return json_response(lambda write: homewizard.write_data(write, r, net.get("ssid"), net.get("rssi")))
        if path == "/api/v1/system":
            # HomeWizard clients read it with the data; a 401 would fail their whole update.
            return json_response({"cloud_enabled": False})
        if path == "/api/v1/telegram":
            if not hub.raw:
                return error_response(503, "no telegram from the meter yet")
            return Response(hub.raw)
        # Rare requests (PATCH config; reset, scan, identify): their code is loaded for the
        # request and dropped after.
        if path == "/api/v1/config":
            return ondemand.call("webconfig", "patch", hub, req)
        return ondemand.call("webactions", "answer", hub, req)

    def status(self):
        """The status document: every service's own status plus the meter and device."""
        hub = self.hub
        r = hub.reading or {}
        age = hub.age_ms()
        live = r if age is not None else {}  # an hour-old reading is not shown as the power now
        out = {}
        for k, v in hub.status.items():
            out[k] = v
        out["network"] = out.pop("net", None)
        out["meter"] = {
            "model": r.get("meter_model"), "id": r.get("meter_id"),
            "protocol_version": r.get("protocol_version"), "telegrams": hub.seq,
            "age_ms": age, "interval_ms": hub.interval_ms,
            "power_w": live.get("power_w"), "power_l1_w": live.get("power_l1_w"),
            "power_l2_w": live.get("power_l2_w"), "power_l3_w": live.get("power_l3_w"),
        }
        out["counters"] = hub.counters
        out["http"] = {"auth_failures": self.auth.failures, "active": self.server.active,
                       "requests": self.server.counters["requests"],
                       "refused": self.server.counters["refused"],
                       "evicted": self.server.counters["evicted"],
                       "bad_requests": self.server.counters["bad_requests"]}
        out["serial"] = hub.identity["serial"]
        out["firmware"] = _firmware()
        out["uptime_s"] = self.hub.uptime_s()
        mem_free = getattr(gc, "mem_free", None)  # MicroPython only
        if mem_free:
            # Without a collection the figure is whatever garbage the last second left
            # (2 KB to 75 KB within seconds); after one it is what the gateway can use.
            gc.collect()
        out["free_heap"] = mem_free() if mem_free else None
        return out


def own_host(host, net, serial, bind="0.0.0.0"):
    """Whether a request's ``Host`` header names this device (the port ignored).

    Ours: no Host at all (not a browser); the address it has on the network
    (``net["ip"]``); 10.10.10.10 while the access point is up; its host name
    ``p1gw-<serial>``, alone or with any domain after it (``.local``, the
    router's DHCP domain: MicroPython does not tell which one it gave); and,
    when it listens on a loopback address ``bind`` (the simulator), that
    address and ``localhost``. A web site's own name is none of these: the
    serial in ours is not known to it.
    """
    if host is None:
        return True
    name = host.lower()
    if name.startswith("["):
        return False  # an IPv6 literal: the device is IPv4 only
    name = name.partition(":")[0]
    ip = net.get("ip")
    if name == ip or (name == "10.10.10.10" and net.get("ap")):
        return True
    if bind.startswith("127.") and (name == bind or name == "localhost"):
        return True
    label = name.partition(".")[0]
    return label == "p1gw-" + serial.lower()


def _firmware():
    impl = sys.implementation
    return {"version": VERSION,
            "build": "%s %s on %s" % (impl.name, ".".join(str(v) for v in impl.version[:3]), sys.platform)}
