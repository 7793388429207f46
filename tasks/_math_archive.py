r"""MATH's per-problem files (``{train,test}/<subject>/<n>.json``) -> ``math_train.jsonl`` and ``math_test.jsonl``.

Upstream MATH is 12,500 small JSON files with the fields ``problem``,
``level`` (``"Level 3"``), ``type`` (the subject) and ``solution``. The
loaders read one JSON Lines file per split, built deterministically:

- rows are sorted by subject folder, then by the numeric file id;
- each row is ``{"problem", "solution", "answer", "subject", "level",
  "unique_id"}``, written by ``json.dumps`` with its defaults, one per line;
- ``subject`` is ``type``; ``level`` the integer of ``"Level N"`` (null for
  upstream's two ``"Level ?"``); ``unique_id`` is ``<split>/<subject>/<n>.json``;
- ``answer`` is the content of the last ``\boxed{...}``/``\fbox{...}`` of the
  solution, braces matched, or the text after the last ``\boxed `` up to the
  next ``$`` (two train solutions write ``\boxed 2``), as in the MATH
  authors' ``last_boxed_only_string``.

The result is checked against the pinned sha256 of each file, so any change
upstream or in this conversion is caught.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any  # Any: JSON records of data files

from fnforge.tasks._exceptions import TaskDataError

__all__ = ["boxed_answer", "math_files_from_archive"]

_BOXED = re.compile(r"\\(?:boxed|fbox)(\s*\{| )")
_LEVEL = re.compile(r"Level (\d)")
_MAX_PROBLEM_BYTES = 1 << 20  # the largest upstream file is a few kB
_SPLITS = ("train", "test")


def boxed_answer(solution: str) -> str | None:
    r"""The content of the last ``\boxed{...}`` (or ``\fbox{...}``, or ``\boxed x``) of a solution.

    Example:
        >>> boxed_answer(r"So $x = \boxed{\frac{1}{2}}$.")
        '\\frac{1}{2}'
        >>> boxed_answer(r"the answer is $\boxed 9$.")
        '9'
        >>> boxed_answer("no box") is None
        True
    """
    answer = None
    for match in _BOXED.finditer(solution):
        if match.group(1) == " ":
            answer = solution[match.end():].split("$")[0]
            continue
        depth, end = 1, match.end()
        while end < len(solution) and depth:
            depth += {"{": 1, "}": -1}.get(solution[end], 0)
            end += 1
        if depth == 0:
            answer = solution[match.end():end - 1]
    return answer


def math_files_from_archive(archive: Path, folder: str) -> dict[str, bytes]:
    """Build ``math_train.jsonl`` and ``math_test.jsonl`` from a (gzipped) tar of MATH's per-problem files.

    Args:
        archive: the tar file; its members are read in memory, never extracted.
        folder: the folder below the archive's top-level folder that holds
            ``train/`` and ``test/`` (e.g. ``src/agents/datasets/data/math``).

    Returns:
        File name -> bytes, for the two files.

    Raises:
        TaskDataError: the archive cannot be read, holds no problems, or a
            problem file is not a MATH problem.
    """
    rows: dict[str, list[tuple[str, int, dict[str, Any]]]] = {split: [] for split in _SPLITS}
    prefix = PurePosixPath(folder).parts
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                place = _place(member, prefix)
                if place is not None:
                    split, subject, number = place
                    rows[split].append((subject, number, _row(tar, member, split, subject, number, archive)))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise TaskDataError(str(archive), f"cannot read the archive: {exc}") from exc
    if not all(rows.values()):
        raise TaskDataError(str(archive), f"no MATH problems under {folder}/train and {folder}/test")
    return {f"math_{split}.jsonl": _jsonl(rows[split]) for split in _SPLITS}


def _place(member: tarfile.TarInfo, prefix: tuple[str, ...]) -> tuple[str, str, int] | None:
    """(split, subject folder, file number) of a per-problem file under ``<top>/<prefix>/``, else None."""
    parts = PurePosixPath(member.name).parts[1:]  # below the archive's top-level folder
    if not member.isfile() or len(parts) != len(prefix) + 3 or parts[:len(prefix)] != prefix:
        return None
    split, subject, name = parts[len(prefix):]
    stem, dot, suffix = name.partition(".")
    if split not in _SPLITS or suffix != "json" or not stem.isdigit():
        return None
    return split, subject, int(stem)


def _row(tar: tarfile.TarFile, member: tarfile.TarInfo, split: str, subject: str, number: int,
         archive: Path) -> dict[str, Any]:
    where, path = f"{member.name}: ", str(archive)
    handle = tar.extractfile(member)
    data = handle.read(_MAX_PROBLEM_BYTES + 1) if handle is not None else b""
    if len(data) > _MAX_PROBLEM_BYTES:
        raise TaskDataError(path, f"{where}larger than {_MAX_PROBLEM_BYTES} bytes")
    try:
        problem = json.loads(data.decode("utf-8"))
        fields = {key: problem[key] for key in ("problem", "solution", "type", "level")}
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TaskDataError(path, f"{where}not a MATH problem ({exc})") from None
    if not all(isinstance(value, str) for value in fields.values()):
        raise TaskDataError(path, f"{where}problem, solution, type and level must be strings")
    answer = boxed_answer(fields["solution"])
    if answer is None:
        raise TaskDataError(path, f"{where}the solution has no \\boxed answer")
    level = _LEVEL.fullmatch(fields["level"])
    return {"problem": fields["problem"], "solution": fields["solution"], "answer": answer,
            "subject": fields["type"], "level": int(level.group(1)) if level else None,
            "unique_id": f"{split}/{subject}/{number}.json"}


def _jsonl(rows: list[tuple[str, int, dict[str, Any]]]) -> bytes:
    ordered = sorted(rows, key=lambda row: (row[0], row[1]))
    return "".join(json.dumps(row) + "\n" for _, _, row in ordered).encode("utf-8")
