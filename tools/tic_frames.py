"""TIC frames made from the rules of PRODUCT.md section 9, for the meter simulator and the tests.

Independent of the firmware (which must decode what this makes):

    data_set("PAPP", "01250")                          # historique: SP separators
    data_set("SINSTS", "01250", standard=True)         # standard: HT separators
    data_set("DATE", "", standard=True, horodate="E230601120000")
    frame([...data sets...])                           # STX ... ETX

``old=True`` computes the checksum as meters before ~2013 did in historique
mode (the last separator left out of the sum); ``bad=True`` makes it wrong.
"""

STX, ETX, EOT = b"\x02", b"\x03", b"\x04"


def checksum(payload):
    """The checksum character of ``payload`` (bytes summed, & 0x3F, + 0x20)."""
    return bytes(((sum(payload) & 0x3F) + 0x20,))


def data_set(label, data, standard=False, horodate=None, old=False, bad=False):
    """One data set, LF ... CR, as bytes."""
    sep = b"\t" if standard else b" "
    body = label.encode() + sep
    if horodate is not None:
        body += horodate.encode() + sep
    body += data.encode() + sep
    cs = checksum(body[:-1] if old else body)
    if bad:
        cs = bytes((0x20 + (cs[0] - 0x20 + 1) % 64,))
    return b"\n" + body + cs + b"\r"


def frame(data_sets):
    """The data sets between STX and ETX."""
    return STX + b"".join(data_sets) + ETX


def horodate(t, summer):
    """A TIC horodate: season letter (E summer, H winter) and ``YYMMDDhhmmss`` of local time ``t``."""
    return "%s%02d%02d%02d%02d%02d%02d" % ("E" if summer else "H", t.tm_year % 100, t.tm_mon, t.tm_mday,
                                           t.tm_hour, t.tm_min, t.tm_sec)
