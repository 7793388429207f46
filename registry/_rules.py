"""The rules a commit's trailers and a note's evidence must follow: one place, read by ``verify`` and by ``best``.

A commit whose trailers break a rule of severity ``error`` is not a valid
measurement: :mod:`registry._best` never picks it, and :func:`registry.verify`
reports it. Each flaw carries one line of advice for the person reading it.

``Functions-Tree`` is written by the registry next to every ``Score``: the id of
the ``functions/`` tree that was scored. A rebase or ``--amend`` that changes
the functions keeps the message, so the trailer then names another tree and the
score no longer describes the commit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any  # Any: unchecked JSON from a toolset

from fnforge.registry._objects import STATUSES

__all__ = [
    "FUNCTIONS_TREE",
    "Finding",
    "Flaw",
    "SPLITS",
    "evidence_flaws",
    "evidence_is_valid",
    "is_valid",
    "trailer_flaws",
    "unit_float",
]

FUNCTIONS_TREE = "Functions-Tree"
"""The trailer naming the ``functions/`` tree a ``Score`` was measured on."""

SPLITS = ("train", "test")
"""Values the ``Split`` trailer may take (absent means ``train``)."""


@dataclass(frozen=True, slots=True)
class Flaw:
    """One broken rule: ``error`` (the value is ignored) or ``warning``, what is wrong, and what to do."""

    severity: str
    message: str
    advice: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing verification found.

    Args:
        severity: ``error`` (the toolset is refused) or ``warning``.
        kind: ``function``, ``file``, ``trailer``, ``note``, ``pointer`` or ``path``.
        message: one line, e.g. ``function 'leak' (tip of main): line 1: import of 'os' is not allowed``.
        advice: one line saying what to do about it.
        name: the function's name (``function`` findings).
        commit: the (first) commit concerned.
    """

    severity: str
    kind: str
    message: str
    advice: str = ""
    name: str | None = None
    commit: str | None = None

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


def unit_float(text: Any) -> float | None:
    """``text`` as a finite number in [0, 1], else None."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def _get(trailers: Mapping[str, str], key: str) -> str | None:
    folded = key.casefold()
    return next((v for k, v in trailers.items() if k.casefold() == folded), None)


def trailer_flaws(
    trailers: Mapping[str, str], functions_tree: str, *, restored_tree: str | None = None,
    changes_functions: bool = True,
) -> Iterator[Flaw]:
    """The rules a commit's trailers break.

    Args:
        trailers: the commit's trailers.
        functions_tree: the id of the ``functions/`` tree the commit holds.
        restored_tree: for a roll-back, the ``functions/`` tree of the commit its
            ``Restores`` names, when known.
        changes_functions: the commit changes ``functions/`` (a commit that only adds,
            say, a task file needs no Status).
    """
    status = _get(trailers, "Status")
    if status is None:
        if changes_functions or _get(trailers, "Score") is not None:
            yield Flaw("warning", "no Status trailer (not written by fnforge)",
                       "commit hand edits with `fnforge commit` to record them as Status: manual")
    elif status not in STATUSES:
        yield Flaw("error", f"Status {status!r} is not one of {', '.join(STATUSES)}",
                   "fnforge ignores this commit's trailers; fix the message with `git commit --amend` if it is the tip")
    score = _get(trailers, "Score")
    if score is not None and unit_float(score) is None:
        yield Flaw("error", f"Score {score!r} is not a number in [0, 1]",
                   "this Score never counts for best; record measured scores with `fnforge eval` or `fnforge train`")
    split = _get(trailers, "Split")
    if split is not None and split not in SPLITS:
        yield Flaw("error", f"Split {split!r} is not one of {', '.join(SPLITS)}",
                   "this Score never counts for best; use Split: train or Split: test")
    epoch = _get(trailers, "Epoch")
    if epoch is not None and not epoch.isdigit():
        yield Flaw("error", f"Epoch {epoch!r} is not a non-negative integer",
                   "fnforge ignores this commit's trailers; epochs count accepted training steps from 0")
    scored = _get(trailers, FUNCTIONS_TREE)
    if score is not None and scored is not None and scored != functions_tree:
        yield Flaw("error", f"its Score was measured on functions tree {scored[:12]}, but it holds "
                   f"{functions_tree[:12]} (rebased or amended after it was scored)",
                   "this Score never counts for best; `fnforge train` or `fnforge eval` scores the set again")
    if status == "rollback" and restored_tree is not None and restored_tree != functions_tree:
        restores = _get(trailers, "Restores") or ""
        yield Flaw("error", f"a roll-back whose functions differ from the commit it restores ({restores[:7]})",
                   "this Score never counts for best; roll back again with `fnforge rollback --to REV`")


def is_valid(trailers: Mapping[str, str], functions_tree: str, *, restored_tree: str | None = None) -> bool:
    """True when no rule of severity ``error`` is broken (the commit's scores may count for best)."""
    return not any(f.severity == "error" for f in trailer_flaws(trailers, functions_tree,
                                                                 restored_tree=restored_tree))


def evidence_flaws(note: Mapping[str, Any], trailers: Mapping[str, str]) -> Iterator[Flaw]:
    """The rules the evaluation summaries of a note break (keys without ``accuracy`` are free-form)."""
    for key, value in note.items():
        if not isinstance(value, dict) or "accuracy" not in value:
            continue
        accuracy = unit_float(value.get("accuracy"))
        if accuracy is None:
            yield Flaw("error", f"{key}.accuracy {value.get('accuracy')!r} is not a number in [0, 1]",
                       "this evaluation never counts for best; evaluate again with `fnforge eval`")
            continue
        n, correct = value.get("n"), value.get("correct")
        if n is not None or correct is not None:
            if not (isinstance(n, int) and isinstance(correct, int) and 0 <= correct <= n):
                yield Flaw("error", f"{key}: correct={correct!r} and n={n!r} are not counts with correct <= n",
                           "this evaluation never counts for best; evaluate again with `fnforge eval`")
                continue
        score = unit_float(_get(trailers, "Score"))
        if key == (_get(trailers, "Split") or "train") and score is not None and abs(score - accuracy) > 5e-5:
            yield Flaw("warning", f"{key}.accuracy {accuracy:.4f} disagrees with the commit's Score {score:.4f}",
                       "the trailer counts for best; re-evaluate to find out which is right")


def evidence_is_valid(entry: Mapping[str, Any]) -> bool:
    """True when one evaluation summary (a note's ``test`` entry, say) breaks no error rule."""
    return not any(f.severity == "error" for f in evidence_flaws({"entry": dict(entry)}, {}))
