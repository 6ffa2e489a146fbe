"""A small asyncio HTTP/1.1 server: hard limits, a router, Basic auth.

Built for ~110 KB of heap and hostile networks: the request head is capped
(431), bodies need a Content-Length of at most 8 KB (413), every read and write
has a deadline so a slow client cannot hold a connection, and connections over
the limit get a static 503 instead of a queue. A malformed request gets an error
response and a closed socket, never an exception in the loop.

``Server.handle(reader, writer)`` is the whole protocol; it only needs
``read`` and ``write``/``drain``/``close``, so tests drive it
with in-memory streams (host_tests/unit/_http_client.py), microdot style.
"""
import asyncio
import binascii
import json

from micropython import const

import jsonw
from clock import ticks_add, ticks_diff, ticks_ms
from streams import close_stream

MAX_HEAD = const(2048)      # request line + headers; a phone browser sends ~700 bytes
MAX_HEADERS = const(32)
MAX_BODY = const(8192)
_CHUNK = const(512)
_BODY_METHODS = ("POST", "PUT", "PATCH")

_REASONS = {
    200: "OK", 204: "No Content", 302: "Found", 400: "Bad Request",
    401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests",
    411: "Length Required", 413: "Payload Too Large", 415: "Unsupported Media Type",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 503: "Service Unavailable",
}

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 5\r\nConnection: close\r\n\r\nbusy\n")

# One buffer for streaming files: a chunk is handed to write() (which sends it
# or copies the rest) before the next await, so connections never share it mid-use.
_file_buf = bytearray(_CHUNK)


class HttpError(Exception):
    """A request the server rejects before routing: answer ``status`` and close."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


class Request:
    """One parsed request; header names are lower case."""

    __slots__ = ("method", "path", "query", "version", "headers", "body")

    def __init__(self, method, path, query, version, headers):
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = bytearray()  # filled by the server up to Content-Length

    def keep_alive(self):
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close"

    def content_type(self):
        """Media type without parameters, lower case ('' when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class Response:
    """Status, extra headers and a body: bytes, str, or a file streamed in chunks."""

    __slots__ = ("status", "headers", "body", "path", "size")

    def __init__(self, body=None, status=200, headers=None, content_type="text/plain; charset=utf-8"):
        self.status = status
        self.headers = headers or {}
        if content_type:
            self.headers["Content-Type"] = content_type
        self.body = body.encode() if isinstance(body, str) else (body or b"")
        # set by file_response: stream this file of ``size`` bytes
        self.path = None  # type: str | bytes | None
        self.size = 0


def json_response(obj, status=200, headers=None):
    """``obj`` as JSON; or, when ``obj`` is callable, the JSON that ``obj(write)`` writes in pieces.

    The pieces go into one buffer of the body's length (jsonw.written: ``obj``
    is called twice, to measure, then to write).
    """
    if callable(obj):
        return Response(jsonw.written(obj), status, headers, "application/json")
    return Response(json.dumps(obj), status, headers, "application/json")


def error_response(status, message, field=None):
    """The API's error shape: ``{"error": message, "field": field}``."""
    return json_response({"error": message, "field": field}, status)


def redirect(url):
    return Response(b"", 302, {"Location": url}, "")


def file_response(path, content_type, size, gzip=False):
    """Stream file ``path`` (``size`` bytes) without loading it into memory.

    ``path`` may be the bytes themselves instead: data frozen in flash costs no heap either.
    """
    r = Response(path if isinstance(path, bytes) else b"", 200, {"Cache-Control": "no-cache"}, content_type)
    if gzip:
        r.headers["Content-Encoding"] = "gzip"
    if not r.body:
        r.path = path
        r.size = size
    return r


async def _pass(req):
    return None


class App:
    """Exact-path router with a ``before`` hook (auth, captive portal)."""

    def __init__(self, before=None):
        self._routes = {}   # path -> {method: async handler(request) -> Response}
        self.before = before or _pass  # async (request) -> Response, or None to route it

    def route(self, path, methods=("GET",)):
        def register(handler):
            table = self._routes.setdefault(path, {})
            for m in methods:
                table[m] = handler
            return handler
        return register

    async def dispatch(self, req):
        """``before`` then the route: what the server does, in one call for tests."""
        r = await self.before(req)
        if r is not None:
            return r
        return await self.respond(req)

    def find(self, req):
        """(handler, None) for a routed request, else (None, the 404 or 405 response)."""
        table = self._routes.get(req.path)
        if table is None:
            return None, error_response(404, "not found")
        handler = table.get(req.method)
        if handler is None:
            r = error_response(405, "method not allowed")
            r.headers["Allow"] = ", ".join(sorted(table))
            return None, r
        return handler, None

    async def respond(self, req):
        """The routed handler's response (``before`` already passed)."""
        handler, resp = self.find(req)
        return resp if handler is None else await handler(req)


class BasicAuth:
    """Basic credentials check that slows down guessing without holding connections.

    After ``free_failures`` wrong passwords in a row, each further failure locks
    the check for a while (doubling up to ``max_delay_ms``). While locked, any
    credentials are answered "locked" at once, unchecked: guessing gets nowhere
    and no connection waits. A success resets the count.
    """

    free_failures = 3
    max_delay_ms = 16000

    def __init__(self, user, password, clock=ticks_ms):
        self._expected = ("%s:%s" % (user, password)).encode()
        self._clock = clock
        self.failures = 0
        self._locked_until = None

    def check(self, header):
        """'ok', 'missing' (no credentials: not a guess), 'bad' or 'locked'."""
        if not header:
            return "missing"
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return "missing"
        if self.retry_after_s():
            return "locked"
        try:
            given = binascii.a2b_base64(token.strip())
        except Exception:  # binascii.Error (CPython) / ValueError (MicroPython)
            given = b""
        if _same(given, self._expected):
            self.failures = 0
            return "ok"
        self.failures += 1
        over = self.failures - self.free_failures
        if over > 0:
            delay = min(1000 << min(over - 1, 8), self.max_delay_ms)
            self._locked_until = ticks_add(self._clock(), delay)
        return "bad"

    def retry_after_s(self):
        """Whole seconds until credentials are checked again (0: not locked)."""
        if self._locked_until is None:
            return 0
        left = ticks_diff(self._locked_until, self._clock())
        if left <= 0:
            self._locked_until = None
            return 0
        return (left + 999) // 1000


def _same(a, b):
    """Compare without an early exit, so timing says nothing about the password."""
    diff = len(a) ^ len(b)
    for i in range(min(len(a), len(b))):
        diff |= a[i] ^ b[i]
    return diff == 0


def parse_head(head):
    """Request line and headers (bytes, without the blank line) -> Request with no body."""
    try:
        text = head.decode()
    except UnicodeError:
        raise HttpError(400)
    lines = text.split("\n")  # each line's CR, where sent, is stripped below
    parts = lines[0].rstrip("\r").split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1].startswith("/") \
            or not parts[2].startswith("HTTP/1."):
        raise HttpError(400)
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431)
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.rstrip("\r").partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400)  # also rejects obsolete line folding
        name = name.lower()
        value = value.strip()
        if name == "content-length" and headers.get(name, value) != value:
            raise HttpError(400)  # two lengths: which one frames the body is a guess
        headers[name] = value
    path, _, query = parts[1].partition("?")
    return Request(parts[0], path, query, parts[2], headers)


def _head_end(buf):
    """(where the head ends, length of the blank line after it), or (-1, 0).

    Lines end in CRLF, or in a bare LF, which RFC 9112 lets a server accept
    (scripts, nc): without it such a client would wait for the idle timeout.
    """
    crlf = buf.find(b"\n\r\n")  # the head keeps its last line's CR: parse_head strips it
    lf = buf.find(b"\n\n")
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, 2
    return crlf, (3 if crlf >= 0 else 0)


async def _drain(reader, left):
    while left > 0:
        chunk = await reader.read(_CHUNK)
        if not chunk:
            return
        left -= len(chunk)


async def _read_body(reader, buf, n):
    """``n`` body bytes into one bytearray allocated up front: no growing copies."""
    body = bytearray(n)
    got = min(n, len(buf))
    body[0:got] = buf[0:got]
    buf[0:got] = b""
    while got < n:
        chunk = await reader.read(min(n - got, _CHUNK))
        if not chunk:
            raise EOFError("short body")
        body[got:got + len(chunk)] = chunk
        got += len(chunk)
    return body


class Server:
    """Serve an App; limits are class attributes so a test or board can tune them."""

    max_conns = 4           # of the ESP32's 16 sockets (docs/ARCHITECTURE.md, "Sockets")
    max_head = MAX_HEAD
    max_body = MAX_BODY
    read_timeout_s = 10     # whole request (head + body), and idle keep-alive wait
    write_timeout_s = 10
    discard_s = 2           # what a refused request may still send before the close

    def __init__(self, app):
        self.app = app
        self.active = 0
        self._body_lock = asyncio.Lock()
        self.counters = {"requests": 0, "refused": 0, "bad_requests": 0, "errors": 0}

    async def handle(self, reader, writer):
        """One connection: requests in sequence until close, error or timeout."""
        if self.active >= self.max_conns:
            self.counters["refused"] += 1
            try:
                writer.write(_BUSY)
                await asyncio.wait_for(writer.drain(), 2)
            except Exception:
                pass
            await close_stream(writer)
            return
        self.active += 1
        buf = bytearray()  # bytes received but not yet consumed (pipelining)
        try:
            while True:
                try:
                    req = await asyncio.wait_for(self._read_request(reader, buf), self.read_timeout_s)
                except HttpError as e:
                    self.counters["bad_requests"] += 1
                    await self._send(writer, error_response(e.status, _REASONS[e.status]), False)
                    await self._discard(reader)
                    break
                if req is None:
                    break
                self.counters["requests"] += 1
                if not await self._serve(req, reader, writer, buf):
                    break
        except (OSError, EOFError, asyncio.TimeoutError):
            pass  # peer gone, truncated body or too slow: just close
        except MemoryError:
            self.counters["errors"] += 1  # heap too fragmented for this request: drop it, keep serving
        finally:
            self.active -= 1
            await close_stream(writer)

    async def _serve(self, req, reader, writer, buf):
        """Answer one request; False when the connection is to close."""
        length = self._body_length(req)
        keep = req.keep_alive()
        handler = None
        try:
            # Authentication and routing run on the head alone: a request they
            # refuse never gets its body read into RAM.
            resp = await self.app.before(req)
            if resp is None:
                handler, resp = self.app.find(req)
        except Exception as e:
            resp = self._failed(req, e)
        if handler is None:
            if length:  # the body is still on the wire: drained after the answer
                await self._send(writer, resp, False)
                await self._discard(reader)
                return False
            await self._send(writer, resp, keep)
            return keep
        if length:
            # One body in RAM at a time: four 8 KB uploads at once would not fit an ESP32.
            async with self._body_lock:
                try:
                    req.body = await asyncio.wait_for(_read_body(reader, buf, length), self.read_timeout_s)
                except MemoryError:  # no room for it now: answer, and close with the body unread
                    self.counters["errors"] += 1
                    await self._send(writer, error_response(503, "out of memory: try again"), False)
                    return False
                resp = await self._call(handler, req)
                req.body = b""  # free before the next upload may start
        else:
            resp = await self._call(handler, req)
        await self._send(writer, resp, keep)
        return keep

    async def _call(self, handler, req):
        """The handler's response; a 500 when it raises (the connection stays good)."""
        try:
            return await handler(req)
        except Exception as e:  # OSError too: a handler's, not the socket's
            return self._failed(req, e)

    def _failed(self, req, e):
        self.counters["errors"] += 1
        print("http: %s %s: %r" % (req.method, req.path, e))
        return error_response(500, "internal error")

    async def _discard(self, reader):
        """Swallow what the client still sends (briefly, boundedly) before closing.

        Closing with unread bytes makes the kernel send a reset, and the client
        may lose our error response to it. One deadline for all of it, so a
        client trickling bytes cannot hold the connection.
        """
        try:
            await asyncio.wait_for(_drain(reader, self.max_body + self.max_head), self.discard_s)
        except (OSError, asyncio.TimeoutError):
            pass

    async def _read_request(self, reader, buf):
        while True:
            end, blank = _head_end(buf)
            if end >= 0:
                break
            if len(buf) >= self.max_head:
                raise HttpError(431)
            chunk = await reader.read(_CHUNK)
            if not chunk:
                return None  # closed, possibly mid-head: nothing to answer
            buf.extend(chunk)
        if end + blank > self.max_head:
            raise HttpError(431)
        req = parse_head(bytes(buf[:end]))
        buf[0:end + blank] = b""
        if "transfer-encoding" in req.headers:
            raise HttpError(411)
        self._body_length(req)  # refuse a bad or too long body before anything else
        return req

    def _body_length(self, req):
        length = req.headers.get("content-length", "0")
        if not length.isdigit():
            raise HttpError(400)
        n = int(length)
        if n > self.max_body:
            raise HttpError(413)
        if n and req.method not in _BODY_METHODS:
            raise HttpError(400)  # a GET with a body: no route here reads one
        return n

    async def _send(self, writer, resp, keep):
        path = resp.path
        length = resp.size if path else len(resp.body)
        head = ["HTTP/1.1 %d %s\r\nContent-Length: %d\r\nConnection: %s\r\n"
                % (resp.status, _REASONS.get(resp.status, "Unknown"), length,
                   "keep-alive" if keep else "close")]
        for k, v in resp.headers.items():
            head.append("%s: %s\r\n" % (k, v))
        head.append("\r\n")
        writer.write("".join(head).encode())
        if path:
            with open(path, "rb") as f:
                while True:
                    n = f.readinto(_file_buf)
                    if not n:
                        break
                    writer.write(memoryview(_file_buf)[:n])
                    await asyncio.wait_for(writer.drain(), self.write_timeout_s)
        elif resp.body:
            writer.write(resp.body)
        await asyncio.wait_for(writer.drain(), self.write_timeout_s)
