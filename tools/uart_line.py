"""A serial line as a UART receiver sees it, for the simulator's P1 port.

A real UART set to another speed or framing than the meter's reads garbage,
not telegrams: auto-detection (firmware/p1reader.py) depends on that. Here the
sender's bytes become the line's levels (start bit, data bits LSB first, an even
parity bit for 7E1, stop bit; idle high) and a receiver with its own settings
samples them as a UART does: it waits for a falling edge, then reads each bit
in its middle. The same settings give back the bytes sent (7E1: the 7 data
bits); others give what a real UART would: noise, framing and parity errors
delivered as bytes.

Settings are written as the firmware's status shows them: "115200 8N1", "9600 7E1".
"""

SAMPLES_PER_S = 230400  # every baud rate used (115200, 9600, 1200) is a whole number of samples
_WAVES = {}  # (line, byte) -> its levels


def parse(text):
    """"9600 7E1" -> (9600, 7, "E")."""
    baud, frame = text.split()
    return int(baud), int(frame[0]), frame[1]


def _byte_wave(line, b):
    key = (line, b)
    w = _WAVES.get(key)
    if w is None:
        baud, bits, parity = parse(line)
        n = SAMPLES_PER_S // baud
        data = [(b >> i) & 1 for i in range(bits)]
        levels = [0] + data + ([sum(data) & 1] if parity == "E" else []) + [1]
        w = _WAVES[key] = b"".join((b"\x01" if v else b"\x00") * n for v in levels)
    return w


def wave(data, line):
    """The line's levels (one byte per sample, 0 or 1) while ``data`` is sent with settings ``line``."""
    return b"".join(_byte_wave(line, b) for b in data)


def receive(levels, line):
    """The bytes a UART set to ``line`` reads from ``levels`` (the line idles high after them)."""
    baud, bits, parity = parse(line)
    n = SAMPLES_PER_S // baud
    frame_bits = bits + (parity == "E")
    end = len(levels)
    out = bytearray()
    i = 0
    while True:
        i = levels.find(b"\x00", i)  # a start bit's falling edge
        if i < 0:
            return bytes(out)
        mid = i + n // 2
        v = 0
        for k in range(bits):
            s = mid + (k + 1) * n
            if s >= end or levels[s]:
                v |= 1 << k
        out.append(v)
        # Look for the next start bit after this byte's stop bit; a stop bit
        # read low (a framing error) is a byte all the same.
        i = mid + (frame_bits + 1) * n


def transfer(data, sent, received):
    """``data`` sent with settings ``sent`` as read by a UART set to ``received`` (None: as sent)."""
    if received is None or received == sent:
        return data if received is None or parse(sent)[1] == 8 else bytes(b & 0x7F for b in data)
    return receive(wave(data, sent), received)


def follow(conn, on_settings):
    """Call ``on_settings("9600 7E1")`` for each line ``line 9600 7E1`` the receiver sends on socket ``conn``.

    The simulated gateway (firmware/hw_host.py) names its UART's settings this
    way when it connects and whenever it changes them. Returns when ``conn`` closes.
    """
    pending = b""
    while True:
        try:
            chunk = conn.recv(256)
        except OSError:
            return
        if not chunk:
            return
        *lines, pending = (pending + chunk).split(b"\n")
        for raw in lines:
            words = raw.decode("ascii", "replace").split(None, 1)
            if len(words) == 2 and words[0] == "line":
                on_settings(words[1].strip())
