"""Strict JSON syntax before MicroPython's lenient json module parses a body."""
import json

import jsoncheck
from _support import raises


def _ok(text, split=None):
    b = text.encode()
    pieces = [b[i:i + split] for i in range(0, len(b), split)] if split else [b]
    try:
        jsoncheck.check(pieces)
    except ValueError:
        return False
    return True


def test_valid_json_passes_in_any_pieces():
    for text in ('{"MQTT": {"Site": "home", "MinIntervalS": 10}}', '{}', '[]', '[1, -2.5e+3, 0, 0.5]',
                 '{"a": [true, false, null, "x\\u00e9\\n\\"y"]}', ' 12 ', '"caf\u00e9"', '-0', '1E2'):
        for split in (None, 1, 3):
            assert _ok(text, split), (text, split)
            json.loads(text)  # the reference agrees


def test_what_micropython_json_would_take_is_refused():
    for text in ('{"a": 1,}', '[1,]', '[1,,2]', '{,}', '{"a": 1 "b": 2}', '{"a": 01}', '{"a":1}x',
                 "{'a': 1}", '{"a" 1}', '{"a": tru}', '{"a": 1', '', '[1.]', '[.5]', '[1e]', '[-]',
                 '{"a": "\x01"}', '{"a": "\\x"}', '{"a": "\\u12g4"}', '{1: 2}', '[' * 40 + ']' * 40):
        assert not _ok(text), text
        for split in (1, 2):
            assert not _ok(text, split), (text, split)


def test_check_raises_value_error():
    assert raises(ValueError, jsoncheck.check, [b'{"FailsafeCurrentA": 6,}'])
