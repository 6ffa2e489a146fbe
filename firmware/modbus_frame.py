"""Modbus TCP framing and the read-registers PDU, without sockets.

``header_length`` validates an MBAP header; ``answer`` turns one request ADU
into its response ADU inside a caller-owned buffer, reading the register image
once, so a response never mixes two telegrams. Pure logic: the server
(``modbus_tcp.py``) only moves bytes.
"""
from micropython import const

HEADER = const(7)           # transaction id 2, protocol id 2, length 2, unit id 1
MAX_ADU = const(260)        # Modbus TCP limit: 7-byte header + 253-byte PDU
REQUEST = const(12)         # the most of a request ``answer`` reads: header, FC, address, quantity
_MAX_LENGTH = const(254)    # length field = unit id + PDU
_MAX_QTY = const(125)       # registers per read (FC 03/04)

_READ_HOLDING = const(0x03)
_READ_INPUT = const(0x04)

_ILLEGAL_FUNCTION = const(1)
_ILLEGAL_ADDRESS = const(2)
_ILLEGAL_VALUE = const(3)
_DEVICE_FAILURE = const(4)


def header_length(buf):
    """How many PDU bytes follow the 7-byte MBAP header ``buf`` (length field - 1).

    Returns -1 for a header no Modbus TCP client sends: protocol id not 0,
    or a length field outside 2..254 (an ADU over 260 bytes or no function
    code). The caller drops such a connection: the stream cannot be resynced.
    """
    if buf[2] or buf[3]:
        return -1
    n = buf[4] << 8 | buf[5]
    if n < 2 or n > _MAX_LENGTH:
        return -1
    return n - 1


def answer(req, out, img, data_ok):
    """Write the response to request ADU ``req`` into ``out``; return its length.

    ``req`` holds the header and the PDU, or its first REQUEST bytes: no
    request this server answers with data is longer.
    ``img`` is a RegImage (FC03 reads its ``holding`` image when it has one); ``data_ok`` False makes reads of live (measured)
    blocks fail with exception 04 instead of serving stale values.
    Unit id and transaction id are echoed; exceptions set fc | 0x80.
    """
    fc = req[7]
    pdu_len = (req[4] << 8 | req[5]) - 1
    for i in range(HEADER):     # transaction id, protocol id 0, (length), unit id
        out[i] = req[i]
    if fc != _READ_HOLDING and fc != _READ_INPUT:
        return _exception(out, fc, _ILLEGAL_FUNCTION)
    if pdu_len != 5:
        return _exception(out, fc, _ILLEGAL_VALUE)
    addr = req[8] << 8 | req[9]
    qty = req[10] << 8 | req[11]
    if qty < 1 or qty > _MAX_QTY:
        return _exception(out, fc, _ILLEGAL_VALUE)
    if fc == _READ_HOLDING and img.holding is not None:
        img = img.holding       # the SDM630's settings, not its measurements
    i = img.locate(addr, qty)
    if i < 0:
        return _exception(out, fc, _ILLEGAL_ADDRESS)
    if img.live[i] and not data_ok:
        return _exception(out, fc, _DEVICE_FAILURE)
    regs = img.front            # one reference: one telegram
    o = img.offsets[i] + 2 * (addr - img.starts[i])
    n = 2 * qty
    out[4] = 0
    out[5] = 3 + n
    out[7] = fc
    out[8] = n
    out[9:9 + n] = memoryview(regs)[o:o + n]
    return 9 + n


def _exception(out, fc, code):
    out[4] = 0
    out[5] = 3
    out[7] = (fc | 0x80) & 0xFF
    out[8] = code
    return 9
