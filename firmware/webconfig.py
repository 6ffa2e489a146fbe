"""The web API's config PATCH: the body parsed, checked (config_check, then jsoncheck), saved.

webapi.py imports this module for the request and drops it again after: a
running gateway needs it a few times a day, and its peak (this, the config
rules and two copies of the config) is the web API's highest. ``patch(hub,
req)`` is the response; nothing here awaits.
"""
import json

import config
import ondemand
from http_server import error_response, json_response

# Changing these reconnects the network right away (netman reads hub.config).
_NET_SECTIONS = ("WiFi", "Ethernet", "DefaultNetIf")


def body_json(req):
    """The body parsed as JSON; ValueError (or UnicodeError) when it is not."""
    if isinstance(req.body, str):  # the name of the file the server spooled it to
        with open(req.body) as f:
            return json.load(f)  # read a piece at a time: no copy of the body in RAM
    return json.loads(req.body or b"null")  # pyright: ignore[reportArgumentType]  (bytes too)


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


def patch(hub, req):
    """The response to a config PATCH."""
    try:
        changes = body_json(req)
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
