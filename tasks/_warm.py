"""Imported only by :class:`~tasks.ScoringPool`'s forkserver, never by the host.

A few comparisons there build math-verify's parsers and fill sympy's caches
once; every worker forked afterwards starts warm (its first answer costs ~5 ms,
not ~50 ms).
"""

from __future__ import annotations

from fnforge.tasks._math import equivalent

_SAMPLES = (
    (r"\frac{\sqrt{3}}{2}", r"\frac{1}{2}\sqrt3"),
    (r"(-\infty, 4]", "(-inf, 4]"),
    (r"\begin{pmatrix} 3 & 2 \\ 0 & -7 \end{pmatrix}", r"\begin{pmatrix}3&2\\0&-7\end{pmatrix}"),
    (r"\text{(C)}", "(C)"),
    ("x=9", "9"),
    ("1,2,-2,-3", "-3, -2, 1, 2"),
)

for _reference, _answer in _SAMPLES:
    try:
        equivalent(_reference, _answer)
    except Exception:  # noqa: BLE001, S112  # warming only: a failure here must not stop the forkserver
        continue
