"""A request body the handler reads itself: the firmware upload's (``App.route(stream=True)``).

Its own module so that a gateway that is never updated over the network does
not hold it: ``http_server`` imports it at the first streamed request.
"""
from clock import ticks_add, ticks_ms


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
