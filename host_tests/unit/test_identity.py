"""Device identity: made once from the MAC, kept in identity.json, never regenerated."""
import json
import os

import identity
from _support import cleanup, tmpdir

MAC = b"\x24\x0a\xc4\x9f\x3b\x71"


def _counting_urandom():
    """A deterministic urandom: 0, 1, 2, ... (each call continues the count)."""
    state = [0]

    def urandom(n):
        out = bytes((state[0] + i) & 0xFF for i in range(n))
        state[0] += n
        return out
    return urandom


def test_serial_is_the_mac_in_upper_case_hex():
    assert identity.serial_of(MAC) == "240AC49F3B71"


def test_first_boot_creates_identity_with_ssid_from_serial():
    d = tmpdir("id")
    ident = identity.load_or_create(d, MAC)
    with open(identity.path(d)) as f:
        stored = json.load(f)
    cleanup(d)
    assert ident["serial"] == "240AC49F3B71"
    assert ident["ssid"] == "P1GW-9F3B71"
    assert stored == ident


def test_keys_are_long_enough_for_wpa2_and_use_the_unambiguous_alphabet():
    d = tmpdir("id")
    ident = identity.load_or_create(d, MAC)
    cleanup(d)
    for k in ("wpa_key", "api_password"):
        assert 8 <= len(ident[k]) <= 63
        for c in ident[k]:
            assert c in identity._ALPHABET and c not in "0O1lI", c


def test_wpa_key_and_api_password_differ():
    ident = identity.create(MAC)
    assert ident["wpa_key"] != ident["api_password"]


def test_random_key_skips_bytes_that_would_bias_the_alphabet():
    # Bytes >= 224 are dropped; 224..255 first, then 0.. gives the alphabet's start.
    seq = [list(range(224, 256)) + list(range(0, 64))]

    def urandom(n):
        out = bytes(seq[0][:n])
        seq[0] = seq[0][n:]
        return out
    key = identity.random_key(5, urandom)
    assert key == identity._ALPHABET[:5]


def test_second_boot_returns_the_stored_identity_unchanged():
    d = tmpdir("id")
    first = identity.load_or_create(d, MAC)
    again = identity.load_or_create(d, MAC, _counting_urandom())
    cleanup(d)
    assert again == first


def test_corrupt_file_is_kept_aside_and_a_new_identity_made():
    d = tmpdir("id")
    with open(identity.path(d), "w") as f:
        f.write('{"serial": "240AC4')
    ident = identity.load_or_create(d, MAC)
    names = sorted(os.listdir(d))
    cleanup(d)
    assert ident["serial"] == "240AC49F3B71"
    assert names == ["identity.json", "identity.json.bad"]


def test_identity_of_another_board_is_not_taken_over():
    d = tmpdir("id")
    other = identity.load_or_create(d, b"\x24\x0a\xc4\x00\x00\x01")
    mine = identity.load_or_create(d, MAC)
    cleanup(d)
    assert mine["serial"] == "240AC49F3B71"
    assert mine["wpa_key"] != other["wpa_key"]
