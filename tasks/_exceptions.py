"""Errors of the ``tasks`` package.

Tree (below ``functions.FnforgeError``)::

    TaskError                exit 6   task data or a task selection is unusable
    ├── TaskSpecError        exit 2   a task-set spec string is malformed (a usage error)
    ├── TaskDataError        exit 6   a data file is missing or corrupt (.path, .line)
    ├── TaskSplitError       exit 6   a train/test split cannot be made or restored
    ├── DataNotAvailableError exit 6  a built-in dataset (or enough of it) is not on this machine (.dataset)
    ├── DataPullError        exit 6   a dataset cannot be downloaded, or a download does not match its pins
    └── ScoringTimeout       exit 6   comparing one answer ran out of time: no verdict (.limit_s, .clock)

Answers are untrusted model output: scoring one returns True or False whatever
it says; only running out of time raises (:class:`ScoringTimeout`), because
"too slow to judge" is not "wrong".
"""

from __future__ import annotations

from fnforge.functions import FnforgeError

__all__ = [
    "DataNotAvailableError", "DataPullError", "ScoringTimeout", "TaskDataError", "TaskError", "TaskSpecError",
    "TaskSplitError",
]


class TaskError(FnforgeError):
    """Root of the task errors; raised directly for a task set that yields no tasks."""

    exit_code = 6


class TaskSpecError(TaskError):
    """Raised when a task-set spec such as ``math:algebra@level5`` cannot be parsed.

    ``spec`` is the offending text. Exit code 2: it is a usage error.
    """

    exit_code = 2

    def __init__(self, spec: str, reason: str) -> None:
        self.spec = spec
        super().__init__(f"bad task set {spec!r}: {reason}")


class TaskDataError(TaskError):
    """Raised when a data file is missing, unreadable or has a corrupt record.

    ``path`` names the file; ``line`` the 1-based line when one is known.
    """

    def __init__(self, path: str, reason: str, *, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path} line {line}" if line is not None else path
        super().__init__(f"{where}: {reason}")


class TaskSplitError(TaskError):
    """Raised when a split asks for more tasks than its pool has, or a recorded split no longer matches."""


class DataNotAvailableError(TaskError):
    """Raised when a built-in dataset, or the part of it a selection needs, is not on this machine.

    ``dataset`` names it (``math``, ``gsm8k``, ``tabmwp``); the one-line message
    ends with the ``fnforge data pull`` that fetches it.
    """

    def __init__(self, dataset: str, reason: str) -> None:
        self.dataset = dataset
        super().__init__(f"{reason}: run `fnforge data pull {dataset}` (or pass --data DIR)")


class DataPullError(TaskError):
    """Raised when a dataset cannot be downloaded, or a downloaded or built file does not match its pins."""


class ScoringTimeout(TaskError):
    """Raised when comparing an answer with its reference uses up its CPU time, or its wall-clock backstop.

    The answer is neither right nor wrong: evaluation records the task as
    ``unscored`` and scores it again next time. ``limit_s`` is the limit that
    was hit; ``clock`` says which (``"cpu"`` or ``"wall"``).
    """

    def __init__(self, limit_s: float, clock: str) -> None:
        self.limit_s = limit_s
        self.clock = clock
        what = "CPU time" if clock == "cpu" else "wall-clock time"
        super().__init__(f"scoring the answer took more than {limit_s:g} s of {what}; it is unscored")
