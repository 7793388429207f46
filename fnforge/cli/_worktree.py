"""The ``functions/`` folder as it is now (hand edits included), read with an honest error mid-merge."""

from __future__ import annotations

from pathlib import Path

from fnforge import registry
from fnforge.functions import FnforgeError, FunctionSet, read_dir

__all__ = ["UnreadableMidOperation", "working_set"]


class UnreadableMidOperation(registry.GitOperationInProgress):
    """Raised when ``functions/`` cannot be read while a git merge (rebase...) is half done: it holds the conflicts."""

    def __init__(self, operation: str, problem: str) -> None:
        self.operation = operation
        registry.RegistryError.__init__(
            self, f"the toolset is in the middle of a git {operation}, and functions/ cannot be read ({problem}); "
                  f"resolve the conflicts and finish it (git {operation} --continue) or abort it "
                  f"(git {operation} --abort), then retry")


def working_set(root: Path, repo: registry.Repository | None = None) -> FunctionSet:
    """The function set of ``<root>/functions`` (the empty set when there is no such folder).

    Raises:
        UnreadableMidOperation: the files cannot be read while a git operation is half done.
        FunctionSpecError: a function's files are incomplete or break a rule.
    """
    try:
        return read_dir(root / "functions")
    except FnforgeError as exc:
        operation = repo.operation_in_progress() if repo is not None else None
        if operation is None:
            raise
        raise UnreadableMidOperation(operation, str(exc)) from exc
