"""Keeping the working tree of the checked-out branch in step with its commits, never losing edits.

A write to the checked-out branch first refuses if ``functions/`` holds
uncommitted edits (tracked changes, or untracked ``functions/*.py|json``). It
then records a journal (``<git-dir>/fnforge/worktree.json``: branch, old and
new commit), moves index and files with ``git read-tree -m -u old new`` (git's
two-tree merge: it refuses rather than overwrite a modified file), moves the
branch ref, and deletes the journal. A writer killed in between leaves the
journal; the next writer on that branch finishes or undoes the move to match
where the ref points.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fnforge.functions import write_atomic
from fnforge.registry._errors import DirtyWorkingTree, GitFailed
from fnforge.registry._git import GitRepo

__all__ = [
    "TRACKED_PATHS",
    "clear_journal",
    "dirty_paths",
    "finish_pending",
    "move_worktree",
    "raise_for_overwrite",
    "refuse_if_dirty",
    "reset_index",
    "write_journal",
]

_FUNCTION_FILE = re.compile(r"^functions/[^/]+\.(py|json)$")
TRACKED_PATHS = ("functions", "fnforge.toml")


def dirty_paths(repo: GitRepo) -> tuple[str, ...]:
    """Paths under ``functions/`` whose working-tree or index state differs from HEAD."""
    out = repo.check(
        "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--ignore-submodules",
        "--", "functions",
    )
    paths = []
    for entry in out.split("\0"):
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code == "??" and not _FUNCTION_FILE.match(path):
            continue
        paths.append(path)
    return tuple(sorted(paths))


def refuse_if_dirty(repo: GitRepo) -> None:
    """Raise unless ``functions/`` is clean.

    Raises:
        DirtyWorkingTree: there are uncommitted edits.
    """
    paths = dirty_paths(repo)
    if paths:
        raise DirtyWorkingTree(paths)


def move_worktree(repo: GitRepo, old: str, new: str) -> None:
    """Move index and files from commit ``old`` to ``new`` (git's two-tree merge).

    Raises:
        DirtyWorkingTree: git refused because a file it must change was edited.
        GitFailed: any other failure (e.g. the index is locked by another git).
    """
    result = repo.run("read-tree", "-m", "-u", old, new)
    if result.returncode:
        raise_for_overwrite("read-tree", result.stderr)


def raise_for_overwrite(command: str, stderr: str) -> None:
    """Raise DirtyWorkingTree if git refused to overwrite edited files, else GitFailed."""
    found = re.findall(r"[Ee]ntry '([^']+)'|file '([^']+)'|^\t(\S[^\n]*)$", stderr, flags=re.MULTILINE)
    paths = tuple(sorted({p for group in found for p in group if p}))
    if "not uptodate" in stderr or "would be overwritten" in stderr:
        raise DirtyWorkingTree(paths or ("functions/",))
    raise GitFailed(command, stderr)


def reset_index(repo: GitRepo) -> None:
    """Make the index entries of the toolset's files equal HEAD's (after a hand commit)."""
    repo.check("reset", "-q", "--", *TRACKED_PATHS)


def _journal(repo: GitRepo) -> Path:
    return repo.common_dir / "fnforge" / "worktree.json"


def write_journal(repo: GitRepo, *, branch: str, old: str, new: str, mode: str) -> None:
    """Record a working-tree move about to happen (``mode``: ``merge`` or ``reset``)."""
    path = _journal(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"branch": branch, "old": old, "new": new, "mode": mode}))


def clear_journal(repo: GitRepo) -> None:
    """Forget the recorded move (it completed or was undone)."""
    _journal(repo).unlink(missing_ok=True)


def finish_pending(repo: GitRepo, branch: str) -> None:
    """Complete or undo a move a killed writer left half-done on ``branch`` (no-op without journal)."""
    path = _journal(repo)
    try:
        record = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return
    if record.get("branch") != branch:
        return
    current = repo.read_ref(f"refs/heads/{branch}")
    old, new = record.get("old"), record.get("new")
    if record.get("mode") == "reset":
        if current == new:
            repo.run("reset", "-q", "--", *TRACKED_PATHS)
    elif current == new:
        repo.run("read-tree", "-m", "-u", old, new)
    elif current == old:
        repo.run("read-tree", "-m", "-u", new, old)
    clear_journal(repo)
