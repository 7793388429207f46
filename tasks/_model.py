"""The task record every loader returns."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any  # Any: JSON values (dict forms of records, request and reply bodies)

__all__ = ["Task"]

_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One problem to solve: what the agent is asked and what counts as right.

    Args:
        id: stable identifier within its dataset (e.g. ``test/algebra/1.json``).
        question: the full text given to the agent (tables rendered as text).
        answer: the reference answer, as the scorer expects it.
        domain: the task set it came from, e.g. ``math:algebra``; picks the scorer.
        metadata: JSON-safe extras (level, choices, unit, ...).
        attachments: host paths of files the agent may read (GAIA); the question
            names each by its file name, which is where the agent finds it.

    Example:
        >>> Task(id="t1", question="1+1?", answer="2", domain="gsm8k").hash[:8]
        '07ed9d0b'
    """

    id: str
    question: str
    answer: str
    domain: str
    metadata: dict[str, Any] = field(default_factory=dict)  # Any: JSON values
    attachments: tuple[str, ...] = ()

    @property
    def hash(self) -> str:
        """sha256 of the task's content; keys caches and split records.

        Attachments count by file name, not host location, so the hash is the
        same on every machine; loaders put each file's sha256 in ``metadata``.
        """
        payload = json.dumps(
            {
                "id": self.id,
                "question": self.question,
                "answer": self.answer,
                "domain": self.domain,
                "metadata": self.metadata,
                "attachments": [PurePath(a).name for a in self.attachments],
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form of the task (with ``schema_version``)."""
        return {
            "schema_version": _SCHEMA_VERSION,
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "domain": self.domain,
            "metadata": self.metadata,
            "attachments": list(self.attachments),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """Rebuild a task from :meth:`to_dict` output.

        Raises:
            ValueError: the dict has another ``schema_version`` or misses a field.
        """
        version = data.get("schema_version", _SCHEMA_VERSION)
        if version != _SCHEMA_VERSION:
            raise ValueError(f"unsupported task schema_version {version!r}")
        try:
            return cls(
                id=str(data["id"]),
                question=str(data["question"]),
                answer=str(data["answer"]),
                domain=str(data["domain"]),
                metadata=dict(data.get("metadata", {})),
                attachments=tuple(str(a) for a in data.get("attachments", ())),
            )
        except KeyError as exc:
            raise ValueError(f"task dict has no {exc.args[0]!r} field") from exc
