"""Deterministic seeded train/test selections, recorded by ids and a content hash.

Selection ranks each task of a pool by ``sha256(seed, task id)``: the train
split takes the lowest ranks, the test split the highest. So a selection
depends only on the pool's ids, the seed and its own size (not on file order,
Python's ``random`` or the other split's size); a smaller split is a prefix of
a larger one; and train and test drawn from one pool never overlap while
``n_train + n_test`` fits in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any  # Any: JSON records of data files

from fnforge.tasks._data import check_slice, locate_data
from fnforge.tasks._exceptions import TaskSplitError
from fnforge.tasks._loaders import Split, load_tasks
from fnforge.tasks._model import Task
from fnforge.tasks._spec import TaskSpec

__all__ = ["TaskSplit", "TaskSplits", "make_splits", "select_split", "selection_hash"]

_SCHEMA_VERSION = 1


def selection_hash(tasks: Sequence[Task]) -> str:
    """sha256 over the sorted task hashes: the identity of a set of tasks, whatever its order."""
    return hashlib.sha256("\n".join(sorted(t.hash for t in tasks)).encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSplit:
    """A chosen set of tasks and how it was chosen.

    Args:
        spec: the task set, e.g. ``math:algebra``.
        split: ``train`` or ``test``.
        seed: the selection seed.
        tasks: the chosen tasks, in rank order.

    Example:
        >>> pool = tuple(Task(id=str(i), question="q", answer="a", domain="jsonl") for i in range(9))
        >>> select_split(pool, 3, seed=0, spec="jsonl:qa.jsonl").describe()  # doctest: +ELLIPSIS
        'jsonl:qa.jsonl (3 tasks, sha256:...)'
    """

    spec: str
    split: Split
    seed: int
    tasks: tuple[Task, ...]

    def __iter__(self) -> Iterator[Task]:
        """Iterate over the chosen tasks."""
        return iter(self.tasks)

    def __len__(self) -> int:
        """How many tasks were chosen."""
        return len(self.tasks)

    @property
    def ids(self) -> tuple[str, ...]:
        """The chosen task ids, in rank order."""
        return tuple(t.id for t in self.tasks)

    @property
    def hash(self) -> str:
        """:func:`selection_hash` of the tasks; keys caches and commit trailers."""
        return selection_hash(self.tasks)

    def describe(self) -> str:
        """One stable line for commit trailers: ``math:algebra (20 tasks, sha256:1a2b3c4d5e6f)``."""
        noun = "task" if len(self.tasks) == 1 else "tasks"
        return f"{self.spec} ({len(self.tasks)} {noun}, sha256:{self.hash[:12]})"

    def to_dict(self) -> dict[str, Any]:  # Any: JSON values
        """JSON record of the selection (ids and hash, not the tasks themselves)."""
        return {
            "schema_version": _SCHEMA_VERSION,
            "spec": self.spec,
            "split": self.split,
            "seed": self.seed,
            "n": len(self.tasks),
            "ids": list(self.ids),
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], pool: Sequence[Task]) -> TaskSplit:
        """Re-select a recorded split's tasks from a freshly loaded pool.

        Raises:
            TaskSplitError: a recorded id is missing from the pool, or the tasks'
                content changed since (the hash differs).
            ValueError: the record is malformed.
        """
        if data.get("schema_version") != _SCHEMA_VERSION:
            raise ValueError(f"unsupported split schema_version {data.get('schema_version')!r}")
        try:
            spec, split, seed, ids, expected = (
                str(data["spec"]), data["split"], int(data["seed"]), [str(i) for i in data["ids"]], str(data["hash"])
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed split record: {exc}") from exc
        if split not in ("train", "test", "val"):
            raise ValueError(f"malformed split record: split {split!r}")
        by_id = {t.id: t for t in pool}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise TaskSplitError(
                f"{spec} {split} split: {len(missing)} recorded task(s) no longer in the data, e.g. {missing[0]!r}"
            )
        restored = cls(spec=spec, split=split, seed=seed, tasks=tuple(by_id[i] for i in ids))
        if restored.hash != expected:
            raise TaskSplitError(
                f"{spec} {split} split: task content changed since it was recorded "
                f"(sha256:{restored.hash[:12]}, recorded sha256:{expected[:12]})"
            )
        return restored


def _rank(seed: int, task_id: str) -> str:
    return hashlib.sha256(f"fnforge-split\0{seed}\0{task_id}".encode()).hexdigest()


def select_split(
    pool: Sequence[Task], n: int | None, seed: int, *, spec: str = "", split: Split = "train"
) -> TaskSplit:
    """Choose ``n`` tasks from ``pool``, deterministically for ``seed``.

    Args:
        pool: the candidate tasks (ids must be unique).
        n: how many to choose; None for the whole pool.
        seed: any integer; the same seed always gives the same selection.
        spec: the task set's name, recorded for :meth:`TaskSplit.describe`.
        split: ``train`` takes the lowest-ranked tasks, ``test`` the highest,
            so the two never overlap when drawn from one pool.

    Returns:
        The selection.

    Raises:
        TaskSplitError: ``n`` exceeds the pool.
        ValueError: ``n`` < 0, a bad ``split``, or duplicate ids in ``pool``.

    Example:
        >>> pool = [Task(id=str(i), question="q", answer="a", domain="jsonl") for i in range(50)]
        >>> select_split(pool, 5, seed=0).ids == select_split(pool[::-1], 5, seed=0).ids
        True
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if n is not None and n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    if len({t.id for t in pool}) != len(pool):
        raise ValueError("pool has duplicate task ids")
    count = len(pool) if n is None else n
    if count > len(pool):
        raise TaskSplitError(f"{spec or 'task set'}: {count} {split} tasks requested, the pool has {len(pool)}")
    ranked = sorted(pool, key=lambda t: _rank(seed, t.id), reverse=split == "test")
    return TaskSplit(spec=spec, split=split, seed=seed, tasks=tuple(ranked[:count]))


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSplits:
    """The train, test and (optional, else empty) validation selections of one run."""

    train: TaskSplit
    test: TaskSplit
    val: TaskSplit | None = None


def make_splits(
    spec: str | TaskSpec,
    *,
    n_train: int | None,
    n_test: int | None,
    seed: int,
    n_val: int = 0,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    question_field: str = "question",
    answer_field: str = "answer",
    scorer: str = "exact",
) -> TaskSplits:
    """Load a task set and select its train and test tasks (``--train N --test M --seed S``).

    Train tasks come from the train pool and test tasks from the test pool
    (for MATH: the train and test files). gaia and jsonl have one pool; train
    takes its lowest ranks and test its highest, never the same task.
    Validation tasks (``n_val``) come from the train pool: the ``n_val`` ranks
    right after the train split's, so they never overlap train (nor test).

    Read from fnforge's built-in slice (no ``data_dir``, nothing pulled), a
    selection is made only when it equals the full data's: seed 0 and no
    more tasks than the slice has of the set.

    Args:
        spec: the task set, e.g. ``math:number_theory``.
        n_train: train tasks (the paper: 20 per MATH subject); None for all.
        n_test: test tasks (the paper: 80 per MATH subject); None for all.
        n_val: validation tasks (0: none; needs ``n_train``).
        seed: selection seed.
        data_dir, cache_dir, question_field, answer_field, scorer: as for :func:`load_tasks`.

    Returns:
        Both selections.

    Raises:
        TaskSplitError: a pool is too small (for one pool: ``n_train + n_test`` exceeds it,
            or either is None).
        DataNotAvailableError: the selection needs data that is not on this machine.
        TaskSpecError, TaskDataError, TaskError: as for :func:`load_tasks`.

    Example:
        >>> make_splits("math:algebra", n_train=20, n_test=80, seed=0).train.describe()  # the built-in slice
        'math:algebra (20 tasks, sha256:...)'
    """
    parsed = spec if isinstance(spec, TaskSpec) else TaskSpec.parse(spec)
    name = str(parsed)
    source = None if parsed.shared_pool else locate_data(parsed.kind, data_dir=data_dir, cache_dir=cache_dir)

    def load(split: Split) -> tuple[Task, ...]:
        root = data_dir if source is None else source.root
        return load_tasks(
            parsed, split, data_dir=root, question_field=question_field, answer_field=answer_field, scorer=scorer
        )

    train_pool = load("train")
    if n_val and n_train is None:
        raise TaskSplitError(f"{name}: a validation split needs a train size")
    if parsed.shared_pool:
        test_pool = train_pool
        if n_train is None or n_test is None or n_train + n_val + n_test > len(train_pool):
            raise TaskSplitError(
                f"{name}: train and test share one pool of {len(train_pool)} tasks; "
                f"asked for {_count(n_train)} + {_count(n_test)}"
            )
    else:
        test_pool = load("test")
    if source is not None:
        check_slice(source, spec=name, split="train", n=n_train + n_val if n_train is not None else None,
                    pool=len(train_pool), seed=seed)
        check_slice(source, spec=name, split="test", n=n_test, pool=len(test_pool), seed=seed)
    train = select_split(train_pool, n_train, seed, spec=name, split="train")
    val = None
    if n_val:
        ahead = select_split(train_pool, len(train) + n_val, seed, spec=name, split="train")
        val = TaskSplit(spec=name, split="val", seed=seed, tasks=ahead.tasks[len(train):])  # type: ignore[arg-type]
    return TaskSplits(train=train, test=select_split(test_pool, n_test, seed, spec=name, split="test"), val=val)


def _count(n: int | None) -> str:
    return "all" if n is None else str(n)
