"""Sweeps: a grid of training runs, each on its own branch, run by an engine, continued after any failure.

:func:`plan_sweep` turns a :class:`~optimizer.SweepGrid` into a recorded
sweep: one branch per cell (made from the base commit where missing, and
pushed to the origin when the origin is not this toolset). :func:`run_sweep`
then keeps up to ``engine.slots`` cells in flight:

- a cell's attempt is ``fnforge train`` on its branch in the worker's clone
  (:mod:`optimizer._sweep_worker`); an attempt that fails for a transient
  reason (killed, provider outage, lost worker, lost push race) is retried up
  to ``retries`` times, and each retry resumes the run from its own commits;
- with a budget (``max_cost``), each cell gets a share when it first starts:
  what is left of the budget (the spend of finished cells, the shares of the
  others) divided by the cells still waiting for one. A cell stops cleanly
  after the step that reaches its share (``fnforge train --max-cost``), so
  the sweep spends at most its budget plus one step per cell; a cell that
  would get nothing is skipped;
- the record (:mod:`optimizer._sweep_state`) is saved after every change, so
  ``fnforge sweep --resume`` continues a sweep that was interrupted, or
  retries its failed and skipped cells (done cells are kept).

When the origin is another repository, each finished cell's branch is pulled
into this toolset, so ``fnforge best``, ``transfer`` and ``report`` see it.
"""

from __future__ import annotations

import os
import shutil
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fnforge.functions import FnforgeError
from fnforge.optimizer._sweep_grid import SweepError, SweepGrid, slug
from fnforge.optimizer._sweep_state import CellState, CellStatus, SweepRecord, save_sweep, sweep_dir
from fnforge.optimizer._sweep_worker import CellJob, CellOutcome

if TYPE_CHECKING:
    from fnforge.optimizer._sweep_engines import Engine
    from fnforge.registry import Repository

__all__ = ["SweepEvent", "budget_share", "local_workdir", "plan_sweep", "run_sweep"]

_PERMANENT_EXITS = frozenset({2, 3, 4, 6})  # usage, registry, sandbox, task data: the same attempt fails again


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepEvent:
    """Something happened to a cell.

    ``kind``: ``start`` (an attempt was handed to the engine), ``running`` (its
    process started; local engine, with ``pid``), ``done``, ``retry`` (it failed
    and will be resumed), ``failed`` (out of attempts, or a permanent error),
    ``skipped`` (no budget left), ``interrupted``. ``state`` is the cell's state after it.
    """

    kind: str
    cell: str
    attempt: int
    detail: str = ""
    pid: int | None = None
    state: CellState | None = None


SweepSink = Callable[[SweepEvent], None]


def plan_sweep(repo: Repository, grid: SweepGrid, *, name: str | None = None, base: str = "HEAD",
               origin: str | None = None, env: Sequence[str] = (), max_cost: float | None = None,
               retries: int = 2) -> SweepRecord:
    """Record a new sweep and make its cells' branches (at the origin too).

    Args:
        repo: the toolset (the driver's).
        grid: the axes.
        name: the sweep's name (default: a digest of the grid).
        base: where new cell branches start.
        origin: the repository workers clone from and push to; None: this toolset.
        env: names of environment variables to forward to every cell.
        max_cost: the sweep's total budget in US dollars.
        retries: attempts after the first for a cell that fails for a transient reason.

    Raises:
        SweepError: the sweep exists already, its name is not a safe branch component, or a cell's
            branch is checked out in this toolset while the workers push to it.
        RegistryError: the base is unknown or the push to the origin failed.
    """
    name = name or grid.default_name()
    if slug(name) != name:
        raise SweepError(f"sweep name {name!r} is not a plain branch-name part; try {slug(name)!r}")
    if (sweep_dir(repo, name) / "sweep.json").is_file():
        raise SweepError(f"sweep {name!r} exists; continue it with --resume, or give another --name")
    cells = grid.cells(name)
    base_sha = repo.resolve(base)
    shutil.rmtree(sweep_dir(repo, name), ignore_errors=True)  # clones left by a sweep whose record was deleted
    at_home = origin is None or _same_path(origin, repo.path)
    if at_home and repo.head_branch in {c.branch for c in cells}:
        raise SweepError(f"branch {repo.head_branch!r} is checked out here and a cell pushes to it; "
                         "switch to another branch first")
    existing = set(repo.branches())
    for cell in cells:
        if cell.branch not in existing:
            repo.create_branch(cell.branch, base_sha)
    if not at_home:
        assert origin is not None
        repo.push(origin, [c.branch for c in cells])
    record = SweepRecord(name=name, created=datetime.now().astimezone().isoformat(), grid=grid, base=base_sha,
                         origin=str(repo.path) if at_home else str(origin), origin_is_toolset=at_home,
                         env=tuple(env), max_cost=max_cost, retries=retries,
                         cells=tuple(CellState(name=c.name, branch=c.branch) for c in cells))
    save_sweep(repo, record)
    return record


def local_workdir(repo: Repository, record: SweepRecord) -> Path:
    """Where the local engine keeps the cells' clones: ``<git-dir>/fnforge/sweeps/<name>/cells/``."""
    return sweep_dir(repo, record.name) / "cells"


def budget_share(max_cost: float, cells: Sequence[CellState]) -> float:
    """The next cell's share of the budget: what is not spent or promised, over the cells still waiting.

    Finished cells count what they spent, the others the share they were given;
    cells without a share (the next one included) split the rest evenly.

    Example:
        >>> cells = [CellState(name="a", branch="a", status=CellStatus.DONE, allotment=0.5, summary={"cost": 0.1}),
        ...          CellState(name="b", branch="b"), CellState(name="c", branch="c")]
        >>> budget_share(1.0, cells)
        0.45
    """
    promised = sum(c.cost if c.status is CellStatus.DONE else (c.allotment or 0.0) for c in cells)
    waiting = sum(1 for c in cells if c.allotment is None and c.status is not CellStatus.DONE)
    return (max_cost - promised) / max(waiting, 1)


def run_sweep(repo: Repository, record: SweepRecord, engine: Engine, *, workdir: str | Path,
              env: Mapping[str, str] | None = None, on_event: SweepSink | None = None) -> SweepRecord:
    """Run every cell that is not done, retrying and resuming as needed; returns the final record.

    Args:
        repo: the toolset (where the record lives).
        record: the sweep (from :func:`plan_sweep` or :func:`~optimizer.load_sweep`).
        engine: where cells run.
        workdir: the folder for the cells' clones on the workers (one subfolder per cell).
        env: values of the forwarded variables (``record.env``) for the cells; never stored.
        on_event: receives a :class:`SweepEvent` per change.

    Raises:
        KeyboardInterrupt: after cancelling the attempts in flight (their cells stay pending).
    """
    runner = _Runner(repo, record, engine, workdir=str(workdir), env=dict(env or {}), on_event=on_event)
    return runner.run()


class _Runner:
    """The driver's loop (private to one :func:`run_sweep`)."""

    def __init__(self, repo: Repository, record: SweepRecord, engine: Engine, *, workdir: str,
                 env: dict[str, str], on_event: SweepSink | None) -> None:
        self.repo, self.engine, self.workdir, self.env, self.on_event = repo, engine, workdir, env, on_event
        cells = [replace(c, status=CellStatus.PENDING) if c.status is not CellStatus.DONE else c for c in record.cells]
        self.record = replace(record, cells=tuple(cells))
        self.todo = deque(c.name for c in cells if c.status is not CellStatus.DONE)
        self.first = {c.name: c.attempts for c in cells}  # attempts made before this run of the sweep
        self.in_flight: set[str] = set()
        self.cells = {c.name: c for c in record.grid.cells(record.name)}

    def run(self) -> SweepRecord:
        self._save()
        try:
            while self.todo or self.in_flight:
                while self.todo and len(self.in_flight) < self.engine.slots:
                    self._start(self.todo.popleft())
                if self.in_flight:
                    self._settle(self.engine.next_outcome())
        except BaseException:
            self._interrupt()
            raise
        return self.record

    def _start(self, name: str) -> None:
        state = self.record.cell(name)
        allotment = state.allotment
        if self.record.max_cost is not None and allotment is None:
            allotment = budget_share(self.record.max_cost, self.record.cells)
            if allotment <= 0:
                self._update(replace(state, status=CellStatus.SKIPPED, error="the sweep's budget is spent"),
                             "skipped", state.attempts, "the sweep's budget is spent")
                return
        attempt = state.attempts + 1
        cell = self.cells[name]
        job = CellJob(cell=name, branch=cell.branch, origin=self.record.origin,
                      workdir=os.path.join(self.workdir, name), train_args=cell.train_args(self.record.grid.train_args),
                      attempt=attempt, max_cost=allotment, env=self.env, answers=self.record.origin_is_toolset)
        self.engine.submit(job)
        self.in_flight.add(name)
        self._update(replace(state, status=CellStatus.RUNNING, attempts=attempt, allotment=allotment),
                     "start", attempt, f"share ${allotment:.4f}" if allotment is not None else "")

    def _settle(self, outcome: CellOutcome) -> None:
        self.in_flight.discard(outcome.cell)
        state = self.record.cell(outcome.cell)
        state = replace(state, wall_s=state.wall_s + outcome.wall_s, log=outcome.log, node=outcome.node or state.node,
                        summary=outcome.summary or state.summary, error=outcome.error)
        if outcome.ok:
            error = self._pull(state.branch)
            self._update(replace(state, status=CellStatus.DONE, error=error), "done", outcome.attempt,
                         _done_detail(outcome))
        elif _retryable(outcome) and outcome.attempt - self.first[outcome.cell] <= self.record.retries:
            self.todo.appendleft(outcome.cell)
            self._update(replace(state, status=CellStatus.PENDING), "retry", outcome.attempt, outcome.error or "")
        else:
            self._update(replace(state, status=CellStatus.FAILED), "failed", outcome.attempt, outcome.error or "")

    def _interrupt(self) -> None:
        self.engine.cancel()
        while self.in_flight:
            outcome = self.engine.next_outcome()
            self.in_flight.discard(outcome.cell)
            state = self.record.cell(outcome.cell)
            self._update(replace(state, status=CellStatus.PENDING, error="interrupted", log=outcome.log,
                                 wall_s=state.wall_s + outcome.wall_s), "interrupted", outcome.attempt)

    def _pull(self, branch: str) -> str | None:
        """Bring a finished cell's branch from an origin elsewhere; the error, if any (the cell is done there)."""
        if self.record.origin_is_toolset:
            return None
        try:
            self.repo.pull(self.record.origin, [branch])
        except FnforgeError as exc:
            return f"done at the origin, but pulling it here failed: {exc}"
        return None

    def _update(self, state: CellState, kind: str, attempt: int, detail: str = "") -> None:
        self.record = self.record.with_cell(state)
        self._save()
        if self.on_event is not None:
            self.on_event(SweepEvent(kind=kind, cell=state.name, attempt=attempt, detail=detail, state=state))

    def _save(self) -> None:
        save_sweep(self.repo, self.record)


def _retryable(outcome: CellOutcome) -> bool:
    code = outcome.returncode
    return code is None or code <= 0 or code not in _PERMANENT_EXITS


def _done_detail(outcome: CellOutcome) -> str:
    summary = outcome.summary or {}
    test = summary.get("test") or {}
    parts = [f"best {summary.get('best_score', 0.0):.4f}"]
    if test:
        parts.append(f"test {test.get('accuracy', 0.0):.4f}")
    parts += [f"stop {summary.get('stop', '-')}", f"${summary.get('cost', 0.0):.4f}", f"{outcome.wall_s:.1f} s"]
    if outcome.resumed:
        parts.append("resumed")
    return "  ".join(parts)


def _same_path(origin: str, path: Path) -> bool:
    try:
        return Path(origin).expanduser().resolve() == path.resolve()
    except (OSError, ValueError):
        return False
