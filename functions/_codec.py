"""The canonical on-disk form of a FunctionSet: ``<name>.py`` + ``<name>.json`` per function.

The same set always gives byte-identical files (sorted keys, 2-space indent,
one trailing newline), so its Git tree hash is its identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fnforge.functions._errors import FunctionSpecError, Problem
from fnforge.functions._json import JSONInputError, load_json
from fnforge.functions._model import Function, FunctionSet, canonical_json

__all__ = ["MAX_FILE_BYTES", "from_files", "read_dir", "to_files", "write_dir"]

MAX_FILE_BYTES = 1 << 20
"""The largest ``<name>.py`` or ``<name>.json`` read (a spec of a few kB is typical; files are untrusted)."""
_MAX_SPEC_DEPTH = 64


def to_files(function_set: FunctionSet) -> dict[str, bytes]:
    """File name -> bytes for every function (``name.py`` and ``name.json``)."""
    files: dict[str, bytes] = {}
    for fn in function_set:
        meta = {"description": fn.description, "parameters": fn.parameters, "packages": list(fn.packages)}
        files[f"{fn.name}.json"] = canonical_json(meta).encode()
        files[f"{fn.name}.py"] = fn.code.encode()
    return files


def from_files(files: Mapping[str, bytes]) -> FunctionSet:
    """Rebuild a set from :func:`to_files` output (other files are ignored).

    Raises:
        FunctionSpecError: a pair is incomplete, unreadable or breaks a rule.
    """
    stems = {n[:-3] for n in files if n.endswith(".py")} | {n[:-5] for n in files if n.endswith(".json")}
    functions = []
    for name in sorted(stems):
        code, meta = files.get(f"{name}.py"), files.get(f"{name}.json")
        if code is None or meta is None:
            missing = f"{name}.py" if code is None else f"{name}.json"
            raise FunctionSpecError(name, [Problem(rule="files", message=f"functions/{missing} is missing")])
        functions.append(_function_from(name, code, meta))
    return FunctionSet(tuple(functions))


def _function_from(name: str, code: bytes, meta_bytes: bytes) -> Function:
    for suffix, data in (("py", code), ("json", meta_bytes)):
        if len(data) > MAX_FILE_BYTES:
            raise FunctionSpecError(name, [Problem(rule="files", message=(
                f"functions/{name}.{suffix} has {len(data)} bytes; the limit is {MAX_FILE_BYTES}"))])
    try:
        meta = load_json(meta_bytes, max_bytes=MAX_FILE_BYTES, max_depth=_MAX_SPEC_DEPTH)
    except JSONInputError as exc:
        raise FunctionSpecError(
            name, [Problem(rule="files", message=f"functions/{name}.json is not valid JSON: {exc}")]
        ) from None
    try:
        source = code.decode()
    except UnicodeDecodeError as exc:
        raise FunctionSpecError(
            name, [Problem(rule="files", message=f"functions/{name}.py is not UTF-8 text ({exc.reason})")]
        ) from None
    if not isinstance(meta, dict):
        raise FunctionSpecError(name, [Problem(rule="files", message=f"functions/{name}.json must hold an object")])
    return Function.from_dict({**meta, "name": name, "code": source})


def write_dir(function_set: FunctionSet, directory: Path) -> None:
    """Make ``directory`` hold exactly the set's files (stale function files are removed)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = to_files(function_set)
    for stale in directory.iterdir():
        if stale.suffix in (".py", ".json") and stale.name not in files:
            stale.unlink()
    for name, content in files.items():
        path = directory / name
        if not path.exists() or path.read_bytes() != content:
            path.write_bytes(content)


def read_dir(directory: Path) -> FunctionSet:
    """Read a ``functions/`` directory; a missing directory is the empty set.

    Raises:
        FunctionSpecError: a function's files are incomplete or break a rule.
    """
    if not directory.is_dir():
        return FunctionSet()
    files = {p.name: _read_capped(p) for p in directory.iterdir() if p.suffix in (".py", ".json") and p.is_file()}
    return from_files(files)


def _read_capped(path: Path) -> bytes:
    """The file's bytes, or one byte more than the limit (so :func:`from_files` names the problem)."""
    with path.open("rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)
