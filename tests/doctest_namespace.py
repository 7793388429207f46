"""What the docstring examples may use without building it: a function set, a toolset with history, paths."""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import Any

from fnforge import registry
from fnforge.functions import Function, FunctionSet
from fnforge.tasks import Task
from tests.optimizer.policies import make_report

DOUBLE = Function(name="double", description="Twice x.",
                  parameters={"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
                  code="def double(x):\n    return 2 * x\n")
SOLVE = Function(name="solve", description="The root of a*x + b = 0.",
                 parameters={"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                             "required": ["a", "b"]},
                 code="def solve(a, b):\n    return -b / a\n")

TASKS = tuple(Task(id=f"t{i}", question=f"What is {i} + {i}?", answer=str(2 * i), domain="arithmetic")
              for i in range(1, 4))


def example_namespace(example: doctest.DocTest, tmp: Path) -> dict[str, Any]:  # Any: the examples' names
    """Names for one example: ``fs`` (a set with ``double``), ``f`` (``double``), ``tmp`` (an empty folder),
    ``Path``, ``registry``, ``Function``, ``FunctionSet``, ``report`` (an evaluation of three tasks: solved,
    failed, solved), its ``results``, ``traj`` (the first one's trajectory), ``task``, ``train`` and ``test``
    (two and one tasks), and, when the example names it, ``repo``: a toolset whose ``main`` has an
    initial commit, an accepted ``add solve`` (score 0.65, epoch 1) and a rejected ``add double``."""
    report = make_report([True, False, True])
    names: dict[str, Any] = {"fs": FunctionSet((DOUBLE,)), "f": DOUBLE, "tmp": tmp, "Path": Path,
                             "registry": registry, "Function": Function, "FunctionSet": FunctionSet,
                             "report": report, "results": report.results, "traj": report.results[0].trajectory,
                             "task": TASKS[0], "train": TASKS[:2], "test": TASKS[2:]}
    source = "".join(e.source for e in example.examples)
    if "repo" in source:  # examples that open "demo" find the toolset there
        names["repo"] = _toolset(tmp / ("demo" if 'open("demo")' in source else "toolset"))
    return names


def _toolset(path: Path) -> registry.Repository:
    repo = registry.init(path, files={"fnforge.toml": b"[fnforge]\n"})
    repo.commit(FunctionSet(), subject="epoch 0: initial evaluation",
                trailers={"Score": 0.25, "Status": "initial", "Epoch": 0, "Split": "train"})
    repo.commit(FunctionSet((SOLVE,)), subject="epoch 1: add solve",
                trailers={"Score": 0.65, "Status": "accepted", "Epoch": 1, "Split": "train"})
    repo.commit(FunctionSet((SOLVE, DOUBLE)), subject="epoch 1: add double",
                trailers={"Score": 0.5, "Status": "rejected", "Epoch": 1, "Split": "train"})
    return repo
