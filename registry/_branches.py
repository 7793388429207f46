"""Branches (``domain/<name>`` per task domain) and their ``best/<branch>`` tags."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

from fnforge.registry._writebase import WriteBase
from fnforge.registry._errors import BranchExists, GitFailed, RegistryError, UnknownBranch
from fnforge.registry._version import Version, pick_best
from fnforge.registry._worktree import finish_pending, raise_for_overwrite, refuse_if_dirty

__all__ = ["BranchInfo", "BranchesMixin"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BranchInfo:
    """One branch: its tip, whether it is checked out, and its best version (train split)."""

    name: str
    sha: str
    current: bool
    best_sha: str | None
    best_score: float | None


class BranchesMixin(WriteBase):
    """``branches``, ``branch_list``, ``create_branch``, ``delete_branch``, ``switch``."""

    def branches(self) -> list[str]:
        """The local branches' names, sorted."""
        out = self._git.check("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads/")
        return sorted(line for line in out.splitlines() if line)

    def branch_list(self) -> list[BranchInfo]:
        """Every local branch with its tip and best (one ``git for-each-ref`` call)."""
        out = self._git.check(
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(trailers:key=Score,valueonly,separator=%x20)",
            "refs/heads/",
            "refs/tags/best/",
        )
        heads: dict[str, str] = {}
        bests: dict[str, tuple[str, float | None]] = {}
        for line in out.splitlines():
            ref, sha, score = (line.split("\0") + ["", ""])[:3]
            if ref.startswith("refs/heads/"):
                heads[ref[len("refs/heads/") :]] = sha
            elif ref.startswith("refs/tags/best/"):
                bests[ref[len("refs/tags/best/") :]] = (sha, _float(score))
        current = self.head_branch
        return [
            BranchInfo(
                name=name,
                sha=sha,
                current=name == current,
                best_sha=bests.get(name, (None, None))[0],
                best_score=bests.get(name, (None, None))[1],
            )
            for name, sha in sorted(heads.items())
        ]

    def create_branch(self, name: str, start: str = "HEAD") -> Version:
        """Create branch ``name`` at ``start`` and its ``best/<name>`` tag; the working tree is untouched.

        Raises:
            RegistryError: ``name`` is not a valid branch name.
            BranchExists: the name is taken.
            UnknownRevision: ``start`` names no commit.

        Example:
            >>> repo.create_branch("domain/algebra", start="best/main")  # doctest: +SKIP
        """
        self._check_name(name)
        if self._git.read_ref(f"refs/heads/{name}") is not None:
            raise BranchExists(name)
        with self.lock(name):
            if self._git.read_ref(f"refs/heads/{name}") is not None:
                raise BranchExists(name)
            sha = self.resolve(start)
            versions = self._run_log(sha)
            lines = [f"create refs/heads/{name} {sha}"]
            best = pick_best(versions, "train")
            tag = self._git.read_ref(f"refs/tags/best/{name}")
            if best is not None:
                lines.append(f"update refs/tags/best/{name} {best.sha}")
            elif tag is not None:
                lines.append(f"delete refs/tags/best/{name}")
            try:
                self._update_refs(lines, f"create {name}")
            except GitFailed as exc:
                raise RegistryError(f"cannot create branch {name!r}: {exc.stderr.strip().splitlines()[-1]}") from exc
            return versions[0]

    def delete_branch(self, name: str) -> str:
        """Delete branch ``name`` and its best tag; return the sha it pointed at.

        Raises:
            UnknownBranch: no such branch.
            RegistryError: it is the checked-out branch.
            BranchLocked: a writer holds it.
        """
        if self._checked_out(name):
            raise RegistryError(f"cannot delete the checked-out branch {name!r}; switch to another branch first")
        with self.lock(name):
            sha = self._tip(name)
            lines = [f"delete refs/heads/{name} {sha}"]
            tag = self._git.read_ref(f"refs/tags/best/{name}")
            if tag is not None:
                lines.append(f"delete refs/tags/best/{name} {tag}")
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


def _float(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None
