"""Captive-portal DNS: crafted packets in, exact answers (or silence) out."""
import asyncio
import socket

from captive_dns import CaptiveDns, dns_answer


def _query(name, qtype=1, qid=b"\x12\x34", flags=b"\x01\x00", extra=b""):
    q = bytearray(qid + flags + b"\x00\x01\x00\x00\x00\x00" + (b"\x00\x01" if extra else b"\x00\x00"))
    for label in name.split("."):
        q.append(len(label))
        q.extend(label.encode())
    q.extend(b"\x00" + bytes((qtype >> 8, qtype & 0xFF)) + b"\x00\x01" + extra)
    return bytes(q)


def test_a_query_answered_with_device_address():
    q = _query("connectivitycheck.gstatic.com")
    r = dns_answer(q)
    assert r[:2] == b"\x12\x34"                       # same id
    assert r[2] & 0x80 and r[2] & 0x04 and r[2] & 0x01  # response, authoritative, RD echoed
    assert r[3] & 0x0F == 0                            # NOERROR
    assert r[4:12] == b"\x00\x01\x00\x01\x00\x00\x00\x00"
    assert r[12:len(q)] == q[12:]                       # the question, echoed
    assert r[-4:] == b"\x0a\x0a\x0a\x0a" and r[-6:-4] == b"\x00\x04"
    assert r[len(q):len(q) + 2] == b"\xc0\x0c"


def test_aaaa_query_gets_empty_noerror_so_phone_falls_back_to_a():
    r = dns_answer(_query("captive.apple.com", qtype=28))
    assert r is not None and r[6:8] == b"\x00\x00" and r[3] & 0x0F == 0


def test_edns_additional_record_is_not_echoed():
    opt = b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"
    q = _query("www.msftconnecttest.com", extra=opt)
    r = dns_answer(q)
    assert r[10:12] == b"\x00\x00" and opt not in r and r[-4:] == b"\x0a\x0a\x0a\x0a"


def test_other_address_can_be_configured():
    assert dns_answer(_query("a.b"), b"\xc0\xa8\x04\x01")[-4:] == b"\xc0\xa8\x04\x01"


def test_malformed_packets_are_dropped():
    good = _query("example.com")
    bad = [
        b"", b"\x00" * 11, good[:12], good[:-1], good[:-3],
        good[:2] + b"\x81\x00" + good[4:],               # a response, not a query
        good[:2] + b"\x28\x00" + good[4:],               # opcode 5 (update)
        good[:4] + b"\x00\x02" + good[6:],               # two questions
        good[:4] + b"\x00\x00" + good[6:],               # no question
        good[:12] + b"\xc0\x0c\x00\x01\x00\x01",         # compression pointer in question
        good[:12] + b"\x3f" + b"a" * 10,                  # label runs past the end
        good[:12] + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01",  # name > 255 bytes
    ]
    assert [dns_answer(p) for p in bad] == [None] * len(bad)


def test_every_truncation_of_a_query_is_safe():
    q = _query("detectportal.firefox.com")
    for n in range(len(q)):
        assert dns_answer(q[:n]) is None


class _Hub:
    def __init__(self):
        self.status = {"net": {"ap": True}}


def test_service_answers_over_udp_only_in_ap_mode():
    import random
    port = 20000 + random.getrandbits(14)
    hub = _Hub()
    dns = CaptiveDns(hub, "127.0.0.1", port)
    dns.poll_s = 0.01
    dns.idle_s = 0.01
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.setblocking(False)
    addr = socket.getaddrinfo("127.0.0.1", port)[0][-1]
    got = []

    async def ask(q):
        client.sendto(q, addr)
        for _ in range(200):
            try:
                return client.recvfrom(512)[0]
            except OSError:
                await asyncio.sleep(0.01)

    async def main():
        task = asyncio.create_task(dns.run())
        for _ in range(100):
            if dns.status["active"]:
                break
            await asyncio.sleep(0.01)
        client.sendto(b"garbage", addr)
        got.append(await ask(_query("neverssl.com")))
        hub.status["net"]["ap"] = False
        for _ in range(100):
            if not dns.status["active"]:
                break
            await asyncio.sleep(0.01)
        got.append(dns.status["active"])
        task.cancel()
        await asyncio.sleep(0)

    try:
        asyncio.run(main())
    finally:
        client.close()
    assert got[0][-4:] == b"\x0a\x0a\x0a\x0a" and got[1] is False
    assert dns.status["answered"] == 1 and dns.status["dropped"] == 1
