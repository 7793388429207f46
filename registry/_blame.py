"""Which training step introduced each line of a function: ``git blame`` mapped to commit trailers.

A roll-back commit restores an earlier tree, so plain ``git blame`` credits
the roll-back with every line the rejected trial had touched. Here a line
blamed on a roll-back is blamed again at the commit it restores (the file
is identical there, line for line), until it reaches the step that really
wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fnforge.registry._errors import GitFailed, RegistryError
from fnforge.registry._repo import Repository
from fnforge.registry._version import Version

__all__ = ["BlameLine", "HistoryEntry", "blame_function", "function_history"]

_MAX_HOPS = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class BlameLine:
    """One line of ``functions/<name>.py`` and the version that introduced it.

    ``epoch``, ``run``, ``status`` and ``score`` come from that commit's
    trailers (None when absent).
    """

    number: int
    text: str
    commit: str
    subject: str
    status: str | None
    epoch: int | None
    run: str | None
    score: float | None

    @property
    def short(self) -> str:
        """The commit's first seven hex digits."""
        return self.commit[:7]

    def to_dict(self) -> dict[str, object]:
        """JSON-safe form."""
        return {
            "number": self.number, "text": self.text, "commit": self.commit, "subject": self.subject,
            "status": self.status, "epoch": self.epoch, "run": self.run, "score": self.score,
        }


def blame_function(repo: Repository, name: str, *, rev: str = "HEAD") -> tuple[BlameLine, ...]:
    """Blame every line of function ``name`` at ``rev`` on the step (commit) that wrote it.

    Args:
        repo: the toolset.
        name: the function's name.
        rev: the version to blame (default HEAD).

    Returns:
        One entry per line of ``functions/<name>.py``, in order.

    Raises:
        UnknownRevision: ``rev`` names no commit.
        RegistryError: the version has no function ``name``.

    Example:
        >>> [(b.number, b.epoch, b.subject) for b in blame_function(repo, "solve")]
        [(1, 1, 'epoch 1: add solve'), (2, 1, 'epoch 1: add solve')]
    """
    sha = repo.resolve(rev)
    path = f"functions/{name}.py"
    if repo.read_file(sha, path) is None:
        names = repo.read(sha).names
        raise RegistryError(
            f"no function {name!r} at {rev}; functions there: {', '.join(names) if names else 'none'}"
        )
    versions: dict[str, Version] = {}

    def version(commit: str) -> Version:
        if commit not in versions:
            versions[commit] = repo.version(commit)
        return versions[commit]

    lines = _blame(repo, sha, path)
    resolved: list[tuple[str, str]] = []
    cache: dict[str, list[tuple[str, int, str]]] = {}
    for commit, original, text in lines:
        for _ in range(_MAX_HOPS):
            current = version(commit)
            restores = current.trailer("Restores")
            if current.status != "rollback" or not restores:
                break
            if restores not in cache:
                cache[restores] = _blame(repo, repo.resolve(restores), path)
            earlier = cache[restores]
            if not 0 < original <= len(earlier):
                break
            commit, original, _ = earlier[original - 1]
        resolved.append((commit, text))
    return tuple(
        BlameLine(
            number=number, text=text, commit=commit, subject=version(commit).subject,
            status=version(commit).status, epoch=version(commit).epoch, run=version(commit).run,
            score=version(commit).score,
        )
        for number, (commit, text) in enumerate(resolved, start=1)
    )


def _blame(repo: Repository, sha: str, path: str) -> list[tuple[str, int, str]]:
    """``(commit, line number in that commit's file, text)`` per line of ``path`` at ``sha``."""
    result = repo._git.run("blame", "--porcelain", "-w", sha, "--", path)
    if result.returncode:
        raise GitFailed("blame", result.stderr)
    out: list[tuple[str, int, str]] = []
    commit, original = "", 0
    for line in result.stdout.decode(errors="replace").splitlines():
        if line.startswith("\t"):
            out.append((commit, original, line[1:]))
            continue
        parts = line.split(" ")
        if len(parts) >= 3 and len(parts[0]) == 40 and parts[1].isdigit() and parts[2].isdigit():
            commit, original = parts[0], int(parts[1])
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    """One commit that changed a function's files, with its patch (``git log -p`` of those files)."""

    version: Version
    patch: str


def function_history(repo: Repository, name: str, *, rev: str = "HEAD") -> tuple[HistoryEntry, ...]:
    """The life of one function: every commit reachable from ``rev`` that changed its files, newest first.

    Args:
        repo: the toolset.
        name: the function's name (its ``.py`` and ``.json`` files are followed).
        rev: where history ends (default HEAD).

    Returns:
        One entry per commit, with the unified diff of the function's files.

    Raises:
        UnknownRevision: ``rev`` names no commit.

    Example:
        >>> [e.version.subject for e in function_history(repo, "solve")]
        ['epoch 1: add solve']
    """
    sha = repo.resolve(rev)
    paths = (f"functions/{name}.py", f"functions/{name}.json")
    result = repo._git.run(
        "log", "-p", "--no-color", "--no-renames", "--diff-merges=first-parent", "--format=%x00%H",
        sha, "--", *paths,
    )
    if result.returncode:
        raise GitFailed("log", result.stderr)
    entries = []
    for chunk in result.stdout.decode(errors="replace").split("\0")[1:]:
        commit, _, patch = chunk.partition("\n")
        entries.append(HistoryEntry(version=repo.version(commit.strip()), patch=patch.strip("\n") + "\n"))
    return tuple(entries)
