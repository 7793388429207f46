"""Shared pieces of the sweep tests: a toolset with two committed task sets, the 2 x 2 grid, a cell killer.

The toolset keeps ``tasks/linear.jsonl`` and ``tasks/area.jsonl`` (from
:mod:`tests.optimizer.study_support`) in its commits, so a worker's clone can
read them anywhere. The scripted server trains either domain: the optimizer
adds the domain's function and the agent uses it, so every cell ends with best
score 1.0 after one accepted step (``--epochs 1``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fnforge import registry
from fnforge.optimizer import SweepGrid, TaskAxis
from fnforge.tasks import make_splits
from tests.llm_server import Request
from tests.optimizer import study_support
from tests.optimizer.policies import is_optimizer_request

TRAIN_ARGS = ("--train", "4", "--test", "4", "--epochs", "1", "--patience", "2", "--concurrency", "2",
              "--max-turns", "4")
GRID_CELLS = ("linear-s0", "linear-s1", "area-s0", "area-s1")
FUNCTIONS = {"linear": ("solve_linear",), "area": ("rect_area",)}


def make_toolset(path: Path) -> registry.Repository:
    """A toolset at ``path`` whose ``tasks/`` folder (both domains) is committed on ``main``."""
    repo = registry.init(path, files={"fnforge.toml": b'[fnforge]\ntask = "jsonl:tasks/linear.jsonl"\n'})
    study_support.write_data(path / "tasks")
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "add", "tasks"], check=True)
    subprocess.run([*git, "commit", "-qm", "tasks: linear equations and rectangle areas"], check=True)
    return repo


def grid(*, seeds: tuple[int, ...] = (0, 1), train_args: tuple[str, ...] = TRAIN_ARGS) -> SweepGrid:
    """2 task sets x ``seeds``, trained with ``train_args``."""
    tasks = (TaskAxis.parse("jsonl:tasks/linear.jsonl"), TaskAxis.parse("jsonl:tasks/area.jsonl"))
    return SweepGrid(tasks=tasks, seeds=seeds, models=("agent-model",), train_args=train_args)


def only_in_seed(toolset: Path, domain: str, seed: int, other: int) -> str:
    """A training question of ``domain`` that seed ``seed`` draws and seed ``other`` does not."""
    def questions(s: int) -> set[str]:
        split = make_splits(f"jsonl:{toolset / 'tasks' / f'{domain}.jsonl'}", n_train=4, n_test=4, seed=s).train
        return {t.question for t in split.tasks}

    return sorted(questions(seed) - questions(other))[0]


def train_pids(clone: Path) -> list[int]:
    """Process ids of the ``fnforge -C <clone> train`` processes running now (read from /proc)."""
    wanted = ["-C", str(clone), "train"]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # gone meanwhile
        if any(args[i:i + 3] == wanted for i in range(len(args))):
            found.append(int(entry.name))
    return found


class CellKiller:
    """The scripted server's policy, plus a SIGKILL of a cell's ``fnforge train`` process at a chosen request.

    ``arm(cell, trigger, times)`` kills the cell's running attempt (found by its
    clone under ``workdir``) at each of the next ``times`` requests that
    ``trigger`` matches, before the request is answered: the kill lands
    mid-run, whatever the machine's load.
    """

    def __init__(self, workdir: Path, policy: Callable[[Request], Any] = study_support.policy) -> None:
        self.workdir = workdir
        self.policy = policy
        self.killed: list[str] = []
        self._armed: dict[str, tuple[Callable[[Request], bool], int]] = {}
        self._lock = threading.Lock()

    def arm(self, cell: str, trigger: Callable[[Request], bool], times: int = 1) -> None:
        with self._lock:
            self._armed[cell] = (trigger, times)

    def __call__(self, req: Request) -> Any:
        with self._lock:
            for cell, (trigger, times) in list(self._armed.items()):
                if times > 0 and trigger(req):
                    pids = train_pids(self.workdir / cell / "toolset")
                    for pid in pids:
                        os.kill(pid, signal.SIGKILL)
                    if pids:
                        self.killed.append(cell)
                        self._armed[cell] = (trigger, times - 1)
        return self.policy(req)


def first_optimizer_request_with(question: str) -> Callable[[Request], bool]:
    """Matches the optimizer's first request of a step whose prompt shows ``question`` (mid-run: after the
    initial evaluation was committed, before the trial)."""
    return lambda req: is_optimizer_request(req) and req.turn == 0 and any(question in str(m.get("content")) for m in req.messages)


def fsck_errors(path: Path) -> list[str]:
    """``git fsck --full --strict`` problems of the repository at ``path``."""
    result = subprocess.run(["git", "-C", str(path), "fsck", "--full", "--strict"], capture_output=True, text=True)
    lines = (result.stdout + result.stderr).splitlines()
    problems = [line for line in lines if line.startswith(("error", "missing", "broken", "bad"))]
    return problems + ([f"exit {result.returncode}"] if result.returncode else [])


def best_table(repo: registry.Repository, branches: dict[str, str]) -> dict[str, tuple[float | None, str, tuple[str, ...]]]:
    """cell -> (best score, best tree, function names) of each cell's branch, by the registry's rule."""
    table = {}
    for cell, branch in branches.items():
        best = repo.best(branch)
        assert best is not None, cell
        functions = repo.read(best.sha)
        table[cell] = (best.score, functions.tree_hash, functions.names)
    return table


def env_for(base_url: str) -> dict[str, str]:
    """What a cell needs from the driver: the endpoint (and an empty key)."""
    return {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "sk-scripted"}
