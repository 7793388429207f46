"""Writing a file so that a crash leaves the old content or the new, never a part of either."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path``'s content with ``text`` (UTF-8), durably.

    The text goes to a temporary file beside ``path``, which is flushed to disk,
    renamed over ``path``, and the folder's entry flushed too: after a crash or
    power loss a reader finds the old file or the new one.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "state.json"
        >>> write_atomic(target, "{}\\n")
        >>> target.read_text()
        '{}\\n'
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
