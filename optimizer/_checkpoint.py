"""A training run's state rebuilt from ``git log``: :func:`reconstruct` and its :class:`Checkpoint`.

The registry is the checkpoint. Every committed step carries ``Run`` and
``Step`` trailers, so :func:`reconstruct` replays a run's commits (oldest
first) to recover the best set, the failure record (rejected trials since the
last acceptance, with their scores), the accepted-epoch count, the consecutive
non-improving count and the step number; the steps that committed nothing and
the spend come from the run's journal (:mod:`optimizer._run_state`).

A step killed half-way left no commit and is done again on resume (the
evaluation cache makes the re-scoring free). A rejected trial whose roll-back
commit is missing (a kill between the two commits) is reported in
:attr:`Checkpoint.pending_rollback` for the trainer to repair.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any  # Any: journal lines (JSON) and replayed items (commits or journal lines)

from fnforge.functions import FunctionSet
from fnforge.optimizer._live import Spend, StepStatus
from fnforge.optimizer._run_state import RunRecord, StepRecord, TrainingError, read_journal
from fnforge.optimizer._step_records import val_score

if TYPE_CHECKING:
    from fnforge.registry import Repository, Version

__all__ = ["Checkpoint", "reconstruct"]


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
    journal = read_journal(repo, record.run_id)
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
        val = val_score(version)
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
