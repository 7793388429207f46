"""``fnforge data list``: which copies of the built-in datasets are on this machine, with their task counts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fnforge.tasks._catalog import DATASETS, Dataset
from fnforge.tasks._data import BUILTIN_DATA_DIR, DataOrigin, DataSource, locate_data, pulled_state
from fnforge.tasks._exceptions import TaskError
from fnforge.tasks._loaders import load_tasks

__all__ = ["DataEntry", "data_inventory"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DataEntry:
    """One copy of a dataset.

    Args:
        dataset: ``gsm8k``, ``math`` or ``tabmwp``.
        origin: ``folder`` (``--data``), ``cache`` (pulled) or ``builtin`` (the slice).
        folder: the dataset's folder.
        train: train tasks it has (None when it cannot be read).
        test: test tasks it has (None when it cannot be read).
        problem: why it cannot be used, or None.
        used: commands read this dataset from this copy.
    """

    dataset: str
    origin: DataOrigin
    folder: Path
    train: int | None
    test: int | None
    problem: str | None
    used: bool


def data_inventory(*, data_dir: Path | None = None, cache_dir: Path | None = None) -> tuple[DataEntry, ...]:
    """Every copy of each built-in dataset that is on this machine, in the order they are looked up.

    Args:
        data_dir: the data folder given (``--data``), if any.
        cache_dir: the folder ``fnforge data pull`` fills.

    Returns:
        One entry per copy found, dataset by dataset; a dataset with no copy has none.

    Example:
        >>> [(e.dataset, e.origin) for e in data_inventory()]
        [('gsm8k', 'builtin'), ('math', 'builtin')]
    """
    entries: list[DataEntry] = []
    for entry in DATASETS:
        try:
            used: DataSource | None = locate_data(entry.name, data_dir=data_dir, cache_dir=cache_dir)
        except TaskError:
            used = None
        for origin, root, problem in _copies(entry, data_dir, cache_dir):
            train, test, problem = _counts(entry.name, root, problem)
            entries.append(DataEntry(dataset=entry.name, origin=origin, folder=root / entry.name, train=train,
                                     test=test, problem=problem,
                                     used=used is not None and (used.origin, used.root) == (origin, root)))
    return tuple(entries)


def _copies(entry: Dataset, data_dir: Path | None, cache_dir: Path | None) -> list[tuple[DataOrigin, Path, str | None]]:
    copies: list[tuple[DataOrigin, Path, str | None]] = []
    if data_dir is not None:
        copies.append(("folder", data_dir, None))
    if cache_dir is not None:
        state = pulled_state(entry, cache_dir)
        if state != "absent":
            problem = f"damaged: {state}; `fnforge data pull {entry.name}` repairs it"
            copies.append(("cache", cache_dir, None if state == "complete" else problem))
    if entry.sliced:
        copies.append(("builtin", BUILTIN_DATA_DIR, None))
    return copies


def _counts(name: str, root: Path, problem: str | None) -> tuple[int | None, int | None, str | None]:
    if problem is not None:
        return None, None, problem
    try:
        return len(load_tasks(name, "train", data_dir=root)), len(load_tasks(name, "test", data_dir=root)), None
    except TaskError as exc:
        return None, None, str(exc)
