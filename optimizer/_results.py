"""The records of an evaluation: one task's scored run (:class:`TaskResult`) and the whole :class:`Report`.

Both have a JSON form with ``schema_version``: a task result with its
trajectory is what the evaluation cache stores; a report without trajectories
is what ``git notes`` keep.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any  # Any: JSON values (dict forms of records, request and reply bodies)

from fnforge.agents import Trajectory, TrajectoryError

__all__ = ["REASONS", "SCHEMA_VERSION", "Report", "TaskResult", "wilson_interval"]

SCHEMA_VERSION = 1
"""Version of the JSON forms of :class:`TaskResult` and :class:`Report`."""

REASONS = ("context", "unscored", "rejected", "outage")
"""Why a task is incorrect without a judged answer (see :mod:`optimizer._evaluation`)."""

_Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskResult:
    """One task's scored run.

    Args:
        task_id, task_hash: the task (``Task.id``, ``Task.hash``).
        correct: the extracted answer matched the reference.
        answer: the extracted answer (``""`` when the run gave none).
        trajectory: the whole run.
        tokens, cost: total tokens and US dollars of the run's LLM calls.
        wall_s: wall time of the run and its scoring (as measured when it ran).
        cached: read from the evaluation cache rather than run now.
        successful_calls: learned function name -> tool calls that returned without error.
        error: what ended the run or its scoring (provider message, scoring timeout), or ``None``.
        reason: why it is incorrect without a judged answer (one of :data:`REASONS`), or ``None``.
    """

    task_id: str
    task_hash: str
    correct: bool
    answer: str
    trajectory: Trajectory
    tokens: int
    cost: float
    wall_s: float
    cached: bool = False
    successful_calls: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None

    def to_dict(self, *, trajectory: bool = True) -> dict[str, Any]:
        """JSON-safe form; ``trajectory=False`` leaves the trajectory out (git notes)."""
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "task_id": self.task_id,
            "task_hash": self.task_hash,
            "correct": self.correct,
            "answer": self.answer,
            "tokens": self.tokens,
            "cost": self.cost,
            "wall_s": self.wall_s,
            "successful_calls": dict(sorted(self.successful_calls.items())),
            "error": self.error,
            "reason": self.reason,
        }
        if trajectory:
            data["trajectory"] = self.trajectory.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, cached: bool = False) -> TaskResult:
        """Read :meth:`to_dict` output (with its trajectory) back.

        Raises:
            ValueError: another ``schema_version``, or a missing or invalid field.
        """
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"task result schema_version {data.get('schema_version')!r} is not supported")
        try:
            return cls(
                task_id=str(data["task_id"]), task_hash=str(data["task_hash"]), correct=bool(data["correct"]),
                answer=str(data["answer"]), trajectory=Trajectory.from_dict(data["trajectory"]),
                tokens=int(data["tokens"]), cost=float(data["cost"]), wall_s=float(data["wall_s"]),
                cached=cached, successful_calls={str(k): int(v) for k, v in data["successful_calls"].items()},
                error=data.get("error"), reason=data.get("reason"),
            )
        except (KeyError, TypeError, AttributeError, TrajectoryError) as exc:
            raise ValueError(f"task result is invalid: {type(exc).__name__}: {exc}") from exc


def wilson_interval(correct: int, n: int, *, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval for ``correct`` successes in ``n`` trials (95% by default).

    ``n == 0`` gives ``(0.0, 1.0)``: nothing is known.

    Raises:
        ValueError: ``n < 0`` or ``correct`` outside ``0..n``.

    Example:
        >>> tuple(round(x, 3) for x in wilson_interval(8, 10))
        (0.49, 0.943)
    """
    if n < 0 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n, got correct={correct}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """The evaluation of one function set on a list of tasks.

    Args:
        results: one per task, in the order the tasks were given.
        accuracy: ``correct / n`` (0.0 when ``n == 0``).
        n, correct: tasks and correct tasks.
        tokens, cost: totals over the results (cached ones count their original cost).
        wall_s: wall time of this evaluation.
        ci95: 95% Wilson interval of the accuracy.
        function_calls: learned function name -> successful calls over all tasks.
        errors: tasks ended by a provider outage (the trainer stops on these).
        cached: results read from the cache.
        reasons: how many tasks are incorrect for each :data:`REASONS` entry (only those that occur).

    Example:
        >>> report = Report.from_results(results, wall_s=1.5)
        >>> f"{report.accuracy:.1%} [{report.ci95[0]:.1%}, {report.ci95[1]:.1%}]"
        '66.7% [20.8%, 93.9%]'
    """

    results: tuple[TaskResult, ...]
    accuracy: float
    n: int
    correct: int
    tokens: int
    cost: float
    wall_s: float
    ci95: tuple[float, float]
    function_calls: dict[str, int]
    errors: int = 0
    cached: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_results(cls, results: Iterable[TaskResult], *, wall_s: float) -> Report:
        """Build a report with every total computed from ``results``."""
        items = tuple(results)
        n, correct = len(items), sum(1 for r in items if r.correct)
        calls: Counter[str] = Counter()
        for r in items:
            calls.update(r.successful_calls)
        return cls(
            results=items, accuracy=correct / n if n else 0.0, n=n, correct=correct,
            tokens=sum(r.tokens for r in items), cost=sum(r.cost for r in items), wall_s=wall_s,
            ci95=wilson_interval(correct, n), function_calls=dict(sorted(calls.items())),
            errors=sum(1 for r in items if r.reason == "outage"), cached=sum(1 for r in items if r.cached),
            reasons=dict(sorted(Counter(r.reason for r in items if r.reason is not None).items())),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary plus per-task results, without trajectories."""
        return {
            "schema_version": SCHEMA_VERSION,
            "accuracy": self.accuracy,
            "n": self.n,
            "correct": self.correct,
            "ci95": list(self.ci95),
            "tokens": self.tokens,
            "cost": self.cost,
            "wall_s": self.wall_s,
            "errors": self.errors,
            "reasons": dict(self.reasons),
            "cached": self.cached,
            "function_calls": dict(self.function_calls),
            "results": [r.to_dict(trajectory=False) for r in self.results],
        }

    def notes_dict(self, key: str, **context: Any) -> dict[str, Any]:
        """The git-notes form: ``{key: {**context, **summary, "results": [...]}}``.

        ``key`` names the evaluation (e.g. the split, ``"test"``); per-task
        results are a list, so a later evaluation under the same key replaces
        them when :meth:`registry.Repository.add_note` merges. ``context`` adds
        JSON-safe facts such as the task set, model or run id. ``cached`` is left
        out: it describes this run, not the function set.

        Example:
            >>> repo.add_note("HEAD", report.notes_dict("test", tasks="math:algebra"))["test"]["accuracy"]
            0.6666666666666666
        """
        body = self.to_dict()
        del body["cached"]
        return {key: {**context, **body}}
