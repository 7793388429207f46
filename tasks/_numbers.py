r"""Reading a number out of a short answer: ``$4,656``, ``3/10``, ``\frac{1}{2}``, ``18 dollars``, ``25%``."""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["parse_number"]

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_FULL = re.compile(rf"({_NUM})(?:\s*/\s*({_NUM}))?(?:\s+[A-Za-z][A-Za-z .'/-]*)?")
_ANY = re.compile(rf"(?<![\w.])({_NUM})(?:\s*/\s*({_NUM}))?(?![\w.])")
_SUBS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        (r"(?<=\d)(?:,|\\,|\{,\})(?:\\!)?(?=\d{3}(?!\d))", ""),  # 1,000  1\,000  17,\!280
        (r"\\[dt]frac", r"\\frac"),
        (r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"\1/\2"),
        (r"\\frac\s*(\d)\s*(\d)", r"\1/\2"),
        (r"\\(?:text|textbf|textrm|mathrm|mbox|operatorname)\s*\{([^{}]*)\}", r" \1 "),
        (r"\\left|\\right", ""),
        (r"\\[,!;: ]|~", " "),
        (r"\\?\$", ""),
        (r"\\%|%", " "),
        (r"^\\\(|\\\)$|^\\\[|\\\]$", ""),
        (r"[\u2212\u2013]", "-"),  # unicode minus, en dash
    )
)


def parse_number(text: str, *, unit: str | None = None) -> Fraction | None:
    r"""The number an answer states, exactly, or None when it states none or several.

    Dollar signs, percent signs, thousands commas, LaTeX wrappers (``$``,
    ``\text{}``, ``\frac{}{}``) and trailing unit words are dropped; ``unit``
    (e.g. ``minutes per day``) is removed wherever it appears. A fraction
    ``a/b`` is a number. When the text is not "number [unit words]", the one
    number in it is taken; two or more numbers mean None.

    Args:
        text: the answer, e.g. ``$1,522.81``.
        unit: the task's unit, if any.

    Returns:
        The value as a Fraction, or None.

    Example:
        >>> parse_number("$4,656")
        Fraction(4656, 1)
        >>> parse_number("3 minutes per day", unit="minutes per day")
        Fraction(3, 1)
        >>> parse_number("18 or 19") is None
        True
    """
    s = text.strip()
    if unit and unit.strip() and unit.strip() != "$":
        s = re.sub(re.escape(unit.strip()), " ", s, flags=re.IGNORECASE)
    for pattern, repl in _SUBS:
        s = pattern.sub(repl, s)
    s = s.strip().rstrip(".,;:!").strip()
    match = _FULL.fullmatch(s)
    if match is None:
        found = _ANY.findall(s)
        if len(found) != 1:
            return None
        return _value(*found[0])
    return _value(match.group(1), match.group(2) or "")


def _value(numerator: str, denominator: str) -> Fraction | None:
    try:
        value = Fraction(numerator.rstrip("."))
        if denominator:
            value /= Fraction(denominator.rstrip("."))
    except (ValueError, ZeroDivisionError):
        return None
    return value
