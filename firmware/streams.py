"""asyncio stream helpers shared by the TCP services."""


async def close_stream(writer):
    """Close a stream writer, ignoring a peer that is already gone."""
    try:
        writer.close()
        await writer.wait_closed()
    except Exception:  # the peer may already be gone
        pass
