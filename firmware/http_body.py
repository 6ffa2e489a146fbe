"""A request's body: read whole (into RAM or a spool file), streamed by its handler (the
firmware upload's), or swallowed after a refusal.

Its own module, loaded for such a request and dropped after (``ondemand``, from
``http_server.Server``; a body read whole, before its handler runs): a gateway's
requests are GETs and a few small PATCHes, so this code need not hold heap.
"""
import asyncio

from micropython import const

from clock import ticks_add, ticks_ms

_CHUNK = const(512)


class Body:
    """A body the handler reads itself (``App.route(stream=True)``): ``readinto(mv)`` (a
    memoryview: it is sliced, not copied) gives up to ``len(mv)`` of its bytes, 0 at its end,
    EOFError when the client stops early or the connection breaks. Each read has its own
    deadline, so a long upload lives as long as its bytes keep coming."""

    def __init__(self, reader, conn, length, timeout_ms):
        self._reader = reader
        self._conn = conn
        self.left = length
        self._timeout_ms = timeout_ms

    async def readinto(self, buf):
        k = min(len(buf), self.left)
        if not k:
            return 0
        part = self._conn.take(k)
        n = len(part)
        if n:
            buf[:n] = part  # what came in with the head
        else:
            self._conn.deadline = ticks_add(ticks_ms(), self._timeout_ms)
            try:
                n = await self._reader.readinto(buf[:k] if k < len(buf) else buf)
            except OSError:  # reset: for the handler, the body just ends early
                n = 0
            if not n:
                raise EOFError("short body")
        self.left -= n
        return n

    async def skip(self, timeout_ms):
        """Read and drop what is left, through the connection's buffer, while it keeps coming."""
        self._timeout_ms = timeout_ms
        mv = self._conn.mv
        try:
            while self.left:
                await self.readinto(mv)
        except EOFError:
            pass
        self._conn.pos = self._conn.n = 0


async def serve(server, req, reader, writer, conn, handler, resp, length, keep):
    """``http_server.Server._serve`` for a request with a ``length`` byte body that is
    refused (``handler`` None: ``resp`` answers it) or streamed by its handler;
    False when the connection is to close."""
    streamed = server.app.streams(req)
    if handler is None:  # the body is still on the wire: drained after the answer
        await server._send(writer, conn, resp, False)
        if streamed:  # maybe megabytes: swallowed while they keep coming
            conn.deadline = 0
            await Body(reader, conn, length, 0).skip(server.discard_s * 1000)
        else:
            await discard(server, reader, conn)
        return False
    body = req.body = Body(reader, conn, length, server.read_timeout_s * 1000)
    if req.headers.get("expect", "").lower() == "100-continue":  # curl, for a body over 1 MB
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        resp = await handler(req)
    except EOFError:
        raise  # the client stopped sending: nobody to answer
    except Exception as e:
        resp = server._failed(req, e)
    req.body = b""
    if body.left:  # refused before its end: answer, then swallow the rest before closing
        await server._send(writer, conn, resp, False)
        await body.skip(server.discard_s * 1000)
        return False
    await server._send(writer, conn, resp, keep)
    return keep


async def read(reader, conn, n, spool=None):
    """``n`` body bytes: into one bytearray allocated up front, or through the
    connection's buffer into the file ``spool`` (then its name is the body)."""
    part = conn.take(n)
    got = len(part)
    if spool is None:
        body = bytearray(n)
        body[:got] = part
        while got < n:
            k = await reader.readinto(memoryview(body)[got:])
            if not k:
                raise EOFError("short body")
            got += k
        return body
    with open(spool, "wb") as f:
        f.write(part)
        while got < n:  # the head's bytes are all taken: the buffer is free to reuse
            k = await reader.readinto(conn.mv[:min(len(conn.buf), n - got)])
            if not k:
                raise EOFError("short body")
            f.write(conn.mv[:k])
            got += k
        conn.pos = conn.n = 0
    return spool


async def discard(server, reader, conn):
    """Swallow what the client still sends (briefly, boundedly) before the close.

    Closing with unread bytes makes the kernel send a reset, and the client
    may lose our error response to it. One deadline for all of it, so a
    client trickling bytes cannot hold the connection.
    """
    conn.deadline = 0
    try:
        await asyncio.wait_for(_drain(reader, server.max_body + server.max_head), server.discard_s)
    except (OSError, asyncio.TimeoutError):
        pass


async def _drain(reader, left):
    while left > 0:
        chunk = await reader.read(_CHUNK)
        if not chunk:
            return
        left -= len(chunk)
