"""The answers to the requests the web API refuses before routing (``WebServer._before``).

A browser's first request (401), a phone's connectivity probe, a request for
another host's name: webapi.py imports this module for such a request and
drops it again after, so its messages hold no heap the rest of the time.
"""
from http_server import Response, error_response

AP_URL = "http://10.10.10.10/"
_REALM = 'Basic realm="p1gw", charset="UTF-8"'


def refuse(auth, req, why):
    """The answer to a request ``WebServer._before`` refuses, ``why``: "portal" (a connectivity
    probe, or another host's name while the access point is up: to the config page),
    "elsewhere" (not our address or name: DNS rebinding), the password check's verdict
    ("bad", "missing", "locked"), or the media type a write must have."""
    if why == "portal":
        return Response(b"", 302, {"Location": AP_URL}, "")
    if why == "elsewhere":
        return error_response(421, "not this device's address or name: use http://<its IP address>/")
    if why == "locked":
        r = error_response(429, "too many wrong passwords: try again later")
    elif why == "bad" or why == "missing":
        r = error_response(401, "wrong user or password" if why == "bad" else "login required")
        r.headers["WWW-Authenticate"] = _REALM
    else:
        return error_response(415, "send Content-Type: " + why)
    wait = auth.retry_after_s(req.peer)
    if wait:
        r.headers["Retry-After"] = str(wait)
    return r
