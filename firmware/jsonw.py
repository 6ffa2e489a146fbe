"""A small JSON writer: values written in pieces to a ``write(str)`` callable.

MicroPython's ``json.dumps`` builds the whole text as one string, and it can
only print a float, which on an ESP32 is single precision: 12345.678 kWh comes
out as 12345.68. This writer hands its text to ``write`` piece by piece (an
HTTP body, an MQTT packet buffer, later the socket itself) and writes the
meter's counters, held as integers (reading.py), with exactly the meter's
digits: ``fixed(write, 12345678, 3)`` writes ``12345.678``, a JSON number.

No objects per value beyond the text of a number: constant strings (field
names, punctuation) go to ``write`` as they are. Separators are compact
(``,`` and ``:``): the bytes are the device's, not a reader's.
"""
import json

try:
    memoryview("")  # pyright: ignore[reportArgumentType]  (MicroPython: a str is a buffer of its UTF-8 bytes)
    _STR_BUFFER = True
except TypeError:  # CPython
    _STR_BUFFER = False


def utf8(s):
    """The UTF-8 bytes of ``s`` as a buffer: a view, not a copy, on MicroPython."""
    if _STR_BUFFER:
        return memoryview(s)  # pyright: ignore[reportArgumentType]
    return s.encode()


def fixed_text(n, decimals):
    """The int ``n`` / 10**decimals as decimal text with exactly ``decimals`` decimals."""
    if not decimals:
        return str(n)
    sign = ""
    if n < 0:
        sign = "-"
        n = -n
    q, r = divmod(n, 10 ** decimals)
    if decimals == 3:  # every counter of every common meter
        return "%s%d.%03d" % (sign, q, r)
    return "%s%d.%0*d" % (sign, q, decimals, r)


def fixed(write, n, decimals):
    """Write the counter ``n`` (an int of 10**-decimals steps) as a JSON number; None as null."""
    write("null" if n is None else fixed_text(n, decimals))


def string(write, s):
    """Write ``s`` as a JSON string (UTF-8 as it is; quotes, backslashes, controls escaped)."""
    for b in utf8(s):
        if b < 0x20 or b == 0x22 or b == 0x5C:
            write(json.dumps(s))  # rare (an error text, an odd SSID): the runtime escapes it
            return
    write('"')
    write(s)
    write('"')


def key(write, name):
    """Write ``"name":`` for a name known to need no escaping (a field name)."""
    write('"')
    write(name)
    write('":')


def value(write, v, exact=(), decimals=3):
    """Write dict/list/tuple/str/int/float/bool/None ``v`` as JSON.

    Dict entries whose key is in ``exact`` and whose value is an int are meter
    counters: written by ``fixed`` with ``decimals``, at any depth.
    """
    if v is None:
        write("null")
    elif v is True:
        write("true")
    elif v is False:
        write("false")
    elif isinstance(v, str):
        string(write, v)
    elif isinstance(v, (int, float)):
        write(repr(v))
    elif isinstance(v, dict):
        write("{")
        first = True
        for k, x in v.items():
            if not first:
                write(",")
            first = False
            string(write, k)
            write(":")
            if k in exact and isinstance(x, int):
                write(fixed_text(x, decimals))
            else:
                value(write, x, exact, decimals)
        write("}")
    elif isinstance(v, (list, tuple)):
        write("[")
        first = True
        for x in v:
            if not first:
                write(",")
            first = False
            value(write, x, exact, decimals)
        write("]")
    else:
        raise TypeError("not JSON: %r" % (v,))


class Buffer:
    """Bytes that ``write`` collects, for a body that needs its length before it is sent.

    Grows by doubling, so a document costs a few allocations, not one per piece.
    """

    def __init__(self, size=256):
        self.buf = bytearray(size)
        self.n = 0

    def write(self, s):
        b = utf8(s) if isinstance(s, str) else s
        end = self.n + len(b)
        if end > len(self.buf):
            grown = bytearray(max(end, 2 * len(self.buf)))
            grown[:self.n] = memoryview(self.buf)[:self.n]
            self.buf = grown
        self.buf[self.n:end] = b
        self.n = end

    def bytes(self):
        """What was written, as a view of the buffer (valid until the next write)."""
        return memoryview(self.buf)[:self.n]


def dumps(v, exact=(), decimals=3):
    """``v`` as a JSON str (``value``'s rules): for tests, tools and small documents."""
    out = Buffer()
    value(out.write, v, exact, decimals)
    return bytes(out.bytes()).decode()
