"""Task sets named by a path (``jsonl:``, ``gaia:``) stay portable: stored relative to the toolset, loaded from it.

What is written into a toolset (``fnforge.toml``, ``Tasks`` trailers, notes)
names a path inside the toolset relative to its root, whatever directory the
command ran in, so the toolset works wherever it is cloned. A path outside the
toolset is kept as given (absolute, or relative to the root when it was given
relative); ``fnforge verify`` warns that it will not work elsewhere. Loading
resolves a relative path against the toolset's root, never the current directory.

Example::

    portable_spec("jsonl:data/qa.jsonl", root=Path("/t"), cwd=Path("/t"))      # 'jsonl:data/qa.jsonl'
    portable_spec("jsonl:qa.jsonl", root=Path("/t"), cwd=Path("/t/data"))      # 'jsonl:data/qa.jsonl'
    loadable_spec("jsonl:data/qa.jsonl", root=Path("/t"))                       # 'jsonl:/t/data/qa.jsonl'
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # fnforge.tasks loads when a spec is read: every --help imports this module
    from fnforge.tasks import TaskSpec, TaskSplits

__all__ = ["load_splits", "loadable_spec", "portable_spec"]


def _with_path(spec: TaskSpec, path: str) -> str:
    return str(replace(spec, path=Path(path)))


def portable_spec(spec: str, *, root: Path, cwd: Path) -> str:
    """``spec`` as the toolset at ``root`` records it, for a path given relative to ``cwd``.

    Raises:
        TaskSpecError: ``spec`` is not a task set.
    """
    from fnforge.tasks import TaskSpec

    parsed = TaskSpec.parse(spec)
    if parsed.path is None:
        return str(parsed)
    given = parsed.path.expanduser()
    where = Path(os.path.normpath(given if given.is_absolute() else cwd.absolute() / given))
    home = Path(os.path.normpath(root.absolute()))
    if where == home or home in where.parents:
        return _with_path(parsed, where.relative_to(home).as_posix())
    if given.is_absolute():
        return _with_path(parsed, str(where))
    return _with_path(parsed, Path(os.path.relpath(where, home)).as_posix())


def loadable_spec(spec: str, *, root: Path) -> str:
    """``spec`` with a relative path made absolute against the toolset's root (what the loaders read).

    Raises:
        TaskSpecError: ``spec`` is not a task set.
    """
    from fnforge.tasks import TaskSpec

    parsed = TaskSpec.parse(spec)
    if parsed.path is None or parsed.path.is_absolute():
        return str(parsed)
    return _with_path(parsed, str(root.absolute() / parsed.path))


def load_splits(spec: str, *, root: Path, cwd: Path, n_train: int | None, n_test: int | None, seed: int,
                data_dir: Path | None = None, cache_dir: Path | None = None, question_field: str = "question",
                answer_field: str = "answer", n_val: int = 0) -> TaskSplits:
    """:func:`tasks.make_splits` for a spec given in ``cwd``, loaded from the toolset and labelled portably.

    Both selections' ``spec`` (which becomes ``Tasks`` trailers and notes) is :func:`portable_spec`'s.

    Raises:
        TaskError: as for :func:`tasks.make_splits`.
    """
    portable = portable_spec(spec, root=root, cwd=cwd)
    from fnforge.tasks import TaskSplits, make_splits

    splits = make_splits(loadable_spec(portable, root=root), n_train=n_train, n_test=n_test, seed=seed,
                         data_dir=data_dir, cache_dir=cache_dir, question_field=question_field,
                         answer_field=answer_field, n_val=n_val)
    val = replace(splits.val, spec=portable) if splits.val is not None else None
    return TaskSplits(train=replace(splits.train, spec=portable), test=replace(splits.test, spec=portable), val=val)
