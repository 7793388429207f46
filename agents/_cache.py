"""The on-disk response cache: replies keyed by the sha256 of the request, in a :class:`~functions.Store`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any  # Any: JSON values (dict forms of records, request and reply bodies)

from fnforge.functions import Store, json_digest

from fnforge.agents._exceptions import LLMCacheError

__all__ = ["ResponseCache", "request_key"]

KEY_VERSION = 1
MAX_BYTES = 1 << 30
"""Replies kept at most (as JSON text); the oldest go first."""


def request_key(body: dict[str, Any], *, rollout: int | str, endpoint: str) -> str:
    """sha256 of the canonical JSON of everything that decides a reply.

    ``body`` is the chat request as sent (model, messages, tools, sampling
    parameters); ``rollout`` separates repeated samples of the same request;
    ``endpoint`` is the base URL (one model name on two servers may be two
    models). The API key is not part of the key.
    """
    return json_digest({"v": KEY_VERSION, "rollout": rollout, "endpoint": endpoint, "request": body})


class ResponseCache:
    """Request key -> response JSON, shared by threads and processes (see :class:`~functions.Store`).

    Replies are written in batches: call :meth:`close` (the client does) so the
    last ones reach the file.

    Raises:
        LLMCacheError: the file cannot be created, opened, read or written.
    """

    def __init__(self, path: Path, *, max_bytes: int = MAX_BYTES) -> None:
        self.path = Path(path)
        self._store = Store(self.path, kind="llm-responses", label="the LLM cache",
                            error=LLMCacheError, max_bytes=max_bytes,
                            legacy=("responses", "response"))

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response for ``key``, or ``None`` (a damaged row is a miss; the next put replaces it)."""
        text = self._store.get(key)
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, response: dict[str, Any]) -> None:
        """Store ``response`` under ``key`` (replacing any earlier one)."""
        self._store.put(key, json.dumps(response, ensure_ascii=False, separators=(",", ":")))

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        """Write what is buffered and close the file."""
        self._store.close()
