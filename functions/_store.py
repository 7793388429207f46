"""One small SQLite store for fnforge's caches: key -> JSON text, bounded, versioned, written in batches.

Both caches keep their rows in a :class:`Store`: the LLM response cache
(``agents``) and the evaluation cache (``optimizer``). It lives here, in the
package both may import, so that each cache is only its keys and its values.

- **Shared safely.** WAL journal, ``synchronous=NORMAL`` (a crash may lose the
  last writes, never corrupt the file), a 30 s busy timeout: several threads and
  processes may use one file at once.
- **One connection per thread**, so reads never wait for each other on a lock
  of ours; SQLite itself orders the writers.
- **Batched writes.** :meth:`Store.put` buffers; the buffer is written in one
  transaction once it holds ``batch`` rows or its oldest row is ``flush_s``
  old, and on :meth:`Store.flush` and :meth:`Store.close`. Reads see buffered
  rows. (One transaction per row cost a WAL commit for every LLM reply.)
- **Bounded.** Past ``max_bytes`` of stored text the oldest rows are evicted
  (first written, first gone) down to 90 % of the bound. The running total is
  kept by triggers in a one-row table, so neither opening nor writing scans
  the file.
- **Versioned.** ``PRAGMA user_version`` holds :data:`STORE_VERSION`. A file
  of an older layout is rebuilt (the rows of a ``legacy`` table, the caches'
  layout before this store, are copied over); one of a newer layout, or of
  another ``kind`` of store, is refused.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

__all__ = ["STORE_VERSION", "Store"]

STORE_VERSION = 1
"""The file layout this code writes (``PRAGMA user_version``)."""

_CHUNK = 500  # host parameters per SELECT ... IN (...), well under SQLite's limit
_LAYOUT = """
CREATE TABLE IF NOT EXISTS entries (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    size    INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value);
INSERT OR IGNORE INTO meta (name, value) VALUES ('bytes', 0);
CREATE TRIGGER IF NOT EXISTS entries_added AFTER INSERT ON entries
    BEGIN UPDATE meta SET value = value + new.size WHERE name = 'bytes'; END;
CREATE TRIGGER IF NOT EXISTS entries_replaced AFTER UPDATE OF size ON entries
    BEGIN UPDATE meta SET value = value + new.size - old.size WHERE name = 'bytes'; END;
CREATE TRIGGER IF NOT EXISTS entries_removed AFTER DELETE ON entries
    BEGIN UPDATE meta SET value = value - old.size WHERE name = 'bytes'; END;
"""
_UPSERT = ("INSERT INTO entries (key, value, size, created) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE"
           " SET value = excluded.value, size = excluded.size, created = excluded.created")


class Store:
    """A bounded key -> text store in one SQLite file (see the module docstring).

    Args:
        path: the SQLite file; created (with its folder) if missing.
        kind: what the file holds (e.g. ``"llm-responses"``); a file of another kind is refused.
        label: how error messages name the store (e.g. ``"the LLM cache"``).
        error: builds the exception raised when the file cannot be opened, read or written,
            from a message (each cache raises its own error class).
        max_bytes: the bound on stored text; the oldest rows go first.
        batch: buffered rows that trigger a write.
        flush_s: age of the oldest buffered row that triggers a write (checked on each put).
        legacy: ``(table, value column)`` of the layout this store replaces: its rows
            (``key``, the value column, ``created``) are copied when an old file is opened.

    Raises:
        Exception: ``error(message)`` when the file cannot be created or opened, is of a
            newer layout, or holds another kind of store.

    Example:
        >>> store = Store(tmp / "c.sqlite", kind="demo", error=RuntimeError)
        >>> store.put("k", '{"a": 1}'); store.get("k")
        '{"a": 1}'
    """

    def __init__(self, path: Path | str, *, kind: str, error: Callable[[str], Exception], label: str = "the store",
                 max_bytes: int = 1 << 30, batch: int = 64, flush_s: float = 1.0,
                 legacy: tuple[str, str] | None = None) -> None:
        if max_bytes < 1 or batch < 1 or flush_s < 0:
            raise ValueError("Store needs max_bytes >= 1, batch >= 1 and flush_s >= 0")
        self.path, self.kind, self.label = Path(path), kind, label
        self.max_bytes, self.batch, self.flush_s = max_bytes, batch, flush_s
        self._error = error
        self._local = threading.local()
        self._lock = threading.Lock()  # guards the buffer and the list of connections
        self._connections: list[sqlite3.Connection] = []
        self._pending: dict[str, tuple[str, float]] = {}
        self._writing: dict[str, tuple[str, float]] = {}  # taken by a flush, not yet committed: still readable
        self._oldest: float | None = None
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._prepare(self._conn(), legacy)
        except (OSError, sqlite3.Error) as exc:
            self._close_connections()
            raise self._error(f"cannot open {self.label} {self.path}: {exc}") from exc
        except BaseException:
            self._close_connections()
            raise

    # --- reading ---------------------------------------------------------------

    def get(self, key: str) -> str | None:
        """The text stored under ``key``, or ``None``."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """``{key: text}`` for every key that has a row (buffered rows included); one query per 500 keys."""
        wanted = set(keys)
        with self._lock:
            found = {k: self._writing[k][0] for k in wanted if k in self._writing}
            found.update({k: self._pending[k][0] for k in wanted if k in self._pending})
        missing = sorted(wanted - set(found))
        try:
            db = self._conn()
            for start in range(0, len(missing), _CHUNK):
                chunk = missing[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(db.execute(f"SELECT key, value FROM entries WHERE key IN ({marks})", chunk))
        except sqlite3.Error as exc:
            raise self._error(f"cannot read {self.label} {self.path}: {exc}") from exc
        return found

    def __len__(self) -> int:
        self.flush()
        try:
            return int(self._conn().execute("SELECT COUNT(*) FROM entries").fetchone()[0])
        except sqlite3.Error as exc:
            raise self._error(f"cannot read {self.label} {self.path}: {exc}") from exc

    @property
    def stored_bytes(self) -> int:
        """Text stored in the file now (buffered rows not counted)."""
        try:
            return int(self._conn().execute("SELECT value FROM meta WHERE name = 'bytes'").fetchone()[0])
        except sqlite3.Error as exc:
            raise self._error(f"cannot read {self.label} {self.path}: {exc}") from exc

    # --- writing ---------------------------------------------------------------

    def put(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` (replacing any earlier one); written with the next batch."""
        self.put_many({key: value})

    def put_many(self, rows: Mapping[str, str]) -> None:
        """Buffer ``rows``; write the buffer if it is full or old enough."""
        now = time.time()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.label} {self.path} is closed")
            for key, value in rows.items():
                self._pending[key] = (value, now)
            if self._oldest is None and self._pending:
                self._oldest = now
            due = len(self._pending) >= self.batch or (self._oldest is not None and now - self._oldest >= self.flush_s)
        if due:
            self.flush()

    def flush(self) -> None:
        """Write every buffered row, in one transaction, and evict past the bound."""
        with self._lock:
            rows, self._pending, self._oldest = self._pending, {}, None
            self._writing.update(rows)  # a reader in another thread must not miss them until they are committed
        if not rows:
            return
        try:
            db = self._conn()
            with _transaction(db):
                db.executemany(_UPSERT, ((k, v, len(v), t) for k, (v, t) in rows.items()))
                self._evict(db)
        except sqlite3.Error as exc:
            raise self._error(f"cannot write {self.label} {self.path}: {exc}") from exc
        finally:
            with self._lock:
                for key, row in rows.items():
                    if self._writing.get(key) is row:
                        del self._writing[key]

    def close(self) -> None:
        """Write the buffer and close every connection (idempotent); later writes raise RuntimeError."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            with self._lock:
                self._closed = True
            self._close_connections()

    # --- inside ----------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.label} {self.path} is closed")
            # check_same_thread=False only so that close() may close it from another thread.
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._connections.append(db)
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA synchronous = NORMAL")
        self._local.db = db
        return db

    def _close_connections(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for db in connections:
            db.close()

    def _prepare(self, db: sqlite3.Connection, legacy: tuple[str, str] | None) -> None:
        db.execute("PRAGMA journal_mode = WAL")
        with _transaction(db):
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > STORE_VERSION:
                raise self._error(f"{self.label} {self.path} was written by a newer fnforge (store layout {version}; "
                                  f"this one reads {STORE_VERSION})")
            if version < STORE_VERSION:
                db.execute("DROP TABLE IF EXISTS entries")  # a layout between this one and legacy: rebuilt
                db.execute("DROP TABLE IF EXISTS meta")
            _script(db, _LAYOUT)
            if version < STORE_VERSION:
                self._adopt(db, legacy)
                db.execute(f"PRAGMA user_version = {STORE_VERSION}")
            kind = db.execute("SELECT value FROM meta WHERE name = 'kind'").fetchone()
            if kind is None:
                db.execute("INSERT INTO meta (name, value) VALUES ('kind', ?)", (self.kind,))
            elif kind[0] != self.kind:
                raise self._error(f"{self.label} {self.path} holds {kind[0]}, not {self.kind}")

    def _adopt(self, db: sqlite3.Connection, legacy: tuple[str, str] | None) -> None:
        """Copy the rows of the legacy table, if the file has one, and drop it."""
        if legacy is None:
            return
        table, column = legacy
        if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is None:
            return
        db.execute(f"INSERT OR IGNORE INTO entries (key, value, size, created) "  # noqa: S608  # our own names
                   f"SELECT key, {column}, length({column}), created FROM {table}")
        db.execute(f"DROP TABLE {table}")
        self._evict(db)

    def _evict(self, db: sqlite3.Connection) -> None:
        """Delete the oldest rows while the stored text passes the bound (down to 90 % of it)."""
        stored = int(db.execute("SELECT value FROM meta WHERE name = 'bytes'").fetchone()[0])
        if stored <= self.max_bytes:
            return
        excess, freed, last = stored - self.max_bytes * 9 // 10, 0, None
        oldest = db.execute("SELECT rowid, size FROM entries ORDER BY rowid")
        for rowid, size in oldest:
            freed, last = freed + size, rowid
            if freed >= excess:
                break
        oldest.close()
        if last is not None:
            db.execute("DELETE FROM entries WHERE rowid <= ?", (last,))


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _script(db: sqlite3.Connection, script: str) -> None:
    """Run the statements of ``script`` one by one (``executescript`` would commit the open transaction)."""
    statement = ""
    for line in script.strip().splitlines():
        statement += line + "\n"
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
