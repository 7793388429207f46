"""What the driver remembers of a sweep: ``<git-dir>/fnforge/sweeps/<name>/sweep.json``.

The driver is the only writer (each change is an atomic replace), so
``fnforge sweep status`` can read it at any time and ``fnforge sweep
--resume`` continues from it. It holds the grid, where the cells' branches
start (``base``) and meet (``origin``), the names (never the values) of the
environment variables forwarded to the workers, the budget, and per cell its
state, attempts, budget share and the summary its last ``fnforge train --json``
printed. What the cells learned is not here but in git: their branches,
commits, notes and best pointers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any  # Any: JSON values (dict forms of records, run summaries)

from fnforge.functions import write_atomic
from fnforge.optimizer._sweep_grid import SweepError, SweepGrid

if TYPE_CHECKING:
    from fnforge.registry import Repository

__all__ = ["CellState", "CellStatus", "SweepRecord", "list_sweeps", "load_sweep", "save_sweep", "sweep_dir"]

SCHEMA_VERSION = 1


class CellStatus(str, Enum):
    """Where a cell is: ``pending`` (not started, or interrupted), ``running``, ``done`` (its run finished
    and its branch is pushed), ``failed`` (out of attempts), ``skipped`` (the sweep's budget was spent)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True, kw_only=True)
class CellState:
    """One cell as the driver last saw it.

    Attributes:
        name, branch: the cell and the branch it trains.
        status: see :class:`CellStatus`.
        attempts: attempts started so far (over every ``--resume`` of the sweep).
        allotment: its share of the sweep's budget in US dollars (None: no budget), fixed when it first starts.
        summary: the run summary of its last finished attempt (``fnforge train --json``).
        error: why its last attempt failed.
        log: where the worker kept its last attempt's output (a path on the worker's machine).
        node: the machine its last attempt ran on.
        wall_s: seconds its attempts took, in all.
    """

    name: str
    branch: str
    status: CellStatus = CellStatus.PENDING
    attempts: int = 0
    allotment: float | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None
    log: str | None = None
    node: str | None = None
    wall_s: float = 0.0

    @property
    def cost(self) -> float:
        """US dollars its run spent, as far as known (0 before a summary)."""
        return float(self.summary.get("cost", 0.0)) if self.summary else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**data, "status": self.status.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellState:
        """Read :meth:`to_dict` output."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        return cls(**{**values, "status": CellStatus(values.get("status", "pending"))})


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRecord:
    """A sweep: its grid, where its branches meet, its budget and its cells' states.

    Attributes:
        name: the sweep's name (``sweep/<name>/<cell>`` branches; its folder).
        created: ISO time it was planned.
        grid: the axes.
        base: the commit new cell branches start from.
        origin: the repository workers clone from and push to (a URL or a path).
        origin_is_toolset: the origin is this toolset itself (nothing to pull at the end).
        env: names of the driver's environment variables forwarded to each cell.
        max_cost: the sweep's total LLM budget in US dollars (None: none).
        retries: attempts after a cell's first that fails for a transient reason.
        cells: per cell, in grid order.
    """

    name: str
    created: str
    grid: SweepGrid
    base: str
    origin: str
    origin_is_toolset: bool
    env: tuple[str, ...] = ()
    max_cost: float | None = None
    retries: int = 2
    cells: tuple[CellState, ...] = field(default=())

    def cell(self, name: str) -> CellState:
        """The state of cell ``name``.

        Raises:
            KeyError: no such cell.
        """
        for cell in self.cells:
            if cell.name == name:
                return cell
        raise KeyError(name)

    def with_cell(self, state: CellState) -> SweepRecord:
        """A copy with ``state`` replacing the cell of the same name."""
        return replace(self, cells=tuple(state if c.name == state.name else c for c in self.cells))

    def counts(self) -> dict[CellStatus, int]:
        """How many cells are in each state."""
        return {s: sum(1 for c in self.cells if c.status is s) for s in CellStatus}

    @property
    def cost(self) -> float:
        """US dollars the cells' runs spent, as far as known."""
        return sum(c.cost for c in self.cells)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form with ``schema_version``."""
        return {"schema_version": SCHEMA_VERSION, "name": self.name, "created": self.created,
                "grid": self.grid.to_dict(), "base": self.base, "origin": self.origin,
                "origin_is_toolset": self.origin_is_toolset, "env": list(self.env), "max_cost": self.max_cost,
                "retries": self.retries, "cells": [c.to_dict() for c in self.cells]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepRecord:
        """Read :meth:`to_dict` output.

        Raises:
            SweepError: another schema version or a missing field.
        """
        if data.get("schema_version") != SCHEMA_VERSION:
            raise SweepError(f"sweep record schema_version {data.get('schema_version')!r} is not supported")
        try:
            return cls(name=str(data["name"]), created=str(data["created"]), grid=SweepGrid.from_dict(data["grid"]),
                       base=str(data["base"]), origin=str(data["origin"]),
                       origin_is_toolset=bool(data["origin_is_toolset"]), env=tuple(data.get("env", ())),
                       max_cost=data.get("max_cost"), retries=int(data.get("retries", 2)),
                       cells=tuple(CellState.from_dict(c) for c in data["cells"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SweepError(f"the sweep record is invalid: {exc}") from exc


def sweep_dir(repo: Repository, name: str) -> Path:
    """``<git-dir>/fnforge/sweeps/<name>/`` (not created)."""
    return repo.state_dir / "sweeps" / name


def save_sweep(repo: Repository, record: SweepRecord) -> Path:
    """Write ``sweep.json`` atomically; returns its path."""
    folder = sweep_dir(repo, record.name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sweep.json"
    write_atomic(path, json.dumps(record.to_dict(), indent=1, sort_keys=True) + "\n")
    return path


def load_sweep(repo: Repository, name: str | None = None) -> SweepRecord:
    """The sweep ``name``, or the most recently planned one.

    Raises:
        SweepError: no such sweep (or none at all), or its record is unreadable.
    """
    if name is None:
        names = list_sweeps(repo)
        if not names:
            raise SweepError("this toolset has no sweep; start one with `fnforge sweep --tasks ...`")
        name = names[0]
    path = sweep_dir(repo, name) / "sweep.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(list_sweeps(repo)) or "none"
        raise SweepError(f"no sweep named {name!r} in this toolset (sweeps: {known})") from None
    except (OSError, ValueError) as exc:
        raise SweepError(f"cannot read {path}: {exc}") from exc
    return SweepRecord.from_dict(data)


def list_sweeps(repo: Repository) -> list[str]:
    """The toolset's sweeps, most recently planned first."""
    root = repo.state_dir / "sweeps"
    found = []
    for path in root.glob("*/sweep.json"):
        try:
            created = str(json.loads(path.read_text(encoding="utf-8")).get("created", ""))
        except (OSError, ValueError):
            continue
        found.append((created, path.parent.name))
    return [name for _, name in sorted(found, reverse=True)]
