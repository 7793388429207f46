"""write_atomic and json_digest: the one durable writer and the one canonical-JSON digest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fnforge.functions import json_digest, write_atomic

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                    max_leaves=12)


def test_write_atomic_does_replace_the_content_and_leave_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    write_atomic(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓" and os.listdir(tmp_path) == ["state.json"]


def test_write_atomic_does_fsync_the_file_and_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    write_atomic(tmp_path / "a", "x")
    assert len(synced) == 2


def test_write_atomic_does_keep_the_old_content_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "\udc80")  # a lone surrogate cannot be encoded
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["state.json"]


@given(JSON)
def test_json_digest_does_ignore_key_order(value: object) -> None:
    if isinstance(value, dict):
        assert json_digest(dict(reversed(list(value.items())))) == json_digest(value)
    assert len(json_digest(value)) == 64
