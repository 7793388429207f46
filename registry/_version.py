"""``Version``: one commit of a toolset as fnforge sees it, and the one ``git log`` that reads many.

Which version is best is decided in :mod:`registry._best`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any  # Any: JSON values (dict forms of records, request and reply bodies)

from fnforge.registry._objects import EMPTY_TREE, parse_trailer_lines

__all__ = ["LOG_ARGS", "Version", "parse_log"]

LOG_ARGS = (
    "log",
    "--first-parent",
    "--diff-merges=first-parent",
    "--root",
    "--raw",
    "-t",
    "--no-abbrev",
    "--no-renames",
    "--no-color",
    "--no-show-signature",
    "--encoding=UTF-8",
    "--format=%H%x00%P%x00%cI%x00%s%x00%b%x00%(trailers:unfold,only)%x00",
)
"""``git log`` arguments whose output :func:`parse_log` reads (one call for a whole branch)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Version:
    """One commit: its message parts, parsed trailers and the ``functions/`` tree id.

    ``score``, ``status``, ``epoch``, ``split`` and ``run`` read the trailers
    (None when absent). ``tree_hash`` equals ``FunctionSet.tree_hash`` of the
    set the commit holds.
    """

    sha: str
    parents: tuple[str, ...]
    subject: str
    body: str
    trailers: dict[str, str]
    time: datetime
    tree_hash: str

    @property
    def short(self) -> str:
        """The first seven hex digits of ``sha``."""
        return self.sha[:7]

    def trailer(self, key: str) -> str | None:
        """A trailer's value, matching the key case-insensitively (None when absent)."""
        if key in self.trailers:
            return self.trailers[key]
        folded = key.casefold()
        return next((v for k, v in self.trailers.items() if k.casefold() == folded), None)

    @property
    def score(self) -> float | None:
        """The ``Score`` trailer as a float (None when absent or not a number)."""
        try:
            return float(self.trailer("Score") or "")
        except ValueError:
            return None

    @property
    def status(self) -> str | None:
        """The ``Status`` trailer: accepted, rejected, rollback, initial, manual or merge."""
        return self.trailer("Status")

    @property
    def split(self) -> str | None:
        """The ``Split`` trailer (``train`` / ``test``)."""
        return self.trailer("Split")

    @property
    def epoch(self) -> int | None:
        """The ``Epoch`` trailer as an int."""
        try:
            return int(self.trailer("Epoch") or "")
        except ValueError:
            return None

    @property
    def run(self) -> str | None:
        """The ``Run`` trailer: the id of the training run that wrote the commit."""
        return self.trailer("Run")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (what ``fnforge log --json`` prints)."""
        return {
            "sha": self.sha,
            "short": self.short,
            "parents": list(self.parents),
            "subject": self.subject,
            "body": self.body,
            "trailers": dict(self.trailers),
            "score": self.score,
            "status": self.status,
            "split": self.split,
            "epoch": self.epoch,
            "run": self.run,
            "time": self.time.isoformat(),
            "tree_hash": self.tree_hash,
        }


def _body_without_trailers(body: str, trailers: str) -> str:
    body = body.strip()
    if trailers.strip():
        # git takes trailers from the message's last paragraph: drop it from the body.
        head, sep, _ = body.rpartition("\n\n")
        body = head if sep else ""
    return body.strip()


def _functions_change(raw: str) -> str | None:
    """The new ``functions`` tree id from ``--raw -t`` lines, EMPTY_TREE if deleted, None if unchanged."""
    for line in raw.splitlines():
        if not line.startswith(":"):
            continue
        meta, _, path = line.partition("\t")
        if path != "functions":
            continue
        _, dst_mode, _, dst_sha, status = meta[1:].split()
        return dst_sha if dst_mode.startswith("04") and not status.startswith("D") else EMPTY_TREE
    return None


def parse_log(output: bytes, functions_tree: Callable[[str], str]) -> list[Version]:
    """Versions from ``git log`` run with :data:`LOG_ARGS`, newest first.

    ``functions_tree(sha)`` is asked for the ``functions/`` tree of the oldest
    commit when the log does not start at a root commit that shows it.
    """
    text = output.decode(errors="replace")
    if not text.strip():
        return []
    tokens = text.split("\0")
    records: list[tuple[list[str], str | None]] = []
    head = tokens[0].strip()
    index = 1
    while index + 5 <= len(tokens) - 1 and head:
        fields = [head, *tokens[index : index + 5]]
        raw, _, head = tokens[index + 5].rpartition("\n")
        records.append((fields, _functions_change(raw)))
        head = head.strip()
        index += 6
    versions: list[Version] = []
    current: str | None = None
    for (sha, parents, date, subject, body, trailers), change in reversed(records):
        if change is not None:
            current = change
        elif current is None:
            current = functions_tree(sha) if parents.strip() else EMPTY_TREE
        versions.append(
            Version(
                sha=sha,
                parents=tuple(parents.split()),
                subject=subject,
                body=_body_without_trailers(body, trailers),
                trailers=parse_trailer_lines(trailers),
                time=datetime.fromisoformat(date),
                tree_hash=current,
            )
        )
    versions.reverse()
    return versions
