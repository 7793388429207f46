"""Branches (``domain/<name>`` per task domain) and their best pointers."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

from fnforge.registry._base import BEST_PREFIX
from fnforge.registry._best import best_measurement
from fnforge.registry._writebase import WriteBase
from fnforge.registry._errors import BranchExists, GitFailed, RegistryError, UnknownBranch
from fnforge.registry._version import Version
from fnforge.registry._worktree import finish_pending, raise_for_overwrite, refuse_if_dirty

__all__ = ["BranchInfo", "BranchesMixin"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BranchInfo:
    """One branch: its tip, whether it is checked out, and its best version for its current task set.

    ``tasks`` describes that task set (train split); ``best_*`` are None when nothing is scored, ``tasks``
    also when the scores name no task set.
    """

    name: str
    sha: str
    current: bool
    best_sha: str | None
    best_score: float | None
    tasks: str | None = None


class BranchesMixin(WriteBase):
    """``branches``, ``branch_list``, ``create_branch``, ``delete_branch``, ``switch``."""

    def branch_list(self) -> list[BranchInfo]:
        """Every local branch with its tip and its best version (by the registry's one rule)."""
        current = self.head_branch
        infos = []
        for name in self.branches():
            tip = self._tip(name)
            best = best_measurement(self._history(tip))
            infos.append(BranchInfo(
                name=name, sha=tip, current=name == current,
                best_sha=best.version.sha if best is not None else None,
                best_score=best.score if best is not None else None,
                tasks=best.task_set.describe() if best is not None and best.task_set.label else None,
            ))
        return infos

    def create_branch(self, name: str, start: str = "HEAD") -> Version:
        """Create branch ``name`` at ``start`` and its best pointer; the working tree is untouched.

        Raises:
            RegistryError: ``name`` is not a valid branch name.
            BranchExists: the name is taken.
            UnknownRevision: ``start`` names no commit.

        Example:
            >>> repo.create_branch("domain/algebra", start="best/main").subject
            'epoch 1: add solve'
        """
        self._check_name(name)
        if self._git.read_ref(f"refs/heads/{name}") is not None:
            raise BranchExists(name)
        with self.lock(name):
            if self._git.read_ref(f"refs/heads/{name}") is not None:
                raise BranchExists(name)
            sha = self.resolve(start)
            versions = self._history(sha)
            best = best_measurement(versions)
            lines = [f"create refs/heads/{name} {sha}", *self._pointer_lines(name, best.version.sha if best else None)]
            try:
                self._update_refs(lines, f"create {name}")
            except GitFailed as exc:
                raise RegistryError(f"cannot create branch {name!r}: {exc.stderr.strip().splitlines()[-1]}") from exc
            return versions[0]

    def delete_branch(self, name: str) -> str:
        """Delete branch ``name`` and its best pointer; return the sha it pointed at.

        Raises:
            UnknownBranch: no such branch.
            RegistryError: it is the checked-out branch.
            BranchLocked: a writer holds it.
        """
        if self._checked_out(name):
            raise RegistryError(f"cannot delete the checked-out branch {name!r}; switch to another branch first")
        with self.lock(name):
            sha = self._tip(name)
            lines = [f"delete refs/heads/{name} {sha}", *self._pointer_lines(name, None)]
            self._update_refs(lines, f"delete {name}")
            return sha

    def switch(self, name: str) -> None:
        """Check out branch ``name`` (like ``git switch``), refusing if ``functions/`` has edits.

        Raises:
            UnknownBranch: no such branch.
            RegistryError: the repository is bare.
            BranchLocked: a writer holds either branch.
            DirtyWorkingTree: uncommitted edits would be lost or carried over.
        """
        if self.bare:
            raise RegistryError("a bare repository has no working tree to switch")
        if self._git.read_ref(f"refs/heads/{name}") is None:
            raise UnknownBranch(name)
        current = self.head_branch
        if current == name:
            return
        with ExitStack() as stack:
            for branch in sorted({name, *([current] if current else [])}):
                stack.enter_context(self.lock(branch))
            if current is not None:
                finish_pending(self._git, current)
            refuse_if_dirty(self._git)
            result = self._git.run("switch", "-q", "--no-guess", name)
            if result.returncode:
                raise_for_overwrite("switch", result.stderr)

    def _check_name(self, name: str) -> None:
        result = self._git.run("check-ref-format", f"refs/heads/{name}")
        if result.returncode or name.startswith("-") or name == "HEAD":
            raise RegistryError(f"invalid branch name: {name!r}")
        if name.startswith(BEST_PREFIX):
            raise RegistryError(f"invalid branch name: {name!r} (best/<branch> names a branch's best version)")
