r"""MATH answers: LaTeX equivalence through the ``math-verify`` library.

math-verify is called with its own (signal-based) timeouts turned off, so it
works in any thread and leaves SIGALRM alone. In process, :func:`score_math`
bounds the thread's CPU time with :func:`call_with_deadline`, which cannot stop
one long C call; :class:`~tasks.ScoringPool` runs :func:`equivalent` in a worker
process under a CPU-time rlimit instead. Running out of time is not a verdict:
both raise :class:`~tasks.ScoringTimeout`. math-verify is imported on first use:
it pulls in sympy (~0.25 s).
"""

from __future__ import annotations

import logging
import re

from fnforge.tasks._deadline import DeadlineExceeded, backstop_s, call_with_deadline
from fnforge.tasks._exceptions import ScoringTimeout

__all__ = ["MAX_MATH_ANSWER_CHARS", "equivalent", "prepare_math", "score_math"]

MAX_MATH_ANSWER_CHARS = 1000
"""Longer answers are wrong without parsing: parse time grows with length, and no MATH answer is near it."""

_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
# Inputs whose evaluation is one long C-level integer operation: no timeout can
# stop those (signals and async exceptions both wait for the next bytecode).
# A nested exponent (a^{b^c}, a^b^c, a**b**c) or an exponent of 7+ digits.
# No MATH reference answer has either (checked over all 12,500).
_COSTLY = re.compile(
    r"\^\s*\{[^{}]*\^"  # ^{ ... ^
    r"|(?:\^|\*\*)\s*\{?\s*\(?\s*[\d.]+\s*\)?\s*\}?\s*(?:\^|\*\*)"  # ^2^3, **2**3
    r"|(?:\^|\*\*)\s*\{?\s*\(?\s*\d{7,}"  # ^{1234567}
)


def _unwrap(answer: str) -> str:
    """Strip math delimiters around a whole answer and a final full stop."""
    text = answer.strip()
    for left, right in _DELIMITERS:
        if len(text) > len(left) + len(right) and text.startswith(left) and text.endswith(right):
            text = text[len(left) : -len(right)].strip()
            break
    return text.removesuffix(".").strip()


def prepare_math(reference: str, answer: str) -> tuple[str, str] | None:
    """The unwrapped (reference, answer) to compare, or ``None`` when the answer is wrong without parsing.

    Empty, over :data:`MAX_MATH_ANSWER_CHARS`, or an exponent tower / huge
    exponent (one C-level integer operation that no in-process limit stops).
    """
    text, gold = _unwrap(answer), _unwrap(reference)
    if not text or not gold or len(text) > MAX_MATH_ANSWER_CHARS or _COSTLY.search(text):
        return None
    return gold, text


def equivalent(reference: str, answer: str) -> bool:
    """math-verify's verdict on two prepared sides, with no time limit (the caller sets one); may raise."""
    from math_verify import parse, verify  # noqa: PLC0415  # slow import

    # Its signal timeouts are off on purpose (call_with_deadline or a worker's kill replaces them);
    # without this it logs that fact on every call.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    # The library's docs: wrap the gold answer in \boxed{} (or $...$) so the LaTeX
    # extractor, not the plain-expression one, reads it. gold first, order matters.
    gold = parse(f"\\boxed{{{reference}}}", parsing_timeout=None)
    guess = parse(f"\\boxed{{{answer}}}", parsing_timeout=None)
    if not gold or not guess:
        return False
    return bool(verify(gold, guess, timeout_seconds=None))


def score_math(reference: str, answer: str, *, timeout_s: float = 5.0, wall_s: float | None = None) -> bool:
    r"""True when ``answer`` is mathematically equivalent to the MATH reference.

    Both sides are read as LaTeX by math-verify (``\frac12`` = ``0.5`` =
    ``1/2``; sets, intervals, tuples, matrices, equations, ``\text{}`` units,
    ``^\circ``, ``\%``). Thread-safe; for any answer text it returns a verdict
    or, out of time, raises :class:`~tasks.ScoringTimeout`.

    Args:
        reference: the dataset's answer, e.g. ``\frac{\sqrt{3}}{2}``.
        answer: the extracted answer (see :func:`extract_answer`); on both sides
            surrounding ``$...$``, ``\(...\)`` and a final full stop are ignored.
        timeout_s: CPU-time limit (this thread's) for parsing and comparing.
        wall_s: wall-clock backstop (default: 20 times ``timeout_s``, at least 60 s).

    Returns:
        Whether the answer is correct.

    Raises:
        ScoringTimeout: the comparison ran out of time: no verdict.

    Example:
        >>> score_math(r"\frac{\sqrt{3}}{2}", r"$\frac{1}{2}\sqrt3$")
        True
    """
    prepared = prepare_math(reference, answer)
    if prepared is None:
        return False
    gold, text = prepared
    wall = backstop_s(timeout_s) if wall_s is None else wall_s
    try:
        return call_with_deadline(lambda: equivalent(gold, text), timeout_s, wall_s=wall)
    except DeadlineExceeded as exc:
        raise ScoringTimeout(timeout_s if exc.clock == "cpu" else wall, exc.clock) from None
    except Exception:  # noqa: BLE001  # a parser bug on hostile text is a wrong answer, not a crash
        return False
