"""Writer locks: one per branch, held with ``flock`` on ``<git-dir>/fnforge/locks/heads/<branch>.lock``.

The kernel drops an ``flock`` when its holder dies, so a lock left by a
killed process is simply taken over by the next writer; the file itself stays
(emptied on release) and records the holder's pid and start time so a refused
writer can say who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from fnforge.registry._errors import BranchLocked

__all__ = ["branch_lock", "lock_path", "waiting_lock"]


def lock_path(locks_dir: Path, branch: str) -> Path:
    """Where the lock of ``branch`` lives (``domain/x`` -> ``heads/domain/x.lock``)."""
    return locks_dir / "heads" / f"{branch}.lock"


def _holder(fd: int) -> tuple[int | None, str | None]:
    # The holder writes its record right after taking the lock; give it a moment.
    for _ in range(20):
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 4096)
        if data:
            try:
                record = json.loads(data)
                return int(record["pid"]), str(record["since"])
            except (ValueError, KeyError, TypeError):
                return None, None
        time.sleep(0.005)
    return None, None


@contextmanager
def branch_lock(path: Path, branch: str) -> Iterator[None]:
    """Hold the writer lock of ``branch`` for the ``with`` block.

    Raises:
        BranchLocked: another writer (in any process) holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, since = _holder(fd)
            raise BranchLocked(branch, pid, since) from None
        since = datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "since": since}).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def waiting_lock(path: Path) -> Iterator[None]:
    """Wait for and hold an exclusive lock on ``path`` (short critical sections, e.g. notes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
