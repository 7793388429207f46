"""The process boundary: turn any value into capped, JSON-safe data.

Only JSON crosses between the host and a worker, both ways, never pickle
(DESIGN.md §4). Conversions, decided once:

- ``None``/``bool``/``str``/finite ``float``/``int`` stay (an ``int`` too big
  to print becomes a description); NaN and infinities become ``"nan"``,
  ``"inf"``, ``"-inf"``;
- lists, tuples, deques, sets (sorted when possible) become lists; mappings
  become objects with string keys;
- numpy arrays become nested lists, numpy scalars Python numbers;
- ``Fraction``, ``Decimal``, ``complex``, sympy objects and anything else
  become their ``str`` (``repr`` for unknown objects), cut to the size limit;
  numpy scalars without a Python equivalent (``longdouble``, ``clongdouble``,
  ``datetime64``, structured ``void``) become their ``str`` too;
- every text (strings, keys, descriptions, and through :func:`clean_text`
  the captured output and error messages) is made valid Unicode: a lone
  surrogate becomes the visible escape ``\\udXXX``, so no reply is
  unencodable.

Subclasses are read through the base type's methods, so a sandbox class that
overrides ``items`` or ``__iter__`` cannot change what is reported. Results
deeper than ``max_depth`` or larger than ``max_chars`` are cut and the result
says so (``truncated``).
"""

from __future__ import annotations

import json
import math
from collections import deque
from decimal import Decimal
from fractions import Fraction
from typing import Any  # Any: values learned code returns, encoded to JSON here

__all__ = ["Encoder", "clean_text", "cut_text"]

_MARK = "…[cut]"


def clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by its visible escape (valid UTF-8 afterwards)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def cut_text(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters with a marker, and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[: max(0, limit - len(_MARK))] + _MARK, True


class Encoder:
    """Convert values to JSON-safe data under a depth and size budget."""

    def __init__(self, *, max_chars: int, max_depth: int) -> None:
        self.max_chars = max_chars
        self.max_depth = max_depth
        self.budget = max_chars
        self.truncated = False
        self._numpy: Any = None
        self._sympy_basic: Any = None

    def bind(self, *, numpy: Any = None, sympy_basic: Any = None) -> None:
        """Tell the encoder about optional libraries (the worker imports them, not us)."""
        self._numpy = numpy
        self._sympy_basic = sympy_basic

    def encode(self, value: object) -> tuple[Any, bool]:
        """Return ``(json_value, truncated)`` for ``value``; the JSON text fits ``max_chars``."""
        budget = self.max_chars
        for _ in range(4):  # escapes and quotes can make the JSON text longer than the budget
            self.budget = budget
            self.truncated = False
            data = self._convert(value, 0)
            text = json.dumps(data, ensure_ascii=False, allow_nan=False)
            if len(text) <= self.max_chars:
                return data, self.truncated
            budget = budget * self.max_chars // (2 * len(text))
        cut, _ = cut_text(text, self.max_chars)
        return cut, True

    def _spend(self, amount: int) -> bool:
        self.budget -= amount
        if self.budget < 0:
            self.truncated = True
            return False
        return True

    def _text(self, text: str) -> str:
        text = clean_text(text)
        limit = max(16, min(len(text), self.budget - 2))
        cut, was_cut = cut_text(text, limit)
        self.truncated |= was_cut
        self._spend(len(cut) + 2)
        return cut

    def _convert(self, value: object, depth: int) -> Any:  # noqa: C901 - one dispatch table
        kind = type(value)
        if value is None or kind is bool:
            self._spend(5)
            return value
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return self._int(int.__index__(value))
        if isinstance(value, float):
            number = float.__float__(value)
            if math.isfinite(number):
                self._spend(24)
                return number
            return "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")
        if isinstance(value, str):
            return self._text(str.__str__(value))
        if depth >= self.max_depth:
            self.truncated = True
            return _MARK
        np = self._numpy
        if np is not None and isinstance(value, np.ndarray):
            array: Any = value
            if array.size > self.budget:
                self.truncated = True
                array = array.ravel()[: max(1, self.budget // 2)]
            return self._convert(array.tolist(), depth)
        if np is not None and isinstance(value, np.generic):
            return self._numpy_scalar(value, depth)
        if isinstance(value, dict):
            return self._mapping(dict.items(value), depth)
        if isinstance(value, (list, tuple)):
            items = list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value)
            return self._sequence(items, depth)
        if isinstance(value, (set, frozenset)):
            members = list(set.__iter__(value) if isinstance(value, set) else frozenset.__iter__(value))
            try:
                members.sort()
            except Exception:  # noqa: BLE001 - unorderable members keep set order
                pass
            return self._sequence(iter(members), depth)
        if isinstance(value, deque):
            return self._sequence(deque.__iter__(value), depth)
        return self._text(self._describe(value))

    def _numpy_scalar(self, value: Any, depth: int) -> Any:
        item = value.item()
        if isinstance(item, self._numpy.generic) or not isinstance(item, (bool, int, float, complex, str, bytes)):
            return self._text(self._describe(value))  # longdouble, datetime64, void...: no Python twin
        return self._convert(item, depth)

    def _int(self, number: int) -> Any:
        if number.bit_length() > 4000:
            self.truncated = True
            return self._text(f"<int with {number.bit_length()} bits>")
        self._spend(len(str(number)))
        return number

    def _mapping(self, items: Any, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in items:
            if self.budget <= 0:
                self.truncated = True
                break
            name = key if type(key) is str else self._key(key)
            out[self._text(name)] = self._convert(item, depth + 1)
        return out

    def _key(self, key: object) -> str:
        converted = self._convert(key, self.max_depth - 1)
        return converted if isinstance(converted, str) else json.dumps(converted)

    def _sequence(self, items: Any, depth: int) -> list[Any]:
        out = []
        for item in items:
            if self.budget <= 0:
                self.truncated = True
                out.append(_MARK)
                break
            self._spend(2)
            out.append(self._convert(item, depth + 1))
        return out

    def _is_numpy_scalar(self, value: object) -> bool:
        return self._numpy is not None and isinstance(value, self._numpy.generic)

    def _describe(self, value: object) -> str:
        basic = self._sympy_basic
        if basic is not None and isinstance(value, basic):
            return str(value)
        try:
            if isinstance(value, (complex, Decimal, Fraction)) or self._is_numpy_scalar(value):
                return str(value)
            return repr(value)
        except Exception as exc:  # noqa: BLE001 - a broken repr must not break the boundary
            return f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
