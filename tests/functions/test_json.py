"""The bounded JSON loader: every untrusted JSON document goes through it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnforge.functions import JSONInputError, load_json


def test_load_json_parses_ordinary_documents() -> None:
    assert load_json('{"a": [1, 2.5, "s", null, true], "b": {"c": []}}') == {
        "a": [1, 2.5, "s", None, True], "b": {"c": []}}


def test_load_json_accepts_bytes_and_paired_surrogate_escapes() -> None:
    assert load_json(b'["\\ud83d\\ude00", "\xc3\xa9"]') == ["\U0001f600", "é"]


def test_load_json_counts_brackets_inside_strings_as_text() -> None:
    assert load_json('["' + "[" * 1000 + '"]', max_depth=2) == ["[" * 1000]


@pytest.mark.parametrize(("document", "reason"), [
    ("[" * 100_000, "nests deeper"),
    ("[" * 65 + "]" * 65, "nests deeper"),
    ('{"a": ' * 70 + "1" + "}" * 70, "nests deeper"),
    ("NaN", "NaN is not a JSON number"),
    ("[Infinity]", "Infinity is not a JSON number"),
    ('{"x": -Infinity}', "-Infinity is not a JSON number"),
    ("1e999", "overflows to infinity"),
    ('[1, {"x": -1e400}]', "overflows to infinity"),
    ("1" + "0" * 400 + ".5", "overflows to infinity"),
    ("1" * 5000, "not valid JSON"),
    ('"\\ud800"', "lone surrogate"),
    ('{"\\udfff": 1}', "lone surrogate"),
    ("\ud800", "lone surrogate"),
    (b"\xff\xfe", "not UTF-8"),
    ("{", "not valid JSON"),
    (" " * 2_000_000, "the limit is"),
])
def test_load_json_refuses_what_untrusted_text_should_not_carry(document: str | bytes, reason: str) -> None:
    with pytest.raises(JSONInputError, match=reason):
        load_json(document, max_depth=64)


def test_load_json_error_is_a_value_error_with_one_line() -> None:
    with pytest.raises(ValueError) as caught:
        load_json("[" * 100_000)
    assert "\n" not in str(caught.value)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))  # lone surrogates are refused on purpose


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False,
                                                                                      allow_infinity=False), TEXT),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(TEXT.filter(lambda t: len(t) < 6), inner, max_size=4)),
                    max_leaves=20))
def test_load_json_round_trips_what_json_dumps_writes(value: object) -> None:
    assert load_json(json.dumps(value)) == value
