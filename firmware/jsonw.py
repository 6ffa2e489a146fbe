"""A small JSON writer: values written in pieces to a ``write(str)`` callable.

MicroPython's ``json.dumps`` builds the whole text as one string, and it can
only print a float, which on an ESP32 is single precision: 12345.678 kWh comes
out as 12345.68. This writer hands its text to ``write`` piece by piece (an
HTTP body, an MQTT packet buffer, later the socket itself) and writes the
meter's counters, held as integers (reading.py), with exactly the meter's
digits: ``fixed(write, 12345678, 3)`` writes ``12345.678``, a JSON number.

Memory: nothing is allocated per value but the text of a number (about 32
bytes on an ESP32, freed at once): field names and punctuation go to
``write`` as the constant strings they are, strings are checked for escapes
with find()/min() (no per-character objects), dicts are walked by key (no
tuple per entry), and ``Buffer`` appends a str into a bytearray without
copying it first. Separators are compact (``,`` and ``:``).
"""
import json

try:
    bytearray().extend("a")  # pyright: ignore[reportArgumentType]  (MicroPython: a str is a buffer of its UTF-8 bytes)
    _STR_BUFFER = True
except TypeError:  # CPython wants bytes
    _STR_BUFFER = False


def append(buf, s):
    """Append the UTF-8 bytes of str ``s`` to bytearray ``buf``: no copy of ``s`` on MicroPython.

    A bytearray emptied by ``buf[:] = b""`` keeps its room on MicroPython, so
    appending into it allocates nothing until that room is used up.
    """
    if _STR_BUFFER:
        buf.extend(s)  # pyright: ignore[reportArgumentType]
    else:
        buf.extend(s.encode())


def utf8(s):
    """The UTF-8 bytes of str ``s`` as something a stream writes: ``s`` itself on MicroPython."""
    return s if _STR_BUFFER else s.encode()


def fixed_text(n, decimals):
    """The int ``n`` / 10**decimals as decimal text with exactly ``decimals`` decimals."""
    if not decimals:
        return str(n)
    if n < 0:
        return "-" + fixed_text(-n, decimals)
    p = 10 ** decimals
    if decimals == 3:  # every counter of every common meter
        return "%d.%03d" % (n // p, n % p)
    return "%d.%0*d" % (n // p, decimals, n % p)


def fixed(write, n, decimals):
    """Write the counter ``n`` (an int of 10**-decimals steps) as a JSON number; None as null."""
    write("null" if n is None else fixed_text(n, decimals))


def _plain(s):
    """True when ``s`` goes into JSON between quotes as it is."""
    # find() and min() walk the str without allocating (no per-character objects)
    return s.find('"') < 0 and s.find("\\") < 0 and not (s and min(s) < " ")


def string(write, s):
    """Write ``s`` as a JSON string (UTF-8 as it is; quotes, backslashes, controls escaped)."""
    if not _plain(s):
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
    # type() and one class at a time: isinstance(v, (int, float)) builds a tuple per call
    t = type(v)
    if v is None:
        write("null")
    elif v is True:
        write("true")
    elif v is False:
        write("false")
    elif t is str:
        string(write, v)
    elif t is int or t is float:
        write(repr(v))
    elif t is dict:
        write("{")
        first = True
        for k in v:  # not items(): a tuple per entry
            x = v[k]
            if not first:
                write(",")
            first = False
            string(write, k)
            write(":")
            if type(x) is int and k in exact:
                write(fixed_text(x, decimals))
            else:
                value(write, x, exact, decimals)
        write("}")
    elif t is list or t is tuple:
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

    One bytearray with room to spare: a piece is appended in place (``append``),
    and the room grows by half when it runs out, so a document costs a few
    allocations, not one per piece. ``size``: what the document usually takes
    (the status and HomeWizard documents take about 1 KB).
    """

    def __init__(self, size=1024):
        self.buf = bytearray(size)
        self.buf[:] = b""
        self._room = size

    def write(self, s):
        buf = self.buf
        if len(buf) + len(s) > self._room:  # (a str's len() counts characters: growing may come late, never wrong)
            self._room = max(self._room + self._room // 2, len(buf) + 2 * len(s))
            grown = bytearray(self._room)
            grown[:] = buf
            self.buf = buf = grown
        if type(s) is str:
            append(buf, s)
        else:
            buf.extend(s)

    def bytes(self):
        """What was written, as a view of the buffer (valid until the next write)."""
        return memoryview(self.buf)

    def clear(self):
        """Empty it for reuse, keeping its room."""
        self.buf[:] = b""


def measure(fill):
    """How many bytes ``fill(write)`` writes: a Content-Length before the text is sent."""
    n = 0

    def count(s):
        nonlocal n
        # the UTF-8 length: a view of a str on MicroPython, its encoding on CPython
        n += len(memoryview(s) if _STR_BUFFER or type(s) is not str else s.encode())
    fill(count)
    return n
