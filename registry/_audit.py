"""What ``verify`` checks about sharing: best pointers, notes that did not travel, task paths of one machine.

- **pointers**: each ``refs/fnforge/best/<branch>`` names the branch's best by
  the registry's rule; plain git (``reset``, ``--amend``, ``rebase``, a
  fetch) moves branches without them, and older fnforge kept moving
  ``refs/tags/best/*`` tags that git cannot share. Warnings: ``fnforge branch
  list`` recomputes every pointer.
- **notes**: a commit the trainer scored (``Run`` trailer, or a merge) has an
  evaluation note; when it is missing the notes were not fetched (the advice
  names the command that fetches them) or not shared.
- **paths**: a task set named by a path (``jsonl:``, ``gaia:``) in a ``Tasks``
  trailer, a note or ``fnforge.toml`` should be relative to the toolset's
  root; an absolute path or one that leaves the toolset works on this machine
  only.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any  # Any: JSON values (dict forms of records, request and reply bodies)

from fnforge.registry._best import best_of
from fnforge.registry._rules import Finding, is_valid
from fnforge.registry._writebase import LEGACY_BEST_TAGS

if TYPE_CHECKING:
    from fnforge.registry._repo import Repository

__all__ = ["Commit", "outside_path", "sharing_findings"]

_FIX_POINTERS = "`fnforge branch list` recomputes every best pointer"
_NOTED = ("initial", "accepted", "rejected")
_WINDOWS_ROOT = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """One commit as ``verify`` reads it: sha, root tree, ``functions/`` tree, trailers, parents."""

    sha: str
    root: str
    functions: str
    trailers: dict[str, str]
    parents: tuple[str, ...] = ()


def outside_path(label: str) -> str | None:
    """The path of a task set label (``jsonl:/data/qa.jsonl``) if it only works on this machine, else None.

    A path is portable when it is relative and stays inside the toolset.

    Example:
        >>> outside_path("jsonl:/home/me/qa.jsonl"), outside_path("jsonl:data/qa.jsonl")
        ('/home/me/qa.jsonl', None)
    """
    kind, sep, rest = label.partition(":")
    if not sep or not kind.isalnum() or not rest:
        return None
    parts = rest.replace("\\", "/").split("/")
    if rest.startswith(("/", "~")) or _WINDOWS_ROOT.match(rest) or ".." in parts:
        return rest
    return None


def sharing_findings(repo: Repository, commits: Sequence[Commit]) -> list[Finding]:
    """Pointer, note and path findings for ``repo`` (``commits``: every reachable commit)."""
    return [*_pointer_findings(repo), *_note_findings(repo, commits), *_path_findings(repo, commits)]


def _pointer_findings(repo: Repository) -> Iterator[Finding]:
    branches = set(repo.branches())
    pointers = repo.best_refs()
    for name in sorted(branches | set(pointers)):
        stored = pointers.get(name)
        if name not in branches:
            yield _pointer(f"best pointer fnforge/best/{name} is dangling: there is no branch {name!r}", stored)
            continue
        best = best_of(repo._history(repo._tip(name)))
        expected = best.sha if best is not None else None
        if stored is not None and repo._git.run("cat-file", "-e", f"{stored}^{{commit}}").returncode:
            yield _pointer(f"best pointer fnforge/best/{name} names {stored[:7]}, which is not in this repository",
                           stored)
        elif stored != expected:
            if stored is None:
                yield _pointer(f"{name!r} has no best pointer (its best is {expected and expected[:7]})", None)
            else:
                now = f"is {expected[:7]}" if expected else "does not exist (nothing is scored)"
                yield _pointer(f"best pointer fnforge/best/{name} is stale: it names {stored[:7]}, but the best of "
                               f"{name} {now} (moved by plain git: reset, amend, rebase or fetch)", stored)
    out = repo._git.check("for-each-ref", "--format=%(refname)", LEGACY_BEST_TAGS)
    for ref in out.splitlines():
        yield _pointer(f"{ref[len('refs/tags/'):]} is a moving tag of an older fnforge (git cannot share it cleanly)",
                       None)


def _pointer(message: str, commit: str | None) -> Finding:
    return Finding(severity="warning", kind="pointer", message=message, advice=_FIX_POINTERS, commit=commit)


def _note_findings(repo: Repository, commits: Sequence[Commit]) -> Iterator[Finding]:
    on_branches = set(repo._git.check("rev-list", "--branches").split())
    noted = repo._notes_index()
    missing = [c for c in commits if c.sha in on_branches and c.sha not in noted and _expects_note(c)]
    if not missing:
        return
    remotes = repo._git.check("remote").split()
    if remotes:
        remote = "origin" if "origin" in remotes else remotes[0]
        advice = (f"fetch them with `fnforge pull {remote}` (plain git: `git fetch {remote} "
                  f"'+refs/notes/*:refs/notes/remotes/{remote}/*'`)")
    else:
        advice = "notes travel with `fnforge push` / `fnforge pull`; ask for the toolset's refs/notes/fnforge"
    count = len(missing)
    yield Finding(severity="warning", kind="note", commit=missing[0].sha, advice=advice,
                  message=f"{count} scored commit{'s' * (count != 1)} {'have' if count != 1 else 'has'} no evaluation "
                  f"note (first: {missing[0].sha[:7]}); their per-task evidence is missing")


def _expects_note(commit: Commit) -> bool:
    trailers = commit.trailers
    status = trailers.get("Status")
    written_by_trainer = status in _NOTED and "Run" in trailers
    return "Score" in trailers and (written_by_trainer or status == "merge") and is_valid(trailers, commit.functions)


def _path_findings(repo: Repository, commits: Sequence[Commit]) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    for commit in commits:
        for key in ("Tasks", "Tasks-Theirs"):
            label = commit.trailers.get(key)
            if label:
                seen.setdefault(_label(label), f"the {key} trailer of {commit.sha[:7]}")
    for name in repo.branches():
        config = _config_task(repo.read_file(name, "fnforge.toml"))
        if config:
            seen.setdefault(config, f"fnforge.toml on {name}")
    for sha, note in repo.notes_for(c.sha for c in commits).items():
        for entry in note.values():
            if isinstance(entry, dict):
                for key in ("tasks", "selection"):
                    if isinstance(entry.get(key), str):
                        seen.setdefault(_label(entry[key]), f"the note on {sha[:7]}")
    for label, where in seen.items():
        path = outside_path(label)
        if path is not None:
            yield Finding(
                severity="warning", kind="path",
                message=f"task path {path!r} ({where}) is outside the toolset; it will not work on another machine",
                advice="keep the task file inside the toolset (committed) and name it relative to the toolset's root")


def _label(description: str) -> str:
    return description.split(" (", 1)[0].strip()


def _config_task(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        table: Any = tomllib.loads(data.decode()).get("fnforge", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    task = table.get("task") if isinstance(table, dict) else None
    return task if isinstance(task, str) else None
