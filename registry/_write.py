"""Writing versions: a function-set update, a hand commit of the working tree, a roll-back."""

from __future__ import annotations

from collections.abc import Mapping

from fnforge.functions import FunctionSet, read_dir, write_dir
from fnforge.registry._best import best_of
from fnforge.registry._writebase import WriteBase
from fnforge.registry._errors import NothingToCommit, RegistryError
from fnforge.registry._objects import EMPTY_TREE, TreeEntry, format_message, parse_tree
from fnforge.registry._version import Version
from fnforge.registry._worktree import reset_index

__all__ = ["WritingMixin"]

CONFIG_FILE = "fnforge.toml"
TrailerValues = Mapping[str, "str | int | float"]


class WritingMixin(WriteBase):
    """``commit``, ``commit_worktree`` and ``rollback``."""

    def commit(
        self,
        function_set: FunctionSet,
        *,
        subject: str,
        body: str = "",
        trailers: TrailerValues | None = None,
        branch: str | None = None,
    ) -> Version:
        """Commit ``function_set`` as the next version of a branch.

        The new commit's tree is the parent's with ``functions/`` replaced by
        the set's canonical files (other files, e.g. ``fnforge.toml``, carry
        over). On the checked-out branch the working tree follows. An
        unchanged set still makes a commit (a trial with no effective action
        is history too).

        Args:
            function_set: the functions the version holds.
            subject: one line saying what changed (``epoch 3: add solve``).
            body: the rationale, any length.
            trailers: ``Score`` (float or text), ``Split``, ``Status``,
                ``Epoch``, ``Tasks``, ``Model``, ``Run``... (DESIGN.md §3).
            branch: the branch to extend; None means the checked-out one.

        Returns:
            The new version.

        Raises:
            ValueError: the subject or a trailer is malformed.
            UnknownBranch: the branch does not exist.
            DetachedHead: no branch named and HEAD is detached.
            BranchLocked: another writer holds the branch.
            DirtyWorkingTree: the branch is checked out and ``functions/`` has uncommitted edits.

        Example:
            >>> repo.commit(fs, subject="epoch 2: add double",
            ...             trailers={"Score": 0.7, "Status": "accepted", "Epoch": 2}).trailers["Score"]
            '0.7000'
        """
        format_message(subject, body, trailers)  # ValueError before anything is written
        name = self._branch(branch)
        with self._writing(name):
            parent = self._tip(name)
            root = self._root_tree(parent)
            functions = self._functions_tree(parent)
            known = set() if functions == EMPTY_TREE else {e.sha for e in parse_tree(self._object(functions, "tree"))}
            tree = self._write_functions(function_set, known)
            new_root = self._replace_in_root(root, {"functions": _dir_entry(tree)})
            return self._create_commit(name, parent, new_root, tree, self._message(subject, body, trailers, tree))

    def commit_worktree(
        self,
        message: str,
        score: float | None = None,
        *,
        split: str = "train",
        trailers: TrailerValues | None = None,
    ) -> Version:
        """Validate and commit hand edits of ``functions/`` (and ``fnforge.toml``) with ``Status: manual``.

        Like ``git commit -a`` for those paths. The files are rewritten in
        canonical form, so afterwards the working tree equals the new commit.

        Args:
            message: subject line, optionally followed by a body.
            score: the set's score, if the user measured one.
            split: the split ``score`` was measured on.
            trailers: more trailers (``Status`` is always ``manual``).

        Raises:
            FunctionSpecError: a function in ``functions/`` breaks a rule (names the rule and line).
            NothingToCommit: no change and no score to record.
            RegistryError: the repository is bare.
            DetachedHead / BranchLocked: as for :meth:`commit`.
        """
        if self.bare:
            raise RegistryError("a bare repository has no working tree to commit")
        subject, _, body = message.strip().partition("\n")
        values: dict[str, str | int | float] = dict(trailers or {})
        if score is not None:
            values.update(Score=score, Split=split)
        values["Status"] = "manual"
        format_message(subject, body, values)  # ValueError before anything is written
        name = self._branch(None)
        work_tree = self.path
        with self._writing(name, require_clean=False):
            parent = self._tip(name)
            function_set = read_dir(work_tree / "functions")
            tree = self._write_functions(function_set, set())
            replacements = {"functions": _dir_entry(tree)}
            config = work_tree / CONFIG_FILE
            if config.is_file():
                replacements[CONFIG_FILE] = TreeEntry("100644", CONFIG_FILE, self._git.write_object(
                    "blob", config.read_bytes()
                ))
            old_root = self._root_tree(parent)
            new_root = self._replace_in_root(old_root, replacements)
            write_dir(function_set, work_tree / "functions")
            if new_root == old_root and score is None:
                reset_index(self._git)
                raise NothingToCommit("nothing to commit: functions/ and fnforge.toml match HEAD")
            text = self._message(subject, body, values, tree)
            return self._create_commit(name, parent, new_root, tree, text, mode="reset")

    def rollback(
        self,
        to: str | None = None,
        branch: str | None = None,
        *,
        epoch: int | None = None,
        run: str | None = None,
        trailers: TrailerValues | None = None,
        allow_empty: bool = True,
    ) -> Version:
        """Roll a branch back to an earlier version the way ``git revert`` would: by a new commit.

        The new commit's tree equals the target's; its message is
        ``Revert to <short>: <target subject>`` / ``This reverts commit <head>,
        reversing changes made to <target>.`` with ``Status: rollback``, the
        target's ``Score``/``Metric``/``Split``/``Tasks`` and ``Reverts``/``Restores`` trailers.
        History is never rewritten.

        Args:
            to: the version to restore; None means the branch's best (``best/<branch>``).
            branch: the branch; None means the checked-out one.
            epoch: an ``Epoch`` trailer for the new commit.
            run: a ``Run`` trailer for the new commit.
            trailers: more trailers.
            allow_empty: when False, refuse if the branch already has the target's tree.

        Raises:
            RegistryError: ``to`` is None and no version is scored.
            NothingToCommit: ``allow_empty`` is False and nothing would change.
            UnknownRevision / BranchLocked / DirtyWorkingTree: as for :meth:`commit`.
        """
        name = self._branch(branch)
        with self._writing(name):
            head = self._tip(name)
            target = self.version(to) if to is not None else best_of(self._history(head))
            if target is None:
                raise RegistryError(f"no scored version on {name!r} to roll back to; name one with --to")
            root = self._root_tree(target.sha)
            if not allow_empty and root == self._root_tree(head):
                raise NothingToCommit(f"nothing to roll back: {name!r} already holds the tree of {target.short}")
            values: dict[str, str | int | float] = {}
            for key in ("Score", "Metric", "Tasks", "Val-Score", "Val-Tasks", "Select"):
                if target.trailer(key) is not None and target.score is not None:
                    values[key] = str(target.trailer(key))
            if "Score" in values:
                values["Split"] = target.split or "train"
            values["Status"] = "rollback"
            if epoch is not None:
                values["Epoch"] = epoch
            if run is not None:
                values["Run"] = run
            values.update({k: v for k, v in (trailers or {}).items() if k != "Status"})
            values.update(Reverts=head, Restores=target.sha)
            message = self._message(
                f"Revert to {target.short}: {target.subject}",
                f"This reverts commit {head}, reversing changes made to {target.sha}.",
                values,
                target.tree_hash,
            )
            return self._create_commit(name, head, root, target.tree_hash, message)


def _dir_entry(tree: str) -> TreeEntry | None:
    return None if tree == EMPTY_TREE else TreeEntry("40000", "functions", tree)
