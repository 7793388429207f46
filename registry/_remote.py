"""Sharing toolsets through ordinary git remotes: the branch, its best tag and the notes travel together."""

from __future__ import annotations

from fnforge.registry._errors import RemoteError
from fnforge.registry._notes import NOTES_REF, NotesMixin
from fnforge.registry._writebase import KEEP
from fnforge.registry._version import Version, pick_best

__all__ = ["FETCHED_NOTES", "RemoteMixin"]

FETCHED_NOTES = "refs/notes/fnforge-fetched"
_FETCHED_HEADS = "refs/fnforge/fetched/"


def _reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:", "!")):
            return line
    return lines[-1] if lines else "no message"


class RemoteMixin(NotesMixin):
    """``push`` and ``pull`` (``registry.clone`` makes the other end)."""

    def push(self, remote: str = "origin", branch: str | None = None) -> None:
        """Push a branch, its ``best/<branch>`` tag and the ``fnforge`` notes to ``remote``.

        Args:
            remote: a remote name or URL (e.g. a path to a bare repository).
            branch: the branch; None means the checked-out one.

        Raises:
            RemoteError: git refused (e.g. the remote branch or notes moved on: pull first).

        Example:
            >>> repo.push("origin", "domain/algebra")  # doctest: +SKIP
        """
        name = self._branch(branch)
        self._tip(name)
        specs = [f"refs/heads/{name}:refs/heads/{name}"]
        if self._git.read_ref(f"refs/tags/best/{name}") is not None:
            specs.append(f"+refs/tags/best/{name}:refs/tags/best/{name}")
        if self._git.read_ref(NOTES_REF) is not None:
            specs.append(f"{NOTES_REF}:{NOTES_REF}")
        result = self._git.run("push", "--quiet", "--end-of-options", remote, *specs, remote=True)
        if result.returncode:
            raise RemoteError(f"push of {name!r} to {remote!r} failed: {_reason(result.stderr)}")

    def pull(self, remote: str = "origin", branch: str | None = None) -> Version:
        """Fetch a branch and the notes from ``remote`` and fast-forward to it.

        Notes merge JSON object by object (ours wins on a clash of values);
        ``best/<branch>`` is recomputed from the branch. A checked-out branch
        moves its working tree (refusing on uncommitted edits).

        Returns:
            The branch's tip afterwards.

        Raises:
            RemoteError: the fetch failed or the branches have diverged (merge with git first).
            BranchLocked / DirtyWorkingTree: as for :meth:`commit`.
        """
        name = self._branch(branch)
        fetched = f"{_FETCHED_HEADS}{name}"
        with self._writing(name):
            result = self._git.run(
                "fetch", "--quiet", "--no-tags", "--end-of-options", remote, f"+refs/heads/{name}:{fetched}",
                remote=True,
            )
            if result.returncode:
                raise RemoteError(f"fetch of {name!r} from {remote!r} failed: {_reason(result.stderr)}")
            self._fetch_notes(remote)
            try:
                theirs = self._git.read_ref(fetched)
                ours = self._git.read_ref(f"refs/heads/{name}")
                if theirs is not None and ours is None:
                    self._update_refs([f"create refs/heads/{name} {theirs}"], f"pull {name}")
                    self._set_best_tag(name, self._run_log(theirs))
                elif theirs is not None and ours is not None and theirs != ours:
                    if self._is_ancestor(ours, theirs):
                        best = pick_best(self._run_log(theirs), "train")
                        self._advance(name, ours, theirs, best.sha if best is not None else KEEP)
                    elif not self._is_ancestor(theirs, ours):
                        raise RemoteError(
                            f"branch {name!r} and {remote}'s {name!r} have diverged; merge them with git, then retry"
                        )
            finally:
                self._git.run("update-ref", "-d", fetched)
            return self._run_log(f"refs/heads/{name}", limit=1)[0]

    def _fetch_notes(self, remote: str) -> None:
        result = self._git.run(
            "fetch", "--quiet", "--no-tags", "--end-of-options", remote, f"+{NOTES_REF}:{FETCHED_NOTES}", remote=True
        )
        if result.returncode == 0:
            try:
                self._merge_notes_from(FETCHED_NOTES)
            finally:
                self._git.run("update-ref", "-d", FETCHED_NOTES)

    def _is_ancestor(self, older: str, newer: str) -> bool:
        return self._git.run("merge-base", "--is-ancestor", older, newer).returncode == 0
