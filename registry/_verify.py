"""Verify a toolset someone else wrote before anything in it runs; clone only what verifies.

:func:`verify` reads every commit reachable from a branch, tag or remote ref
(nothing is checked out or executed) and reports:

- **functions**: every distinct version of every function (a ``.py`` +
  ``.json`` blob pair) is rebuilt and validated, then passed to ``check`` -
  the caller's sandbox static gate under the caller's policy (the registry
  does not depend on the sandbox). Files in ``functions/`` that are not plain
  ``<name>.py`` / ``<name>.json`` blobs (symlinks, directories, other names)
  are errors;
- **trailers**, by the rules of :mod:`registry._rules` (the same ones that
  decide which scores count for best): ``Status`` among :data:`STATUSES`,
  ``Score`` a finite number in [0, 1], ``Split`` train or test, ``Epoch`` a
  non-negative integer, a ``Score`` measured on the functions the commit holds
  (``Functions-Tree``; a rebase or amend breaks it), a roll-back's functions
  equal to the commit it restores; and ``Reverts``/``Restores`` name commits
  that exist. A commit without a ``Status`` was not written by fnforge (a warning);
- **notes** (``refs/notes/fnforge`` and fetched ones): each is a JSON object on
  a known commit, with accuracies in [0, 1], ``correct <= n``, and a note's
  accuracy for the commit's own split agrees with its ``Score`` trailer;
- **sharing** (:mod:`registry._audit`): stale, missing or dangling best
  pointers, scored commits without their notes, task paths that point outside
  the toolset.

Every finding carries one line of advice.

:func:`clone_verified` clones, verifies and deletes the clone again when any
error is found, so a refused toolset never stays on disk.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any  # Any: unchecked JSON from a toolset

from fnforge.functions import FnforgeError, Function, JSONInputError, Problem, from_files, load_json, plural
from fnforge.registry._audit import Commit, sharing_findings
from fnforge.registry._errors import RegistryError
from fnforge.registry._objects import EMPTY_TREE, Identity, parse_trailer_lines, parse_tree
from fnforge.registry._repo import Repository, clone
from fnforge.registry._rules import Finding, evidence_flaws, trailer_flaws

__all__ = ["Finding", "FunctionCheck", "UnverifiedToolset", "Verification", "clone_verified", "verify"]

FunctionCheck = Callable[[Function], Sequence[Problem]]
"""``check(function) -> problems``: the sandbox's static gate under the verifying policy."""

_REFS = ("--branches", "--tags", "--remotes")


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """What :func:`verify` checked and found."""

    findings: tuple[Finding, ...]
    commits: int
    function_versions: int
    notes: int

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings that refuse the toolset."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def failed_functions(self) -> tuple[str, ...]:
        """Names of functions with a version that fails, sorted."""
        return tuple(sorted({f.name for f in self.errors if f.kind == "function" and f.name}))

    def summary(self) -> str:
        """One line: ``verified 12 commits, 5 function versions, 3 notes: 1 error, 0 warnings``."""
        errors = len(self.errors)
        warnings = len(self.findings) - errors
        counts = (plural(self.commits, "commit"), plural(self.function_versions, "function version"),
                  plural(self.notes, "note"), plural(errors, "error"), plural(warnings, "warning"))
        return "verified {}, {}, {}: {}, {}".format(*counts)


class UnverifiedToolset(RegistryError):
    """Raised when verification finds an error (by :func:`clone_verified`, which then removes the clone).

    ``verification`` holds every finding; the message names the failing
    functions and gives the first error.
    """

    def __init__(self, where: str, verification: Verification, *, removed: bool = False) -> None:
        self.where = where
        self.verification = verification
        names = verification.failed_functions
        errors = verification.errors
        first = errors[0].message if errors else "no detail"
        if len(names) > 1:
            first = f"{len(names)} functions fail ({', '.join(names)}); first: {first}"
        more = f" (+{len(errors) - 1} more error{'s' * (len(errors) > 2)})" if len(errors) > 1 else ""
        action = "refused to clone" if removed else "refused"
        super().__init__(f"{action} {where}: {first}{more}")


def verify(repo: Repository, *, check: FunctionCheck) -> Verification:
    """Check every function version, trailer and note reachable in ``repo`` without running anything.

    Args:
        repo: the toolset (typically a fresh clone).
        check: the sandbox static gate, e.g.
            ``lambda fn: sandbox.check(fn.code, fn.name, policy)``.

    Returns:
        The findings; ``.ok`` is False when any is an error.

    Example:
        >>> verify(repo, check=lambda fn: ()).ok  # in use: the sandbox's check under the verifying policy
        True
    """
    commits = _commits(repo)
    tips = _tips(repo)
    findings: list[Finding] = []
    versions = _function_versions(repo, [(c.sha, c.root, c.trailers) for c in commits], findings)
    for (name, _py, _js), (first, files) in versions.items():
        where = _where(first, tips)
        try:
            function = from_files(files)[name]
        except FnforgeError as exc:
            findings.append(_function_finding(name, first, where, str(exc)))
            continue
        problems = list(check(function))
        if problems:
            findings.append(_function_finding(name, first, where, "; ".join(str(p) for p in problems)))
    trees = {c.sha: c.functions for c in commits}
    for commit in commits:
        findings += _trailer_findings(repo, commit, trees)
    note_findings, notes = _note_findings(repo, {c.sha: c.trailers for c in commits})
    findings += note_findings
    findings += sharing_findings(repo, commits)
    return Verification(
        findings=tuple(findings), commits=len(commits), function_versions=len(versions), notes=notes
    )


def clone_verified(
    url: str,
    dest: str | os.PathLike[str],
    *,
    gate: Callable[[Repository], FunctionCheck],
    identity: Identity | None = None,
) -> tuple[Repository, Verification]:
    """Clone a toolset and :func:`verify` it; on any error remove the clone and raise.

    Args:
        url: anything ``git clone`` takes.
        dest: the new directory (must not exist, or be empty).
        gate: ``gate(clone) -> check``: the sandbox static gate to verify with
            (see :func:`verify`). It gets the clone so that a caller who trusts
            the toolset's own ``[sandbox]`` policy can read it; by default ignore it.
        identity: author/committer of new commits in the clone.

    Returns:
        The open repository and its verification (warnings only).

    Raises:
        UnverifiedToolset: verification found an error; nothing was kept.
        RemoteError / NotAToolset: as for :func:`registry.clone`.
        RegistryError: ``dest`` exists and is not an empty directory.

    Example:
        >>> copy, report = clone_verified(str(repo.path), "math", gate=lambda cloned: lambda fn: ())
        >>> report.ok
        True
    """
    where = Path(dest).absolute()
    if where.exists() and (not where.is_dir() or any(where.iterdir())):
        raise RegistryError(f"{where} already exists and is not an empty directory")
    existed = where.exists()
    repo = clone(url, where, identity=identity)
    try:
        verification = verify(repo, check=gate(repo))
    except BaseException:
        _discard(repo, where, existed)
        raise
    if not verification.ok:
        _discard(repo, where, existed)
        raise UnverifiedToolset(url, verification, removed=True)
    return repo, verification


def _discard(repo: Repository, where: Path, existed: bool) -> None:
    repo.close()
    if existed:
        for child in where.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    else:
        shutil.rmtree(where, ignore_errors=True)


# -- reading ----------------------------------------------------------------------------------


def _commits(repo: Repository) -> list[Commit]:
    """Every commit reachable from a branch, tag or remote ref, newest first."""
    git = repo._git
    if not git.check("for-each-ref", "--count=1", "refs/heads/", "refs/tags/", "refs/remotes/").strip():
        return []
    out = git.check(
        "log", *_REFS, "--no-color", "--encoding=UTF-8", "--format=%H%x00%T%x00%(trailers:unfold,only)%x00%P%x00"
    )
    commits = []
    for record in out.split("\0\n"):
        parts = record.strip("\n").split("\0")
        if len(parts) >= 4 and parts[0]:
            root = parts[1]
            entry = repo._entry(root, "functions")
            functions = entry.sha if entry is not None and entry.is_tree else EMPTY_TREE
            commits.append(Commit(sha=parts[0].strip(), root=root, functions=functions,
                                  trailers=parse_trailer_lines(parts[2]), parents=tuple(parts[3].split())))
    return commits


def _tips(repo: Repository) -> dict[str, list[str]]:
    """commit sha -> names of the branches whose tip it is."""
    out = repo._git.check("for-each-ref", "--format=%(objectname) %(refname:lstrip=2)", "refs/heads/")
    tips: dict[str, list[str]] = {}
    for line in out.splitlines():
        sha, _, name = line.partition(" ")
        tips.setdefault(sha, []).append(name)
    return tips


def _function_versions(
    repo: Repository, commits: list[tuple[str, str, dict[str, str]]], findings: list[Finding]
) -> dict[tuple[str, str, str], tuple[str, dict[str, bytes]]]:
    """(name, py blob, json blob) -> (a commit holding it, preferring branch tips; its two files)."""
    versions: dict[tuple[str, str, str], tuple[str, dict[str, bytes]]] = {}
    seen_trees: set[str] = set()
    tips = _tips(repo)
    # Tips first, so a finding names the branch where the version is live.
    ordered = sorted(commits, key=lambda c: c[0] not in tips)
    for sha, root, _ in ordered:
        entry = next((e for e in parse_tree(repo._object(root, "tree")) if e.name == "functions"), None)
        if entry is None:
            continue
        if not entry.is_tree:
            findings.append(Finding(severity="error", kind="file", commit=sha,
                                    message=f"commit {sha[:7]}: 'functions' is not a directory"))
            continue
        if entry.sha in seen_trees or entry.sha == EMPTY_TREE:
            continue
        seen_trees.add(entry.sha)
        pairs: dict[str, dict[str, str]] = {}
        for item in parse_tree(repo._object(entry.sha, "tree")):
            stem, dot, suffix = item.name.rpartition(".")
            if item.mode not in ("100644", "100755") or not dot or suffix not in ("py", "json"):
                findings.append(Finding(
                    severity="error", kind="file", commit=sha, name=stem or item.name,
                    message=f"commit {sha[:7]}: functions/{item.name} is not a function file "
                    f"(mode {item.mode}); only <name>.py and <name>.json blobs belong there",
                ))
                continue
            pairs.setdefault(stem, {})[suffix] = item.sha
        for name, blobs in sorted(pairs.items()):
            key = (name, blobs.get("py", ""), blobs.get("json", ""))
            if key in versions:
                continue
            files = {f"{name}.{suffix}": repo._object(blob, "blob") for suffix, blob in blobs.items()}
            versions[key] = (sha, files)
    return versions


def _where(sha: str, tips: dict[str, list[str]]) -> str:
    branches = tips.get(sha)
    return f"tip of {', '.join(sorted(branches))}" if branches else f"commit {sha[:7]}"


def _function_finding(name: str, sha: str, where: str, detail: str) -> Finding:
    return Finding(severity="error", kind="function", name=name, commit=sha,
                   message=f"function {name!r} ({where}): {detail}")


def _trailer_findings(repo: Repository, commit: Commit, trees: dict[str, str]) -> list[Finding]:
    sha, trailers = commit.sha, commit.trailers

    def bad(message: str, advice: str, severity: str = "error") -> Finding:
        return Finding(severity=severity, kind="trailer", commit=sha, message=f"commit {sha[:7]}: {message}",
                       advice=advice)

    restored = trees.get(trailers.get("Restores") or "")
    changes = not commit.parents or any(trees.get(p, commit.functions) != commit.functions for p in commit.parents)
    found = [bad(f.message, f.advice, f.severity)
             for f in trailer_flaws(trailers, commit.functions, restored_tree=restored, changes_functions=changes)]
    for key in ("Reverts", "Restores"):
        value = trailers.get(key)
        if value is not None and repo._git.run("cat-file", "-e", f"{value}^{{commit}}").returncode:
            found.append(bad(f"{key} names {value[:12]!r}, which is not a commit in this repository",
                             "the commit it names was not shared; fetch it, or ignore this roll-back's link"))
    return found


def _note_findings(repo: Repository, trailers: dict[str, dict[str, str]]) -> tuple[list[Finding], int]:
    found: list[Finding] = []
    index = repo._notes_index()
    for commit, blobs in sorted(index.items()):
        def bad(message: str, advice: str, severity: str = "error", commit: str = commit) -> Finding:
            return Finding(severity=severity, kind="note", commit=commit, message=f"note on {commit[:7]}: {message}",
                           advice=advice)

        if commit not in trailers:
            found.append(bad("annotates a commit no branch or tag reaches", "harmless; `git notes --ref=fnforge "
                             "prune` removes notes of commits that no longer exist", "warning"))
        for blob in blobs:
            note = _json_object(repo._object(blob, "blob"))
            if note is None:
                found.append(bad("is not a JSON object", "fnforge ignores it; remove it with "
                                 f"`git notes --ref=fnforge remove {commit[:7]}`"))
                continue
            found += [bad(f.message, f.advice, f.severity) for f in evidence_flaws(note, trailers.get(commit, {}))]
    return found, len(index)


def _json_object(data: bytes) -> dict[str, Any] | None:
    try:
        value = load_json(data, max_bytes=64 << 20)  # depth and size bounded: the toolset is untrusted
    except JSONInputError:
        return None
    return value if isinstance(value, dict) else None
