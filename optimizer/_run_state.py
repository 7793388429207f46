"""A training run's identity and journal: the run record, the step journal, and the run's errors.

The registry is the checkpoint (:mod:`optimizer._checkpoint` rebuilds a run's
state from its commits). Two things are not in commits and live under
``<git-dir>/fnforge/runs/<run>/``:

- ``run.json``: the :class:`RunRecord`, written before the run's first commit:
  the training configuration and the caller's settings (task set, models...),
  so ``--resume`` rebuilds the same run;
- ``steps.jsonl``: one line per finished step (appended, fsynced): steps that
  committed nothing (the optimizer changed nothing) and the run's spend so far.
  Lines of committed steps are informational; the log wins.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any  # Any: JSON values (dict forms of records, request and reply bodies)

from fnforge.functions import write_atomic
from fnforge.optimizer._exceptions import OptimizerError
from fnforge.optimizer._live import Spend, StepStatus
from fnforge.optimizer._train_config import TrainConfig

if TYPE_CHECKING:
    from fnforge.optimizer._evaluation import Report
    from fnforge.registry import Repository

__all__ = [
    "ProviderOutage",
    "RunRecord",
    "StepRecord",
    "TrainingError",
    "UnknownRun",
    "append_step",
    "check_measured",
    "find_run",
    "new_run_id",
    "read_journal",
    "run_dir",
    "save_record",
    "unchanged_steps",
]

SCHEMA_VERSION = 1


class TrainingError(OptimizerError):
    """Raised when a run cannot start, resume or continue: the branch is locked by another trainer, moved on
    since the run or was reset past its commits, the run is unknown, its tasks differ, or an evaluation hit
    a provider outage (:class:`ProviderOutage`)."""


class ProviderOutage(TrainingError):
    """Raised when tasks of an evaluation failed at the provider (it stayed unavailable after every retry).

    Such a score was not measured, so nothing records it (no commit, note or cell).
    Exit code 5, as the LLM provider errors of ``agents``.
    """

    exit_code = 5


class UnknownRun(TrainingError):
    """Raised when a run id (``--run``) names no run of the branch: a bad argument, exit code 2."""

    exit_code = 2


def check_measured(report: Report, consequence: str) -> None:
    """Raise :class:`ProviderOutage` when any task of ``report`` failed at the provider.

    Args:
        report: an evaluation.
        consequence: what the caller did not do, e.g. ``"nothing was committed for this step"``.

    Raises:
        ProviderOutage: ``report.errors`` is not zero.
    """
    if report.errors:
        first = next(r.error for r in report.results if r.reason == "outage")
        raise ProviderOutage(f"{report.errors} of {report.n} tasks failed at the provider ({first}); {consequence}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """What identifies a run and lets ``--resume`` rebuild it (``runs/<run>/run.json``).

    Attributes:
        run_id: ``YYYYMMDD-HHMMSS-xxxx``; the ``Run`` trailer of its commits.
        branch: the branch it trains.
        created: ISO time it started.
        config: the training configuration.
        train_hash, test_hash: content hashes of the training and test task lists.
        settings: the caller's own JSON-safe settings (the CLI keeps task set,
            sizes, models and agent here to rebuild the same run).
    """

    run_id: str
    branch: str
    created: str
    config: TrainConfig
    train_hash: str
    test_hash: str
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form with ``schema_version``."""
        return {"schema_version": SCHEMA_VERSION, "run_id": self.run_id, "branch": self.branch,
                "created": self.created, "config": self.config.to_dict(), "train_hash": self.train_hash,
                "test_hash": self.test_hash, "settings": dict(self.settings)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """Read :meth:`to_dict` output.

        Raises:
            ValueError: another schema version or a missing field.
        """
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"run record schema_version {data.get('schema_version')!r} is not supported")
        try:
            return cls(run_id=str(data["run_id"]), branch=str(data["branch"]), created=str(data["created"]),
                       config=TrainConfig.from_dict(data["config"]), train_hash=str(data["train_hash"]),
                       test_hash=str(data["test_hash"]), settings=dict(data.get("settings") or {}))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"run record is invalid: {exc}") from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecord:
    """One finished step, as the summary and the learning curve show it.

    ``epoch`` is the number of accepted updates after the step (the ``Epoch``
    trailer of its commit); ``optimizer_calls`` the optimizer requests the step
    made, ``optimizer_cached`` how many of them the response cache answered
    (a resumed step replays its own requests); ``val_score`` the validation
    score (initial and accepted steps of a run with validation tasks);
    ``partial`` ``k/n`` when early rejection stopped the trial after k of n units.
    """

    step: int
    epoch: int
    status: StepStatus
    score: float
    best_score: float
    subject: str
    commit: str | None = None
    rollback: str | None = None
    optimizer_calls: int = 0
    optimizer_cached: int = 0
    val_score: float | None = None
    partial: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"step": self.step, "epoch": self.epoch, "status": self.status.value, "score": self.score,
                "best_score": self.best_score, "subject": self.subject, "commit": self.commit,
                "rollback": self.rollback, "optimizer_calls": self.optimizer_calls,
                "optimizer_cached": self.optimizer_cached, "val_score": self.val_score, "partial": self.partial}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        """Read :meth:`to_dict` output."""
        return cls(step=int(data["step"]), epoch=int(data["epoch"]), status=StepStatus(data["status"]),
                   score=float(data["score"]), best_score=float(data["best_score"]), subject=str(data["subject"]),
                   commit=data.get("commit"), rollback=data.get("rollback"),
                   optimizer_calls=int(data.get("optimizer_calls", 0)),
                   optimizer_cached=int(data.get("optimizer_cached", 0)),
                   val_score=_float_or_none(data.get("val_score")), partial=data.get("partial"))


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id, ``20261125-194012-ab12`` (local time + 4 random hex digits)."""
    now = now or datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def run_dir(repo: Repository, run_id: str) -> Path:
    """``<git-dir>/fnforge/runs/<run_id>/`` (created)."""
    path = repo.state_dir / "runs" / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_record(repo: Repository, record: RunRecord) -> Path:
    """Write ``runs/<run>/run.json`` atomically and return its path."""
    path = run_dir(repo, record.run_id) / "run.json"
    write_atomic(path, json.dumps(record.to_dict(), indent=2, sort_keys=True) + "\n")
    return path


def _load_record(path: Path) -> RunRecord | None:
    try:
        return RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def find_run(repo: Repository, branch: str, run_id: str | None = None) -> RunRecord:
    """The record of ``run_id``, or of the latest run on ``branch``.

    Raises:
        UnknownRun: no run ``run_id``.
        TrainingError: no run on the branch to resume.
    """
    runs = repo.state_dir / "runs"
    if run_id is not None:
        record = _load_record(runs / run_id / "run.json")
        if record is None:
            raise UnknownRun(f"no training run {run_id!r} in {runs}")
        return record
    candidates = sorted((p.parent.name for p in runs.glob("*/run.json")), reverse=True)
    for name in candidates:
        record = _load_record(runs / name / "run.json")
        if record is not None and record.branch == branch:
            return record
    raise TrainingError(f"no training run to resume on branch {branch!r}; start one with `fnforge train`")


def append_step(repo: Repository, run_id: str, record: StepRecord, spent: Spend) -> None:
    """Append one finished step (and the run's spend so far) to ``runs/<run>/steps.jsonl``."""
    line = json.dumps({**record.to_dict(), "tokens": spent.tokens, "cost": spent.cost,
                       "prompt_tokens": spent.prompt_tokens, "cached_tokens": spent.cached_tokens}, sort_keys=True)
    with open(run_dir(repo, run_id) / "steps.jsonl", "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def unchanged_steps(repo: Repository, run_id: str) -> tuple[StepRecord, ...]:
    """The steps of a run that committed nothing (the optimizer changed nothing), from this clone's journal.

    Only the toolset that ran the run has them: a clone sees its commits only.
    """
    found = []
    for entry in read_journal(repo, run_id):
        try:
            record = StepRecord.from_dict(entry)
        except (KeyError, TypeError, ValueError):
            continue
        if record.status is StepStatus.UNCHANGED:
            found.append(record)
    return tuple(found)


def read_journal(repo: Repository, run_id: str) -> list[dict[str, Any]]:
    """The lines of ``runs/<run>/steps.jsonl`` that read as JSON (none when the run has no journal here)."""
    path = repo.state_dir / "runs" / run_id / "steps.jsonl"
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line torn by a kill: the step is simply done again
    return entries
