"""asyncio stream helpers shared by the TCP services."""
import asyncio
import errno
import gc

from clock import ticks_diff


async def close_stream(writer):
    """Close a stream writer, ignoring a peer that is already gone."""
    try:
        writer.close()
        await writer.wait_closed()
    except Exception:  # the peer may already be gone
        pass


async def listen(handler, host, port, backlog=5):
    """``asyncio.start_server``; a port already in use raises OSError(EADDRINUSE, text naming it)."""
    async def accepted(reader, writer):
        # A collection first, so what the connection keeps for its lifetime goes
        # into the lowest free holes rather than scattered among the garbage of the
        # moment: long-lived connections otherwise split a 64 KB heap into pieces
        # too small for a reading.
        gc.collect()
        await handler(reader, writer)

    try:
        return await asyncio.start_server(accepted, host, port, backlog=backlog)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise OSError(errno.EADDRINUSE, "port %d on %s is in use by another program" % (port, host))
        raise


async def serve(handler, host, port):
    """Accept connections with ``handler`` until cancelled, then close the listener.

    MicroPython's asyncio has no ``serve_forever``: the task just waits.
    """
    srv = await listen(handler, host, port)
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        srv.close()
        await srv.wait_closed()


def peer_ip(writer):
    """The client's IPv4 address as 4 bytes; b"" when the stream does not say.

    MicroPython's asyncio gives the address ``accept()`` returned: a
    ``(host, port)`` tuple on the ESP32, a raw ``sockaddr_in`` on the unix port.
    """
    try:
        addr = writer.get_extra_info("peername")
    except (AttributeError, KeyError):
        return b""
    if isinstance(addr, tuple):
        try:
            return bytes(map(int, addr[0].split(".")))
        except (ValueError, AttributeError):
            return b""
    if addr is not None and len(addr) >= 8:
        return bytes(addr[4:8])
    return b""


def evictee(conns, addr, own=False):
    """The connection whose slot a newcomer from ``addr`` takes, or None.

    Each of ``conns`` has ``addr`` (peer_ip) and ``idle`` (ticks_ms since when
    it waits for its client; None while busy: never taken). Of the idle ones
    of the address that would hold the most connections with the newcomer's
    (``addr``'s own only, with ``own``), the one idle longest. So a client
    reconnecting first replaces its own old connection, and addresses filling
    the slots push out their own before a connection of anyone else's.
    """
    best = None
    most = 0
    for c in conns:
        if c.idle is None or (own and c.addr != addr):
            continue
        n = 1 if c.addr == addr else 0
        for d in conns:
            if d.addr == c.addr:
                n += 1
        if best is None or n > most or (n == most and ticks_diff(best.idle, c.idle) > 0):
            best, most = c, n
    return best
