"""Evaluating a set on (task, rollout) units: K rollouts at once, stopped early when the trial is hopeless.

A **unit** is ``(task_id, rollout)``. With ``rollouts=K`` every task runs with
rollout indices ``0..K-1`` (distinct keys in the evaluation cache), K
evaluations side by side that share the concurrency; the report holds every
unit, so its accuracy is the mean over units. With an
:class:`~optimizer._early_reject.EarlyRejector`, each result is shown to it as
it arrives; once the trial is hopeless the evaluations are cancelled (running
agents stop mid-conversation, queued tasks never start; finished results still
reach the cache) and the report holds only the units seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from fnforge.optimizer._early_reject import EarlyRejector
from fnforge.optimizer._evaluation import ProgressCallback, Report, TaskResult
from fnforge.tasks import Task

__all__ = ["Evaluated", "RunRollout", "evaluate_units", "units_of"]

RunRollout = Callable[[int, int, ProgressCallback], Awaitable[Report]]
"""``run(rollout, concurrency, progress)``: one rollout's evaluation of every task."""


def unit_of(result: TaskResult) -> tuple[str, int]:
    """The (task, rollout) unit a result is the outcome of."""
    return result.task_id, result.trajectory.rollout


def units_of(report: Report) -> dict[tuple[str, int], bool]:
    """The report's outcome per (task, rollout) unit."""
    return {unit_of(r): r.correct for r in report.results}


@dataclass(frozen=True, slots=True)
class Evaluated:
    """An evaluation over units: its report, and how many of ``total`` units it saw (``seen < total``: stopped
    early)."""

    report: Report
    seen: int
    total: int

    @property
    def partial(self) -> bool:
        return self.seen < self.total


async def evaluate_units(run: RunRollout, tasks: Sequence[Task], *, rollouts: int, concurrency: int,
                         progress: ProgressCallback, rejector: EarlyRejector[tuple[str, int]] | None = None) -> Evaluated:
    """Evaluate every (task, rollout) unit; stop as soon as ``rejector`` says the trial is hopeless."""
    started = time.perf_counter()
    total = len({t.id for t in tasks}) * rollouts
    seen: list[TaskResult] = []
    job: asyncio.Future[list[Report]] | None = None

    def on_result(_done: int, _total: int, result: TaskResult) -> None:
        seen.append(result)
        progress(len(seen), total, result)
        if result.reason == "outage" or rejector is None or job is None:
            return  # an outage decides nothing: the trainer stops on it (once what was seen is in)
        if rejector.observe(unit_of(result), result.correct):
            job.cancel()  # in-flight agents are cancelled, queued tasks never start

    share = max(1, concurrency // rollouts)
    job = asyncio.gather(*(run(r, share, on_result) for r in range(rollouts)))
    try:
        reports = await job
    except asyncio.CancelledError:
        if rejector is None or not rejector.stopped:
            raise  # cancelled from outside
        order = {task.id: i for i, task in enumerate(tasks)}
        kept = sorted({unit_of(r): r for r in seen}.values(), key=lambda r: (r.trajectory.rollout, order[r.task_id]))
        return Evaluated(Report.from_results(kept, wall_s=time.perf_counter() - started), len(kept), total)
    results = [r for report in reports for r in report.results]
    return Evaluated(Report.from_results(results, wall_s=time.perf_counter() - started), total, total)
