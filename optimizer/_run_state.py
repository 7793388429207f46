"""A training run's identity and checkpoint: the run record, the step journal, and the state rebuilt from ``git log``.

The registry is the checkpoint. Every committed step carries ``Run`` and
``Step`` trailers, so :func:`reconstruct` replays a run's commits (oldest
first) to recover the best set, the failure record (rejected trials since the
last acceptance, with their scores), the accepted-epoch count, the consecutive
non-improving count and the step number. Two things are not in commits and
live under ``<git-dir>/fnforge/runs/<run>/``:

- ``run.json``: the :class:`RunRecord`, written before the run's first commit:
  the training configuration and the caller's settings (task set, models...),
  so ``--resume`` rebuilds the same run;
- ``steps.jsonl``: one line per finished step (appended, fsynced): steps that
  committed nothing (the optimizer changed nothing) and the run's spend so far.
  Lines of committed steps are informational; the log wins.

A step killed half-way left no commit and is done again on resume (the
evaluation cache makes the re-scoring free). A rejected trial whose roll-back
commit is missing (a kill between the two commits) is reported in
:attr:`Checkpoint.pending_rollback` for the trainer to repair.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any  # Any: JSON values (dict forms of records, request and reply bodies)

from fnforge.functions import FunctionSet, write_atomic
from fnforge.optimizer._exceptions import OptimizerError
from fnforge.optimizer._live import Spend, StepStatus
from fnforge.optimizer._train_config import TrainConfig

if TYPE_CHECKING:
    from fnforge.optimizer._evaluation import Report
    from fnforge.registry import Repository, Version

__all__ = [
    "Checkpoint",
    "ProviderOutage",
    "RunRecord",
    "StepRecord",
    "TrainingError",
    "UnknownRun",
    "append_step",
    "check_measured",
    "find_run",
    "new_run_id",
    "reconstruct",
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A run's state as rebuilt from its commits and journal.

    ``best`` is None when the initial evaluation was never committed (the run
    starts from the branch tip). ``failures`` pairs each rejected trial's
    version with its set and score, oldest first.
    """

    step: int = 0
    epoch: int = 0
    stale: int = 0
    best: Version | None = None
    best_score: float = 0.0
    initial_score: float | None = None
    failures: tuple[tuple[Version, FunctionSet, float], ...] = ()
    pending_rollback: Version | None = None
    spent: Spend = Spend()
    history: tuple[StepRecord, ...] = ()


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
    for entry in _journal(repo, run_id):
        try:
            record = StepRecord.from_dict(entry)
        except (KeyError, TypeError, ValueError):
            continue
        if record.status is StepStatus.UNCHANGED:
            found.append(record)
    return tuple(found)


def _journal(repo: Repository, run_id: str) -> list[dict[str, Any]]:
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


def _step_of(version: Version) -> int:
    try:
        return int(version.trailer("Step") or "")
    except ValueError:
        raise TrainingError(f"commit {version.short} of run {version.run} has no valid Step trailer") from None


def _refuse_lost_commits(log: list[Version], record: RunRecord, journal: list[dict[str, Any]]) -> None:
    """Raise unless every commit the journal records is still on the branch (it was not reset past them)."""
    on_branch = {v.sha for v in log}
    for entry in journal:
        for sha in (entry.get("commit"), entry.get("rollback")):
            if sha and sha not in on_branch:
                raise TrainingError(
                    f"branch {record.branch!r} no longer contains commit {sha[:7]} of run {record.run_id} "
                    f"(step {entry.get('step')}); was it reset? Nothing was changed; start a new run instead")


def reconstruct(repo: Repository, record: RunRecord) -> Checkpoint:
    """Rebuild a run's state from the branch's log and the run's journal.

    Raises:
        TrainingError: the branch moved on after the run's last commit (someone
            else committed), or no longer contains commits the run made (a reset),
            so the run cannot continue there.
    """
    log = repo.log(record.branch)
    mine = [v for v in log if v.run == record.run_id]
    if mine and log[0].sha != mine[0].sha:
        raise TrainingError(
            f"branch {record.branch!r} moved past run {record.run_id} (tip {log[0].short} is not the run's); "
            "start a new run instead")
    journal = _journal(repo, record.run_id)
    _refuse_lost_commits(log, record, journal)
    events: list[tuple[int, int, Any]] = []
    for order, version in enumerate(reversed(mine)):
        step = 0 if version.status == "initial" else _step_of(version)
        events.append((step, order, version))
    committed = {step for step, _, v in events if v.status in ("initial", "accepted", "rejected")}
    for entry in journal:
        if entry.get("status") == StepStatus.UNCHANGED.value and int(entry["step"]) not in committed:
            events.append((int(entry["step"]), len(events) + 10**6, entry))
    state = _Replay(repo, {int(e["step"]): e for e in journal if "step" in e}, select_val=_selects_val(mine))
    for _, _, item in sorted(events, key=lambda e: (e[0], e[1])):
        state.apply(item)
    last = journal[-1] if journal else {}
    spent = Spend(tokens=int(last.get("tokens", 0)), cost=float(last.get("cost", 0.0)),
                  prompt_tokens=int(last.get("prompt_tokens", 0)), cached_tokens=int(last.get("cached_tokens", 0)))
    return Checkpoint(step=state.step, epoch=state.epoch, stale=state.stale, best=state.best,
                      best_score=state.best_score, initial_score=state.initial_score,
                      failures=tuple(state.failures), pending_rollback=state.pending, spent=spent,
                      history=tuple(state.history))


class _Replay:
    """Applies a run's commits and unchanged steps in step order (Algorithm 2's bookkeeping)."""

    def __init__(self, repo: Repository, journal: Mapping[int, Mapping[str, Any]], *, select_val: bool) -> None:
        self.repo, self.select_val = repo, select_val
        self.selected_val: float | None = None  # select="val": stale counts steps since this last rose
        self.journal = journal  # step -> its journal line (for the optimizer-call counts)
        self.step = self.epoch = self.stale = 0
        self.best: Version | None = None
        self.best_score = 0.0
        self.initial_score: float | None = None
        self.failures: list[tuple[Version, FunctionSet, float]] = []
        self.pending: Version | None = None
        self.history: list[StepRecord] = []

    def apply(self, item: Version | dict[str, Any]) -> None:
        if isinstance(item, dict):
            self.step, self.stale = int(item["step"]), self.stale + 1
            self.history.append(StepRecord.from_dict(item))
            return
        version, score = item, item.score if item.score is not None else 0.0
        if version.status == "rollback":
            if self.pending is not None and self.history:
                self.history[-1] = replace(self.history[-1], rollback=version.sha)
            self.pending = None
            return
        step = 0 if version.status == "initial" else _step_of(version)
        val = _float_or_none(version.trailer("Val-Score"))
        if version.status == "initial":
            self.best, self.best_score, self.initial_score = version, score, score
            self.selected_val = val
            status = StepStatus.INITIAL
        elif version.status == "accepted":
            self.best, self.best_score = version, score
            self.epoch, self.failures = self.epoch + 1, []
            rises = not self.select_val or val is None or self.selected_val is None or val > self.selected_val
            if rises or val == self.selected_val:
                self.selected_val = val
            self.stale = 0 if rises else self.stale + 1
            status = StepStatus.ACCEPTED
        elif version.status == "rejected":
            self.failures.append((version, self.repo.read(version.sha), score))
            self.stale, self.pending = self.stale + 1, version
            status = StepStatus.REJECTED
        else:
            return  # a commit of another kind carrying the run id: nothing to replay
        self.step = step
        line = self.journal.get(step, {})
        self.history.append(StepRecord(step=step, epoch=self.epoch, status=status, score=score,
                                       best_score=self.best_score, subject=version.subject, commit=version.sha,
                                       optimizer_calls=int(line.get("optimizer_calls", 0)),
                                       optimizer_cached=int(line.get("optimizer_cached", 0)), val_score=val,
                                       partial=version.trailer("Partial")))


def _selects_val(versions: list[Version]) -> bool:
    """The run selects its best on validation (its commits say ``Select: val``)."""
    return any(v.trailer("Select") == "val" for v in versions)
