"""Sharing toolsets through ordinary git remotes: branches, best pointers and notes travel together.

What moves where (``R`` a remote)::

    push  refs/heads/<b>           -> R refs/heads/<b>            fast-forward only
          refs/fnforge/best/<b>    -> R refs/fnforge/best/<b>     forced: derived data, recomputed first
          notes (merged with R's)  -> R refs/notes/fnforge        fast-forward; answers left out by default
    fetch R refs/heads/*           -> refs/remotes/R/*
          R refs/notes/*           -> refs/notes/remotes/R/*      forced; read merged, folded in by pull
          R refs/fnforge/best/*    -> refs/fnforge/remotes/R/best/*

:meth:`RemoteMixin.configure_sharing` writes the fetch half into each remote's
``remote.R.fetch``, so a plain ``git fetch`` / ``git pull`` brings notes and
pointers too, and sets ``notes.rewriteRef`` so notes follow ``git commit
--amend`` and ``git rebase`` (``overwrite``: a note is one JSON document, and
two concatenated would not be one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fnforge.registry._best import best_measurement
from fnforge.registry._errors import RemoteError
from fnforge.registry._notes import NOTES_REF, REMOTE_NOTES
from fnforge.registry._scores import ScoresMixin
from fnforge.registry._writebase import BEST_REFS

__all__ = ["BranchSync", "RemoteMixin", "SHARING_CONFIG", "SyncReport", "fetch_refspecs"]

SHARING_CONFIG = {"notes.rewriteRef": NOTES_REF, "notes.rewriteMode": "overwrite"}
"""Repository settings every toolset gets (``git config --local``)."""
_SCRATCH = "refs/fnforge/fetched/"  # what a fetch from a URL (not a named remote) lands in, until it is used
_SCRATCH_NOTES = "refs/notes/fnforge-fetched/"  # git notes only reads refs under refs/notes/


def fetch_refspecs(remote: str) -> tuple[str, str]:
    """The fetch refspecs that bring ``remote``'s notes and best pointers (besides its branches)."""
    return (f"+refs/notes/*:{REMOTE_NOTES}{remote}/*", f"+{BEST_REFS}*:refs/fnforge/remotes/{remote}/best/*")


@dataclass(frozen=True, slots=True, kw_only=True)
class BranchSync:
    """What a push or pull did to one branch.

    ``change`` is git's summary for a push (``6742fd9..536b402``, ``[new branch]``,
    ``[up to date]``) and ``new``, ``fast-forward``, ``up to date`` or ``ahead``
    (we have more than the remote) for a pull. ``tip``, ``best`` and
    ``best_score`` are the branch's afterwards.
    """

    name: str
    change: str
    tip: str
    best: str | None
    best_score: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncReport:
    """What :meth:`RemoteMixin.push` or :meth:`RemoteMixin.pull` did: per branch, and the notes.

    ``notes`` counts the commits with a note at the remote (push) or fetched
    from it (pull); ``answers`` tells whether pushed notes kept the model's answers.
    """

    remote: str
    branches: tuple[BranchSync, ...]
    notes: int
    answers: bool = False


def _reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:", "!")):
            return line
    return lines[-1] if lines else "no message"


class RemoteMixin(ScoresMixin):
    """``push``, ``pull``, ``add_remote`` and ``configure_sharing`` (``registry.clone`` makes the other end)."""

    # -- configuration ----------------------------------------------------------------

    def configure_sharing(self) -> None:
        """Set ``notes.rewriteRef``/``notes.rewriteMode`` and add :func:`fetch_refspecs` to every remote.

        Idempotent; :func:`registry.open`, :func:`registry.init` and :func:`registry.clone` call it.
        """
        config = self._local_config()
        for key, value in SHARING_CONFIG.items():
            if config.get(key.lower()) != [value]:
                self._git.check("config", "--local", key, value)
        remotes = sorted({k[len("remote."):-len(".url")] for k in config if k.startswith("remote.") and
                          k.endswith(".url")})
        for remote in remotes:
            present = config.get(f"remote.{remote}.fetch", [])
            for spec in fetch_refspecs(remote):
                if spec not in present:
                    self._git.check("config", "--local", "--add", f"remote.{remote}.fetch", spec)

    def add_remote(self, name: str, url: str) -> None:
        """``git remote add name url``, configured so that fetches bring notes and best pointers.

        Raises:
            RemoteError: git refused (e.g. the name is taken).
        """
        result = self._git.run("remote", "add", "--", name, url)
        if result.returncode:
            raise RemoteError(f"cannot add remote {name!r}: {_reason(result.stderr)}")
        self.configure_sharing()

    def _local_config(self) -> dict[str, list[str]]:
        out = self._git.run("config", "--local", "--null", "--list").stdout.decode(errors="replace")
        config: dict[str, list[str]] = {}
        for record in out.split("\0"):
            key, _, value = record.partition("\n")
            if key:
                # section and key names are case-insensitive (git prints them lower-cased), subsections are not
                section, _, rest = key.partition(".")
                middle, _, name = rest.rpartition(".")
                normal = f"{section.lower()}.{middle + '.' if middle else ''}{name.lower()}"
                config.setdefault(normal, []).append(value)
        return config

    def _is_remote(self, remote: str) -> bool:
        return self._git.run("config", "--local", "--get", f"remote.{remote}.url").returncode == 0

    # -- push ---------------------------------------------------------------------------

    def push(self, remote: str = "origin", branches: str | Sequence[str] | None = None, *,
             answers: bool = False) -> SyncReport:
        """Push branches, their best pointers and the notes to ``remote``.

        The notes are first merged with the remote's (so the push is a
        fast-forward); what is pushed leaves the model's answers out unless
        ``answers`` (the local notes keep them).

        Args:
            remote: a remote name or URL (e.g. a path to a bare repository).
            branches: a branch or branches; None means every local branch.
            answers: share each task's model answer in the notes too.

        Raises:
            UnknownBranch: a named branch does not exist.
            RemoteError: git refused (e.g. a remote branch moved on: pull first); nothing was pushed.

        Example:
            >>> import subprocess
            >>> _ = subprocess.run(["git", "init", "--bare", "-q", str(tmp / "shared.git")], check=True)
            >>> repo.push(str(tmp / "shared.git")).branches[0].change
            '[new branch]'
        """
        names = self._chosen(branches)
        for name in names:
            self._tip(name)
        self.update_best_refs(names)
        scratch = not self._is_remote(remote)
        fetched = self._fetch(remote, ["notes"], scratch=scratch)
        try:
            theirs = self._git.read_ref(fetched["notes"])
            if theirs is not None:
                self._merge_notes_from(fetched["notes"])
            shared = self._shared_notes(theirs, answers=answers)
            pointers = self.best_refs()
            specs = [f"refs/heads/{n}:refs/heads/{n}" for n in names]
            specs += [f"+{BEST_REFS}{n}:{BEST_REFS}{n}" for n in names if n in pointers]
            if shared is not None:
                specs.append(f"{shared}:{NOTES_REF}")
            result = self._git.run("push", "--atomic", "--porcelain", "--end-of-options", remote, *specs, remote=True)
            if result.returncode:
                detail = _push_failure(result.stdout.decode(errors="replace")) or _reason(result.stderr)
                raise RemoteError(f"push to {remote!r} failed: {detail}")
            if shared is not None and not scratch:
                self._git.check("update-ref", fetched["notes"], shared)
            summaries = _push_summaries(result.stdout.decode(errors="replace"))
        finally:
            if scratch:
                self._drop_scratch()
        tree = shared or theirs
        notes = len(self._tree_names(tree)) if tree is not None else 0
        return SyncReport(remote=remote, branches=tuple(self._sync(n, summaries.get(n, "")) for n in names),
                          notes=notes, answers=answers)

    # -- pull ---------------------------------------------------------------------------

    def pull(self, remote: str = "origin", branches: str | Sequence[str] | None = None) -> SyncReport:
        """Fetch branches, best pointers and notes from ``remote``; create or fast-forward the local branches.

        Notes merge JSON object by object (ours wins on a clash of values);
        best pointers are recomputed from the branches. A checked-out branch
        moves its working tree (refusing on uncommitted edits). If any branch
        has diverged, none moves.

        Args:
            remote: a remote name or URL.
            branches: a branch or branches; None means every branch the remote has.

        Raises:
            RemoteError: the fetch failed, a branch is not on the remote, or a branch has diverged.
            BranchLocked / DirtyWorkingTree / GitOperationInProgress: as for :meth:`commit`.

        Example:
            >>> copy = registry.clone(str(repo.path), tmp / "copy")
            >>> [b.change for b in copy.pull("origin").branches]
            ['up to date']
        """
        scratch = not self._is_remote(remote)
        fetched = self._fetch(remote, ["heads", "notes", "best"], scratch=scratch)
        try:
            heads = self._refs_under(fetched["heads"])
            heads.pop("HEAD", None)
            names = self._chosen(branches, default=sorted(heads))
            missing = [n for n in names if n not in heads]
            if missing:
                raise RemoteError(f"{remote!r} has no branch {missing[0]!r}")
            if self._git.read_ref(fetched["notes"]) is not None:
                self._merge_notes_from(fetched["notes"])
            notes = len(self._note_map(fetched["notes"]))
            plan = {name: self._pull_plan(name, heads[name]) for name in names}
            diverged = [n for n, change in plan.items() if change == "diverged"]
            if diverged:
                where = f"{remote}/{diverged[0]}" if not scratch else "FETCH_HEAD"
                raise RemoteError(
                    f"branch {diverged[0]!r} and {remote}'s {diverged[0]!r} have diverged; merge them "
                    f"(git merge {where}), then retry" + (f" (also: {', '.join(diverged[1:])})" if diverged[1:] else ""))
            for name, change in plan.items():
                self._apply_pull(name, heads[name], change, remote if not scratch else None)
        finally:
            if scratch:
                self._drop_scratch()
        self.update_best_refs(names)
        return SyncReport(remote=remote, branches=tuple(self._sync(n, plan[n]) for n in names), notes=notes)

    def _pull_plan(self, name: str, theirs: str) -> str:
        ours = self._git.read_ref(f"refs/heads/{name}")
        if ours is None:
            return "new"
        if ours == theirs:
            return "up to date"
        if self._ancestor(ours, theirs):
            return "fast-forward"
        return "ahead" if self._ancestor(theirs, ours) else "diverged"

    def _apply_pull(self, name: str, theirs: str, change: str, remote: str | None) -> None:
        if change == "new":
            with self.lock(name):
                best = best_measurement(self._history(theirs))
                self._update_refs([f"create refs/heads/{name} {theirs}",
                                   *self._pointer_lines(name, best.version.sha if best else None)], f"pull {name}")
            if remote is not None:
                self._git.check("config", "--local", f"branch.{name}.remote", remote)
                self._git.check("config", "--local", f"branch.{name}.merge", f"refs/heads/{name}")
        elif change == "fast-forward":
            with self._writing(name):
                ours = self._tip(name)
                best = best_measurement(self._history(theirs))
                self._advance(name, ours, theirs, best.version.sha if best else None)

    # -- plumbing -----------------------------------------------------------------------

    def _chosen(self, branches: str | Sequence[str] | None, default: list[str] | None = None) -> list[str]:
        if isinstance(branches, str):
            return [branches]
        if branches is not None:
            return list(branches)
        return default if default is not None else self.branches()

    def _fetch(self, remote: str, kinds: list[str], *, scratch: bool) -> dict[str, str]:
        """Fetch ``kinds`` (heads, notes, best) from ``remote``; where each landed (a ref or a ref prefix)."""
        places = {
            "heads": f"{_SCRATCH}heads/" if scratch else f"refs/remotes/{remote}/",
            "notes": _SCRATCH_NOTES if scratch else f"{REMOTE_NOTES}{remote}/",
            "best": f"{_SCRATCH}best/" if scratch else f"refs/fnforge/remotes/{remote}/best/",
        }
        sources = {"heads": "refs/heads/", "notes": "refs/notes/", "best": BEST_REFS}
        specs = [f"+{sources[k]}*:{places[k]}*" for k in kinds]
        result = self._git.run("fetch", "--quiet", "--no-tags", "--prune", "--no-write-fetch-head",
                               "--end-of-options", remote, *specs, remote=True)
        if result.returncode:
            raise RemoteError(f"fetch from {remote!r} failed: {_reason(result.stderr)}")
        return {**places, "notes": f"{places['notes']}fnforge"}

    def _refs_under(self, prefix: str) -> dict[str, str]:
        out = self._git.check("for-each-ref", "--format=%(refname)%00%(objectname)", prefix)
        pairs = (line.split("\0") for line in out.splitlines() if line)
        return {ref[len(prefix):]: sha for ref, sha in pairs}

    def _drop_scratch(self) -> None:
        lines = "".join(f"delete {prefix}{ref}\n" for prefix in (_SCRATCH, _SCRATCH_NOTES)
                        for ref in self._refs_under(prefix))
        if lines:
            self._git.run("update-ref", "--stdin", input=lines.encode())

    def _ancestor(self, older: str, newer: str) -> bool:
        return self._git.run("merge-base", "--is-ancestor", older, newer).returncode == 0

    def _tree_names(self, commit: str) -> list[str]:
        out = self._git.check("ls-tree", "-r", "--name-only", commit)
        return [line.replace("/", "") for line in out.splitlines() if line]

    def _sync(self, name: str, change: str) -> BranchSync:
        tip = self._tip(name)
        best = best_measurement(self._history(tip))
        return BranchSync(name=name, change=change, tip=tip, best=best.version.sha if best else None,
                          best_score=best.score if best else None)


def _push_summaries(porcelain: str) -> dict[str, str]:
    """branch -> git's summary (``6742fd9..536b402``, ``[new branch]``...) from ``git push --porcelain``."""
    found = {}
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].startswith("refs/heads/"):
            found[parts[1].split(":", 1)[0][len("refs/heads/"):]] = parts[2]
    return found


def _push_failure(porcelain: str) -> str:
    """The first rejected ref of ``git push --porcelain`` output, with what to do about it."""
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] == "!" and "atomic push failed" not in parts[2]:
            target = parts[1].split(":", 1)[-1]
            hint = "; run `fnforge pull` first" if "fetch first" in parts[2] or "non-fast-forward" in parts[2] else ""
            return f"{target} rejected {parts[2]}{hint}"
    return ""

