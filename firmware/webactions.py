"""The web API's rare requests: a config PATCH, a reset or restart, a Wi-Fi scan, HomeWizard's
identify.

webapi.py imports this module for such a request and drops it again after
(``WebServer._routes``, route ``action``): their code and messages are ~2 KB of
the stock layout's heap that a running gateway needs a few times a day, not
all the time. ``answer(hub, req)`` is the response; nothing here awaits.
"""
import config
import ondemand
from http_server import error_response, json_response

# Changing these reconnects the network right away (netman reads hub.config).
_NET_SECTIONS = ("WiFi", "Ethernet", "DefaultNetIf")


def answer(hub, req):
    """The response to ``req``: one of the routes webapi sends here."""
    if req.path == "/api/v1/reset":
        return _reset(hub, req)
    if req.path == "/api/v1/wifi/scan":
        return _scan(hub)
    if req.path == "/api/v1/identify":
        return _identify(hub)
    return _patch_config(hub, req)


def _body_pieces(body):
    """The request body as pieces of bytes: itself, or a spooled file's contents a piece at a time."""
    if not isinstance(body, str):
        yield body
        return
    with open(body, "rb") as f:
        while True:
            piece = f.read(256)
            if not piece:
                return
            yield piece


def _patch_config(hub, req):
    try:
        changes = req.json()
    except MemoryError:  # not the client's fault: say so, and let it try again
        return error_response(503, "out of memory: try again")
    except Exception:  # ValueError, or UnicodeError on bad bytes
        return error_response(400, "body is not valid JSON")
    if not isinstance(changes, dict):
        return error_response(400, "body must be a JSON object")
    try:
        new, restart = config.patch(hub.config, changes)
    except config.ConfigError as e:
        return error_response(400, e.message, e.field)
    try:
        # MicroPython's json took {"a": 1,} and [1,,2]: the syntax is checked
        # before saving, once the config rules are dropped (never both in the heap).
        ondemand.call("jsoncheck", "check", _body_pieces(req.body))
    except MemoryError:
        return error_response(503, "out of memory: try again")
    except ValueError:
        return error_response(400, "body is not valid JSON")
    try:
        config.save(hub.config_path or "config.json", new)
    except OSError as e:
        return error_response(500, "could not save the settings (%s); nothing changed" % e)
    hub.config = new
    reconnect = False
    for k in _NET_SECTIONS:
        if k in changes:
            reconnect = True
    nm = hub.netman
    if reconnect and nm:
        nm.request_reconnect()
    return json_response({"saved": True, "restart_needed": restart,
                          "reconnecting": bool(reconnect and nm),
                          "config": config.redact(new)})


def _reset(hub, req):
    try:
        restart = (req.json() or {}).get("restart", False)
    except (ValueError, AttributeError):  # not JSON, or not an object
        return error_response(400, "body must be a JSON object")
    if restart is not True and restart is not False:
        return error_response(400, "must be true or false", "restart")
    if restart:  # settings that need a restart, or leaving safe mode
        if hub.restart is None:
            return error_response(503, "restart not available")
        hub.restart()
        return json_response({"reset": "restarting"})
    nm = hub.netman
    if nm is None:
        return error_response(503, "network manager not running")
    nm.request_reconnect()
    return json_response({"reset": "reconnecting"})


def _identify(hub):
    drv = hub.led
    if drv is None:
        return error_response(503, "no status LED")
    wait = drv.identify(hub.clock())
    if wait:
        r = error_response(429, "identify: the LED blinked just now")
        r.headers["Retry-After"] = str(wait)
        return r
    return json_response({"identify": "ok"})


def _scan(hub):
    nm = hub.netman
    if nm is None:
        return error_response(503, "network manager not running")
    # A scan holds the radio (and, on ESP32, the loop) for ~2 s: only on request.
    return json_response(ondemand.call("netconnect", "networks", nm.net.scan()))  # not loaded for a PATCH
