"""The reading half of a toolset repository and the one path every write takes to move a branch."""

from __future__ import annotations

import re
from pathlib import Path
from types import TracebackType

from fnforge.functions import FunctionSet, from_files
from fnforge.registry._best import best_of
from fnforge.registry._errors import DetachedHead, GitFailed, UnknownBranch, UnknownRevision
from fnforge.registry._git import GitRepo
from fnforge.registry._objects import EMPTY_TREE, Identity, TreeEntry, parse_commit, parse_tree
from fnforge.registry._version import LOG_ARGS, Version, parse_log
from fnforge.registry._worktree import dirty_paths

__all__ = ["BEST_PREFIX", "RepositoryBase"]

BEST_PREFIX = "best/"
"""``best/<branch>`` names the branch's best version in every revision argument (computed, never stored)."""

_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_PLAIN_NAME = re.compile(r"^(?!.*\.\.)(?!refs/)[A-Za-z0-9_][A-Za-z0-9._/-]*$")
_REV_SUFFIX = re.compile(r"[~^:]|@\{")
_CACHE_SIZE = 64
_HISTORIES = 4  # parsed histories kept per Repository (a training run extends one at a time)


class RepositoryBase:
    """State and reading; see :class:`registry.Repository` for the whole surface."""

    def __init__(self, git: GitRepo) -> None:
        self._git = git
        self._sets: dict[str, FunctionSet] = {}
        self._held: dict[str, int] = {}
        self._histories: dict[str, list[Version]] = {}
        self._notes_cache: tuple[tuple[tuple[str, str | None], ...], dict[str, list[str]]] | None = None

    # -- identity and places ----------------------------------------------------

    @property
    def path(self) -> Path:
        """The working tree's root (the git directory for a bare repository)."""
        return self._git.work_tree or self._git.git_dir

    @property
    def git_dir(self) -> Path:
        """The ``.git`` directory."""
        return self._git.git_dir

    @property
    def state_dir(self) -> Path:
        """``<git-dir>/fnforge/``: caches, runs, locks (never committed); created on first use."""
        path = self._git.common_dir / "fnforge"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def bare(self) -> bool:
        """True for a repository without a working tree (e.g. a push target)."""
        return self._git.bare

    @property
    def identity(self) -> Identity:
        """The author/committer of fnforge's commits."""
        return self._git.identity

    @property
    def head_branch(self) -> str | None:
        """The checked-out branch's name, or None when HEAD is detached."""
        ref = self._git.symbolic_head()
        return ref[len("refs/heads/") :] if ref and ref.startswith("refs/heads/") else None

    def uncommitted(self) -> tuple[str, ...]:
        """Paths under ``functions/`` with edits not committed yet (empty for a bare toolset).

        Commands that read a revision say when the working tree differs from it; writers refuse.

        Example:
            >>> _ = (repo.path / "functions" / "solve.py").write_text("def solve(a, b):\\n    return b / a\\n")
            >>> repo.uncommitted()
            ('functions/solve.py',)
        """
        return () if self._git.bare else dirty_paths(self._git)

    def close(self) -> None:
        """Release gitpython's helper processes (also done by ``with``)."""
        self._git.close()

    def __enter__(self) -> RepositoryBase:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<registry.Repository {str(self.path)!r}>"

    # -- revisions ----------------------------------------------------------------

    def resolve(self, rev: str) -> str:
        """The full sha of the commit ``rev`` names (sha, branch, tag, ``HEAD~2``, ``best/main~1``...).

        ``best/<branch>`` is the branch's best version by the registry's rule
        (:mod:`registry._best`), computed from its history on every call.

        Raises:
            UnknownRevision: it names no commit.
        """
        if not rev or any(c in rev for c in "\n\0") or rev.startswith("-"):
            raise UnknownRevision(rev)
        if rev.startswith(BEST_PREFIX):
            return self._resolve_best(rev)
        return self._rev_parse(rev)

    def _resolve_best(self, rev: str) -> str:
        body = rev[len(BEST_PREFIX) :]
        cut = _REV_SUFFIX.search(body)
        branch, rest = (body[: cut.start()], body[cut.start() :]) if cut else (body, "")
        if self._git.read_ref(f"refs/heads/{branch}") is None:
            raise UnknownRevision(rev, f" (there is no branch {branch!r})")
        best = best_of(self._run_log(f"refs/heads/{branch}"))
        if best is None:
            raise UnknownRevision(rev, f" ({branch!r} has no scored version yet)")
        return self._rev_parse(best.sha + rest, shown=rev) if rest else best.sha

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when revision ``ancestor`` is ``descendant`` or reachable from it (e.g. a commit is on a branch).

        Raises:
            UnknownRevision: either names no commit.

        Example:
            >>> repo.is_ancestor("best/main", "main")
            True
        """
        older, newer = self.resolve(ancestor), self.resolve(descendant)
        return self._git.run("merge-base", "--is-ancestor", older, newer).returncode == 0

    def _rev_parse(self, rev: str, *, shown: str | None = None) -> str:
        if rev == "HEAD" or (_PLAIN_NAME.match(rev) and self._git.read_ref(f"refs/tags/{rev}") is None):
            # Fast path for HEAD and branch names (a tag of the same name wins in git: leave it to rev-parse).
            sha = self._git.read_ref("HEAD" if rev == "HEAD" else f"refs/heads/{rev}")
            if sha is not None:
                return sha
        result = self._git.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
        sha = result.stdout.decode().strip()
        if result.returncode or not _HEX40.match(sha):
            raise UnknownRevision(shown or rev)
        return sha

    def _branch(self, branch: str | None) -> str:
        if branch is not None:
            return branch
        name = self.head_branch
        if name is None:
            head = self._git.read_ref("HEAD")
            raise DetachedHead(head[:7] if head else None)
        return name

    def _tip(self, branch: str) -> str:
        sha = self._git.read_ref(f"refs/heads/{branch}")
        if sha is None:
            raise UnknownBranch(branch)
        return sha

    def _log_rev(self, branch: str | None) -> str:
        if branch is None:
            return "HEAD"
        if self._git.read_ref(f"refs/heads/{branch}") is not None:
            return f"refs/heads/{branch}"
        return self.resolve(branch)

    # -- objects ------------------------------------------------------------------

    def _object(self, sha: str, kind: str) -> bytes:
        found, data = self._git.read_object(sha)
        if found != kind:
            raise GitFailed("cat-file", f"fatal: {sha} is a {found}, not a {kind}")
        return data

    def _root_tree(self, commit: str) -> str:
        return parse_commit(self._object(commit, "commit"))[0]

    def _entry(self, tree: str, name: str) -> TreeEntry | None:
        return next((e for e in parse_tree(self._object(tree, "tree")) if e.name == name), None)

    def _functions_tree(self, commit: str) -> str:
        entry = self._entry(self._root_tree(commit), "functions")
        return entry.sha if entry is not None and entry.is_tree else EMPTY_TREE

    def _set_of_tree(self, tree: str) -> FunctionSet:
        cached = self._sets.get(tree)
        if cached is not None:
            return cached
        files = {}
        if tree != EMPTY_TREE:
            for entry in parse_tree(self._object(tree, "tree")):
                if not entry.is_tree:
                    files[entry.name] = self._object(entry.sha, "blob")
        function_set = from_files(files)
        if len(self._sets) >= _CACHE_SIZE:
            self._sets.pop(next(iter(self._sets)))
        self._sets[tree] = function_set
        return function_set

    # -- reading ------------------------------------------------------------------

    def read(self, rev: str = "HEAD") -> FunctionSet:
        """The function set a commit holds.

        Raises:
            UnknownRevision: ``rev`` names no commit.
            FunctionSpecError: the commit holds a broken function (committed by hand with git).

        Example:
            >>> repo.read("best/main").names
            ('solve',)
        """
        return self._set_of_tree(self._functions_tree(self.resolve(rev)))

    def function_files(self, rev: str = "HEAD") -> dict[str, bytes]:
        """The raw files of a commit's ``functions/`` folder (name -> bytes), valid or not.

        For showing a commit whose functions do not parse (``read`` raises for it).

        Raises:
            UnknownRevision: ``rev`` names no commit.

        Example:
            >>> sorted(repo.function_files("HEAD"))
            ['double.json', 'double.py', 'solve.json', 'solve.py']
        """
        tree = self._functions_tree(self.resolve(rev))
        if tree == EMPTY_TREE:
            return {}
        return {e.name: self._object(e.sha, "blob") for e in parse_tree(self._object(tree, "tree")) if not e.is_tree}

    def read_file(self, rev: str, path: str) -> bytes | None:
        """The bytes of ``path`` (e.g. ``fnforge.toml``) at ``rev``, or None if it has no such file.

        Raises:
            UnknownRevision: ``rev`` names no commit.
        """
        tree = self._root_tree(self.resolve(rev))
        parts = [p for p in path.strip("/").split("/") if p]
        for index, part in enumerate(parts):
            entry = self._entry(tree, part)
            if entry is None or entry.is_tree != (index < len(parts) - 1):
                return None
            tree = entry.sha
        return self._object(tree, "blob") if parts else None

    def version(self, rev: str = "HEAD") -> Version:
        """The :class:`Version` of one commit.

        Raises:
            UnknownRevision: ``rev`` names no commit.
        """
        return self._run_log(self.resolve(rev), limit=1)[0]

    def log(self, branch: str | None = None, limit: int | None = None) -> list[Version]:
        """The versions of a branch (or any revision), newest first, following first parents.

        One ``git log`` call reads the messages, trailers and ``functions/`` tree ids.

        Args:
            branch: a branch name or revision; None means HEAD.
            limit: at most this many versions.

        Raises:
            UnknownRevision: ``branch`` names no commit.

        Example:
            >>> [(v.status, v.score) for v in repo.log()]
            [('rejected', 0.5), ('accepted', 0.65), ('initial', 0.25), ('manual', None)]
        """
        rev = self._log_rev(branch)
        if limit is None:
            tip = rev if _HEX40.match(rev) else self._git.read_ref(rev)
            if tip is not None:
                return list(self._history(tip, shown=branch))
        return self._run_log(rev, limit=limit, shown=branch)

    def _history(self, tip: str, *, shown: str | None = None) -> list[Version]:
        """The first-parent history of commit ``tip``, newest first (the last few are kept in memory)."""
        cached = self._histories.get(tip)
        if cached is None:
            cached = self._run_log(tip, shown=shown)
            self._remember(tip, cached)
        return cached

    def _remember(self, tip: str, versions: list[Version]) -> None:
        self._histories[tip] = versions
        while len(self._histories) > _HISTORIES:
            self._histories.pop(next(iter(self._histories)))

    def _run_log(self, rev: str, *, limit: int | None = None, shown: str | None = None) -> list[Version]:
        args = [*LOG_ARGS] + ([f"--max-count={limit}"] if limit else [])
        result = self._git.run(*args, "--end-of-options", rev, "--")
        if result.returncode:
            if "does not have any commits" in result.stderr:
                return []
            raise UnknownRevision(shown or rev)
        return parse_log(result.stdout, self._functions_tree)
