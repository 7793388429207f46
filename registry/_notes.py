"""Per-commit evidence as JSON in ``git notes --ref=fnforge`` (travels with push/pull).

A note is one JSON object. :meth:`NotesMixin.add_note` merges into what is
there (nested objects merge key by key; other values are replaced), so
evidence from several evaluations (e.g. one per split) accumulates. Note writes
are serialised by ``<git-dir>/fnforge/locks/notes.lock``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fnforge.functions import canonical_json
from fnforge.registry._writebase import WriteBase
from fnforge.registry._lock import waiting_lock

__all__ = ["NOTES_REF", "NotesMixin", "deep_merge"]

NOTES_REF = "refs/notes/fnforge"


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in: objects merge recursively, anything else is replaced."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


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
        """The JSON note on a commit, or None.

        Raises:
            UnknownRevision: ``rev`` names no commit.
        """
        blob = self._note_blob(NOTES_REF, self.resolve(rev))
        return None if blob is None else _decode(self._object(blob, "blob"))

    def add_note(self, rev: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``data`` into the commit's note and return the note as stored.

        Args:
            rev: the commit.
            data: a JSON-serialisable object, e.g. ``{"train": {"accuracy": 0.65, "tasks": {...}}}``.

        Raises:
            UnknownRevision: ``rev`` names no commit.
            TypeError: ``data`` is not JSON-serialisable.

        Example:
            >>> repo.add_note("HEAD", {"test": {"accuracy": 0.4}})  # doctest: +SKIP
            {'test': {'accuracy': 0.4}, 'train': {'accuracy': 0.65}}
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

    def _note_blob(self, ref: str, sha: str) -> str | None:
        result = self._git.run("notes", f"--ref={ref}", "list", sha)
        blob = result.stdout.decode().strip()
        return blob if result.returncode == 0 and blob else None

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
