"""The on-disk response cache: one SQLite file, keyed by the sha256 of a request."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from fnforge.agents._exceptions import LLMCacheError

__all__ = ["ResponseCache", "request_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key      TEXT PRIMARY KEY,
    model    TEXT NOT NULL,
    response TEXT NOT NULL,
    created  REAL NOT NULL
)
"""
KEY_VERSION = 1


def request_key(body: dict[str, Any], *, rollout: int | str, endpoint: str) -> str:
    """sha256 of the canonical JSON of everything that decides a reply.

    ``body`` is the chat request as sent (model, messages, tools, sampling
    parameters); ``rollout`` separates repeated samples of the same request;
    ``endpoint`` is the base URL (one model name on two servers may be two
    models). The API key is not part of the key.
    """
    payload = json.dumps(
        {"v": KEY_VERSION, "rollout": rollout, "endpoint": endpoint, "request": body},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class ResponseCache:
    """A thread-safe key -> response-JSON store in one SQLite file (WAL mode).

    Several clients in one process, or several processes, may share a file.

    Raises:
        LLMCacheError: the file cannot be created, opened or read.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise LLMCacheError(f"cannot open the LLM cache {self.path}: {exc}") from exc

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response for ``key``, or ``None``."""
        try:
            with self._lock:
                row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise LLMCacheError(f"cannot read the LLM cache {self.path}: {exc}") from exc
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except ValueError:
            return None  # a damaged row is a miss; the next put replaces it
        return value if isinstance(value, dict) else None

    def put(self, key: str, model: str, response: dict[str, Any]) -> None:
        """Store ``response`` under ``key`` (replacing any earlier one)."""
        text = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
        try:
            with self._lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO responses (key, model, response, created) VALUES (?, ?, ?, ?)",
                    (key, model, text, time.time()),
                )
        except sqlite3.Error as exc:
            raise LLMCacheError(f"cannot write the LLM cache {self.path}: {exc}") from exc

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
