"""A sweep's results: one row per cell (state, best version, scores, spend), as a table or CSV.

The best version and its training score come from git (the registry's one
rule for best, on the cell's branch); the test score, steps, tokens and cost
from the run summary the cell's last attempt printed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any  # Any: JSON values (run summaries and their dict forms)

from fnforge.registry import RegistryError
from fnforge.optimizer._sweep_state import SweepRecord

if TYPE_CHECKING:
    from fnforge.registry import Repository

__all__ = ["SweepRow", "format_sweep_table", "sweep_csv", "sweep_rows"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRow:
    """One cell's result.

    ``best_commit`` and ``train`` are None until its branch has a scored version here;
    ``test``, ``steps``, ``tokens`` and ``cost`` come from its last run summary.
    """

    cell: str
    branch: str
    status: str
    attempts: int
    task: str
    seed: int
    agent: str
    model: str
    optimizer_model: str
    options: str
    best_commit: str | None
    train: float | None
    test: float | None
    steps: int | None
    tokens: int
    cost: float
    wall_s: float
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def sweep_rows(repo: Repository, record: SweepRecord) -> tuple[SweepRow, ...]:
    """One :class:`SweepRow` per cell, in grid order."""
    rows = []
    for cell in record.grid.cells(record.name):
        state = record.cell(cell.name)
        summary = state.summary or {}
        test = summary.get("test") or {}
        try:
            best = repo.best(cell.branch)
        except RegistryError:  # the branch is not here (e.g. its pull failed)
            best = None
        rows.append(SweepRow(
            cell=cell.name, branch=cell.branch, status=state.status.value, attempts=state.attempts,
            task=cell.task.spec, seed=cell.seed, agent=cell.agent or "", model=cell.model or "",
            optimizer_model=cell.optimizer_model or "", options=" ".join(f"{k}={v}" for k, v in cell.options),
            best_commit=best.sha if best is not None else None, train=best.score if best is not None else None,
            test=test.get("accuracy"), steps=summary.get("steps"), tokens=int(summary.get("tokens", 0)),
            cost=float(summary.get("cost", 0.0)), wall_s=state.wall_s, error=state.error))
    return tuple(rows)


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_sweep_table(rows: Sequence[SweepRow]) -> str:
    """The rows as aligned text: cell, branch, state, attempts, best, train, test, steps, cost, wall.

    Example:
        >>> print(format_sweep_table([]))
        cell  branch  state  tries  best  train  test  steps  cost  wall
    """
    header = ("cell", "branch", "state", "tries", "best", "train", "test", "steps", "cost", "wall")
    table = [header] + [(r.cell, r.branch, r.status, str(r.attempts), r.best_commit[:7] if r.best_commit else "-",
                         _score(r.train), _score(r.test), "-" if r.steps is None else str(r.steps),
                         f"${r.cost:.4f}", f"{r.wall_s:.1f} s") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    right = {3, 5, 6, 7, 8, 9}
    return "\n".join("  ".join(cell.rjust(w) if i in right and row is not header else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in table)


def sweep_csv(record: SweepRecord, rows: Sequence[SweepRow]) -> str:
    """The rows as CSV, one line per cell, with the sweep's name first.

    Example (needs a sweep's record, so shown, not run)::

        sweep_csv(record, rows).splitlines()[0]  # 'sweep,cell,branch,status,attempts,task,seed,...'
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = [f.name for f in fields(SweepRow)]
    writer.writerow(["sweep", *names])
    for row in rows:
        values = ["" if v is None else f"{v:.4f}" if isinstance(v, float) else v for v in (getattr(row, n) for n in names)]
        writer.writerow([record.name, *values])
    return out.getvalue()
