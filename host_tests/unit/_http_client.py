"""Drive http_server.Server without sockets (microdot-style test client).

Request bytes go through the server's real parser and limits via in-memory
streams; the bytes it writes back are parsed into a TestResponse. Runs under
CPython and the MicroPython unix port.
"""
import asyncio
import binascii
import json


class ReadInto:
    """``readinto`` (what the server calls, as on MicroPython's streams) from a fake's ``read``."""

    async def readinto(self, buf):
        data = await self.read(len(buf))
        buf[:len(data)] = data
        return len(data)


class _Reader(ReadInto):
    def __init__(self, data, chunk=None):
        self._data = memoryview(data)
        self._pos = 0
        self._chunk = chunk   # deliver at most this many bytes per read (fragmentation)

    async def read(self, n):
        if self._chunk:
            n = min(n, self._chunk)
        part = bytes(self._data[self._pos:self._pos + n])
        self._pos += len(part)
        return part


class _Writer:
    def __init__(self):
        self.out = bytearray()
        self.closed = False

    def write(self, data):
        self.out.extend(data.encode() if isinstance(data, str) else bytes(data))  # a str: MicroPython's streams take it

    async def drain(self):
        pass

    def close(self):
        self.closed = True

    async def wait_closed(self):
        pass


class TestResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers    # lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode()


def parse_responses(data):
    """Every response in ``data`` (pipelining), in order."""
    out = []
    data = bytes(data)
    while data:
        end = data.find(b"\r\n\r\n")
        lines = data[:end].decode().split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append(TestResponse(status, headers, data[end + 4:end + 4 + n]))
        data = data[end + 4 + n:]
    return out


class TestClient:
    __test__ = False  # not a pytest test class

    def __init__(self, server):
        self.server = server
        self.writer = None

    def raw(self, data, chunk=None):
        """Feed raw request bytes; return every response written."""
        self.writer = _Writer()
        asyncio.run(self.server.handle(_Reader(data, chunk), self.writer))
        return parse_responses(self.writer.out)

    def request(self, method, path, body=None, headers=None, auth=None):
        hdrs = {"Connection": "close"}
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        if isinstance(body, str):
            body = body.encode()
        if body:
            hdrs["Content-Length"] = str(len(body))
        if auth:
            hdrs["Authorization"] = "Basic " + binascii.b2a_base64(
                ("%s:%s" % auth).encode()).decode().strip()
        if headers:
            hdrs.update(headers)
        head = "%s %s HTTP/1.1\r\n" % (method, path)
        head += "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n"
        return self.raw(head.encode() + (body or b""))[0]

    def get(self, path, **kw):
        return self.request("GET", path, **kw)
