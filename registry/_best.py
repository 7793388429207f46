"""The best version of a branch for a task set: the one rule behind every command, the trainer and the pointers.

The rule (the README's "Reading the result" states it for users):

- A **measurement** is a score of a commit on a **task set**: its label (the
  task spec, ``math:algebra``), size and content hash, its split and its
  metric. Train scores come from the ``Score`` / ``Split`` / ``Metric`` /
  ``Tasks`` trailers; scores on other splits also from the commit's note
  (``fnforge eval --split test`` and the trainer's test evaluation write them).
- Only commits whose trailers are valid by the rules ``verify`` applies
  (:mod:`registry._rules`) count, on the branch's first-parent history; a
  ``Status: rejected`` trial never counts (it was rolled back).
- The best for a task set is the measurement with the **highest score on that
  exact task set**. On a tie the later commit wins unless it is a roll-back:
  what the trainer accepted (the latest acceptance under ``--accept ties``, the
  initial evaluation of a new run of the same set) beats the older equal
  score, and a roll-back never displaces the commit it restores.
- **Batch mode** scores each step on its own batch, so those scores compare
  with nothing outside their step. A batch run is judged by its own record:
  its ``accepted`` commits beat the run's best on the same batch, so the run's
  best is its last acceptance (else its initial commit). That is the best of
  the task set while the batch run is the newest evidence; once a full-set
  score of the set is recorded later (any non-batch run starts with one), the
  full-set scores decide again.
- **Selection on validation** (``fnforge train --val N``): a run that selects
  on validation writes ``Select: val`` with ``Val-Score`` and ``Val-Tasks``
  (the validation set) on its initial and accepted commits (its roll-backs copy
  them). While such a commit is the newest evidence on the task set, the best
  is the one with the **highest validation score on that same validation
  set** among the commits carrying one (a tie again goes to the later commit
  unless it is a roll-back); its train ``Score`` still says how it trained.
  So ``best``, ``rollback``, ``export`` and the best pointers all follow the
  run's selected best. Once newer evidence without ``Select: val`` is recorded
  on the task set, the train rule above decides again.
- With no task set named, the branch's **current** one: that of its newest
  commit scored on a named task set (else its newest scored commit); for the
  test split, the same label's newest test measurement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any  # Any: note contents (JSON)

from fnforge.registry._rules import evidence_is_valid, is_valid, unit_float
from fnforge.registry._version import Version

__all__ = ["Measurement", "TaskSet", "best_measurement", "best_of", "measurements", "task_set_of", "task_sets"]

_DESCRIPTION = re.compile(
    r"^(?P<label>.*?) \((?:batch of (?P<k>\d+)/)?(?P<n>\d+) tasks?, sha256:(?P<digest>[0-9a-f]+)"
    r"(?:, of sha256:(?P<full>[0-9a-f]+))?\)$"
)
_DIGEST = re.compile(r"sha256:([0-9a-f]+)")
NoteMap = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSet:
    """What a score was measured on: task spec, size, content hash, split and metric.

    ``label`` is ``""`` for scores that name no task set (hand-written ones);
    ``n`` and ``digest`` (a sha256 prefix) are None when unknown.

    Example:
        >>> TaskSet.parse("math:algebra (20 tasks, sha256:1a2b3c4d5e6f)").describe()
        'math:algebra (20 tasks, sha256:1a2b3c4d5e6f)'
    """

    label: str = ""
    n: int | None = None
    digest: str | None = None
    split: str = "train"
    metric: str = "accuracy"

    @classmethod
    def parse(cls, text: str | None, *, split: str = "train", metric: str = "accuracy") -> TaskSet:
        """The task set a ``Tasks`` trailer names; for a batch, the set the batch was drawn from."""
        text = (text or "").strip()
        match = _DESCRIPTION.match(text)
        if match is None:
            return cls(label=text, split=split, metric=metric)
        digest = match.group("digest") if match.group("k") is None else match.group("full")
        return cls(label=match.group("label"), n=int(match.group("n")), digest=digest, split=split, metric=metric)

    @classmethod
    def query(cls, text: str, *, split: str = "train", metric: str = "accuracy") -> TaskSet:
        """A task set as a user names it: a label (``math:algebra``), a description, or ``sha256:PREFIX``."""
        parsed = cls.parse(text, split=split, metric=metric)
        if parsed.digest is not None:
            return parsed
        digest = _DIGEST.search(text)
        if digest is None:
            return parsed
        label = text[: digest.start()].strip().rstrip("(@").strip()
        return cls(label=label, digest=digest.group(1), split=split, metric=metric)

    def describe(self) -> str:
        """``label (n tasks, sha256:digest)``, or what is known of it."""
        if self.n is None or self.digest is None:
            return self.label or "(no task set named)"
        return f"{self.label} ({self.n} task{'s' * (self.n != 1)}, sha256:{self.digest})"

    def same(self, other: TaskSet) -> bool:
        """True when scores on ``self`` and ``other`` are comparable (the same tasks, split and metric)."""
        if (self.label, self.split, self.metric) != (other.label, other.split, other.metric):
            return False
        if self.digest is not None and other.digest is not None:
            return _same_prefix(self.digest, other.digest)
        return self.n == other.n

    def _matches(self, concrete: TaskSet) -> bool:
        """``self`` as a query (any part may be missing) matches ``concrete``."""
        return (
            (self.split, self.metric) == (concrete.split, concrete.metric)
            and (not self.label or self.label == concrete.label)
            and (self.n is None or self.n == concrete.n)
            and (self.digest is None or _same_prefix(self.digest, concrete.digest))
        )


def _same_prefix(digest: str, other: str | None) -> bool:
    short = min(len(digest), len(other or ""))
    return other is not None and digest[:short] == other[:short]


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One score of one commit on one task set.

    ``batch`` is True for a score on a batch drawn from ``task_set`` (batch
    mode); ``source`` is ``trailers`` or ``note:<key>``. ``val_score`` and
    ``val_tasks``: the commit's validation score and set (``Val-Score``,
    ``Val-Tasks``); ``select_val``: it was written by a run selecting on them.
    """

    version: Version
    task_set: TaskSet
    score: float
    batch: bool = False
    source: str = "trailers"
    val_score: float | None = None
    val_tasks: TaskSet | None = None
    select_val: bool = False


def _trailer_measurement(version: Version, split: str) -> Measurement | None:
    score = unit_float(version.trailer("Score"))
    if score is None or (version.split or "train") != split:
        return None
    text = version.trailer("Tasks")
    batch = bool(text) and " (batch of " in text  # type: ignore[operator]
    metric = version.trailer("Metric") or "accuracy"
    task_set = TaskSet.parse(text, split=split, metric=metric)
    val_score = unit_float(version.trailer("Val-Score"))
    val_text = version.trailer("Val-Tasks")
    val_tasks = TaskSet.parse(val_text, split="val", metric=metric) if val_score is not None and val_text else None
    return Measurement(version=version, task_set=task_set, score=score, batch=batch, val_score=val_score,
                       val_tasks=val_tasks, select_val=val_tasks is not None and version.trailer("Select") == "val")


def _note_measurements(version: Version, note: Mapping[str, Any], split: str) -> list[Measurement]:
    found = []
    for key, entry in note.items():
        if not isinstance(entry, Mapping) or "accuracy" not in entry:
            continue
        if (entry.get("split") or key) != split or not evidence_is_valid(entry):
            continue
        described = entry.get("selection") or entry.get("tasks")
        task_set = TaskSet.parse(described if isinstance(described, str) else None, split=split,
                                 metric=str(entry.get("metric") or "accuracy"))
        found.append(Measurement(version=version, task_set=task_set, score=float(entry["accuracy"]),
                                 source=f"note:{key}"))
    return found


def measurements(versions: Sequence[Version], split: str = "train", notes: NoteMap | None = None) -> list[Measurement]:
    """Every valid measurement on ``split`` in ``versions`` (newest first, as ``log`` gives them), newest first.

    Rejected trials are included (they name the task set a run used); :func:`best_measurement` skips them.
    Notes count for splits other than ``train`` (train scores are the trailers).
    """
    trees = {v.sha: v.tree_hash for v in versions}
    found: list[Measurement] = []
    for version in versions:
        restores = version.trailer("Restores")
        if not is_valid(version.trailers, version.tree_hash, restored_tree=trees.get(restores or "")):
            continue
        measured = _trailer_measurement(version, split)
        if measured is not None:
            found.append(measured)
        if split != "train" and notes is not None and version.sha in notes:
            found += _note_measurements(version, notes[version.sha], split)
    return found


def task_sets(found: Iterable[Measurement]) -> list[TaskSet]:
    """The distinct task sets of ``found`` (newest first)."""
    distinct: list[TaskSet] = []
    for measurement in found:
        if not any(measurement.task_set.same(known) for known in distinct):
            distinct.append(measurement.task_set)
    return distinct


def _current(found: Sequence[Measurement], label: str | None = None) -> TaskSet | None:
    named = [m for m in found if m.task_set.label and (label is None or m.task_set.label == label)]
    if named:
        return named[0].task_set
    return found[0].task_set if found and label is None else None


def _resolve(found: Sequence[Measurement], tasks: TaskSet | str | None, split: str,
             train: Sequence[Measurement]) -> TaskSet | None:
    if tasks is None:
        if split == "train":
            return _current(found)
        current = _current(train)
        return _current(found, current.label) if current is not None and current.label else _current(found)
    if isinstance(tasks, TaskSet):  # a task set itself: the very same tasks
        exact = replace(tasks, split=split)
        return next((m.task_set for m in found if m.task_set.same(exact)), None)
    query = TaskSet.query(tasks, split=split)  # as a user names it: any part may be left out
    return next((m.task_set for m in found if query._matches(m.task_set)), None)


def _pick(found: Sequence[Measurement], task_set: TaskSet) -> Measurement | None:
    """The fold of the module docstring over the candidates, oldest first."""
    newest = next((m for m in found if m.version.status != "rejected" and m.task_set.same(task_set)), None)
    if newest is not None and newest.select_val and newest.val_tasks is not None:
        return _pick_on_validation(found, task_set, newest.val_tasks)
    full: Measurement | None = None
    chain: Measurement | None = None
    for candidate in reversed(found):
        status = candidate.version.status
        if status == "rejected" or not candidate.task_set.same(task_set):
            continue
        if candidate.batch:
            if status != "rollback":
                chain = candidate
            continue
        chain = None  # full-set evidence recorded after the batch run
        if full is None or candidate.score > full.score or (candidate.score == full.score and status != "rollback"):
            full = candidate
    return chain or full


def _pick_on_validation(found: Sequence[Measurement], task_set: TaskSet, val_tasks: TaskSet) -> Measurement | None:
    """The highest validation score on ``val_tasks`` among the task set's commits (ties: the later, not a
    roll-back)."""
    best: Measurement | None = None
    for candidate in reversed(found):
        val = candidate.val_score
        if (candidate.version.status == "rejected" or not candidate.task_set.same(task_set) or val is None
                or candidate.val_tasks is None or not candidate.val_tasks.same(val_tasks)):
            continue
        if best is None or val > best.val_score or (  # type: ignore[operator]
                val == best.val_score and candidate.version.status != "rollback"):
            best = candidate
    return best


def best_measurement(
    versions: Sequence[Version], split: str = "train", *, tasks: TaskSet | str | None = None,
    notes: NoteMap | None = None,
) -> Measurement | None:
    """The best measurement in ``versions`` (newest first) on ``split`` of a task set, by the module's rule.

    Args:
        versions: a branch's first-parent history, newest first (``Repository.log``).
        split: ``train`` or ``test``.
        tasks: the task set (a :class:`TaskSet`, or text as :meth:`TaskSet.query` reads it);
            None means the current one.
        notes: commit sha -> note, for splits other than ``train``.

    Example:
        >>> best_measurement(repo.log(), "train").score
        0.65
    """
    found = measurements(versions, split, notes)
    task_set = _resolve(found, tasks, split, found if split == "train" else measurements(versions, "train"))
    return None if task_set is None else _pick(found, task_set)


def task_set_of(
    versions: Sequence[Version], split: str = "train", *, tasks: TaskSet | str | None = None,
    notes: NoteMap | None = None,
) -> TaskSet | None:
    """The task set ``tasks`` names in ``versions`` (None: the current one), or None when nothing matches."""
    found = measurements(versions, split, notes)
    return _resolve(found, tasks, split, found if split == "train" else measurements(versions, "train"))


def best_of(
    versions: Sequence[Version], split: str = "train", *, tasks: TaskSet | str | None = None,
    notes: NoteMap | None = None,
) -> Version | None:
    """The best version in ``versions`` (newest first, as :meth:`Repository.log` returns them); see the rule.

    Example:
        >>> registry.best_of(repo.log(), "train").subject
        'epoch 1: add solve'
    """
    best = best_measurement(versions, split, tasks=tasks, notes=notes)
    return None if best is None else best.version

