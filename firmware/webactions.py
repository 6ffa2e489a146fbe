"""The web API's rare requests: a reset or restart, a Wi-Fi scan, HomeWizard's identify.

webapi.py imports this module for such a request and drops it again after
(``WebServer._answer``): their code and messages are heap of the stock layout
that a running gateway needs a few times a day, not all the time (the config
PATCH has a module of its own, webconfig.py, so its peak holds none of this).
``answer(hub, req)`` is the response; nothing here awaits.
"""
import ondemand
from http_server import error_response, json_response


def answer(hub, req):
    """The response to ``req``: one of the routes webapi sends here."""
    if req.path == "/api/v1/reset":
        return _reset(hub, req)
    if req.path == "/api/v1/wifi/scan":
        return _scan(hub)
    return _identify(hub)


def _reset(hub, req):
    from webconfig import body_json

    try:
        restart = (body_json(req) or {}).get("restart", False)
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
