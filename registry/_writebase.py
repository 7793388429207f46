"""The one path every write takes: the branch lock, new objects, and an atomic move of branch + best pointer.

The best pointer of a branch is ``refs/fnforge/best/<branch>``: derived data
(the best version for the branch's current task set, :mod:`registry._best`)
that moves in the same ``update-ref`` transaction as the branch, and that any
fnforge command recomputes. fnforge itself never reads it: ``best/<branch>``
in a revision is computed from the history. It exists for plain git
(``git log fnforge/best/main``) and for remotes, where it is always pushed and
fetched with force. The moving ``refs/tags/best/<branch>`` tags of earlier
versions are deleted when their branch's pointer is next written.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from fnforge.functions import FunctionSet, to_files
from fnforge.registry._base import RepositoryBase
from fnforge.registry._best import best_of
from fnforge.registry._errors import ConcurrentUpdate, GitFailed, GitOperationInProgress
from fnforge.registry._lock import branch_lock, lock_path
from fnforge.registry._objects import (
    EMPTY_TREE,
    TreeEntry,
    build_commit,
    build_tree,
    format_message,
    parse_tree,
    split_message,
)
from fnforge.registry._rules import FUNCTIONS_TREE
from fnforge.registry._version import Version
from fnforge.registry._worktree import (
    clear_journal,
    finish_pending,
    move_worktree,
    refuse_if_dirty,
    reset_index,
    write_journal,
)

__all__ = ["BEST_REFS", "LEGACY_BEST_TAGS", "ZERO", "WriteBase"]

ZERO = "0" * 40
BEST_REFS = "refs/fnforge/best/"
"""Where the best pointers live: ``refs/fnforge/best/<branch>``."""
LEGACY_BEST_TAGS = "refs/tags/best/"
"""The moving tags earlier versions kept; deleted as pointers are written."""
_IN_PROGRESS = (("MERGE_HEAD", "merge"), ("rebase-merge", "rebase"), ("rebase-apply", "rebase"),
                ("REVERT_HEAD", "revert"), ("CHERRY_PICK_HEAD", "cherry-pick"))


class WriteBase(RepositoryBase):
    """Locking and the shared write path; see :class:`registry.Repository` for the surface."""

    # -- the write path -------------------------------------------------------------

    def _checked_out(self, branch: str) -> bool:
        return not self.bare and self._git.symbolic_head() == f"refs/heads/{branch}"

    @contextmanager
    def lock(self, branch: str | None = None) -> Iterator[None]:
        """Hold a branch's writer lock for a ``with`` block (e.g. a whole training run).

        Writes through this object inside the block proceed; any other writer
        (another process, or another ``Repository`` object) gets BranchLocked.
        The lock is ``flock`` on ``<git-dir>/fnforge/locks/heads/<branch>.lock``,
        so a killed holder releases it.

        Raises:
            BranchLocked: another writer holds it (``branch 'main' is locked by pid N since T``).
            DetachedHead: no branch named and HEAD is detached.

        Example:
            >>> with repo.lock("main"):
            ...     repo.commit(fs, subject="a hand edit").subject
            'a hand edit'
        """
        name = self._branch(branch)
        if name in self._held:
            self._held[name] += 1
            try:
                yield
            finally:
                self._held[name] -= 1
        else:
            with branch_lock(lock_path(self.state_dir / "locks", name), name):
                self._held[name] = 1
                try:
                    yield
                finally:
                    del self._held[name]

    def operation_in_progress(self) -> str | None:
        """The git operation half done in the working tree (``merge``, ``rebase``, ``revert``, ``cherry-pick``), or None.

        While one is, ``functions/`` may hold conflict markers; writers refuse with GitOperationInProgress.

        Example:
            >>> repo.operation_in_progress() is None  # no merge or rebase under way
            True
        """
        return next((operation for marker, operation in _IN_PROGRESS if (self._git.git_dir / marker).exists()),
                    None)

    @contextmanager
    def _writing(self, branch: str, *, require_clean: bool = True) -> Iterator[None]:
        """Hold ``branch``'s writer lock; repair a half-done move; refuse mid-merge or on uncommitted edits."""
        with self.lock(branch):
            if self._checked_out(branch):
                operation = self.operation_in_progress()
                if operation is not None:
                    raise GitOperationInProgress(operation)
                finish_pending(self._git, branch)
                if require_clean:
                    refuse_if_dirty(self._git)
            yield

    def _message(self, subject: str, body: str, trailers: Mapping[str, str | int | float] | None,
                 functions_tree: str) -> str:
        """A commit message whose ``Score`` (if any) names the ``functions/`` tree it was measured on."""
        values = dict(trailers or {})
        if "Score" in values:
            values[FUNCTIONS_TREE] = functions_tree
        return format_message(subject, body, values)

    def _write_tree(self, entries: list[TreeEntry]) -> str:
        return self._git.write_object("tree", build_tree(entries))

    def _write_functions(self, function_set: FunctionSet, known: set[str]) -> str:
        """Store the set's files (blobs not in ``known`` only) and its tree; return the tree id."""
        entries = []
        for name, content in to_files(function_set).items():
            sha = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
            if sha not in known:
                self._git.write_object("blob", content)
            entries.append(TreeEntry("100644", name, sha))
        return self._write_tree(entries) if entries else EMPTY_TREE

    def _replace_in_root(self, root: str, replacements: Mapping[str, TreeEntry | None]) -> str:
        entries = [e for e in parse_tree(self._object(root, "tree")) if e.name not in replacements]
        entries += [e for e in replacements.values() if e is not None]
        return self._write_tree(entries)

    def _create_commit(
        self, branch: str, parent: str, root: str, functions_tree: str, message: str, *, mode: str = "merge"
    ) -> Version:
        """Write a commit on ``parent`` and move ``branch`` to it (see :meth:`_advance`)."""
        when = time.time()
        data = build_commit(tree=root, parents=[parent], identity=self.identity, when=when, message=message)
        sha = self._git.write_object("commit", data)
        subject, body, trailers = split_message(message)
        version = Version(
            sha=sha,
            parents=(parent,),
            subject=subject,
            body=body,
            trailers=trailers,
            time=datetime.fromtimestamp(int(when)).astimezone(),
            tree_hash=functions_tree,
        )
        self._advance(branch, parent, sha, self._best_after(parent, version), mode=mode)
        return version

    def _best_after(self, parent: str, version: Version) -> str | None:
        """The best pointer's value once ``version`` is on top of ``parent`` (None: no scored version)."""
        versions = [version, *self._history(parent)]
        self._remember(version.sha, versions)
        best = best_of(versions)
        return best.sha if best is not None else None

    def _update_refs(self, lines: list[str], reason: str) -> None:
        result = self._git.run("update-ref", "-m", f"fnforge: {reason}", "--stdin", input="".join(
            line + "\n" for line in lines
        ).encode())
        if result.returncode:
            if "but expected" in result.stderr or "reference already exists" in result.stderr:
                raise ConcurrentUpdate(f"a ref moved while fnforge was writing ({reason}); retry")
            raise GitFailed("update-ref", result.stderr)

    def _pointer_lines(self, branch: str, best: str | None) -> list[str]:
        """update-ref lines that set ``branch``'s best pointer to ``best`` (and drop its legacy tag)."""
        lines = []
        current = self._git.read_ref(f"{BEST_REFS}{branch}")
        if best != current:
            lines.append(f"update {BEST_REFS}{branch} {best} {current or ZERO}" if best is not None
                         else f"delete {BEST_REFS}{branch} {current}")
        legacy = self._git.read_ref(f"{LEGACY_BEST_TAGS}{branch}")
        if legacy is not None:
            lines.append(f"delete {LEGACY_BEST_TAGS}{branch} {legacy}")
        return lines

    def _ref_lines(self, branch: str, old: str | None, new: str, best: str | None) -> list[str]:
        return [f"update refs/heads/{branch} {new} {old or ZERO}", *self._pointer_lines(branch, best)]

    def _advance(self, branch: str, old: str, new: str, best: str | None, *, mode: str = "merge") -> None:
        """Move ``branch`` from ``old`` to ``new`` (compare-and-swap) with its best tag, atomically.

        On the checked-out branch the index and ``functions/`` follow: ``merge``
        moves them with read-tree before the ref moves; ``reset`` (hand commits,
        whose files are already in place) resets the index after.
        """
        lines = self._ref_lines(branch, old, new, best)
        reason = f"{branch} {old[:7]} -> {new[:7]}"
        if not self._checked_out(branch):
            self._update_refs(lines, reason)
            return
        write_journal(self._git, branch=branch, old=old, new=new, mode=mode)
        try:
            if mode == "merge":
                move_worktree(self._git, old, new)
            try:
                self._update_refs(lines, reason)
            except Exception:
                if mode == "merge":
                    self._git.run("read-tree", "-m", "-u", new, old)
                raise
            if mode == "reset":
                reset_index(self._git)
        finally:
            clear_journal(self._git)

    def update_best_refs(self, branches: Iterable[str] | None = None) -> dict[str, str | None]:
        """Recompute the best pointers (``refs/fnforge/best/<branch>``) from the branches' histories.

        Every fnforge write keeps the pointer of its branch right; plain git
        (``reset``, ``--amend``, ``rebase``, ``fetch``) does not, and this puts
        them right again. Each pointer moves only if its branch did not move
        meanwhile. Pointers of branches that no longer exist are deleted.

        Args:
            branches: the branches; None means every branch (and every orphaned pointer).

        Returns:
            branch -> new pointer value (None: deleted) for each pointer that changed.

        Example:
            >>> repo.update_best_refs()  # already right: nothing changed
            {}
        """
        names = list(branches) if branches is not None else sorted(set(self.branches()) | set(self.best_refs()))
        changed: dict[str, str | None] = {}
        for name in names:
            tip = self._git.read_ref(f"refs/heads/{name}")
            best = None
            if tip is not None:
                found = best_of(self._history(tip))
                best = found.sha if found is not None else None
            lines = self._pointer_lines(name, best)
            if not lines:
                continue
            guard = [f"verify refs/heads/{name} {tip or ZERO}"]
            try:
                self._update_refs(guard + lines, f"best of {name}")
            except ConcurrentUpdate:
                continue  # the branch moved: its writer set the pointer
            if any(line.startswith(("update", "delete")) and BEST_REFS in line for line in lines):
                changed[name] = best
        return changed

    def best_refs(self) -> dict[str, str]:
        """branch -> the commit its stored best pointer names (what plain git sees; may be stale)."""
        out = self._git.check("for-each-ref", "--format=%(refname)%00%(objectname)", BEST_REFS)
        pairs = (line.split("\0") for line in out.splitlines() if line)
        return {ref[len(BEST_REFS) :]: sha for ref, sha in pairs}

    def branches(self) -> list[str]:
        """The local branches' names, sorted."""
        out = self._git.check("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads/")
        return sorted(line for line in out.splitlines() if line)
