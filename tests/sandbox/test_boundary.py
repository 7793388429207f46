"""The JSON boundary: conversions and caps (in-process units of the encoder)."""

from __future__ import annotations

from collections import Counter, deque
from decimal import Decimal
from fractions import Fraction

import numpy as np

from fnforge.sandbox.boundary._encoder import Encoder, cut_text


def encode(value: object, *, max_chars: int = 10_000, max_depth: int = 20) -> tuple[object, bool]:
    encoder = Encoder(max_chars=max_chars, max_depth=max_depth)
    encoder.bind(numpy=np)
    return encoder.encode(value)


def test_encoder_keeps_json_values() -> None:
    value = {"a": [1, 2.5, "s", None, True], "b": {"c": []}}
    assert encode(value) == (value, False)


def test_encoder_converts_numpy_values() -> None:
    assert encode({"a": np.arange(3), "s": np.float64(1.5), "i": np.int32(2)}) == (
        {"a": [0, 1, 2], "s": 1.5, "i": 2}, False)


def test_encoder_stringifies_exact_numbers() -> None:
    assert encode([Fraction(1, 3), Decimal("0.10"), 2j]) == (["1/3", "0.10", "2j"], False)


def test_encoder_reads_subclasses_through_their_base_type() -> None:
    class Sneaky(dict):
        def items(self):  # type: ignore[override]
            return [("forged", 1)]

    assert encode(Sneaky(real=2)) == ({"real": 2}, False)


def test_encoder_converts_collections() -> None:
    assert encode([Counter("aab"), deque([1, 2]), {3, 1}, (4,)]) == ([{"a": 2, "b": 1}, [1, 2], [1, 3], [4]],
                                                                     False)


def test_encoder_cuts_deep_values() -> None:
    value, truncated = encode([[[[1]]]], max_depth=2)
    assert (value, truncated) == ([["…[cut]"]], True)


def test_encoder_cuts_large_values_to_the_limit() -> None:
    value, truncated = encode(list(range(10_000)), max_chars=200)
    assert truncated and len(str(value)) <= 220


def test_encoder_describes_unprintable_integers() -> None:
    assert encode(10 ** 5000) == ("<int with 16610 bits>", True)


def test_cut_text_marks_the_cut() -> None:
    assert cut_text("abcdefghij", 8) == ("ab…[cut]", True) and cut_text("abc", 8) == ("abc", False)
