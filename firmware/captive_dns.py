"""Captive-portal DNS: in access-point mode every name resolves to the device.

A phone joining the AP asks DNS for its connectivity-check host, gets
10.10.10.10, requests a probe path there and is redirected to the config page,
so the page opens by itself. ``dns_answer`` is the pure packet logic; the
service polls a non-blocking UDP socket while ``hub.status["net"]["ap"]`` is on.
"""
import asyncio
import socket

from micropython import const

AP_IP = b"\x0a\x0a\x0a\x0a"  # 10.10.10.10
_TTL = const(60)
_TYPE_A = const(1)
_TYPE_ANY = const(255)


def dns_answer(query, ip=AP_IP):
    """Response bytes for a DNS query (A/ANY -> ``ip``; other types: no answer), or None.

    Only a standard query with exactly one question is answered; anything else
    (responses, other opcodes, truncated or compressed names) returns None and
    is dropped.
    """
    n = len(query)
    if n < 17 or query[2] & 0xF8:  # QR must be 0 (a query), opcode 0 (standard)
        return None
    if query[4] != 0 or query[5] != 1:
        return None
    i = 12
    while True:
        if i >= n:
            return None
        ln = query[i]
        if ln == 0:
            break
        if ln > 63:  # a compression pointer has no place in a question
            return None
        i += ln + 1
        if i - 12 > 255:
            return None
    i += 1
    if i + 4 > n:
        return None
    qtype = query[i] << 8 | query[i + 1]
    end = i + 4
    answer = qtype in (_TYPE_A, _TYPE_ANY) and query[i + 2:end] == b"\x00\x01"
    # header: same id; QR + AA, RD copied; one question, 0 or 1 answer, no others
    out = bytearray(query[:end])
    out[2] = 0x84 | (query[2] & 0x01)
    out[3] = 0
    out[6:12] = b"\x00\x00\x00\x00\x00\x00"
    if answer:
        out[7] = 1
        out.extend(b"\xc0\x0c\x00\x01\x00\x01\x00\x00")  # name -> offset 12, A, IN
        out.extend(bytes((_TTL >> 8, _TTL & 0xFF, 0, 4)))
        out.extend(ip)
    return bytes(out)


class CaptiveDns:
    """Answer DNS on UDP ``port`` while the access point is up."""

    poll_s = 0.05      # how often the idle socket is checked
    idle_s = 1         # how often AP mode is checked while it is off

    def __init__(self, hub, host="0.0.0.0", port=53):
        self.hub = hub
        self.host = host
        self.port = port
        self.sock = None
        hub.status["dns"] = self.status = {"active": False, "answered": 0, "dropped": 0}

    async def run(self):
        try:
            while True:
                if self.hub.status.get("net", {}).get("ap"):
                    if self.sock is None:
                        self._open()
                    # after an answer just yield, so a burst is served quickly
                    # but a flood cannot starve the other services
                    await asyncio.sleep(0 if self._serve_pending() else self.poll_s)
                else:
                    self._close()
                    await asyncio.sleep(self.idle_s)
        finally:
            self._close()

    def _open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(socket.getaddrinfo(self.host, self.port)[0][-1])
        s.setblocking(False)
        self.sock = s
        self.status["active"] = True

    def _close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.status["active"] = False

    def _serve_pending(self):
        """Answer one waiting query; False when none was waiting."""
        sock = self.sock
        if sock is None:
            return False
        try:
            query, addr = sock.recvfrom(512)
        except OSError:  # EAGAIN: nothing waiting
            return False
        reply = dns_answer(query)
        if reply is None:
            self.status["dropped"] += 1
            return True
        try:
            sock.sendto(reply, addr)
            self.status["answered"] += 1
        except OSError:
            self.status["dropped"] += 1
        return True
