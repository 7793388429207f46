"""Length-prefixed JSON messages over a dedicated pair of pipes.

The worker's stdout and stderr go elsewhere, so nothing untrusted code
prints can corrupt or forge a message. Each message is a 4-byte big-endian
length and that many bytes of UTF-8 JSON. JSON only, both ways: never pickle.

Messages travel as UTF-8 (a text that holds a lone surrogate, which UTF-8
cannot carry, is sent with ``\\u`` escapes instead) and are read with the
bounded loader of
``fnforge.functions`` (size, depth, finite numbers, no lone surrogates), so a
hostile worker cannot make the parent recurse, overflow or hold a string that
breaks printing later. Every request carries a random ``id`` the reply must
echo (see ``worker/_process.py``): a worker that escaped its guards can write
to its pipe, but it cannot guess the id of a call it has not been sent yet.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any  # Any: messages as JSON

from fnforge.functions import JSONInputError, load_json

__all__ = ["Broken", "Closed", "Overrun", "Stale", "read_message", "write_message"]

_HEADER = struct.Struct(">I")
_MAX_DEPTH = 128  # results are cut at SandboxPolicy.max_result_depth (<= 100); the envelope adds a few


class Broken(Exception):
    """The other end closed the pipe or sent something that is not a message."""


class Closed(Broken):
    """The other end closed the pipe (it exited or died)."""


class Stale(Broken):
    """A second reply to an earlier request arrived (a worker that wrote one itself): the request was not answered."""


class Overrun(Exception):
    """No complete message arrived before the deadline."""


def write_message(fd: int, message: dict[str, Any]) -> None:
    """Send one message, blocking until the whole of it is written.

    Raises:
        ValueError: the message holds a non-finite float (never sent half-written).
    """
    try:
        body = json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the reader refuses it, but it must not break the writer
        body = json.dumps(message, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
    view = memoryview(_HEADER.pack(len(body)) + body)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_message(fd: int, *, limit: int, deadline: float | None = None) -> dict[str, Any]:
    """Receive one message; ``deadline`` is a ``time.monotonic()`` value or None to block.

    Raises:
        Overrun: the deadline passed first.
        Broken: end of file, an oversized message, or a body that is not a bounded JSON object.
    """
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if size > limit:
        raise Broken(f"message of {size} bytes exceeds the {limit}-byte limit")
    try:
        message = load_json(_read_exactly(fd, size, deadline), max_bytes=limit, max_depth=_MAX_DEPTH)
    except JSONInputError as exc:
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
            raise Closed("the pipe was closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
