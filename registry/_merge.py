"""Three-way merge of function sets: one function is one unit, a function changed on both sides conflicts.

Pure: the caller reads the merge base, ours and theirs (e.g. two domain
branches) and commits the result with two parents. Resolution modes:

- ``ours`` / ``theirs``: the conflicting function comes from that side (a
  side that removed it removes it);
- ``both``: keep ours under its name and theirs renamed ``<name>_<label>``
  (every reference to the name inside theirs' code is renamed too).

``best-score`` needs evaluation; the optimizer builds the ``ours`` and
``theirs`` merges and keeps the better-scoring one.
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from fnforge.functions import Function, FunctionSet
from fnforge.registry._errors import ConcurrentUpdate, RegistryError
from fnforge.registry._objects import EMPTY_TREE, TreeEntry, build_commit, format_message, split_message
from fnforge.registry._repo import Repository
from fnforge.registry._version import Version

__all__ = [
    "MergeConflict",
    "MergePlan",
    "MergeResult",
    "commit_merge",
    "merge_function_sets",
    "plan_merge",
    "rename_function",
]

_MODES = ("ours", "theirs", "both")


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeConflict:
    """A function both sides changed differently, and how it was resolved.

    ``kept`` names the functions that carry it in the merged set (two with
    ``both``; none when the chosen side had removed it).
    """

    name: str
    ours: str  # "revised" | "added" | "removed"
    theirs: str
    resolution: str
    kept: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeResult:
    """The merged set, the conflicts met, and what came in from theirs without conflict."""

    function_set: FunctionSet
    conflicts: tuple[MergeConflict, ...]
    from_theirs: tuple[str, ...]

    def describe(self) -> str:
        """A commit-subject phrase, e.g. ``take area; conflict solve -> both``."""
        parts = [f"take {n}" for n in self.from_theirs]
        parts += [f"conflict {c.name} -> {c.resolution}" for c in self.conflicts]
        return "; ".join(parts) or "no function changes"


def merge_function_sets(
    base: FunctionSet, ours: FunctionSet, theirs: FunctionSet, *, prefer: str, label: str = "theirs"
) -> MergeResult:
    """Merge ``theirs`` into ``ours`` given their common ancestor ``base``.

    A function changed on one side only (added, revised, removed) takes that
    side's version; changed identically on both is no conflict.

    Args:
        base: the set at the merge base.
        ours: the set on the current branch.
        theirs: the set on the branch being merged.
        prefer: ``ours``, ``theirs`` or ``both`` (see the module docstring).
        label: the suffix for renamed functions under ``both`` (e.g. the branch name).

    Returns:
        The merge result; its functions are validated (they are ``Function`` objects).

    Raises:
        ValueError: ``prefer`` is not a mode.

    Example:
        >>> merge_function_sets(FunctionSet(), FunctionSet(), FunctionSet(), prefer="ours").conflicts
        ()
    """
    if prefer not in _MODES:
        raise ValueError(f"prefer must be one of {', '.join(_MODES)}, not {prefer!r}")
    merged: dict[str, Function] = {}
    conflicts: list[MergeConflict] = []
    from_theirs: list[str] = []
    taken = set(ours.names) | set(theirs.names)
    for name in sorted(taken | set(base.names)):
        b, o, t = _get(base, name), _get(ours, name), _get(theirs, name)
        if o == t or t == b:
            chosen = o
        elif o == b:
            chosen = t
            from_theirs.append(name)
        else:
            kept = _resolve(name, o, t, prefer, label, taken, merged)
            conflicts.append(
                MergeConflict(name=name, ours=_change(b, o), theirs=_change(b, t), resolution=prefer, kept=kept)
            )
            continue
        if chosen is not None:
            merged[name] = chosen
    return MergeResult(
        function_set=FunctionSet(tuple(merged.values())),
        conflicts=tuple(conflicts),
        from_theirs=tuple(from_theirs),
    )


def _get(function_set: FunctionSet, name: str) -> Function | None:
    return function_set[name] if name in function_set else None


def _change(base: Function | None, side: Function | None) -> str:
    if side is None:
        return "removed"
    return "added" if base is None else "revised"


def _resolve(
    name: str,
    ours: Function | None,
    theirs: Function | None,
    prefer: str,
    label: str,
    taken: set[str],
    merged: dict[str, Function],
) -> tuple[str, ...]:
    if prefer == "both" and ours is not None and theirs is not None:
        new_name = _free_name(name, label, taken)
        taken.add(new_name)
        merged[name] = ours
        merged[new_name] = rename_function(theirs, new_name, note=f"(from {label}) ")
        return (name, new_name)
    chosen = theirs if prefer == "theirs" or (prefer == "both" and ours is None) else ours
    if chosen is None:
        return ()
    merged[name] = chosen
    return (name,)


def _free_name(name: str, label: str, taken: set[str]) -> str:
    suffix = re.sub(r"\W+", "_", label.rsplit("/", 1)[-1]).strip("_").lower() or "theirs"
    stem = f"{name}_{suffix}"[:60]
    candidate, n = stem, 2
    while candidate in taken:
        candidate, n = f"{stem}{n}", n + 1
    return candidate


def rename_function(function: Function, new_name: str, *, note: str = "") -> Function:
    """``function`` under ``new_name``: its ``def`` and every use of the old name in its code renamed.

    Args:
        function: the function to rename.
        new_name: the new name (must be a valid function name).
        note: text prepended to the description.

    Returns:
        A new, validated Function.

    Raises:
        functions.FunctionSpecError: ``new_name`` is not a valid name.

    Example:
        >>> rename_function(f, "double_v2").name
        'double_v2'
    """
    old = function.name
    lines = function.code.splitlines(keepends=True)
    edits: list[tuple[int, int]] = []  # (line index, column) of each occurrence of the old name
    for node in ast.walk(ast.parse(function.code)):
        if isinstance(node, ast.Name) and node.id == old:
            edits.append((node.lineno - 1, node.col_offset))
        elif isinstance(node, ast.FunctionDef) and node.name == old:
            line = lines[node.lineno - 1]
            match = re.search(rf"\bdef\s+({re.escape(old)})\b", line)
            if match:
                edits.append((node.lineno - 1, match.start(1)))
    for index, col in sorted(edits, reverse=True):
        line = lines[index]
        # ast columns are UTF-8 byte offsets.
        raw = line.encode()
        lines[index] = (raw[:col] + new_name.encode() + raw[col + len(old.encode()) :]).decode()
    return Function(
        name=new_name,
        description=note + function.description,
        parameters=function.parameters,
        packages=function.packages,
        code="".join(lines),
    )


# -- merging branches of a repository ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MergePlan:
    """A merge worked out but not committed: the three commits and the merged set."""

    branch: str
    ours: str
    theirs: str
    base: str | None
    result: MergeResult


def plan_merge(repo: Repository, theirs: str, *, prefer: str, branch: str | None = None) -> MergePlan:
    """Merge ``theirs`` (a branch or revision) into ``branch`` on paper: read the three sets and merge them.

    Args:
        repo: the toolset.
        theirs: what to merge in, e.g. ``domain/geometry``.
        prefer: ``ours``, ``theirs`` or ``both`` (see :func:`merge_function_sets`).
        branch: the branch merged into (default: the checked-out one).

    Returns:
        The plan; commit it with :func:`commit_merge` once it is scored.

    Raises:
        UnknownRevision / DetachedHead: a side names no commit, or no branch is checked out.
        RegistryError: ``theirs`` is already part of ``branch``.

    Example:
        >>> _ = repo.create_branch("domain/geometry", start="HEAD~2")
        >>> _ = repo.commit(FunctionSet((f,)), branch="domain/geometry", subject="epoch 1: add double")
        >>> plan_merge(repo, "domain/geometry", prefer="both").result.function_set.names
        ('double', 'solve')
    """
    name = repo._branch(branch)
    ours_sha, theirs_sha = repo._tip(name), repo.resolve(theirs)
    if repo.is_ancestor(theirs_sha, ours_sha):
        raise RegistryError(f"{theirs} is already merged into {name}")
    found = repo._git.run("merge-base", ours_sha, theirs_sha)
    base = found.stdout.decode().strip() or None if found.returncode == 0 else None
    base_set = repo.read(base) if base else FunctionSet()
    result = merge_function_sets(base_set, repo.read(ours_sha), repo.read(theirs_sha), prefer=prefer, label=theirs)
    return MergePlan(branch=name, ours=ours_sha, theirs=theirs_sha, base=base, result=result)


def commit_merge(
    repo: Repository,
    plan: MergePlan,
    *,
    subject: str,
    body: str = "",
    trailers: Mapping[str, str | int | float] | None = None,
) -> Version:
    """Commit a planned merge: a commit with two parents (ours, theirs) holding the merged set.

    Its tree is ours' with ``functions/`` replaced (``fnforge.toml`` stays ours).

    Raises:
        ConcurrentUpdate: the branch moved since the plan was made.
        ValueError: a malformed subject or trailer.
        BranchLocked / DirtyWorkingTree: as for :meth:`Repository.commit`.

    Example:
        >>> _ = repo.create_branch("domain/geometry", start="HEAD~2")
        >>> _ = repo.commit(FunctionSet((f,)), branch="domain/geometry", subject="epoch 1: add double")
        >>> plan = plan_merge(repo, "domain/geometry", prefer="both")
        >>> commit_merge(repo, plan, subject="merge domain/geometry", trailers={"Status": "merge"}).parents[1] \\
        ...     == repo.resolve("domain/geometry")
        True
    """
    format_message(subject, body, trailers)  # ValueError before anything is written
    with repo._writing(plan.branch):
        if repo._tip(plan.branch) != plan.ours:
            raise ConcurrentUpdate(f"{plan.branch} moved while the merge was being scored; merge again")
        tree = repo._write_functions(plan.result.function_set, set())
        entry = None if tree == EMPTY_TREE else TreeEntry("40000", "functions", tree)
        root = repo._replace_in_root(repo._root_tree(plan.ours), {"functions": entry})
        message = repo._message(subject, body, trailers, tree)
        when = time.time()
        data = build_commit(tree=root, parents=[plan.ours, plan.theirs], identity=repo.identity, when=when,
                            message=message)
        sha = repo._git.write_object("commit", data)
        subject_line, body_text, parsed = split_message(message)
        version = Version(sha=sha, parents=(plan.ours, plan.theirs), subject=subject_line, body=body_text,
                          trailers=parsed, time=datetime.fromtimestamp(int(when)).astimezone(), tree_hash=tree)
        repo._advance(plan.branch, plan.ours, sha, repo._best_after(plan.ours, version))
        return version
