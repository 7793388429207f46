"""Reading data files; every failure names the file and, where it can, the line."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any  # Any: JSON records of data files

from fnforge.tasks._exceptions import TaskDataError

__all__ = ["Record", "file_sha256", "get_int", "get_str", "get_text", "read_json", "read_jsonl"]

_LAYOUT_HINT = "the data folder should be laid out like shared/data (gsm8k/, math/, tabmwp/)"


def _read_bytes(path: Path, *, hint: str = "") -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TaskDataError(str(path), "file not found" + (f"; {hint}" if hint else "")) from None
    except OSError as exc:
        raise TaskDataError(str(path), f"cannot read: {exc.strerror or exc}") from exc


@dataclass(frozen=True, slots=True)
class Record:
    """One JSON object from a data file, with where it came from (for error messages)."""

    data: Mapping[str, Any]  # Any: parsed JSON
    path: Path
    line: int | None
    where: str = ""

    def error(self, reason: str) -> TaskDataError:
        """A TaskDataError for this record."""
        return TaskDataError(str(self.path), f"{self.where}{reason}", line=self.line)


def read_jsonl(path: Path, *, builtin: bool = False) -> Iterator[Record]:
    """Yield each non-blank line of a JSON Lines file as a Record.

    Raises:
        TaskDataError: the file is missing or unreadable, or a line is not UTF-8,
            not JSON, or not a JSON object.
    """
    data = _read_bytes(path, hint=_LAYOUT_HINT if builtin else "")
    # bytes.splitlines splits on \n and \r only, never on U+2028 inside a string.
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TaskDataError(str(path), "not valid UTF-8", line=number) from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaskDataError(str(path), f"invalid JSON ({exc.msg}, column {exc.colno})", line=number) from None
        if not isinstance(obj, dict):
            raise TaskDataError(str(path), f"expected a JSON object, got {_json_type(obj)}", line=number)
        yield Record(obj, path, number)


def read_json(path: Path, *, builtin: bool = False) -> Any:  # Any: parsed JSON
    """Parse a whole JSON file.

    Raises:
        TaskDataError: the file is missing, unreadable, not UTF-8 or not JSON.
    """
    data = _read_bytes(path, hint=_LAYOUT_HINT if builtin else "")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TaskDataError(str(path), "not valid UTF-8", line=line) from None
    except json.JSONDecodeError as exc:
        raise TaskDataError(str(path), f"invalid JSON ({exc.msg}, column {exc.colno})", line=exc.lineno) from None


def get_str(record: Record, name: str) -> str:
    """The string field ``name``; raises TaskDataError when it is missing or not a string."""
    value = _get(record, name)
    if not isinstance(value, str):
        raise record.error(f"field {name!r} must be a string, got {_json_type(value)}")
    return value


def get_text(record: Record, name: str) -> str:
    """Field ``name`` as text: strings as they are, numbers via ``str``; anything else is an error."""
    value = _get(record, name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise record.error(f"field {name!r} must be a string or a number, got {_json_type(value)}")
    return value if isinstance(value, str) else str(value)


def get_int(record: Record, name: str, *, optional: bool = False) -> int | None:
    """The integer field ``name`` (or None when ``optional`` and null/absent); digit strings are accepted."""
    value = record.data.get(name)
    if value is None and optional:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise record.error(f"field {name!r} must be an integer, got {_json_type(value)}")
    return value


def _get(record: Record, name: str) -> Any:  # Any: parsed JSON
    if name not in record.data:
        fields = ", ".join(sorted(record.data)) or "none"
        raise record.error(f"missing field {name!r} (fields: {fields})")
    return record.data[name]


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
