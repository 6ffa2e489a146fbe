"""What ``http_server.Server`` does with a connection over its limits: take a slot, or refuse it.

Loaded for such a connection and dropped after (``ondemand``): a gateway's
browser and integrations stay within the slots, so this code need not hold
heap for them.
"""
import asyncio

from streams import close_stream, evictee

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 5\r\nConnection: close\r\n\r\nbusy\n")


async def make_room(server, writer, addr, mine):
    """Whether the connection ``writer`` from ``addr`` (which holds ``mine`` of the slots
    already) may have a slot, once this frees one.

    Over the limit (all slots, or ``max_per_address`` from ``addr``), a
    connection waiting for a request head is dropped (streams.evictee; of
    ``addr``'s own, for the latter). When every one is busy answering, the
    newcomer gets a static 503 and is closed: False.
    """
    victim = evictee(server._conns, addr, mine >= server.max_per_address)
    if victim is not None:
        server.counters["evicted"] += 1
        server._drop(victim)
        return True
    server.counters["refused"] += 1
    try:
        writer.write(_BUSY)
        await asyncio.wait_for(writer.drain(), 2)
    except Exception:
        pass
    await close_stream(writer)
    return False
