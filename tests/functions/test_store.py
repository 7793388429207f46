"""The SQLite store under both caches: batched, bounded, versioned, one connection per thread."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnforge.functions import STORE_VERSION, Store


class StoreFault(Exception):
    """The error class the tests' stores raise."""


def store(path: Path, **options: object) -> Store:
    return Store(path, kind="test", label="the test store", error=StoreFault, **options)  # type: ignore[arg-type]


def rows_on_disk(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT key, value FROM entries"))


def test_store_does_read_back_rows_before_and_after_they_are_written(tmp_path: Path) -> None:
    with_rows = store(tmp_path / "s.sqlite")
    with_rows.put("a", "1")
    assert with_rows.get("a") == "1" and rows_on_disk(tmp_path / "s.sqlite") == {}  # buffered, yet readable
    with_rows.close()
    again = store(tmp_path / "s.sqlite")
    assert again.get("a") == "1" and again.get("b") is None
    again.close()


def test_store_does_write_a_full_batch_at_once(tmp_path: Path) -> None:
    batched = store(tmp_path / "s.sqlite", batch=3, flush_s=3600)
    batched.put_many({"a": "1", "b": "2"})
    assert rows_on_disk(tmp_path / "s.sqlite") == {}
    batched.put("c", "3")
    assert rows_on_disk(tmp_path / "s.sqlite") == {"a": "1", "b": "2", "c": "3"}
    batched.close()


def test_store_does_write_a_buffer_that_has_waited_flush_s(tmp_path: Path) -> None:
    eager = store(tmp_path / "s.sqlite", batch=1000, flush_s=0)
    eager.put("a", "1")
    assert rows_on_disk(tmp_path / "s.sqlite") == {"a": "1"}
    eager.close()


def test_store_does_replace_a_key_written_again(tmp_path: Path) -> None:
    with_rows = store(tmp_path / "s.sqlite", batch=1)
    with_rows.put("a", "old")
    with_rows.put("a", "newer")
    assert with_rows.get("a") == "newer" and len(with_rows) == 1 and with_rows.stored_bytes == len("newer")
    with_rows.close()


def test_store_does_evict_the_oldest_rows_past_its_bound(tmp_path: Path) -> None:
    bounded = store(tmp_path / "s.sqlite", max_bytes=1000, batch=1)
    for i in range(30):
        bounded.put(f"k{i:02d}", "x" * 100)
    kept = sorted(bounded.get_many(f"k{i:02d}" for i in range(30)))
    assert bounded.stored_bytes <= 1000 and kept[-1] == "k29"
    assert kept == [f"k{i:02d}" for i in range(30 - len(kept), 30)]  # the newest, contiguous
    bounded.close()


def test_store_does_record_its_layout_version(tmp_path: Path) -> None:
    store(tmp_path / "s.sqlite").close()
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == STORE_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_rejects_a_file_of_a_newer_layout(tmp_path: Path) -> None:
    store(tmp_path / "s.sqlite").close()
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        db.execute(f"PRAGMA user_version = {STORE_VERSION + 1}")
    with pytest.raises(StoreFault, match="newer fnforge"):
        store(tmp_path / "s.sqlite")


def test_store_rejects_a_file_of_another_kind(tmp_path: Path) -> None:
    Store(tmp_path / "s.sqlite", kind="other", error=StoreFault).close()
    with pytest.raises(StoreFault, match="holds other, not test"):
        store(tmp_path / "s.sqlite")


def test_store_rejects_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    (tmp_path / "s.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreFault, match="cannot open the test store"):
        store(tmp_path / "s.sqlite")


def test_store_does_adopt_the_rows_of_the_layout_it_replaces(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, model TEXT, response TEXT, created REAL)")
        db.execute("INSERT INTO responses VALUES ('a', 'm', '{\"x\": 1}', 1.0)")
    adopted = store(tmp_path / "s.sqlite", legacy=("responses", "response"))
    assert adopted.get("a") == '{"x": 1}' and adopted.stored_bytes == len('{"x": 1}')
    adopted.close()
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "responses" not in tables


def test_store_does_give_each_thread_its_own_connection_and_close_them_all(tmp_path: Path) -> None:
    shared = store(tmp_path / "s.sqlite", batch=1)
    seen: list[str | None] = []

    def work(i: int) -> None:
        shared.put(f"k{i}", str(i))
        seen.append(shared.get(f"k{i}"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen, key=int) == [str(i) for i in range(8)]  # type: ignore[arg-type]
    assert len(shared._connections) == 9  # noqa: SLF001  # eight threads and the opener's
    shared.close()
    assert shared._connections == []  # noqa: SLF001
    with pytest.raises(RuntimeError, match="closed"):
        shared.put("late", "x")


@settings(max_examples=40, deadline=None)
@given(writes=st.lists(st.tuples(st.sampled_from("abcdef"), st.text(max_size=20)), max_size=40),
       batch=st.integers(min_value=1, max_value=8))
def test_store_does_hold_the_last_value_written_to_each_key(tmp_path_factory: pytest.TempPathFactory,
                                                            writes: list[tuple[str, str]], batch: int) -> None:
    path = tmp_path_factory.mktemp("store") / "s.sqlite"
    model: dict[str, str] = {}
    kept = store(path, batch=batch, flush_s=3600)
    for key, value in writes:
        kept.put(key, value)
        model[key] = value
        assert kept.get(key) == value
    kept.close()
    assert rows_on_disk(path) == model
