"""Where the built-in datasets are read from: a given folder, the pulled copy, or the slice that ships with fnforge.

The order is fixed: a folder the caller names (``--data DIR`` or
``FNFORGE_DATA`` on the command line), then the copy ``fnforge data pull``
left in the cache folder, then the built-in slice (MATH and GSM8K only).

The built-in slice (``tasks/data/``, see its ``SOURCE.md``) holds, for each
split, the problems that rank first in the seed-0 selection order of
:func:`select_split`. So it is a prefix of that order for every subject and
level, and a seed-0 selection that fits in it is exactly the selection the
full data gives: the same tasks, the same hash, the same cached results.
Anything else (another seed, more tasks) needs the full data, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fnforge.tasks._catalog import DataFile, Dataset, DatasetName, dataset
from fnforge.tasks._exceptions import DataNotAvailableError
from fnforge.tasks._io import file_sha256

__all__ = [
    "BUILTIN_DATA_DIR", "SLICE_SEED", "DataOrigin", "DataSource", "check_file", "check_slice", "locate_data",
    "pulled_state",
]

DataOrigin = Literal["folder", "cache", "builtin"]

BUILTIN_DATA_DIR = Path(__file__).resolve().parent / "data"
"""The built-in slice, installed with the package."""

SLICE_SEED = 0
"""The selection seed whose first-ranked problems the built-in slice holds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSource:
    """Where one dataset is read from.

    Args:
        dataset: ``gsm8k``, ``math`` or ``tabmwp``.
        origin: ``folder`` (named by the caller), ``cache`` (pulled) or ``builtin`` (the slice).
        root: the folder holding ``<dataset>/``.

    Example:
        >>> locate_data("math").origin
        'builtin'
    """

    dataset: DatasetName
    origin: DataOrigin
    root: Path

    @property
    def folder(self) -> Path:
        """The dataset's own folder, ``root / dataset``."""
        return self.root / self.dataset


def check_file(path: Path, pin: DataFile) -> str | None:
    """Why ``path`` does not match its pins (size and sha256), or None when it does."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"{pin.name} is missing"
    except OSError as exc:
        return f"{pin.name}: cannot read ({exc.strerror or exc})"
    if size != pin.size:
        return f"{pin.name} has {size} bytes, expected {pin.size}"
    if file_sha256(path) != pin.sha256:
        return f"{pin.name} does not match its sha256"
    return None


def pulled_state(entry: Dataset, cache_dir: Path) -> Literal["absent", "complete"] | str:
    """``absent`` (nothing pulled), ``complete`` (every file matches its pins), or why the copy is damaged."""
    folder = cache_dir / entry.name
    if not any((folder / f.name).exists() for f in entry.files):
        return "absent"
    problems = [p for p in (check_file(folder / f.name, f) for f in entry.files) if p is not None]
    return "complete" if not problems else "; ".join(problems)


def locate_data(name: str, *, data_dir: Path | None = None, cache_dir: Path | None = None) -> DataSource:
    """Where to read a built-in dataset: ``data_dir``, else the pulled copy in ``cache_dir``, else the slice.

    Args:
        name: ``gsm8k``, ``math`` or ``tabmwp``.
        data_dir: a folder laid out like ``shared/data``; used as it is when given.
        cache_dir: the folder ``fnforge data pull`` fills (``<cache_dir>/<name>/``);
            its copy counts when every file matches its pins.

    Returns:
        The source.

    Raises:
        DataNotAvailableError: neither a folder, a pulled copy nor the slice has it
            (tabmwp), or the pulled copy is damaged or incomplete.
        ValueError: ``name`` is not a built-in dataset.

    Example:
        >>> locate_data("gsm8k", data_dir=Path("data")).folder.as_posix()
        'data/gsm8k'
    """
    entry = dataset(name)
    if data_dir is not None:
        return DataSource(dataset=entry.name, origin="folder", root=data_dir)
    if cache_dir is not None:
        state = pulled_state(entry, cache_dir)
        if state == "complete":
            return DataSource(dataset=entry.name, origin="cache", root=cache_dir)
        if state != "absent":
            raise DataNotAvailableError(entry.name, f"the pulled copy of {entry.name} in {cache_dir / entry.name} "
                                        f"is damaged or incomplete ({state})")
    if entry.sliced:
        return DataSource(dataset=entry.name, origin="builtin", root=BUILTIN_DATA_DIR)
    raise DataNotAvailableError(entry.name, f"{entry.name} is not on this machine (fnforge ships no copy of it)")


def check_slice(source: DataSource, *, spec: str, split: str, n: int | None, pool: int, seed: int) -> None:
    """Refuse a selection that the built-in slice cannot give exactly as the full data would.

    Args:
        source: where the tasks were read from (nothing is checked unless it is the slice).
        spec: the task set, for the message.
        split: ``train`` or ``test``.
        n: tasks asked for (None: all).
        pool: tasks of ``spec`` the slice has for this split.
        seed: the selection seed.

    Raises:
        DataNotAvailableError: another seed than :data:`SLICE_SEED`, all tasks, or more than the slice has.
    """
    if source.origin != "builtin":
        return
    if seed != SLICE_SEED:
        raise DataNotAvailableError(source.dataset, f"the built-in {source.dataset} slice holds the seed-0 "
                                    f"selections only; seed {seed} needs the full data")
    if n is None or n > pool:
        asked = "all" if n is None else str(n)
        raise DataNotAvailableError(source.dataset, f"the built-in {source.dataset} slice has {pool} {split} "
                                    f"tasks of {spec}, {asked} asked for; the full data has more")
