"""The registry's errors. Every one is a :class:`RegistryError` (CLI exit code 3).

Tree::

    FnforgeError                      functions/
    └── RegistryError                 exit 3
        ├── NotAToolset               the path holds no toolset repository
        ├── AlreadyAToolset           init on a path that already is a repository
        ├── UnknownRevision           a revision does not name a commit
        │   └── UnknownBranch         a branch does not exist
        ├── BranchExists              create_branch on a name in use
        ├── BranchLocked              another writer holds the branch
        ├── DetachedHead              a branch was needed but HEAD is detached
        ├── GitOperationInProgress    a git merge, rebase, revert or cherry-pick is half done
        ├── DirtyWorkingTree          uncommitted edits under functions/ block a write
        ├── NothingToCommit           commit_worktree / rollback found no change
        ├── ConcurrentUpdate          a ref moved under us (compare-and-swap failed)
        ├── RemoteError               clone / push / pull failed
        └── GitFailed                 any other git failure (message: git's own words)
"""

from __future__ import annotations

from fnforge.functions import FnforgeError

__all__ = [
    "AlreadyAToolset",
    "BranchExists",
    "BranchLocked",
    "ConcurrentUpdate",
    "DetachedHead",
    "DirtyWorkingTree",
    "GitFailed",
    "GitOperationInProgress",
    "NotAToolset",
    "NothingToCommit",
    "RegistryError",
    "RemoteError",
    "UnknownBranch",
    "UnknownRevision",
]


class RegistryError(FnforgeError):
    """Root of the registry's errors; raised directly only for one-off refusals."""

    exit_code = 3


class NotAToolset(RegistryError):
    """Raised by :func:`registry.open` when the path is not a toolset repository."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"not a toolset: {path}")


class AlreadyAToolset(RegistryError):
    """Raised by :func:`registry.init` when the path already holds a Git repository."""

    def __init__(self, path: str, *, toolset: bool) -> None:
        self.path = path
        what = "a toolset" if toolset else "a git repository"
        super().__init__(f"already {what}: {path}")


class UnknownRevision(RegistryError):
    """Raised when a revision (sha, branch, tag, ``HEAD~2``...) names no commit."""

    def __init__(self, rev: str, detail: str = "") -> None:
        self.rev = rev
        super().__init__(f"unknown revision: {rev!r}{detail}")


class UnknownBranch(UnknownRevision):
    """Raised when a named branch does not exist."""

    def __init__(self, branch: str) -> None:
        RegistryError.__init__(self, f"unknown branch: {branch!r}")
        self.rev = branch
        self.branch = branch


class BranchExists(RegistryError):
    """Raised by ``create_branch`` when the name is taken."""

    def __init__(self, branch: str) -> None:
        self.branch = branch
        super().__init__(f"branch {branch!r} already exists")


class BranchLocked(RegistryError):
    """Raised when another writer (``pid``, since ``since``) holds the branch's lock."""

    def __init__(self, branch: str, pid: int | None, since: str | None) -> None:
        self.branch = branch
        self.pid = pid
        self.since = since
        holder = f"pid {pid}" if pid is not None else "another process"
        when = f" since {since}" if since else ""
        super().__init__(f"branch {branch!r} is locked by {holder}{when}")


class DetachedHead(RegistryError):
    """Raised when no branch was named and HEAD is not on a branch (``at``: HEAD's short sha)."""

    def __init__(self, at: str | None = None) -> None:
        self.at = at
        where = f" (at {at})" if at else ""
        super().__init__(f"HEAD is detached{where}; switch to a branch with `git switch <branch>`, or name one")


class GitOperationInProgress(RegistryError):
    """Raised before a write to the checked-out branch while git is in the middle of ``operation``.

    ``operation`` is ``merge``, ``rebase``, ``revert`` or ``cherry-pick``; nothing was changed.
    """

    def __init__(self, operation: str) -> None:
        self.operation = operation
        super().__init__(
            f"a git {operation} is in progress; finish it (git {operation} --continue) "
            f"or abort it (git {operation} --abort), then retry"
        )


class DirtyWorkingTree(RegistryError):
    """Raised before a write that would overwrite uncommitted edits under ``functions/``.

    ``paths`` lists the edited files; nothing was changed.
    """

    def __init__(self, paths: tuple[str, ...],
                 hint: str = "commit them with 'fnforge commit -m MSG' or discard them, then retry") -> None:
        self.paths = paths
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        super().__init__(f"uncommitted changes in the working tree ({shown}); {hint}")


class NothingToCommit(RegistryError):
    """Raised when a hand commit or a roll-back would not change anything."""


class ConcurrentUpdate(RegistryError):
    """Raised when a ref changed between reading and updating it (someone else wrote)."""


class RemoteError(RegistryError):
    """Raised when clone, push or pull fails; the message carries git's reason."""


class GitFailed(RegistryError):
    """Raised when a git command fails for a reason no other class names."""

    def __init__(self, command: str, stderr: str) -> None:
        self.command = command
        self.stderr = stderr
        lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else "no message"
        for line in lines:
            if line.startswith(("fatal:", "error:")):
                reason = line
                break
        super().__init__(f"git {command} failed: {reason}")
