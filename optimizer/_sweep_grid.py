"""A sweep's grid: axes of training runs, expanded into cells with deterministic names and branches.

Axes (each a list; every combination is one cell, one ``fnforge train`` run):

- ``tasks``: task sets, each with a short name (``linear=jsonl:tasks/linear.jsonl``, or
  derived from the spec: ``jsonl:tasks/linear.jsonl`` -> ``linear``, ``math:algebra`` -> ``algebra``);
- ``seeds``: the train/test split's and the batches' seed;
- ``agents``, ``models``, ``optimizer_models``: empty means the toolset's default;
- ``options``: training options that vary, ``{"batch": ("2", "4")}`` -> ``--batch 2`` / ``--batch 4``;
- ``train_args``: the training options every cell shares (``--train 4 --test 4 --epochs 1``).

A cell's name is its task set's name plus, for each other axis with more than
one value, that value (``linear-s1``, ``area-s0-react``, ``linear-batch-4``): the
same grid always gives the same names. A grid with one cell per task set trains
the paper's per-domain branches ``domain/<task>``; any other grid trains
``sweep/<sweep>/<cell>``. A sweep's default name is a digest of its grid.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any  # Any: JSON values (the grid's dict form)

from fnforge.optimizer._exceptions import OptimizerError
from fnforge.tasks import TaskSpec

__all__ = ["Cell", "SweepError", "SweepGrid", "TaskAxis", "slug"]

_UNSAFE = re.compile(r"[^a-z0-9._]+")
# Set by the sweep itself; a grid option or shared argument naming one of them is refused.
_RESERVED = {"task", "seed", "agent", "model", "optimizer-model", "resume", "run", "json", "dry-run", "max-cost"}


class SweepError(OptimizerError):
    """Raised for a sweep that cannot be planned or continued: a bad grid, a name clash, an unknown sweep."""

    exit_code = 2


def slug(text: str) -> str:
    """``text`` as one safe branch-name component (lower case, ``[a-z0-9._-]``).

    Example:
        >>> slug("gpt-4o-mini/2024"), slug("Number Theory")
        ('gpt-4o-mini-2024', 'number-theory')
    """
    cleaned = _UNSAFE.sub("-", text.lower()).strip("-.")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)
    return cleaned.removesuffix(".lock") or "x"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskAxis:
    """One task set of the grid: its short name and its spec (as ``fnforge train --task`` takes it)."""

    name: str
    spec: str

    @classmethod
    def parse(cls, text: str) -> TaskAxis:
        """``name=spec`` or a bare spec (the name derived from it).

        Raises:
            TaskSpecError: the spec names no task set.

        Example:
            >>> TaskAxis.parse("jsonl:tasks/linear.jsonl").name, TaskAxis.parse("alg=math:algebra@level5").name
            ('linear', 'alg')
        """
        name, sep, spec = text.partition("=")
        if not sep or ":" in name:
            name, spec = "", text
        parsed = TaskSpec.parse(spec.strip())
        if not name:
            if parsed.path is not None:
                name = PurePath(parsed.path).stem
            else:
                name = "-".join(p for p in (parsed.subject or parsed.kind, f"level{parsed.level}"
                                            if parsed.level else "") if p)
        return cls(name=slug(name), spec=spec.strip())


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One training run of a sweep: its axis values, its name and its branch.

    ``agent``, ``model`` and ``optimizer_model`` are None for the toolset's default;
    ``options`` are the varying training options as ``(option, value)`` pairs.
    """

    name: str
    branch: str
    task: TaskAxis
    seed: int
    agent: str | None = None
    model: str | None = None
    optimizer_model: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    def train_args(self, shared: Sequence[str] = ()) -> tuple[str, ...]:
        """The ``fnforge train`` arguments of this cell: ``shared`` first, then the cell's own values.

        Example:
            >>> cell = Cell(name="a-s1", branch="sweep/x/a-s1", task=TaskAxis(name="a", spec="gsm8k"), seed=1)
            >>> cell.train_args(["--train", "4"])
            ('--train', '4', '--task', 'gsm8k', '--seed', '1')
        """
        args = [*shared, "--task", self.task.spec, "--seed", str(self.seed)]
        for flag, value in (("--agent", self.agent), ("--model", self.model),
                            ("--optimizer-model", self.optimizer_model)):
            if value is not None:
                args += [flag, value]
        for option, value in self.options:
            args += [f"--{option}", value]
        return tuple(args)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepGrid:
    """The axes of a sweep (see the module docstring).

    Raises:
        SweepError: no task set, a repeated value or name, or an option the sweep sets itself.

    Example:
        >>> grid = SweepGrid(tasks=(TaskAxis.parse("jsonl:a.jsonl"), TaskAxis.parse("jsonl:b.jsonl")), seeds=(0, 1))
        >>> [c.branch for c in grid.cells("demo")][:2]
        ['sweep/demo/a-s0', 'sweep/demo/a-s1']
    """

    tasks: tuple[TaskAxis, ...]
    seeds: tuple[int, ...] = (0,)
    agents: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    optimizer_models: tuple[str, ...] = ()
    options: tuple[tuple[str, tuple[str, ...]], ...] = ()
    train_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.tasks:
            raise SweepError("a sweep needs at least one task set (--tasks)")
        if not self.seeds:
            raise SweepError("a sweep needs at least one seed")
        axes: tuple[tuple[str, Sequence[str | int]], ...] = (
            ("task set name", [t.name for t in self.tasks]), ("seed", self.seeds), ("agent", self.agents),
            ("model", self.models), ("optimizer model", self.optimizer_models),
            ("grid option", [k for k, _ in self.options]))
        for what, values in axes:
            repeated = sorted({str(v) for v in values if values.count(v) > 1})
            if repeated:
                raise SweepError(f"repeated {what} in the sweep grid: {', '.join(repeated)}")
        for option, values in self.options:
            if option in _RESERVED or not values:
                raise SweepError(f"--grid {option}: {'an axis of its own' if values else 'needs values'}")
        flags = {a[2:].split("=", 1)[0] for a in self.train_args if a.startswith("--")}
        clash = sorted(flags & (_RESERVED | {k for k, _ in self.options}))
        if clash:
            raise SweepError(f"--{clash[0]} is set per cell by the sweep; give it as an axis, not a shared option")

    @property
    def one_cell_per_task(self) -> bool:
        """True when only the task set varies: the cells train ``domain/<task>`` branches."""
        return all(len(axis) <= 1 for axis in (self.seeds, self.agents, self.models, self.optimizer_models)) \
            and all(len(values) == 1 for _, values in self.options)

    def cells(self, sweep: str) -> tuple[Cell, ...]:
        """Every combination of the axes, task sets outermost, named deterministically.

        Raises:
            SweepError: two cells would get the same name.
        """
        agents = self.agents or (None,)
        models = self.models or (None,)
        optimizers = self.optimizer_models or (None,)
        runs = itertools.product(self.tasks, self.seeds, agents, models, optimizers)
        option_choices = itertools.product(*([(k, v) for v in values] for k, values in self.options))
        cells = []
        # the same order as one product of all axes: the fixed axes outermost, then the options
        for (task, seed, agent, model, opt), options in itertools.product(runs, option_choices):
            parts = [task.name]
            parts += [f"s{seed}"] if len(self.seeds) > 1 else []
            parts += [slug(agent)] if agent is not None and len(agents) > 1 else []
            parts += [slug(model)] if model is not None and len(models) > 1 else []
            parts += [f"opt-{slug(opt)}"] if opt is not None and len(optimizers) > 1 else []
            parts += [f"{slug(k)}-{slug(v)}" for k, v in options if len(dict(self.options)[k]) > 1]
            name = "-".join(parts)
            branch = f"domain/{name}" if self.one_cell_per_task else f"sweep/{sweep}/{name}"
            cells.append(Cell(name=name, branch=branch, task=task, seed=seed, agent=agent, model=model,
                              optimizer_model=opt, options=options))
        names = [c.name for c in cells]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise SweepError(f"two cells of the grid would both be named {clash[0]!r}; name the task sets "
                             "apart with name=spec")
        return tuple(cells)

    def default_name(self) -> str:
        """A name derived from the grid: the same grid always gets the same name.

        Example:
            >>> len(SweepGrid(tasks=(TaskAxis.parse("gsm8k"),)).default_name())
            8
        """
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"tasks": [{"name": t.name, "spec": t.spec} for t in self.tasks], "seeds": list(self.seeds),
                "agents": list(self.agents), "models": list(self.models),
                "optimizer_models": list(self.optimizer_models),
                "options": {k: list(v) for k, v in self.options}, "train_args": list(self.train_args)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepGrid:
        """Read :meth:`to_dict` output.

        Raises:
            SweepError: a field is missing or has the wrong shape.
        """
        try:
            return cls(tasks=tuple(TaskAxis(name=str(t["name"]), spec=str(t["spec"])) for t in data["tasks"]),
                       seeds=tuple(int(s) for s in data["seeds"]), agents=tuple(map(str, data["agents"])),
                       models=tuple(map(str, data["models"])),
                       optimizer_models=tuple(map(str, data["optimizer_models"])),
                       options=tuple((str(k), tuple(map(str, v))) for k, v in dict(data["options"]).items()),
                       train_args=tuple(map(str, data["train_args"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise SweepError(f"the sweep's grid is invalid: {exc}") from exc
