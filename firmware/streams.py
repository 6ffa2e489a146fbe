"""asyncio stream helpers shared by the TCP services."""
import asyncio


async def close_stream(writer):
    """Close a stream writer, ignoring a peer that is already gone."""
    try:
        writer.close()
        await writer.wait_closed()
    except Exception:  # the peer may already be gone
        pass


async def serve(handler, host, port):
    """Accept connections with ``handler`` until cancelled, then close the listener.

    MicroPython's asyncio has no ``serve_forever``: the task just waits.
    """
    srv = await asyncio.start_server(handler, host, port)
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        srv.close()
        await srv.wait_closed()
