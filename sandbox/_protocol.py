"""Length-prefixed JSON messages over a dedicated pair of pipes.

The worker's stdout and stderr go elsewhere, so nothing untrusted code
prints can corrupt or forge a message. Each message is a 4-byte big-endian
length and that many bytes of UTF-8 JSON; the reader refuses anything
larger than its limit. JSON only, both ways: never pickle.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

__all__ = ["Broken", "Overrun", "read_message", "write_message"]

_HEADER = struct.Struct(">I")


class Broken(Exception):
    """The other end closed the pipe or sent something that is not a message."""


class Overrun(Exception):
    """No complete message arrived before the deadline."""


def write_message(fd: int, message: dict[str, Any]) -> None:
    """Send one message, blocking until the whole of it is written."""
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    view = memoryview(_HEADER.pack(len(body)) + body)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_message(fd: int, *, limit: int, deadline: float | None = None) -> dict[str, Any]:
    """Receive one message; ``deadline`` is a ``time.monotonic()`` value or None to block.

    Raises:
        Overrun: the deadline passed first.
        Broken: end of file, an oversized message or invalid JSON.
    """
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if size > limit:
        raise Broken(f"message of {size} bytes exceeds the {limit}-byte limit")
    try:
        message = json.loads(_read_exactly(fd, size, deadline).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Broken(f"invalid message: {exc}") from None
    if not isinstance(message, dict):
        raise Broken("a message must be a JSON object")
    return message


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    chunks, remaining = [], size
    poller = select.poll() if deadline is not None else None
    if poller is not None:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while remaining:
        if poller is not None and deadline is not None:
            wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not poller.poll(wait_ms):
                raise Overrun()
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise Broken("the pipe was closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
