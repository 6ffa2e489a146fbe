"""French meters' TIC (Enedis NOI-CPT_54E): frames out of a byte stream, and a frame into a reading.

Loaded only while the reader reads TIC (``P1.Protocol`` "tic", or "auto"
trying or having found a TIC line): a Dutch gateway never holds it.

A frame is STX (0x02) ... ETX (0x03); EOT (0x04) cuts one short. Between them,
data sets ``LF label SEP [horodate SEP] data SEP checksum CR``: SEP is SP in
historique mode (1200 baud, every meter), HT in standard mode (9600 baud,
Linky). The checksum is the sum of the bytes from the label up to and including
the last SEP, ``& 0x3F``, ``+ 0x20``; meters from before ~2013 leave that SEP
out of the sum (historique only): either is accepted.

The reading (reading.py) carries what a P1 reading does: TIC power is apparent
power in VA (PAPP, SINSTS...), taken as the power fields' W as the Xemex TIC
Smart Connect does; energy indexes are Wh, exact integers (counter_decimals 3).
What has no P1 field goes into ``reading["tic"]`` for the status API, a key only
a TIC reading has (a P1 reading's dict, allocated every second, stays smaller).
"""
from micropython import const

from p1time import dsmr_timestamp
from reading import new_reading

_STX = const(0x02)
_ETX = const(0x03)
_LF = const(0x0A)
_CR = const(0x0D)
_SP = const(0x20)
_HT = const(0x09)
_MAX_LABEL = const(8)  # NJOURF+1, SMAXSN-1


class Framer:
    """Cuts TIC frames out of UART chunks of any size and checks every data set.

    Reports each frame as ``framer.Framer`` does a telegram, through
    ``on_frame(status, crc, buf, n)``: "valid" (crc "ok"), "crc_mismatch" (a data
    set's checksum is wrong: crc "mismatch"), "malformed" (cut short by EOT or a
    new STX, or not made of data sets) or "too_long" (crc "absent"). Bytes
    outside STX..ETX are noise and skipped. ``buf`` (the frame buffer) and
    ``counters`` are the P1 framer's: one buffer and one set of counters serve
    whichever protocol the line carries.
    """

    def __init__(self, on_frame, buf, counters):
        self.on_frame = on_frame
        self.buf = buf
        self._mv = memoryview(buf)
        self.counters = counters
        self._n = 0
        self._in = False  # between STX and ETX
        self.room = len(buf)  # as framer.Framer's, and reported as "full" as it does

    def feed(self, data, n=None):
        """Consume the first ``n`` bytes of ``data`` (all when n is None)."""
        n = len(data) if n is None else n
        src = memoryview(data)
        i = 0
        while i < n:
            if not self._in:
                j = data.find(b"\x02", i, n)
                if j < 0:
                    return
                self.buf[0] = _STX
                self._n = 1
                self._in = True
                i = j + 1
                continue
            # The first control byte ends this piece: ETX closes the frame, EOT
            # and STX cut it short (a new STX starts the next one).
            e = n
            for c in (b"\x03", b"\x04", b"\x02"):
                k = data.find(c, i, e)
                if k >= 0:
                    e = k
            if e == n:
                if self._append(src, i, n):
                    return
                i = n
                continue
            c = data[e]
            if not self._append(src, i, e if c == _STX else e + 1):
                i = e  # too long: skip to the next STX
            elif c == _ETX:
                self._report(check(self.buf, self._n))
                i = e + 1
            elif c == _STX:
                self._report("malformed")
                i = e
            else:
                self._report("malformed")
                i = e + 1

    def _append(self, src, i, j):
        """Copy src[i:j] into the buffer; False (and report) when it would overflow."""
        k = self._n + j - i
        if k > self.room < len(self.buf):
            self.on_frame("full", "absent", self.buf, self._n)
        if k > len(self.buf):
            self._report("too_long")
            return False
        self._mv[self._n:k] = src[i:j]
        self._n = k
        return True

    def _report(self, status):
        self.counters[status] += 1
        self._in = False
        crc = "ok" if status == "valid" else "mismatch" if status == "crc_mismatch" else "absent"
        self.on_frame(status, crc, self.buf, self._n)
        self._n = 0


def check(buf, n):
    """"valid", "crc_mismatch" or "malformed" for the frame STX..ETX in buf[:n]."""
    end = n - 1  # the ETX
    pos = 1
    if pos >= end:
        return "malformed"  # an empty frame says nothing
    while pos < end:
        cr = buf.find(b"\r", pos, end)
        # LF, a label, SEP, SEP and the checksum at least.
        if buf[pos] != _LF or cr < pos + 5:
            return "malformed"
        sep = buf[cr - 2]
        if sep != _SP and sep != _HT:
            return "malformed"
        s = 0
        for k in range(pos + 1, cr - 1):
            s += buf[k]
        cs = buf[cr - 1]
        if (s & 0x3F) + 0x20 != cs and (sep != _SP or ((s - _SP) & 0x3F) + 0x20 != cs):
            return "crc_mismatch"
        pos = cr + 1
    return "valid"


def fold(buf, i, end):
    """A label (or a short value) at buf[i:end] folded into a small int, the key of the tables below."""
    h = end - i
    for k in range(i, end):
        h = (h * 37 + buf[k]) & 0xFFFFFF
    return h


# What a data set is for: the kinds of the label table.
_ID = const(0)        # meter address: meter_id
_TEXT = const(1)      # text kept in reading["tic"]
_INT = const(2)       # number into a reading field
_TIC_INT = const(3)   # number kept in reading["tic"]
_INDEX = const(4)     # an energy index (Wh), kept in reading["tic"]["indexes"]
_TARIFF = const(5)    # historique PTEC: the period's name, its number from _PERIODS
_DATE = const(6)      # standard DATE: the horodate is the timestamp
_MSG = const(7)       # MSG1: the text message

# Energy indexes: which P1 counter each adds to. "t1" is the low (off-peak)
# period, "t2" the high one, as DSMR meters count tariff 1 and 2.
_TOTAL = "energy_import"
_LOW = "energy_import_t1"
_HIGH = "energy_import_t2"

# label, kind, target: one flat tuple, not a tuple per label (in the stock
# layout that saves 2.5 KB of heap). Labels not listed are skipped (MOTDETAT,
# HHPHC, IMAX, PPOT, ADIR, SMAXSN, CCASN, UMOY, RELAIS, PJOURF+1 ...).
_SPEC = (
    # historique
    "ADCO", _ID, None, "OPTARIF", _TEXT, "option", "ISOUSC", _TIC_INT, "subscribed_a",
    "BASE", _INDEX, _TOTAL, "HCHC", _INDEX, _LOW, "HCHP", _INDEX, _HIGH,
    "EJPHN", _INDEX, _LOW, "EJPHPM", _INDEX, _HIGH,
    "BBRHCJB", _INDEX, _LOW, "BBRHPJB", _INDEX, _HIGH, "BBRHCJW", _INDEX, _LOW,
    "BBRHPJW", _INDEX, _HIGH, "BBRHCJR", _INDEX, _LOW, "BBRHPJR", _INDEX, _HIGH,
    "PTEC", _TARIFF, None, "PAPP", _INT, "power_import_w",
    "IINST", _INT, "current_l1_a", "IINST1", _INT, "current_l1_a",
    "IINST2", _INT, "current_l2_a", "IINST3", _INT, "current_l3_a",
    # standard
    "ADSC", _ID, None, "VTIC", _TEXT, "vtic", "DATE", _DATE, None,
    "NGTF", _TEXT, "option", "LTARF", _TEXT, "tariff_name", "NTARF", _INT, "tariff",
    "EAST", _INT, _TOTAL, "EASF01", _INDEX, _LOW, "EASF02", _INDEX, _HIGH,
    "EASF03", _INDEX, None, "EASF04", _INDEX, None, "EASF05", _INDEX, None,
    "EASF06", _INDEX, None, "EASF07", _INDEX, None, "EASF08", _INDEX, None,
    "EASF09", _INDEX, None, "EASF10", _INDEX, None, "EAIT", _INT, "energy_export",
    "IRMS1", _INT, "current_l1_a", "IRMS2", _INT, "current_l2_a", "IRMS3", _INT, "current_l3_a",
    "URMS1", _INT, "voltage_l1_v", "URMS2", _INT, "voltage_l2_v", "URMS3", _INT, "voltage_l3_v",
    "PREF", _TIC_INT, "subscribed_kva", "PCOUP", _TIC_INT, "cutoff_kva",
    "SINSTS", _INT, "power_import_w", "SINSTS1", _INT, "power_l1_w",
    "SINSTS2", _INT, "power_l2_w", "SINSTS3", _INT, "power_l3_w",
    "SINSTI", _INT, "power_export_w", "STGE", _TEXT, "status_word", "MSG1", _MSG, None,
)

_LABELS = {}  # fold(label) -> its index in _SPEC
for _i in range(0, len(_SPEC), 3):
    _name = str(_SPEC[_i]).encode()  # (str(): the tuple also holds ints, says pyright)
    _LABELS[fold(_name, 0, len(_name))] = _i

# Historique PTEC (current tariff period) -> the tariff number: off-peak 1,
# peak 2 (as DSMR's tariff 1 and 2); Tempo counts blue, white, red days in pairs.
_PERIODS = {}
for _name, _num in ((b"TH..", 1), (b"HC..", 1), (b"HP..", 2), (b"HN..", 1), (b"PM..", 2),
                    (b"HCJB", 1), (b"HPJB", 2), (b"HCJW", 3), (b"HPJW", 4), (b"HCJR", 5), (b"HPJR", 6)):
    _PERIODS[fold(_name, 0, 4)] = _num
del _name, _num, _i


def _horodate(buf, i, end):
    """A horodate ``SYYMMDDhhmmss`` as UTC epoch seconds (None, ValueError: p1time).

    S is the season: E summer (UTC+2), H winter (UTC+1), in lower case when the
    meter's clock is unsure (the offset still holds), a space when unknown (the
    EU rule decides). DSMR's flags are S and W.
    """
    if i + 13 > end:
        raise ValueError("horodate cut short")
    season = buf[i] & 0xDF  # upper case
    return dsmr_timestamp(buf, i + 1, end, 0x53 if season == 0x45 else 0x57 if season == 0x48 else 0)


def _digits(buf, i, end):
    """The unsigned decimal number at buf[i:end] (leading zeros allowed); ValueError if not one."""
    if i >= end:
        raise ValueError("no number")
    v = 0
    for k in range(i, end):
        c = buf[k] - 0x30
        if not 0 <= c <= 9:
            raise ValueError("not a number")
        v = v * 10 + c
    return v


def _text(buf, i, end):
    while end > i and buf[end - 1] == _SP:  # LTARF, NGTF and MSG1 are padded
        end -= 1
    return bytes(buf[i:end]).decode()


def parse(buf, n=None, strict=True):
    """Parse the frame STX..ETX in buf[:n] (checked by ``check``) into a new reading.

    ``strict``: a data set whose value can't be read raises ValueError; with
    ``strict=False`` (every checksum matched, so it is the meter's own format)
    it is skipped, unless it is a power or current, which an output would
    otherwise serve as 0 (spare capacity to a charger).
    """
    if n is None:
        n = len(buf)
    if n < 2 or buf[0] != _STX or buf[n - 1] != _ETX:
        raise ValueError("not a TIC frame")
    r = new_reading()
    extra = {}
    indexes = {}
    low = high = None
    standard = None
    pos = 1
    end = n - 1
    while pos < end:
        cr = buf.find(b"\r", pos, end)
        if cr < 0:
            raise ValueError("data set without CR")
        sep = buf[cr - 2]
        if standard is None:
            standard = sep == _HT
        a = pos + 1  # the label
        b = buf.find(b"\t" if sep == _HT else b" ", a, cr - 2)
        pos = cr + 1
        if b < 0:
            b = cr - 2  # no data: "LABEL SEP checksum"
        if b - a > _MAX_LABEL:
            continue
        i = _LABELS.get(fold(buf, a, b))
        if i is None or len(_SPEC[i]) != b - a:
            continue
        kind = _SPEC[i + 1]
        target = _SPEC[i + 2]
        v0 = b + 1
        v1 = cr - 2  # the value is buf[v0:v1]
        if standard:
            h = buf.find(b"\t", v0, v1)
            if h >= 0:  # a horodate first
                if kind == _DATE:
                    try:
                        r["timestamp"] = _horodate(buf, v0, h)
                    except ValueError:
                        if strict:
                            raise
                v0 = h + 1
        try:
            if kind == _INT:
                r[target] = _digits(buf, v0, v1)
            elif kind == _INDEX:
                v = _digits(buf, v0, v1)
                indexes[_SPEC[i]] = v
                if target == _TOTAL:
                    r[_TOTAL] = v
                elif target == _LOW:
                    low = v if low is None else low + v
                elif target == _HIGH:
                    high = v if high is None else high + v
            elif kind == _ID:
                r["meter_id"] = _text(buf, v0, v1)
            elif kind == _TEXT:
                extra[target] = _text(buf, v0, v1)
            elif kind == _TIC_INT:
                extra[target] = _digits(buf, v0, v1)
            elif kind == _TARIFF:
                extra["tariff_name"] = _text(buf, v0, v1)
                r["tariff"] = _PERIODS.get(fold(buf, v0, v1)) if v1 - v0 == 4 else None
            elif kind == _MSG:
                r["text_message"] = _text(buf, v0, v1)
        except ValueError:
            if strict or kind == _INT and target[0] in "pc":  # power_..., current_...
                raise
    r["protocol_version"] = "tic-standard" if standard else "tic-historique"
    _derive(r, low, high)
    if indexes:
        extra["indexes"] = indexes
    r["tic"] = extra
    return r


def _derive(r, low, high):
    """The fields a P1 meter sends and TIC leaves to arithmetic: net power, phase power, totals."""
    imp = r["power_import_w"]
    exp = r["power_export_w"]
    if imp is not None:
        r["power_w"] = imp - (exp or 0)
        # A single-phase meter: its one phase carries it all (import only: per
        # phase power is >= 0, as the Xemex TIC Smart Connect serves it).
        if r["power_l1_w"] is None and r["current_l2_a"] is None:
            r["power_l1_w"] = imp
    r["energy_import_t1"] = low
    r["energy_import_t2"] = high
    if r[_TOTAL] is None and (low is not None or high is not None):
        r[_TOTAL] = (low or 0) + (high or 0)  # exact: integers in Wh
