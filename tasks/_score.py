"""Scorers: is an extracted answer right for a task? One per kind of reference answer."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from fractions import Fraction

from fnforge.tasks._exceptions import TaskError
from fnforge.tasks._math import score_math
from fnforge.tasks._model import Task
from fnforge.tasks._numbers import parse_number

__all__ = [
    "SCORER_NAMES",
    "score",
    "score_choice",
    "score_exact",
    "score_gaia",
    "score_numeric",
    "score_with",
    "scorer_name",
]

SCORER_NAMES: tuple[str, ...] = ("exact", "gaia", "math", "numeric", "tabmwp")
"""Scorer names: ``metadata["scorer"]`` may name one; otherwise the domain decides."""


def scorer_name(task: Task) -> str:
    """The scorer a task uses: ``metadata["scorer"]`` if set, else by domain.

    ``math`` and ``math:*`` -> math, ``gsm8k`` -> numeric, ``tabmwp`` -> tabmwp,
    ``gaia`` -> gaia, anything else (jsonl) -> exact.

    Raises:
        TaskError: ``metadata["scorer"]`` names no scorer.
    """
    name = task.metadata.get("scorer")
    if name is not None:
        if name not in SCORER_NAMES:
            raise TaskError(f"task {task.id!r} names unknown scorer {name!r}")
        return str(name)
    if task.domain == "math" or task.domain.startswith("math:"):
        return "math"
    return {"gsm8k": "numeric", "tabmwp": "tabmwp", "gaia": "gaia"}.get(task.domain, "exact")


def score(task: Task, answer_text: str) -> bool:
    """Whether ``answer_text`` is a correct answer to ``task``.

    Pure and thread-safe; whatever the answer says, the result is a verdict,
    unless a MATH comparison runs out of CPU time (:class:`ScoringTimeout`).
    MATH answers are compared in this process (see :func:`score_math` for its
    limits); :meth:`ScoringPool.score` compares them in a killable worker.

    Args:
        task: the task; its domain (or ``metadata["scorer"]``) picks the scorer.
        answer_text: the answer as :func:`extract_answer` takes it from the final message.

    Returns:
        True when correct.

    Raises:
        TaskError: the task names an unknown scorer.
        ScoringTimeout: a MATH comparison ran out of time (no verdict).

    Example:
        >>> score(Task(id="1", question="?", answer="1,080", domain="gsm8k"), "$1080")
        True
    """
    return score_with(task, answer_text, math=score_math)


def score_with(task: Task, answer_text: str, *, math: Callable[[str, str], bool]) -> bool:
    """:func:`score` with ``math(reference, answer)`` as the MATH scorer (the others are cheap and run here)."""
    name = scorer_name(task)
    if name == "math":
        return math(task.answer, answer_text)
    if name == "numeric":
        return score_numeric(task.answer, answer_text)
    if name == "gaia":
        return score_gaia(task.answer, answer_text)
    if name == "tabmwp":
        choices = task.metadata.get("choices")
        if choices:
            return score_choice(task.answer, answer_text, choices)
        return score_numeric(task.answer, answer_text, unit=task.metadata.get("unit"), decimals=3)
    return score_exact(task.answer, answer_text)


def score_exact(reference: str, answer: str) -> bool:
    """Exact match after collapsing whitespace (case matters).

    Example:
        >>> score_exact("New  York", " New York ")
        True
    """
    return " ".join(reference.split()) == " ".join(answer.split())


def score_numeric(
    reference: str, answer: str, *, unit: str | None = None, rel_tol: float = 1e-6, decimals: int | None = None
) -> bool:
    """Numeric match: both sides read by :func:`parse_number`, compared with tolerance.

    Equal when ``|a - r| <= rel_tol * max(1, |r|)``, or, with ``decimals``, when
    both round to the same value (TabMWP's PromptPG rule uses 3: ``0.333`` for
    ``1/3``). A reference that is not a number falls back to :func:`score_exact`
    (case-insensitive, unit removed).

    Args:
        reference: e.g. ``1,080`` or ``3/10``.
        answer: e.g. ``$1080.00`` or ``0.3``.
        unit: the task's unit, removed from the answer.
        rel_tol: relative tolerance.
        decimals: also accept equality after rounding both to this many places.

    Example:
        >>> score_numeric("3/10", "0.3"), score_numeric("18", "18 or 19")
        (True, False)
    """
    expected = parse_number(reference)
    if expected is None:
        if unit:
            reference, answer = reference.replace(unit, " "), answer.replace(unit, " ")
        return score_exact(reference.lower(), answer.lower().rstrip("."))
    got = parse_number(answer, unit=unit)
    if got is None:
        return False
    if abs(got - expected) <= Fraction(str(rel_tol)) * max(Fraction(1), abs(expected)):
        return True
    return decimals is not None and round(got, decimals) == round(expected, decimals)


def _norm_choice(text: str) -> str:
    text = re.sub(r"\\text\s*\{([^{}]*)\}", r"\1", text)
    return " ".join(text.lower().strip().strip("*_\"'`").rstrip(".").split())


_BARE_LETTER = re.compile(r"\(?([A-Za-z])\)?[.:]?")
_LABELLED = re.compile(r"(?:\(([A-Za-z])\)|([A-Za-z])[.:)])\s+(.+)", re.DOTALL)


def score_choice(reference: str, answer: str, choices: Sequence[str]) -> bool:
    """Multiple-choice match: the chosen option must be the reference.

    The answer may be the option text (any case, trailing full stop ignored),
    its letter as listed in the question (``B``, ``(B)``, ``B.``), a labelled
    option (``(B) surplus``: letter and text must agree), or a sentence
    containing exactly one option as whole words (the longest, when one option
    contains another).

    Example:
        >>> score_choice("shortage", "There is a shortage.", ["shortage", "surplus"])
        True
    """
    options = [_norm_choice(c) for c in choices]
    target = _norm_choice(reference)
    said = _norm_choice(answer)
    if not said:
        return False
    if said in options:
        return said == target
    bare = _BARE_LETTER.fullmatch(answer.strip())
    if bare is not None:
        return _option(options, bare.group(1)) == target
    labelled = _LABELLED.fullmatch(answer.strip())
    if labelled is not None:
        option = _option(options, labelled.group(1) or labelled.group(2))
        return option == target and _norm_choice(labelled.group(3)) in ("", option)
    found = [o for o in options if re.search(rf"(?<!\w){re.escape(o)}(?!\w)", said)]
    maximal = [o for o in found if not any(o != other and o in other for other in found)]
    return len(maximal) == 1 and maximal[0] == target


def _option(options: Sequence[str], letter: str) -> str | None:
    index = ord(letter.upper()) - ord("A")
    return options[index] if 0 <= index < len(options) else None


def score_gaia(reference: str, answer: str) -> bool:
    """GAIA's quasi-exact match, after the benchmark's published scorer.

    - a numeric reference: the answer, with ``$``, ``%`` and ``,`` removed, must
      parse as the same float;
    - a reference containing ``,`` or ``;``: both are split on those; same
      length, and each element compared as a number (if the reference element
      is one) or as a string with whitespace removed and case folded,
      punctuation kept;
    - otherwise strings, with whitespace and punctuation removed, case folded.

    Example:
        >>> score_gaia("sea gull", "Seagull."), score_gaia("1, 2", "1;2"), score_gaia("17", "$17.0")
        (True, True, True)
    """
    if _is_float(reference):
        return _gaia_number(answer) == float(reference)
    if "," in reference or ";" in reference:
        expected = re.split(r"[,;]", reference)
        got = re.split(r"[,;]", answer)
        if len(expected) != len(got):
            return False
        return all(
            _gaia_number(g) == float(e) if _is_float(e) else _gaia_str(g, punct=False) == _gaia_str(e, punct=False)
            for e, g in zip(expected, got, strict=True)
        )
    return _gaia_str(answer) == _gaia_str(reference)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _gaia_number(text: str) -> float:
    cleaned = text.replace("$", "").replace("%", "").replace(",", "")
    try:
        return float(cleaned)
    except ValueError:
        return float("inf")  # the published scorer's "not a number": equals no finite reference


_PUNCT = str.maketrans("", "", string.punctuation)


def _gaia_str(text: str, *, punct: bool = True) -> str:
    squeezed = re.sub(r"\s", "", text).lower()
    return squeezed.translate(_PUNCT) if punct else squeezed
