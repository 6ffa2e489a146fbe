"""The JSON writer: valid JSON in pieces, meter counters with exactly their digits."""
import json

import jsonw


def _dumps(v, exact=(), decimals=3):
    """``v`` as one JSON str (the firmware writes the pieces straight out)."""
    out = jsonw.Buffer()
    jsonw.value(out.write, v, exact, decimals)
    return bytes(out.bytes()).decode()


def _pieces(v, exact=(), decimals=3):
    out = []
    jsonw.value(out.append, v, exact, decimals)
    return out


def test_values_are_valid_json_with_compact_separators():
    v = {"a": None, "b": True, "c": False, "d": 12, "e": -1.5, "f": [1, "x", {"g": []}], "h": (2, 3)}
    text = _dumps(v)  # a MicroPython dict has no fixed order: look at the pieces
    for piece in ('"a":null', '"b":true', '"c":false', '"d":12', '"e":-1.5', '"f":[1,"x",{"g":[]}]', '"h":[2,3]'):
        assert piece in text, piece
    assert " " not in text and json.loads(text) == {"a": None, "b": True, "c": False, "d": 12, "e": -1.5,
                                "f": [1, "x", {"g": []}], "h": [2, 3]}


def test_strings_are_escaped_only_where_json_needs_it():
    for s in ('say "hi"', "back\\slash", "line\nbreak\ttab\x01", "caf\u00e9", ""):
        assert json.loads(_dumps(s)) == s, s
    assert _dumps("caf\u00e9") == '"caf\u00e9"'  # UTF-8 as it is


def test_counters_are_written_with_exactly_their_decimals():
    assert jsonw.fixed_text(12345678, 3) == "12345.678"
    assert jsonw.fixed_text(58, 3) == "0.058"
    assert jsonw.fixed_text(0, 3) == "0.000"
    assert jsonw.fixed_text(-1500, 3) == "-1.500"
    assert jsonw.fixed_text(325495061662, 7) == "32549.5061662"
    assert jsonw.fixed_text(7, 0) == "7"
    assert jsonw.fixed_text(123456789012, 3) == "123456789.012"  # beyond 2**30: still exact


def test_named_counters_in_a_document_are_fixed_point_at_any_depth():
    doc = {"meter": {"energy_import_kwh": 34256424, "power_w": 244, "gas_m3": None},
           "energy_import_kwh": 1}
    text = _dumps(doc, ("energy_import_kwh", "gas_m3"), 3)
    for piece in ('"energy_import_kwh":34256.424', '"power_w":244', '"gas_m3":null', '"energy_import_kwh":0.001'):
        assert piece in text, piece
    assert json.loads(text)["meter"]["power_w"] == 244


def test_a_field_name_and_a_counter_cost_no_piece_of_their_own():
    # Constant pieces are passed on as they are: field names and punctuation are never copied.
    name = "energy_import_kwh"
    out = []
    jsonw.key(out.append, name)
    jsonw.fixed(out.append, 12345678, 3)
    assert "".join(out) == '"energy_import_kwh":12345.678'
    assert out[1] is name


def test_buffer_collects_pieces_past_its_first_size():
    b = jsonw.Buffer(4)
    for piece in ("{", '"k":', '"caf\u00e9"', "}"):
        b.write(piece)
    assert bytes(b.bytes()) == '{"k":"caf\u00e9"}'.encode()


def test_not_json_is_a_type_error():
    try:
        _dumps({"x": object()})
    except TypeError:
        return
    assert False, "no TypeError"


def test_measure_counts_utf8_bytes_of_what_fill_writes():
    def fill(write):
        jsonw.value(write, {"energy_import_kwh": 12345678, "name": "caf\u00e9"}, ("energy_import_kwh",), 3)
    text = _dumps({"energy_import_kwh": 12345678, "name": "caf\u00e9"}, ("energy_import_kwh",), 3)
    assert jsonw.measure(fill) == len(text.encode()) == len(text) + 1  # the e-acute is two bytes
