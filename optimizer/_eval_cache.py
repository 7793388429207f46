"""The evaluation cache: one SQLite file of scored task runs, keyed by everything that decides them.

A key (:class:`CacheKey`, made by :mod:`optimizer._result_key`) digests the
function-set tree hash, the task hash, the agent configuration with the code
and library versions that run and score it, the sandbox policy, the model, the
endpoint and sampling parameters, and the rollout index; the value is one
scored run (correctness, answer, tokens, cost, wall time, successful calls)
with its trajectory JSON. Re-evaluating a function set on tasks it was already
scored on is a lookup: no LLM call, no sandbox call. Keys are derived from
content, so no version number has to be bumped when what a result means changes.

The rows live in a :class:`~functions.Store` (WAL, one connection per
thread, bounded, batched writes): several threads, coroutines handing writes
to threads, ``EvalCache`` objects and processes may share one file. Writes
are buffered: :meth:`EvalCache.close` (or :meth:`EvalCache.flush`) writes the
last ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any  # Any: JSON values (dict forms of records, request and reply bodies)

from fnforge.functions import Store, json_digest
from fnforge.optimizer._exceptions import OptimizerError

__all__ = ["CacheKey", "EvalCache", "EvalCacheError", "digest"]

MAX_BYTES = 1 << 30
"""Scored runs kept at most (as JSON text, trajectories included); the oldest go first."""


class EvalCacheError(OptimizerError):
    """Raised when the evaluation cache file cannot be created, opened, read or written."""


def digest(data: object) -> str:
    """sha256 hex of the canonical JSON of ``data`` (:func:`functions.json_digest`)."""
    return json_digest(data)


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
        ...          sampling="{}", rollout=0).key[:8]
        '45fa8fc3'
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
    """A store of scored runs shared by threads and processes (see the module docstring).

    Use it as a context manager or call :meth:`close`.

    Args:
        path: the SQLite file; created (with its folder) if missing.
        max_bytes: the bound on stored results; the oldest go first.

    Raises:
        EvalCacheError: the file cannot be created or opened, or is not an evaluation cache.

    Example (async or needs a provider, so shown, not run)::

        with EvalCache(repo_state_dir / "eval-cache.sqlite") as cache:
            report = await evaluate(fs, tasks, AgentConfig(), client=c, sandbox=s, cache=cache)
    """

    def __init__(self, path: Path | str, *, max_bytes: int = MAX_BYTES) -> None:
        self.path = Path(path)
        self._store = Store(self.path, kind="evaluation-results", label="the evaluation cache",
                            error=EvalCacheError, max_bytes=max_bytes, legacy=("results", "result"))

    def __enter__(self) -> EvalCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        found = {}
        for key, text in self._store.get_many(k.key for k in keys).items():
            value = _loads(text)
            if value is not None:
                found[key] = value
        return found

    def put(self, key: CacheKey, result: Mapping[str, Any]) -> None:
        """Store ``result`` (a JSON-safe dict) under ``key``, replacing any earlier one; written with the
        next batch.

        Raises:
            EvalCacheError: the file cannot be written.
        """
        self.put_many([(key, result)])

    def put_many(self, items: Iterable[tuple[CacheKey, Mapping[str, Any]]]) -> None:
        """Store several results (see :meth:`put`).

        Raises:
            EvalCacheError: the file cannot be written.
        """
        self._store.put_many({key.key: json.dumps(dict(result), ensure_ascii=False, separators=(",", ":"))
                              for key, result in items})

    def flush(self) -> None:
        """Write the buffered results now.

        Raises:
            EvalCacheError: the file cannot be written.
        """
        self._store.flush()

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        """Write the buffered results and close the file (idempotent)."""
        self._store.close()


def _loads(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
