"""The stream helpers the TCP services share: the client's address and whose slot a newcomer takes."""
from streams import evictee, peer_ip


class _Peer:
    def __init__(self, addr):
        self.addr = addr

    def get_extra_info(self, what):
        return {"peername": self.addr}[what]


def test_peer_ip_reads_the_esp32s_tuple_and_the_unix_ports_sockaddr():
    assert peer_ip(_Peer(("192.168.1.7", 50123))) == b"\xc0\xa8\x01\x07"
    assert peer_ip(_Peer(bytearray(b"\x02\x00\xee\x25\x7f\x00\x00\x02" + bytes(8)))) == b"\x7f\x00\x00\x02"
    assert peer_ip(object()) == b"" and peer_ip(_Peer(None)) == b""


class _C:
    def __init__(self, addr, idle):
        self.addr = addr
        self.idle = idle


def test_evictee_is_the_longest_idle_of_the_address_holding_the_most_and_never_a_busy_one():
    charger = _C(b"\x01", 100)           # idle longest, but its address holds one slot
    a1, a2, a3 = _C(b"\x02", 300), _C(b"\x02", 200), _C(b"\x02", None)
    conns = [charger, a1, a2, a3]
    assert evictee(conns, b"\x03") is a2
    assert evictee(conns, b"\x01", own=True) is charger
    assert evictee([_C(b"\x01", 500), _C(b"\x02", 400)], b"\x03").idle == 400  # a tie: the longest idle
    assert evictee([_C(b"\x01", None)], b"\x03") is None


def test_evictee_counts_the_newcomer_so_a_client_replaces_its_own_connection_first():
    old_charger, other, fresh = _C(b"\x01", 300), _C(b"\x02", 100), _C(b"\x03", 400)
    assert evictee([old_charger, other, fresh], b"\x01") is old_charger   # not the longer idle other
    assert evictee([old_charger, other, fresh], b"\x04") is other
