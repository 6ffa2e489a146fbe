"""AES-GCM decrypt-and-verify against NIST and reference-library vectors."""
import json
from binascii import unhexlify

from _support import _HERE, raises
from aesgcm import AesGcm


def _cases():
    with open(_HERE + "/vectors/gcm.json") as f:
        for c in json.load(f):
            yield c["name"], [unhexlify(c[k]) for k in ("key", "iv", "aad", "pt", "ct", "tag")]


def _case(name):
    for n, fields in _cases():
        if n == name:
            return fields
    raise KeyError(name)


def _flip(data, i):
    b = bytearray(data)
    b[i] ^= 0x01
    return bytes(b)


def test_nist_test_cases_decrypt_to_their_plaintext():
    seen = 0
    for name, (key, iv, aad, pt, ct, tag) in _cases():
        if name.startswith("nist_"):
            assert AesGcm(key).decrypt(iv, aad, ct, tag) == pt, name
            seen += 1
    assert seen == 4


def test_reference_vectors_of_every_length_and_tag_size_decrypt():
    seen = 0
    for name, (key, iv, aad, pt, ct, tag) in _cases():
        assert AesGcm(key).decrypt(iv, aad, ct, tag) == pt, name
        seen += 1
    assert seen >= 12


def test_tag_is_checked_even_without_ciphertext():
    key, iv, aad, pt, ct, tag = _case("nist_tc1")
    assert raises(ValueError, AesGcm(key).decrypt, iv, aad, ct, _flip(tag, 15))


def test_flipped_ciphertext_bit_fails_authentication():
    key, iv, aad, pt, ct, tag = _case("random_1500_aad17_tag12")
    gcm = AesGcm(key)
    for i in (0, 700, len(ct) - 1):
        assert raises(ValueError, gcm.decrypt, iv, aad, _flip(ct, i), tag), i


def test_flipped_tag_aad_or_iv_fails_authentication():
    key, iv, aad, pt, ct, tag = _case("nist_tc4")
    gcm = AesGcm(key)
    assert raises(ValueError, gcm.decrypt, iv, aad, ct, _flip(tag, 0))
    assert raises(ValueError, gcm.decrypt, iv, _flip(aad, 19), ct, tag)
    assert raises(ValueError, gcm.decrypt, _flip(iv, 11), aad, ct, tag)


def test_wrong_key_fails_authentication():
    key, iv, aad, pt, ct, tag = _case("random_257_aad33_tag12")
    assert raises(ValueError, AesGcm(_flip(key, 3)).decrypt, iv, aad, ct, tag)


def test_truncated_tags_below_12_bytes_are_refused():
    key, iv, aad, pt, ct, tag = _case("nist_tc3")
    assert AesGcm(key).decrypt(iv, aad, ct, tag[:12]) == pt
    assert raises(ValueError, AesGcm(key).decrypt, iv, aad, ct, tag[:8])


def test_only_96_bit_ivs_are_accepted():
    key, iv, aad, pt, ct, tag = _case("nist_tc2")
    assert raises(ValueError, AesGcm(key).decrypt, iv + b"\x00", aad, ct, tag)


def test_decrypts_in_place():
    key, iv, aad, pt, ct, tag = _case("random_257_aad33_tag12")
    buf = bytearray(ct)
    AesGcm(key).decrypt_into(iv, aad, buf, tag, buf)
    assert bytes(buf) == pt


def test_failed_authentication_leaves_output_untouched():
    key, iv, aad, pt, ct, tag = _case("random_255_aad17_tag12")
    out = bytearray(len(ct))
    assert raises(ValueError, AesGcm(key).decrypt_into, iv, aad, ct, _flip(tag, 5), out)
    assert out == bytearray(len(ct))


def test_one_key_object_decrypts_many_messages():
    key, iv, aad, pt, ct, tag = _case("nist_tc3")
    gcm = AesGcm(key)
    assert raises(ValueError, gcm.decrypt, iv, aad, ct, _flip(tag, 1))
    for _ in range(3):
        assert gcm.decrypt(iv, aad, ct, tag) == pt


def test_only_16_byte_keys_are_accepted():
    assert raises(ValueError, AesGcm, bytes(32))
    assert raises(ValueError, AesGcm, bytes(15))
