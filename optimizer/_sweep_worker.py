"""One attempt of one sweep cell, on whatever machine runs it: clone, train, push.

Git is the transport. The worker gets a :class:`CellJob` (plain data: where
the toolset's origin is, which branch, which ``fnforge train`` arguments) and
nothing of the driver's state. In its own folder it clones the origin (or
reuses the clone of an earlier attempt), checks out the cell's branch and runs
``fnforge train`` in a child process with this machine's Python: the child
owns its sandbox workers, scoring pool and caches, and a kill of the child
(or of the worker) loses at most the step in flight. When a run of this
branch is already in the clone, the attempt is ``fnforge train --resume``:
the commits are the checkpoint and the clone's caches make the replay free.
Afterwards, whatever the child's fate, the branch, its best pointer and the
notes are pushed to the origin with :meth:`registry.Repository.push`; a push
that loses a race (another cell pushed notes in between, so the notes update
is no longer a fast-forward and git refuses it) fetches, merges and retries.

The worker returns a :class:`CellOutcome` (plain data again): the run summary
the child printed, or why it failed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any  # Any: JSON values (dict forms of jobs, outcomes and run summaries)

from fnforge import registry
from fnforge.functions import FnforgeError
from fnforge.optimizer._run_state import TrainingError, find_run

__all__ = ["CellJob", "CellOutcome", "TRAIN_ENTRY", "push_branch", "run_cell", "run_cell_data"]

TRAIN_ENTRY = "from fnforge.cli import main; main()"
"""What the child Python runs: the ``fnforge`` command line (``python -c TRAIN_ENTRY -C DIR train ...``)."""

_TAIL_LINES = 12


@dataclass(frozen=True, slots=True, kw_only=True)
class CellJob:
    """One attempt of one cell, as plain data that any machine can run.

    Attributes:
        cell, branch: the cell and the branch it trains.
        origin: the repository to clone from and push to (a URL or a path the worker can reach).
        workdir: this cell's folder on the worker (its clone, caches and logs live there).
        train_args: ``fnforge train`` arguments (task, seed, sizes...).
        attempt: 1 for the first attempt.
        max_cost: the cell's share of the sweep's budget (``--max-cost``), or None.
        env: values of the forwarded environment variables (kept out of :meth:`to_dict`'s ``repr``).
        answers: push the model's answers in the notes too (when the origin is the user's own toolset).
        push_retries: pushes retried after a lost race before the attempt fails.
    """

    cell: str
    branch: str
    origin: str
    workdir: str
    train_args: tuple[str, ...]
    attempt: int = 1
    max_cost: float | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    answers: bool = False
    push_retries: int = 8

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (what a Ray task receives)."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "train_args": list(self.train_args),
                "env": dict(self.env)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellJob:
        """Read :meth:`to_dict` output."""
        return cls(**{**data, "train_args": tuple(data["train_args"]), "env": dict(data.get("env", {}))})


@dataclass(frozen=True, slots=True, kw_only=True)
class CellOutcome:
    """What one attempt did.

    Attributes:
        cell, attempt: which attempt.
        returncode: the child's exit code (negative: killed by that signal); None when it never ran.
        summary: the run summary it printed (``fnforge train --json``) when it finished.
        error: why it failed (the child's last lines, a failed push, a lost worker).
        pushed: the branch reached the origin after the attempt.
        resumed: the attempt continued an earlier run (``--resume``).
        wall_s: seconds the attempt took on the worker.
        node: the worker's host name.
        log: the child's output file on the worker.
    """

    cell: str
    attempt: int
    returncode: int | None
    summary: dict[str, Any] | None = None
    error: str | None = None
    pushed: bool = False
    resumed: bool = False
    wall_s: float = 0.0
    node: str = ""
    log: str | None = None

    @property
    def ok(self) -> bool:
        """The run finished and its branch is at the origin."""
        return self.returncode == 0 and self.summary is not None and self.pushed

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (what a Ray task returns)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellOutcome:
        """Read :meth:`to_dict` output."""
        return cls(**data)


def run_cell(job: CellJob, *, on_start: Callable[[int], None] | None = None) -> CellOutcome:
    """Run one attempt of a cell: clone (or reuse), ``fnforge train`` in a child process, push.

    Args:
        job: the attempt.
        on_start: called with the child's process id once it runs.

    Returns:
        The outcome; an attempt that fails is an outcome, never an exception.
    """
    started = time.monotonic()
    work = Path(job.workdir)
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"attempt-{job.attempt}.log"
    # what every outcome of this attempt says, however it ends
    attempt_outcome = partial(CellOutcome, cell=job.cell, attempt=job.attempt, node=socket.gethostname(),
                              log=str(log))
    try:
        resumed = _prepare(job, work / "toolset")
    except FnforgeError as exc:
        return attempt_outcome(returncode=None, error=f"preparing the clone failed: {exc}",
                           wall_s=time.monotonic() - started)
    returncode, stdout = _train(job, work / "toolset", log, resumed=resumed, on_start=on_start)
    summary = _summary(stdout) if returncode == 0 else None
    error = None if summary is not None else _failure(returncode, log)
    try:
        with registry.open(work / "toolset") as repo:
            push_branch(repo, job.branch, answers=job.answers, retries=job.push_retries)
        pushed = True
    except FnforgeError as exc:
        pushed, error = False, f"{error + '; ' if error else ''}push failed: {exc}"
    outcome = attempt_outcome(returncode=returncode, summary=summary, error=error, pushed=pushed,
                              resumed=resumed, wall_s=time.monotonic() - started)
    if outcome.ok:  # everything it learned is at the origin; its caches are of no further use
        shutil.rmtree(work / "toolset", ignore_errors=True)
    return outcome


def run_cell_data(job: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`run_cell` from and to plain dicts: the function a Ray task runs."""
    return run_cell(CellJob.from_dict(job)).to_dict()


def push_branch(repo: registry.Repository, branch: str, *, answers: bool = False, retries: int = 8,
                remote: str = "origin") -> registry.SyncReport:
    """Push ``branch``, its best pointer and the notes; retry when a concurrent push won the race.

    Each try fetches the remote's notes and merges them first (what
    :meth:`registry.Repository.push` does), so a retry after a rejected notes
    update is a fast-forward again unless yet another push came in between.

    Raises:
        RemoteError: still refused after ``retries`` retries (e.g. the branch diverged at the remote).
    """
    for attempt in range(retries + 1):
        try:
            return repo.push(remote, [branch], answers=answers)
        except registry.RemoteError:
            if attempt == retries:
                raise
            time.sleep(random.uniform(0.05, 0.25) * min(2 ** attempt, 16))  # jitter: racers spread out
    raise AssertionError("unreachable")


def _prepare(job: CellJob, clone: Path) -> bool:
    """Clone the origin (or reuse an earlier attempt's clone) on the cell's branch; True to resume a run there."""
    repo = _reuse(clone)
    fresh = repo is None
    if repo is None:
        shutil.rmtree(clone, ignore_errors=True)
        repo = registry.clone(job.origin, clone)
    with repo:
        repo.switch(job.branch)
        if not fresh:
            # The origin moved on (an attempt elsewhere pushed more): this clone's run is stale, start anew.
            change = repo.pull("origin", [job.branch]).branches[0].change
            fresh = change == "fast-forward"
        if not fresh and _has_run(repo, job.branch):
            return True
        tip = repo.version(job.branch)
        if tip.status == "rejected":  # a trial pushed before its roll-back: train from the best, not from it
            repo.rollback(branch=job.branch)
    return False


def _reuse(clone: Path) -> registry.Repository | None:
    if not (clone / ".git").is_dir():
        return None
    try:
        return registry.open(clone)
    except FnforgeError:
        return None  # a clone cut short by a kill: made again


def _has_run(repo: registry.Repository, branch: str) -> bool:
    try:
        find_run(repo, branch)
    except TrainingError:
        return False
    return True


def _train(job: CellJob, clone: Path, log: Path, *, resumed: bool,
           on_start: Callable[[int], None] | None) -> tuple[int, str]:
    args = [*job.train_args, "--json", *(["--resume"] if resumed else [])]
    if job.max_cost is not None:
        args += ["--max-cost", repr(job.max_cost)]
    argv = [sys.executable, "-c", TRAIN_ENTRY, "-C", str(clone), "train", *args]
    # The child gets this worker's own environment plus the forwarded values (the LLM endpoint and key).
    env = {**os.environ, **job.env}
    with open(log, "wb") as err:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=env)
        try:
            if on_start is not None:
                on_start(child.pid)
            stdout, _ = child.communicate()
        finally:  # a cancelled attempt (KeyboardInterrupt in a Ray task) takes its child down
            if child.poll() is None:
                child.kill()
                child.wait()
    return child.returncode, stdout.decode(errors="replace") if child.returncode == 0 else ""


def _summary(stdout: str) -> dict[str, Any] | None:
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "best_score" in data else None


def _failure(returncode: int, log: Path) -> str:
    if returncode < 0:
        return f"killed by signal {-returncode}"
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    errors = [line for line in lines if line.startswith("Error:")]
    tail = errors[-1] if errors else " | ".join(lines[-_TAIL_LINES:][-3:])
    return f"exit {returncode}: {tail}" if tail else f"exit {returncode}"
