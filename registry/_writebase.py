"""The one path every write takes: the branch lock, new objects, and an atomic move of branch + best tag."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from fnforge.functions import FunctionSet, to_files
from fnforge.registry._base import RepositoryBase
from fnforge.registry._errors import ConcurrentUpdate, GitFailed
from fnforge.registry._lock import branch_lock, lock_path
from fnforge.registry._objects import (
    EMPTY_TREE,
    TreeEntry,
    build_commit,
    build_tree,
    message_trailers,
    parse_commit,
    parse_tree,
    split_message,
)
from fnforge.registry._version import Version, counts_for_best, pick_best
from fnforge.registry._worktree import (
    clear_journal,
    finish_pending,
    move_worktree,
    refuse_if_dirty,
    reset_index,
    write_journal,
)

__all__ = ["KEEP", "ZERO", "WriteBase"]

ZERO = "0" * 40
KEEP = "keep"  # sentinel for "leave the best/<branch> tag as it is"


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
            >>> with repo.lock("main"):  # doctest: +SKIP
            ...     repo.commit(fs, subject="epoch 1: add solve")
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

    @contextmanager
    def _writing(self, branch: str, *, require_clean: bool = True) -> Iterator[None]:
        """Hold ``branch``'s writer lock; repair a half-done move; refuse on uncommitted edits."""
        with self.lock(branch):
            if self._checked_out(branch):
                finish_pending(self._git, branch)
                if require_clean:
                    refuse_if_dirty(self._git)
            yield

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
        self._advance(branch, parent, sha, self._best_after(branch, parent, version), mode=mode)
        return version

    def _best_after(self, branch: str, parent: str, version: Version) -> str:
        """The best/<branch> tag's value once ``version`` is on top of ``parent`` (or KEEP)."""
        tag = self._git.read_ref(f"refs/tags/best/{branch}")
        if tag is not None:
            tag_trailers = message_trailers(parse_commit(self._object(tag, "commit"))[2])
            current = Version(
                sha=tag, parents=(), subject="", body="", trailers=tag_trailers,
                time=version.time, tree_hash=EMPTY_TREE,
            )
            if counts_for_best(current, "train"):
                if counts_for_best(version, "train") and version.score > current.score:  # type: ignore[operator]
                    return version.sha
                return KEEP
        best = pick_best([version, *self.log(parent)], "train")
        return best.sha if best is not None else KEEP

    def _update_refs(self, lines: list[str], reason: str) -> None:
        result = self._git.run("update-ref", "-m", f"fnforge: {reason}", "--stdin", input="".join(
            line + "\n" for line in lines
        ).encode())
        if result.returncode:
            if "but expected" in result.stderr or "reference already exists" in result.stderr:
                raise ConcurrentUpdate(f"a ref moved while fnforge was writing ({reason}); retry")
            raise GitFailed("update-ref", result.stderr)

    def _ref_lines(self, branch: str, old: str | None, new: str, best: str) -> list[str]:
        lines = [f"update refs/heads/{branch} {new} {old or ZERO}"]
        tag = self._git.read_ref(f"refs/tags/best/{branch}")
        if best != KEEP and best != tag:
            lines.append(f"update refs/tags/best/{branch} {best} {tag or ZERO}")
        return lines

    def _advance(self, branch: str, old: str, new: str, best: str, *, mode: str = "merge") -> None:
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

    def _set_best_tag(self, branch: str, versions: list[Version]) -> None:
        """Point best/<branch> at the best of ``versions`` (delete it when none is scored)."""
        best = pick_best(versions, "train")
        tag = self._git.read_ref(f"refs/tags/best/{branch}")
        if best is not None and best.sha != tag:
            self._update_refs([f"update refs/tags/best/{branch} {best.sha}"], f"best of {branch}")
        elif best is None and tag is not None:
            self._update_refs([f"delete refs/tags/best/{branch} {tag}"], f"best of {branch}")
