"""Raw telegram stream: every valid telegram, as the meter sent it, to every TCP client.

Home Assistant's DSMR integration and dsmr-reader read a "network P1 port"
this way (host:port, default 2000). Each client has its own task that waits
for the next telegram and writes it; a client that has not taken the previous
telegram within ``write_timeout_s`` is dropped, so at most one telegram per
client is ever buffered. What clients send is read and ignored; their hanging
up frees the slot at once, not at the next telegram (10 s away on a DSMR 4).
"""
import asyncio

from streams import close_stream, serve


class RawStream:
    max_clients = 2         # of the ESP32's 16 sockets (docs/ARCHITECTURE.md, "Sockets")
    write_timeout_s = 5

    def __init__(self, hub):
        self.hub = hub
        hub.status["raw"] = self.status = {"clients": 0, "sent": 0, "dropped": 0, "refused": 0}

    async def run(self):
        await serve(self._client, self.hub.bind, self.hub.config["Http"]["RawPort"])

    async def _client(self, reader, writer):
        st = self.status
        if st["clients"] >= self.max_clients:
            st["refused"] += 1
            await close_stream(writer)
            return
        st["clients"] += 1
        hub = self.hub
        seq = hub.seq  # start with the next telegram, whole
        watcher = asyncio.create_task(_watch(reader, asyncio.current_task()))
        try:
            while True:
                seq = await hub.next_reading(seq)
                writer.write(hub.raw)
                await asyncio.wait_for(writer.drain(), self.write_timeout_s)
                st["sent"] += 1
        except asyncio.TimeoutError:
            st["dropped"] += 1  # too slow: drop it rather than buffer
        except OSError:
            pass  # the client went away
        except asyncio.CancelledError:
            if not watcher.done():
                raise  # the service is stopping, not the client
        finally:
            watcher.cancel()
            st["clients"] -= 1
            await close_stream(writer)


async def _watch(reader, task):
    """Read and drop what the client sends; cancel ``task`` once it hangs up (and end)."""
    try:
        while await reader.read(64):
            pass
    except OSError:
        pass
    task.cancel()

