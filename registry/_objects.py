"""Pure byte-level Git objects and commit messages: trees, commits, trailers. No I/O.

The layout of a fnforge commit message (DESIGN.md §3)::

    <subject>

    <body: the optimizer's rationale; optional>

    Score: 0.6500
    Split: train
    Status: accepted
    ...
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "EMPTY_TREE",
    "STATUSES",
    "TRAILER_ORDER",
    "Identity",
    "TreeEntry",
    "build_commit",
    "build_tree",
    "format_message",
    "format_score",
    "message_trailers",
    "parse_commit",
    "parse_tree",
    "parse_trailer_lines",
    "split_message",
]

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
"""Git's id of the empty tree: the ``tree_hash`` of an empty function set."""

STATUSES = ("accepted", "initial", "manual", "merge", "rejected", "rollback")
"""Values the ``Status`` trailer may take."""

TRAILER_ORDER = ("Score", "Metric", "Split", "Status", "Epoch", "Tasks", "Model", "Run")
"""Trailers of DESIGN.md §3, written first and in this order; others follow as given."""

_TRAILER_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_TRAILER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s?(.*)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """The author and committer of fnforge's commits (default ``fnforge <fnforge@localhost>``)."""

    name: str = "fnforge"
    email: str = "fnforge@localhost"

    def __post_init__(self) -> None:
        for value in (self.name, self.email):
            if not value or any(c in value for c in "<>\n\0"):
                raise ValueError(f"identity parts must be non-empty without '<', '>' or newlines: {value!r}")

    def signature(self, when: float) -> bytes:
        """``Name <email> <epoch> <+hhmm>`` for the commit header, in local time."""
        offset = time.localtime(when).tm_gmtoff // 60
        sign = "+" if offset >= 0 else "-"
        hours, minutes = divmod(abs(offset), 60)
        return f"{self.name} <{self.email}> {int(when)} {sign}{hours:02d}{minutes:02d}".encode()


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One entry of a tree object: mode (``100644``, ``40000``...), name, object id."""

    mode: str
    name: str
    sha: str

    @property
    def is_tree(self) -> bool:
        return self.mode == "40000"


def _sort_key(entry: TreeEntry) -> bytes:
    # Git orders a tree by name, comparing directory names as if they ended with "/".
    return entry.name.encode() + (b"/" if entry.is_tree else b"")


def build_tree(entries: Iterable[TreeEntry]) -> bytes:
    """The content of a tree object holding ``entries`` (sorted the way git sorts)."""
    return b"".join(
        f"{e.mode} {e.name}".encode() + b"\0" + bytes.fromhex(e.sha) for e in sorted(entries, key=_sort_key)
    )


def parse_tree(data: bytes) -> list[TreeEntry]:
    """The entries of a tree object's content."""
    entries, pos = [], 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = data[pos:space].decode()
        name = data[space + 1 : nul].decode(errors="surrogateescape")
        entries.append(TreeEntry(mode, name, data[nul + 1 : nul + 21].hex()))
        pos = nul + 21
    return entries


def build_commit(
    *, tree: str, parents: Iterable[str], identity: Identity, when: float, message: str
) -> bytes:
    """The content of a commit object (UTF-8 message, author = committer = ``identity``)."""
    signature = identity.signature(when)
    lines = [b"tree " + tree.encode()]
    lines += [b"parent " + p.encode() for p in parents]
    lines += [b"author " + signature, b"committer " + signature]
    return b"\n".join(lines) + b"\n\n" + message.encode()


def parse_commit(data: bytes) -> tuple[str, tuple[str, ...], str]:
    """``(tree, parents, message)`` of a commit object's content."""
    header, _, message = data.partition(b"\n\n")
    tree, parents = "", []
    for line in header.split(b"\n"):
        if line.startswith(b"tree "):
            tree = line[5:].decode()
        elif line.startswith(b"parent "):
            parents.append(line[7:].decode())
    return tree, tuple(parents), message.decode(errors="replace")


def format_score(score: float) -> str:
    """The ``Score`` trailer's text: four decimals (``0.6500``)."""
    return f"{score:.4f}"


def _trailer_value(key: str, value: object) -> str:
    if isinstance(value, bool):
        raise ValueError(f"trailer {key!r} must be text or a number, not a bool")
    if key == "Score":
        try:
            number = float(value) if isinstance(value, (int, float)) else float(str(value))
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(f"trailer 'Score' must be a finite number, not {value!r}")
        if isinstance(value, (int, float)):
            return format_score(number)
    if key == "Epoch":
        try:
            int(str(value))
        except ValueError:
            raise ValueError(f"trailer 'Epoch' must be an integer, not {value!r}") from None
    if key == "Status" and value not in STATUSES:
        raise ValueError(f"trailer 'Status' must be one of {', '.join(STATUSES)}, not {value!r}")
    text = str(value).strip()
    if not text or "\n" in text or "\0" in text:
        raise ValueError(f"trailer {key!r} needs a one-line, non-empty value, not {value!r}")
    return text


def format_message(subject: str, body: str = "", trailers: Mapping[str, object] | None = None) -> str:
    """A commit message: subject, optional body, then the trailers block.

    Raises:
        ValueError: the subject is empty or multi-line, a trailer key is not
            ``Word-Word``, or a value breaks its rule (see ``_trailer_value``).
    """
    subject = subject.strip()
    if not subject or "\n" in subject or "\0" in subject or "\0" in body:
        raise ValueError(f"a commit subject must be one non-empty line, not {subject!r}")
    trailers = dict(trailers or {})
    for key in trailers:
        if not _TRAILER_KEY.match(key):
            raise ValueError(f"trailer keys are words joined by '-', not {key!r}")
    ordered = [k for k in TRAILER_ORDER if k in trailers] + [k for k in trailers if k not in TRAILER_ORDER]
    block = "\n".join(f"{k}: {_trailer_value(k, trailers[k])}" for k in ordered)
    parts = [subject]
    body = "\n".join(line.rstrip() for line in body.strip().splitlines())
    if body:
        parts.append(body)
    if block:
        parts.append(block)
    return "\n\n".join(parts) + "\n"


def parse_trailer_lines(text: str) -> dict[str, str]:
    """``Key: value`` lines (as git prints them with ``%(trailers:only,unfold)``) as a dict.

    A key given twice keeps its last value.
    """
    trailers: dict[str, str] = {}
    for line in text.splitlines():
        match = _TRAILER_LINE.match(line.strip())
        if match:
            trailers[match.group(1)] = match.group(2).strip()
    return trailers


def message_trailers(message: str) -> dict[str, str]:
    """The trailers of a raw commit message: its last paragraph when every line is ``Key: value``."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return {}
    lines = [line for line in paragraphs[-1].splitlines() if line.strip()]
    if not all(_TRAILER_LINE.match(line) for line in lines):
        return {}
    return parse_trailer_lines(paragraphs[-1])


def split_message(message: str) -> tuple[str, str, dict[str, str]]:
    """``(subject, body, trailers)`` of a commit message written by :func:`format_message`."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if not paragraphs:
        return "", "", {}
    trailers = message_trailers(message)
    rest = paragraphs[1:-1] if trailers else paragraphs[1:]
    return " ".join(paragraphs[0].split()), "\n\n".join(rest).strip(), trailers
