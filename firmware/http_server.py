"""A small asyncio HTTP/1.1 server: hard limits, a router, Basic auth.

Built for a 64 KB heap and hostile networks: the request head is capped
(431), bodies need a Content-Length of at most 8 KB (413), every read and write
has a deadline so a slow client cannot hold a connection, and a connection
over the limit takes the slot of the one that has waited longest for a request
(an idle keep-alive, or a head still trickling in), or gets a static 503 when
every slot is busy answering. One client address never holds every slot. A
malformed request gets an error response and a closed socket, never an
exception in the loop.

``Server.handle(reader, writer)`` is the whole protocol; it only needs
``readinto`` (``read`` for a refused body) and ``write``/``drain``/``close``,
so tests drive it with in-memory streams (host_tests/unit/_http_client.py),
microdot style.
"""
import asyncio
import binascii
import os

from micropython import const

import jsonw
import ondemand
from clock import ticks_add, ticks_diff, ticks_ms
from streams import close_stream, peer_ip

MAX_HEAD = const(2048)      # request line + headers; a phone browser sends ~700 bytes
MAX_HEADERS = const(32)
MAX_BODY = const(8192)
_CHUNK = const(512)
_BODY_METHODS = ("POST", "PUT", "PATCH")

# "<code><reason phrase>" lines: one constant (a dict would be a heap object per phrase).
_REASONS = ("200OK\n204No Content\n302Found\n400Bad Request\n401Unauthorized\n404Not Found\n"
            "405Method Not Allowed\n411Length Required\n413Payload Too Large\n415Unsupported Media Type\n"
            "421Misdirected Request\n429Too Many Requests\n431Request Header Fields Too Large\n"
            "500Internal Server Error\n501Not Implemented\n503Service Unavailable\n"
            "505HTTP Version Not Supported\n")


def _reason(code):
    """The reason phrase of a status, ``code`` its 3 digits (no phrase has a digit)."""
    i = _REASONS.find(code)
    return _REASONS[i + 3:_REASONS.find("\n", i)] if i >= 0 else "Unknown"


# A response on its way to the stream ``_sink``, gathered in the one buffer
# that every connection shares: ``_put`` appends a piece; a full buffer is
# handed to the stream's write() (which sends it, or keeps a copy of what the
# socket did not take) and is empty again. A response is written into it and
# flushed with no await in between, so connections never share the buffer
# mid-use (and module functions do: no object per response).
_sink = None


def _put(piece):
    buf = _SINK_BUF
    if len(buf) + len(piece) > _CHUNK:
        _flush_sink()
        if len(piece) > _CHUNK:
            _sink.write(jsonw.utf8(piece) if type(piece) is str else piece)  # pyright: ignore[reportOptionalMemberAccess]
            return
    if type(piece) is str:
        jsonw.append(buf, piece)
    else:
        buf.extend(piece)


def _flush_sink():
    if _SINK_BUF:
        _sink.write(_SINK_BUF)  # pyright: ignore[reportOptionalMemberAccess]
        _SINK_BUF[:] = b""


_SINK_BUF = bytearray(_CHUNK)
_SINK_BUF[:] = b""  # empty, but it keeps its room: appending allocates nothing


class HttpError(Exception):
    """A request the server rejects before routing: answer status ``args[0]`` and close."""


class Request:
    """One parsed request; header names are lower case."""

    def __init__(self, method, path, query, version, headers):
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        # The body, up to Content-Length: bytes in RAM, or (a large one, when
        # the server spools) the name of the file that holds it.
        self.body = b""  # type: bytes | bytearray | str
        self.peer = b""  # the client's IPv4 address, 4 bytes (b"": unknown)


class Response:
    """Status, extra headers and a body: bytes, str, a file streamed in chunks,
    or a function that writes the body in pieces (``body(write)``), straight
    to the socket as it is sent."""

    def __init__(self, body=None, status=200, headers=None, content_type="text/plain; charset=utf-8"):
        self.status = status
        self.headers = headers or {}
        if content_type:
            self.headers["Content-Type"] = content_type
        self.body = body.encode() if isinstance(body, str) else (body or b"")
        # file_response: stream this file of ``size`` bytes
        self.path = None  # type: str | None
        self.size = 0


def json_response(obj, status=200, headers=None):
    """``obj`` as JSON, or, when ``obj`` is callable, the JSON that ``obj(write)`` writes.

    Either way the text is written in pieces straight to the socket when the
    response is sent (``obj`` runs twice: to measure Content-Length, then to
    send): no document is ever whole in RAM. ``obj`` must write the same
    text both times, so it reads the state it shows once, before this call.
    """
    return Response(obj if callable(obj) else lambda write: jsonw.value(write, obj),
                    status, headers, "application/json")


def error_response(status, message, field=None):
    """The API's error shape: ``{"error": message, "field": field}``."""
    return json_response({"error": message, "field": field}, status)


def file_response(path, content_type, size, gzip=False):
    """Stream file ``path`` (``size`` bytes) without loading it into memory.

    ``path`` may be the bytes themselves instead: data frozen in flash costs no heap either.
    """
    frozen = isinstance(path, bytes)
    r = Response(path if frozen else b"", 200, {"Cache-Control": "no-cache"}, content_type)
    if gzip:
        r.headers["Content-Encoding"] = "gzip"
    if not frozen:
        r.path = str(path)
        r.size = size
    return r


class App:
    """Exact-path router with a ``before`` hook (auth, captive portal)."""

    def __init__(self, before=None):
        self._routes = {}   # path -> {method: async handler(request) -> Response}
        self.streamed = ()  # paths whose handler reads the body itself (a request with one)
        self.before = before  # async (request) -> Response, or None to route it; or None

    def route(self, path, methods=("GET",), stream=False):
        """Register a handler; ``stream``: it reads a request's body itself from ``req.body``
        (an ``http_body.Body``, loaded for the request), which may then be as long
        as ``Server.max_stream``."""
        def register(handler):
            table = self._routes.setdefault(path, {})
            for m in methods:
                table[m] = handler
            if stream:
                self.streamed += (path,)
            return handler
        return register

    def streams(self, req):
        return req.path in self.streamed

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



class BasicAuth:
    """Basic credentials check that slows down guessing per client address,
    without holding connections.

    After 3 wrong passwords in a row from one address, each further failure
    locks the check for that address for a while, doubling up to 16 s: 10
    checks in the first minute, then one per 16 s. While locked, that address's
    credentials are answered "locked", whatever they are; other addresses are
    checked as usual, so a guesser slows only itself. The table of wrong
    passwords per address and its code (``auth_throttle``) exist only while
    some address has one counted: most gateways never see one, and a typo
    followed by the right password leaves nothing behind.
    """

    def __init__(self, user, password, clock=ticks_ms):
        self._expected = ("%s:%s" % (user, password)).encode()
        self._clock = clock
        self.failures = 0  # wrong passwords from every address, for the status
        self._fails = bytearray()  # empty: no table (auth_throttle's) while no wrong password counts

    def check(self, header, addr=b""):
        """'ok', 'missing' (no credentials: not a guess), 'bad' or 'locked' for client ``addr``."""
        if not header:
            return "missing"
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return "missing"
        try:
            given = binascii.a2b_base64(token.strip())
        except Exception:  # binascii.Error (CPython) / ValueError (MicroPython)
            given = b""
        ok = _same(given, self._expected)
        if ok and not self._fails:
            return "ok"
        return ondemand.call("auth_throttle", "check", self, ok, addr)

    def retry_after_s(self, addr=b""):
        """Whole seconds until ``addr``'s credentials are checked again (0: not locked)."""
        if not self._fails:
            return 0
        return ondemand.call("auth_throttle", "retry_after_s", self, addr)


def _same(a, b):
    """Compare without an early exit, so timing says nothing about the password."""
    diff = len(a) ^ len(b)
    for i in range(min(len(a), len(b))):
        diff |= a[i] ^ b[i]
    return diff == 0


# The only headers anything here reads, each between bars (no name is part of
# another), and their lengths; the others are counted and skipped, so a phone's
# long User-Agent and Accept lines cost no heap. One constant each, not a tuple
# of names: those would be a heap object apiece in the stock layout.
_KEPT = b"|host|authorization|content-length|content-type|connection|transfer-encoding|x-sha256|expect|"
_KEPT_LENGTHS = b"\x04\x0d\x0e\x0c\x0a\x11\x08\x06"


def request_line(buf, start, end):
    """The request line ``buf[start:end]`` (no line end) -> Request with no headers yet."""
    try:
        parts = bytes(buf[start:end]).decode().split(" ")
    except UnicodeError:
        raise HttpError(400)
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1].startswith("/") \
            or not parts[2].startswith("HTTP/"):
        raise HttpError(400)
    v = parts[2]
    if v not in ("HTTP/1.1", "HTTP/1.0"):
        # Well formed but not ours (HTTP/1.9, HTTP/2.0): 505; anything else: 400.
        raise HttpError(505 if len(v) == 8 and v[5].isdigit() and v[6] == "." and v[7].isdigit() else 400)
    path, _, query = parts[1].partition("?")
    return Request(parts[0], path, query, parts[2], {})


def header_line(req, buf, start, end):
    """Add header line ``buf[start:end]`` (no line end) to ``req`` if the server reads it.

    Other headers are only checked for their shape: nothing is allocated for them.
    """
    colon = buf.find(b":", start, end)
    if colon <= start or buf[start] in b" \t" or buf[colon - 1] in b" \t":
        raise HttpError(400)  # also rejects obsolete line folding
    n = colon - start
    if n not in _KEPT_LENGTHS:
        return
    name = bytes(buf[start:colon]).lower()
    i = _KEPT.find(name)
    if i < 0 or _KEPT[i - 1] != 0x7C or _KEPT[i + n] != 0x7C:  # "|"
        return
    try:
        value = bytes(buf[colon + 1:end]).decode().strip()
    except UnicodeError:
        raise HttpError(400)
    name = name.decode()
    if name == "content-length" and req.headers.get(name, value) != value:
        raise HttpError(400)  # two lengths: which one frames the body is a guess
    req.headers[name] = value


class _Conn:
    """One connection's read buffer and deadline; the buffer is allocated once per connection."""

    def __init__(self, size, addr):
        self.buf = bytearray(size)
        self.mv = memoryview(self.buf)
        self.pos = 0       # buf[pos:n] is received and not yet consumed (pipelining)
        self.n = 0
        # the connection's task; None again once the sweep timed it out or a newcomer took its slot
        self.task = None  # type: asyncio.Task | None
        self.deadline = 0  # ticks_ms by which the current wait must end; 0 = none
        self.addr = addr   # the client's address (streams.peer_ip)
        # ticks_ms it began waiting for a request head; None while serving one
        self.idle = 0  # type: int | None

    def take(self, k):
        """Consume up to ``k`` buffered bytes; return the view of them."""
        k = min(k, self.n - self.pos)
        part = self.mv[self.pos:self.pos + k]
        self.pos += k
        return part

    async def fill(self, reader):
        """Read more into the buffer (keeping the unconsumed part); False at end of stream."""
        if self.pos == self.n:
            self.pos = self.n = 0
        elif self.n == len(self.buf):
            if not self.pos:
                raise HttpError(431)  # one line longer than the buffer
            self.buf[:self.n - self.pos] = self.mv[self.pos:self.n]
            self.n -= self.pos
            self.pos = 0
        k = await reader.readinto(self.mv[self.n:])
        if not k:
            return False
        self.n += k
        return True


class Server:
    """Serve an App; limits are class attributes so a test or board can tune them.

    Deadlines are not an ``asyncio.wait_for`` per read and write (two tasks, a
    timer and an exception each, every request): each connection carries one
    deadline for what it waits on now, and ``sweep`` (run beside the listener)
    cancels a connection whose deadline passed.
    """

    max_conns = 4           # of the ESP32's 16 sockets (docs/ARCHITECTURE.md, "Sockets")
    max_per_address = 3     # one client address never holds every slot
    max_head = MAX_HEAD
    max_body = MAX_BODY
    max_stream = 0x400000   # a streamed body (App.route(stream=True)): the handler checks its own limit
    # A body longer than spool_over goes to the file ``spool`` when one is set: an
    # 8 KB certificate upload then needs no 8 KB in one piece of a fragmented heap.
    spool = None
    spool_over = 512
    line_buf = 512          # per connection: the longest header line (a phone's is < 300 bytes)
    head_timeout_s = 5      # a request head, from the connect or its first byte
    idle_timeout_s = 10     # a keep-alive connection's wait for its next request
    read_timeout_s = 10     # the body, and the answer's making
    write_timeout_s = 10
    discard_s = 2           # what a refused request may still send before the close
    sweep_ms = 500

    def __init__(self, app):
        self.app = app
        self.active = 0
        self._conns = []
        self._body_lock = asyncio.Lock()
        self.counters = {"requests": 0, "refused": 0, "evicted": 0, "bad_requests": 0, "errors": 0}

    async def sweep(self):
        """Cancel connections past their deadline, until cancelled."""
        while True:
            await asyncio.sleep_ms(self.sweep_ms)
            now = ticks_ms()
            for i in range(len(self._conns) - 1, -1, -1):  # backwards: _drop removes
                conn = self._conns[i]
                if conn.deadline and ticks_diff(now, conn.deadline) > 0:
                    self._drop(conn)

    def _drop(self, conn):
        """Free ``conn``'s slot now and cancel its task (which closes the socket)."""
        task, conn.task = conn.task, None  # None: dropped, the server is not stopping
        self._conns.remove(conn)
        self.active -= 1
        if task is not None:
            task.cancel()

    async def handle(self, reader, writer):
        """One connection: requests in sequence until close, error or timeout."""
        addr = peer_ip(writer)
        mine = 0
        for conn in self._conns:
            if conn.addr == addr:
                mine += 1
        if (mine >= self.max_per_address or self.active >= self.max_conns) \
                and not await ondemand.call("http_full", "make_room", self, writer, addr, mine):
            return  # every slot busy answering: refused
        self.active += 1
        conn = None
        try:
            conn = _Conn(self.line_buf, addr)
            conn.task = asyncio.current_task()
            self._conns.append(conn)
            wait_s = self.head_timeout_s
            while True:
                conn.idle = ticks_ms()
                conn.deadline = ticks_add(conn.idle, wait_s * 1000)
                wait_s = self.idle_timeout_s
                try:
                    req = await self._read_request(reader, conn)
                except HttpError as e:
                    conn.idle = None
                    self.counters["bad_requests"] += 1
                    await self._send(writer, conn, error_response(e.args[0], _reason(str(e.args[0]))), False)
                    await ondemand.call("http_body", "discard", self, reader, conn)
                    break
                if req is None:
                    break
                conn.idle = None
                conn.deadline = ticks_add(ticks_ms(), self.read_timeout_s * 1000)
                req.peer = addr
                self.counters["requests"] += 1
                if not await self._serve(req, reader, writer, conn):
                    break
        except asyncio.CancelledError:
            if conn is None or conn.task is not None:
                raise  # the server is stopping, not a slow client
        except (OSError, EOFError):
            pass  # peer gone or truncated body: just close
        except MemoryError:
            self.counters["errors"] += 1  # heap too fragmented for this request: drop it, keep serving
        finally:
            if conn is None:
                self.active -= 1
            elif conn.task is not None:
                self._conns.remove(conn)
                self.active -= 1
            await close_stream(writer)

    async def _serve(self, req, reader, writer, conn):
        """Answer one request; False when the connection is to close."""
        length = self._body_length(req)
        conn_hdr = req.headers.get("connection", "").lower()
        keep = conn_hdr == "keep-alive" if req.version == "HTTP/1.0" else conn_hdr != "close"
        handler = None
        try:
            # Authentication and routing run on the head alone: a request they
            # refuse never gets its body read into RAM.
            resp = await self.app.before(req) if self.app.before else None
            if resp is None:
                handler, resp = self.app.find(req)
        except Exception as e:
            resp = self._failed(req, e)
        if length and (handler is None or self.app.streams(req)):
            # A refused body (swallowed after the answer) or one the handler
            # streams (the firmware upload): their code is loaded for them.
            return await ondemand.call("http_body", "serve", self, req, reader, writer, conn,
                                       handler, resp, length, keep)
        if length:
            # One body at a time: four 8 KB uploads at once would not fit an ESP32
            # (and there is one spool file).
            async with self._body_lock:
                spool = self.spool if length > self.spool_over else None
                try:
                    # Its code is loaded for the read and dropped before the handler runs.
                    req.body = await ondemand.call("http_body", "read", reader, conn, length, spool)
                except MemoryError:  # no room for it now: answer, and close with the body unread
                    self.counters["errors"] += 1
                    await self._send(writer, conn, error_response(503, "out of memory: try again"), False)
                    return False
                resp = await self._call(handler, req)
                req.body = b""  # free before the next upload may start
                if spool is not None:
                    try:
                        os.remove(spool)
                    except OSError:
                        pass
        elif handler is not None:
            resp = await self._call(handler, req)
        await self._send(writer, conn, resp, keep)
        return keep

    async def _call(self, handler, req):
        """The handler's response; a 500 when it raises (the connection stays good)."""
        try:
            return await handler(req)
        except Exception as e:  # OSError too: a handler's, not the socket's
            return self._failed(req, e)

    def _failed(self, req, e):
        self.counters["errors"] += 1
        if isinstance(e, MemoryError):  # the heap, not a bug: as everywhere else, 503 and try again
            return error_response(503, "out of memory: try again")
        print("http: %s %s: %r" % (req.method, req.path, e))
        return error_response(500, "internal error")

    async def _read_request(self, reader, conn):
        """The next request's head, read line by line from the connection's buffer; None at EOF."""
        req = None
        head = 0        # bytes of this head so far
        lines = 0
        buf = conn.buf
        started = conn.n > conn.pos
        while True:
            end = buf.find(b"\n", conn.pos, conn.n)
            if end < 0:
                if head + conn.n - conn.pos >= self.max_head:
                    raise HttpError(431)
                if not await conn.fill(reader):
                    return None  # closed, possibly mid-head: nothing to answer
                if not started:  # its first bytes: the rest of the head is due soon
                    started = True
                    due = ticks_add(ticks_ms(), self.head_timeout_s * 1000)
                    if ticks_diff(conn.deadline, due) > 0:
                        conn.deadline = due
                continue
            start = conn.pos
            conn.pos = end + 1
            head += end + 1 - start
            if head > self.max_head:
                raise HttpError(431)
            stop = end - 1 if end > start and buf[end - 1] == 0x0D else end  # without its CR
            if req is None:
                if stop == start:
                    head = 0
                    continue  # a blank line before a request (RFC 9112 2.2): skip it
                req = request_line(buf, start, stop)
            elif stop == start:
                break  # the blank line: end of the head
            else:
                lines += 1
                if lines > MAX_HEADERS:
                    raise HttpError(431)
                header_line(req, buf, start, stop)
        if "transfer-encoding" in req.headers:
            raise HttpError(411)
        self._body_length(req)  # refuse a bad or too long body before anything else
        return req

    def _body_length(self, req):
        length = req.headers.get("content-length", "0")
        if not length.isdigit():
            raise HttpError(400)
        n = int(length)
        if n > (self.max_stream if self.app.streams(req) else self.max_body):
            raise HttpError(413)
        if n and req.method not in _BODY_METHODS:
            raise HttpError(400)  # a GET with a body: no route here reads one
        return n

    async def _flush(self, writer, conn):
        conn.deadline = ticks_add(ticks_ms(), self.write_timeout_s * 1000)
        await writer.drain()

    async def _send(self, writer, conn, resp, keep):
        """Write ``resp`` through the shared sink; a body in pieces of at most _CHUNK bytes."""
        body = resp.body
        if callable(body):
            length = jsonw.measure(body)
        else:
            length = resp.size if resp.path else len(body)
        global _sink
        _sink = writer
        # Whatever a response that failed half-way left (the socket reset under
        # its write, a MemoryError in its body) is not the start of this one's.
        _SINK_BUF[:] = b""
        put = _put
        put("HTTP/1.1 ")
        code = str(resp.status)
        put(code)
        put(" ")
        put(_reason(code))
        put("\r\nContent-Length: ")
        put(str(length))
        put("\r\nConnection: ")
        put("keep-alive" if keep else "close")
        for k, v in resp.headers.items():
            put("\r\n")
            put(k)
            put(": ")
            put(v)
        put("\r\n\r\n")
        if callable(body):
            body(put)
        _flush_sink()
        _sink = None
        if resp.path:
            await self._send_file(writer, conn, resp.path)
        elif not callable(body):
            mv = memoryview(body)
            for i in range(0, len(body), _CHUNK):  # a large body (the page, from flash) a chunk at a time
                writer.write(mv[i:i + _CHUNK])
                await self._flush(writer, conn)
        await self._flush(writer, conn)

    async def _send_file(self, writer, conn, path):
        # Through the connection's own buffer: no request is read while its answer
        # is sent, so it is free, unless the client sent its next request already
        # (pipelining: then a buffer of its own). None kept for good, none allocated
        # per file: a heap in pieces has no 512 bytes in one.
        if conn.pos == conn.n:
            conn.pos = conn.n = 0
            buf = conn.mv
        else:
            buf = memoryview(bytearray(_CHUNK))
        with open(path, "rb") as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                writer.write(buf[:n])
                await self._flush(writer, conn)
