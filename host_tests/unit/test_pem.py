"""PEM text to DER, as the MQTT publisher loads certificates and keys and the config checks them."""
import pem
from _support import raises

CERTS = """-----BEGIN CERTIFICATE-----
AAEC
AwQF
-----END CERTIFICATE-----
-----BEGIN CERTIFICATE-----
/w==
-----END CERTIFICATE-----
"""

# As `openssl ecparam -genkey` writes it: the curve's parameters, then the key.
EC_KEY = """-----BEGIN EC PARAMETERS-----
BggqhkjOPQMBBw==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----
AQID
-----END EC PRIVATE KEY-----
"""


def test_each_block_decodes_to_der():
    assert pem.blocks(CERTS) == [b"\x00\x01\x02\x03\x04\x05", b"\xff"]
    assert pem.blocks(CERTS.replace("\n", "\r\n"))[1] == b"\xff"


def test_only_blocks_of_the_kind_asked_for():
    assert pem.blocks(EC_KEY, "PRIVATE KEY") == [b"\x01\x02\x03"]
    assert pem.blocks(CERTS + EC_KEY, "CERTIFICATE") == [b"\x00\x01\x02\x03\x04\x05", b"\xff"]
    assert raises(ValueError, pem.blocks, EC_KEY, "CERTIFICATE")
    assert raises(ValueError, pem.blocks, "-----BEGIN EC PARAMETERS-----\nBggq\n-----END EC PARAMETERS-----\n",
                  "PRIVATE KEY")


def test_errors_say_why():
    assert raises(ValueError, pem.blocks, "")
    assert raises(ValueError, pem.blocks, "MIIB")
    assert raises(ValueError, pem.blocks, "-----BEGIN CERTIFICATE-----\nAAEC\n")
    assert raises(ValueError, pem.blocks, "AAEC\n-----END CERTIFICATE-----\n")
    assert raises(ValueError, pem.blocks, "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n")


def test_encrypted_keys_are_refused_in_both_forms():
    assert raises(ValueError, pem.blocks, "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                                          "-----END RSA PRIVATE KEY-----\n", "PRIVATE KEY")
    assert raises(ValueError, pem.blocks, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAEC\n"
                                          "-----END ENCRYPTED PRIVATE KEY-----\n", "PRIVATE KEY")


def test_checking_finds_what_decoding_finds():
    wrapped = "-----BEGIN CERTIFICATE-----\nAAECAwQF\nAAEC\nAw\nQF\n/w==\n-----END CERTIFICATE-----\n"
    assert pem.blocks(wrapped) == [b"\x00\x01\x02\x03\x04\x05\x00\x01\x02\x03\x04\x05\xff"]
    for text in (CERTS, wrapped, CERTS.replace("\n", "\r\n")):
        assert pem.blocks(text, "CERTIFICATE", False) == [None] * len(pem.blocks(text, "CERTIFICATE"))
    for bad in ("-----BEGIN CERTIFICATE-----\nAAEC\nA\n-----END CERTIFICATE-----\n",
                "-----BEGIN CERTIFICATE-----\nAAE\n-----END CERTIFICATE-----\n"):
        assert raises(ValueError, pem.blocks, bad)
        assert raises(ValueError, pem.blocks, bad, "", False)
