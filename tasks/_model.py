"""The task record every loader returns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Task"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One problem to solve: what the agent is asked and what counts as right.

    Args:
        id: stable identifier within its dataset (e.g. ``test/algebra/1.json``).
        question: the full text given to the agent (tables rendered as text).
        answer: the reference answer, as the scorer expects it.
        domain: the task set it came from, e.g. ``math:algebra``.
        metadata: JSON-safe extras (level, choices, unit, ...).
        attachments: paths of files the agent may read (GAIA).
    """

    id: str
    question: str
    answer: str
    domain: str
    metadata: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[str, ...] = ()

    @property
    def hash(self) -> str:
        """sha256 of the task's content; keys caches and split records."""
        payload = json.dumps(
            {
                "id": self.id,
                "question": self.question,
                "answer": self.answer,
                "domain": self.domain,
                "metadata": self.metadata,
                "attachments": list(self.attachments),
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form of the task."""
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "domain": self.domain,
            "metadata": self.metadata,
            "attachments": list(self.attachments),
        }
