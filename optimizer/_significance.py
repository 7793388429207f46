"""The acceptance rules on paired outcomes: ``strict``, ``ties`` and ``significant`` (an exact sign test).

A trial and the best are evaluated on the same **units**: (task, rollout)
pairs. Each unit has a 0/1 outcome under each set, so the two evaluations are
paired. The rules compare them:

- ``strict``: the trial has more correct units (the paper);
- ``ties``: at least as many (the authors' code);
- ``significant``: more correct units **and** the one-sided exact sign test on
  the discordant units (the exact McNemar test) gives ``p < alpha``.

Why the exact sign test (docs/paper.md says it for users): the outcomes are
paired and binary, and only the units where the two sets disagree carry
evidence; with 20 tasks their number is small, where McNemar's chi-square
approximation is poor and a paired bootstrap is both random (a seed decides)
and too liberal. The exact test needs no assumption beyond "under no
difference, each disagreement is a fair coin". It is also **monotone** (one
more unit the trial gets right never raises p), which gives early rejection
its exact bound (:mod:`optimizer._early_reject`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import comb
from typing import Hashable, Literal, TypeVar

__all__ = ["ACCEPT_RULES", "Decision", "TaskFlips", "Unit", "decide", "sign_test_p", "task_flips"]

ACCEPT_RULES = ("strict", "ties", "significant")
AcceptRule = Literal["strict", "ties", "significant"]
Unit = TypeVar("Unit", bound=Hashable)
"""One paired unit: ``(task_id, rollout)`` in the trainer (any hashable: a decision only needs both sides on
the same units)."""


def sign_test_p(wins: int, losses: int) -> float:
    """One-sided exact sign test: P(X >= wins) for X ~ Binomial(wins + losses, 1/2); 1.0 with no disagreement.

    Example:
        >>> sign_test_p(1, 0), sign_test_p(5, 0)
        (0.5, 0.03125)
    """
    if wins < 0 or losses < 0:
        raise ValueError("wins and losses are counts")
    n = wins + losses
    if n == 0:
        return 1.0
    return sum(comb(n, k) for k in range(wins, n + 1)) / (1 << n)  # 1 << n == 2**n, which mypy types Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """A trial against the best: accepted or not, the paired counts, and the sign test's p-value.

    ``wins``: units the trial gets right and the best wrong; ``losses``: the reverse.
    """

    accepted: bool
    correct: int
    best_correct: int
    wins: int
    losses: int
    p_value: float


def decide(trial: Mapping[Unit, bool], best: Mapping[Unit, bool], rule: AcceptRule,
           alpha: float = 0.05) -> Decision:
    """Accept ``trial`` over ``best`` (outcomes per unit, on the same units) under ``rule``.

    Raises:
        ValueError: an unknown rule, or the two cover different units.

    Example:
        >>> best = {i: i < 10 for i in range(20)}
        >>> decide({**best, 10: True}, best, "strict").accepted, decide({**best, 10: True}, best, "significant").accepted
        (True, False)
    """
    if rule not in ACCEPT_RULES:
        raise ValueError(f"accept rule must be one of {', '.join(ACCEPT_RULES)}, not {rule!r}")
    if trial.keys() != best.keys():
        raise ValueError("a paired decision needs the trial and the best on the same units")
    wins = sum(1 for u, ok in trial.items() if ok and not best[u])
    losses = sum(1 for u, ok in trial.items() if not ok and best[u])
    correct, best_correct = sum(trial.values()), sum(best.values())
    p_value = sign_test_p(wins, losses)
    if rule == "strict":
        accepted = correct > best_correct
    elif rule == "ties":
        accepted = correct >= best_correct
    else:
        accepted = correct > best_correct and p_value < alpha
    return Decision(accepted=accepted, correct=correct, best_correct=best_correct, wins=wins, losses=losses,
                    p_value=p_value)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFlips:
    """The units whose outcome differs between two evaluations, and the paired test of ``new`` over ``old``.

    Units are ``task_id`` (``task_id#r`` for rollout ``r > 0``); ``gained``: wrong in ``old``, right in
    ``new``; ``lost``: the reverse; ``p_value``: the one-sided exact sign test that ``new`` is better.
    """

    paired: int
    gained: tuple[str, ...]
    lost: tuple[str, ...]
    p_value: float


def task_flips(old: Sequence[Mapping[str, object]], new: Sequence[Mapping[str, object]]) -> TaskFlips:
    """Pair two notes' per-task results (``task_id``, ``correct``) and list the flips.

    A task listed k times is k rollouts (the trainer lists rollout 0's tasks first, then rollout 1's...),
    so the i-th listing of a task in one is paired with its i-th listing in the other.

    Example:
        >>> task_flips([{"task_id": "a", "correct": False}], [{"task_id": "a", "correct": True}]).gained
        ('a',)
    """
    before, after = _by_unit(old), _by_unit(new)
    units = [u for u in after if u in before]
    gained = tuple(u for u in units if after[u] and not before[u])
    lost = tuple(u for u in units if before[u] and not after[u])
    return TaskFlips(paired=len(units), gained=gained, lost=lost, p_value=sign_test_p(len(gained), len(lost)))


def _by_unit(results: Sequence[Mapping[str, object]]) -> dict[str, bool]:
    seen: dict[str, int] = {}
    units: dict[str, bool] = {}
    for result in results:
        task = str(result.get("task_id"))
        rollout = seen.get(task, 0)
        seen[task] = rollout + 1
        units[task if rollout == 0 else f"{task}#{rollout}"] = bool(result.get("correct"))
    return units
