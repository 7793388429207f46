"""Per-commit evidence as JSON in ``git notes --ref=fnforge`` (travels with push/pull).

A note is one JSON object. :meth:`NotesMixin.add_note` merges into what is
there (nested objects merge key by key; other values are replaced), so
evidence from several evaluations (e.g. one per split) accumulates. Note writes
are serialised by ``<git-dir>/fnforge/locks/notes.lock``.

Reading sees the local notes and the notes a plain ``git fetch`` brought from
each remote (``refs/notes/remotes/<remote>/fnforge``), merged the same way
with the local one winning; ``fnforge pull`` folds the remote ones in for good.
Notes keep each task's model answer locally; what is pushed leaves the answers
out unless asked (:func:`without_answers`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any  # Any: note contents (JSON)

from fnforge.functions import canonical_json
from fnforge.registry._lock import waiting_lock
from fnforge.registry._objects import TreeEntry, build_commit
from fnforge.registry._writebase import WriteBase

__all__ = ["NOTES_REF", "NotesMixin", "PRIVATE_RESULT_KEYS", "REMOTE_NOTES", "deep_merge", "without_answers"]

NOTES_REF = "refs/notes/fnforge"
REMOTE_NOTES = "refs/notes/remotes/"
"""``refs/notes/remotes/<remote>/fnforge``: the notes a fetch brought from a remote."""
PRIVATE_RESULT_KEYS = ("answer",)
"""Keys of a per-task result that reveal the model's answer: left out of shared notes by default."""


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in: objects merge recursively, anything else is replaced."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def without_answers(note: Mapping[str, Any]) -> dict[str, Any]:
    """``note`` with the model's answer removed from every per-task result (ids, correctness, tokens stay)."""
    cleaned: dict[str, Any] = {}
    for key, value in note.items():
        if isinstance(value, Mapping) and isinstance(value.get("results"), list):
            results = [{k: v for k, v in r.items() if k not in PRIVATE_RESULT_KEYS} if isinstance(r, Mapping) else r
                       for r in value["results"]]
            value = {**value, "results": results}
        cleaned[key] = value
    return cleaned


def _decode(data: bytes) -> dict[str, Any]:
    from fnforge.functions import JSONInputError, load_json  # here, to keep this hunk alone (issue 11)

    text = data.decode(errors="replace")
    try:
        value = load_json(text, max_bytes=64 << 20)  # notes arrive with a clone: depth and size bounded
    except JSONInputError:
        return {"text": text}  # a note someone wrote by hand: keep it, don't lose it
    return value if isinstance(value, dict) else {"value": value}


class NotesMixin(WriteBase):
    """``note`` and ``add_note``."""

    def note(self, rev: str) -> dict[str, Any] | None:
        """The JSON note on a commit (local and fetched notes merged), or None.

        Raises:
            UnknownRevision: ``rev`` names no commit.
        """
        return self.notes_for([self.resolve(rev)]).get(self.resolve(rev))

    def notes_for(self, shas: Iterable[str]) -> dict[str, dict[str, Any]]:
        """commit sha -> its note, for those of ``shas`` (full shas) that have one."""
        index = self._notes_index()
        found = {}
        for sha in shas:
            blobs = index.get(sha)
            if blobs:
                merged: dict[str, Any] = {}
                for blob in blobs:  # remotes first, the local note last: it wins
                    merged = deep_merge(merged, _decode(self._object(blob, "blob")))
                found[sha] = merged
        return found

    def _notes_refs(self) -> list[str]:
        """The fetched notes refs (sorted), then the local one: the order notes merge in."""
        out = self._git.check("for-each-ref", "--format=%(refname)", REMOTE_NOTES)
        fetched = sorted(r for r in out.splitlines() if r.endswith("/fnforge") and r.count("/") == 4)
        return fetched + ([NOTES_REF] if self._git.read_ref(NOTES_REF) is not None else [])

    def _notes_index(self) -> dict[str, list[str]]:
        """commit sha -> the note blobs on it, one per notes ref (see :meth:`_notes_refs`); cached per ref state."""
        refs = self._notes_refs()
        key = tuple((ref, self._git.read_ref(ref)) for ref in refs)
        if self._notes_cache is not None and self._notes_cache[0] == key:
            return self._notes_cache[1]
        index: dict[str, list[str]] = {}
        for ref in refs:
            for commit, blob in self._note_map(ref).items():
                blobs = index.setdefault(commit, [])
                if blob not in blobs:
                    blobs.append(blob)
        self._notes_cache = (key, index)
        return index

    def add_note(self, rev: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``data`` into the commit's note and return the note as stored.

        Args:
            rev: the commit.
            data: a JSON-serialisable object, e.g. ``{"train": {"accuracy": 0.65, "tasks": {...}}}``.

        Raises:
            UnknownRevision: ``rev`` names no commit.
            TypeError: ``data`` is not JSON-serialisable.

        Example:
            >>> repo.add_note("HEAD", {"train": {"accuracy": 0.5}})
            {'train': {'accuracy': 0.5}}
            >>> repo.add_note("HEAD", {"test": {"accuracy": 0.4}})
            {'train': {'accuracy': 0.5}, 'test': {'accuracy': 0.4}}
        """
        sha = self.resolve(rev)
        json.dumps(data)  # TypeError now, before anything is written
        with waiting_lock(self.state_dir / "locks" / "notes.lock"):
            merged = deep_merge(self.note(sha) or {}, data)
            self._write_note(sha, merged)
        return merged

    def _write_note(self, sha: str, data: Mapping[str, Any]) -> None:
        blob = self._git.write_object("blob", canonical_json(data).encode())
        self._git.check("notes", f"--ref={NOTES_REF}", "add", "-f", "-C", blob, sha)

    def _shared_notes(self, parent: str | None, *, answers: bool) -> str | None:
        """A notes commit on top of ``parent`` (the remote's notes) holding our notes, to push.

        Its tree is the local notes, without the model's answers unless
        ``answers``; built as objects (no working notes ref), so the local
        notes keep the answers. None when there is nothing new to share.
        """
        local = self._note_map(NOTES_REF)
        if not local:
            return None
        entries = []
        for commit, blob in sorted(local.items()):
            if not answers:
                note = _decode(self._object(blob, "blob"))
                private = without_answers(note)
                if private != note:
                    blob = self._git.write_object("blob", canonical_json(private).encode())
            entries.append(TreeEntry("100644", commit, blob))
        tree = self._write_tree(entries)
        if parent is not None and self._root_tree(parent) == tree:
            return None
        data = build_commit(tree=tree, parents=[parent] if parent else [], identity=self.identity,
                            when=time.time(), message="Notes shared by fnforge\n")
        return self._git.write_object("commit", data)

    def _note_map(self, ref: str) -> dict[str, str]:
        """commit sha -> note blob sha for every note under ``ref``."""
        out = self._git.run("notes", f"--ref={ref}", "list").stdout.decode()
        pairs = (line.split() for line in out.splitlines())
        return {commit: blob for blob, commit in (p for p in pairs if len(p) == 2)}

    def _merge_notes_from(self, ref: str) -> None:
        """Merge the notes under ``ref`` (fetched from a remote) into ours, JSON object by object."""
        with waiting_lock(self.state_dir / "locks" / "notes.lock"):
            theirs = self._git.read_ref(ref)
            if theirs is None:
                return
            if self._git.read_ref(NOTES_REF) is None:
                self._git.check("update-ref", NOTES_REF, theirs)
                return
            ours_map, theirs_map = self._note_map(NOTES_REF), self._note_map(ref)
            both = [c for c, blob in theirs_map.items() if c in ours_map and ours_map[c] != blob]
            self._git.check("notes", f"--ref={NOTES_REF}", "merge", "-q", "-s", "ours", ref)
            for commit in both:
                mine = _decode(self._object(ours_map[commit], "blob"))
                other = _decode(self._object(theirs_map[commit], "blob"))
                self._write_note(commit, deep_merge(other, mine))
