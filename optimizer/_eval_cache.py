"""The evaluation cache: one SQLite file of scored task runs, keyed by everything that decides them.

A key (:class:`CacheKey`, made by :mod:`optimizer._result_key`) digests the
function-set tree hash, the task hash, the agent configuration with the code
and library versions that run and score it, the sandbox policy, the model, the
endpoint and sampling parameters, and the rollout index; the value is one
scored run (correctness, answer, tokens, cost, wall time, successful calls)
with its trajectory JSON. Re-evaluating a function set on tasks it was already
scored on is a lookup: no LLM call, no sandbox call. Keys are derived from
content, so no version number has to be bumped when what a result means changes.

The file is safe to share: WAL journal, a 30 s busy timeout, one short
transaction per write, and a lock around the connection so that several
threads (or coroutines handing writes to threads) may use one ``EvalCache``;
several ``EvalCache`` objects or processes may open the same file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnforge.optimizer._exceptions import OptimizerError

__all__ = ["CacheKey", "EvalCache", "EvalCacheError", "digest"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key        TEXT PRIMARY KEY,
    tree_hash  TEXT NOT NULL,
    task_hash  TEXT NOT NULL,
    agent      TEXT NOT NULL,
    sandbox    TEXT NOT NULL,
    model      TEXT NOT NULL,
    sampling   TEXT NOT NULL,
    rollout    INTEGER NOT NULL,
    result     TEXT NOT NULL,
    created    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_tree ON results (tree_hash);
"""
_CHUNK = 500  # host parameters per SELECT ... IN (...), well under SQLite's limit


class EvalCacheError(OptimizerError):
    """Raised when the evaluation cache file cannot be created, opened, read or written."""


def digest(data: object) -> str:
    """sha256 hex of the canonical JSON of ``data`` (sorted keys, no spaces)."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheKey:
    """What decides one scored run; ``key`` is the row's primary key.

    Args:
        tree_hash: ``FunctionSet.tree_hash`` of the functions offered.
        task_hash: ``Task.hash``.
        agent: digest of the agent configuration, the task's scorer, and the code and
            library versions that run and score it.
        sandbox: digest of the sandbox policy (limits and allowed modules change results).
        model: the model name.
        sampling: digest of the endpoint, the sampling parameters and the effective tools mode.
        rollout: the sample index.

    Example:
        >>> CacheKey(tree_hash="t", task_hash="h", agent="a", sandbox="s", model="m",
        ...          sampling="{}", rollout=0).key[:8]  # doctest: +SKIP
        '3f1c9a20'
    """

    tree_hash: str
    task_hash: str
    agent: str
    sandbox: str
    model: str
    sampling: str
    rollout: int

    @property
    def key(self) -> str:
        """sha256 over every field."""
        return digest({
            "tree": self.tree_hash, "task": self.task_hash, "agent": self.agent,
            "sandbox": self.sandbox, "model": self.model, "sampling": self.sampling,
            "rollout": self.rollout,
        })


class EvalCache:
    """A thread-safe, multi-process store of scored runs in one SQLite file (WAL mode).

    Use it as a context manager or call :meth:`close`.

    Args:
        path: the SQLite file; created (with its folder) if missing.

    Raises:
        EvalCacheError: the file cannot be created or opened, or is not a cache.

    Example:
        >>> with EvalCache(repo_state_dir / "eval-cache.sqlite") as cache:  # doctest: +SKIP
        ...     report = await evaluate(fs, tasks, AgentConfig(), client=c, sandbox=s, cache=cache)
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0,
                                       isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            if self._db is not None:
                self._db.close()
                self._db = None
            raise EvalCacheError(f"cannot open the evaluation cache {self.path}: {exc}") from exc

    def __enter__(self) -> EvalCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"the evaluation cache {self.path} is closed")
        return self._db

    def get(self, key: CacheKey) -> dict[str, Any] | None:
        """The stored result for ``key``, or ``None``.

        Raises:
            EvalCacheError: the file cannot be read.
        """
        return self.get_many([key]).get(key.key)

    def get_many(self, keys: Iterable[CacheKey]) -> dict[str, dict[str, Any]]:
        """``{key.key: result}`` for every key that has a stored result (one query per 500 keys).

        A damaged row counts as a miss; the next :meth:`put` replaces it.

        Raises:
            EvalCacheError: the file cannot be read.
        """
        wanted = sorted({k.key for k in keys})
        found: dict[str, dict[str, Any]] = {}
        try:
            with self._lock:
                db = self._conn()
                for start in range(0, len(wanted), _CHUNK):
                    chunk = wanted[start:start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows = db.execute(f"SELECT key, result FROM results WHERE key IN ({marks})", chunk)
                    for key, text in rows:
                        value = _loads(text)
                        if value is not None:
                            found[key] = value
        except sqlite3.Error as exc:
            raise EvalCacheError(f"cannot read the evaluation cache {self.path}: {exc}") from exc
        return found

    def put(self, key: CacheKey, result: Mapping[str, Any]) -> None:
        """Store ``result`` (a JSON-safe dict) under ``key``, replacing any earlier one.

        Raises:
            EvalCacheError: the file cannot be written.
        """
        text = json.dumps(dict(result), ensure_ascii=False, separators=(",", ":"))
        row = (key.key, key.tree_hash, key.task_hash, key.agent, key.sandbox, key.model, key.sampling,
               key.rollout, text, time.time())
        try:
            with self._lock:
                self._conn().execute(
                    "INSERT OR REPLACE INTO results (key, tree_hash, task_hash, agent, sandbox, model,"
                    " sampling, rollout, result, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        except sqlite3.Error as exc:
            raise EvalCacheError(f"cannot write the evaluation cache {self.path}: {exc}") from exc

    def __len__(self) -> int:
        try:
            with self._lock:
                return int(self._conn().execute("SELECT COUNT(*) FROM results").fetchone()[0])
        except sqlite3.Error as exc:
            raise EvalCacheError(f"cannot read the evaluation cache {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _loads(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
