"""The trainer's event stream: what a live view (or a log) needs to follow a run.

:class:`~optimizer.Trainer` calls its ``on_event`` callback, synchronously and
from the event loop, with one of these frozen records. The rich display in
``fnforge/_live_view.py`` renders them; a test can simply append them to a list.

Order of a run::

    RunStarted
    PhaseStarted(step=0, phase=INITIAL)  TaskDone...  StepFinished(step=0, status=initial)
    PhaseStarted(step=1, phase=OPTIMIZE) PhaseStarted(step=1, phase=EVALUATE) TaskDone...
        StepFinished(step=1, status=accepted | rejected | unchanged)
    ...
    PhaseStarted(phase=TEST) TaskDone...  RunFinished

A resumed run starts with ``RunStarted(resumed=True)`` and replays nothing:
its first ``StepFinished`` is the first step it runs itself.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from fnforge.optimizer._run_state import StepRecord
    from fnforge.optimizer._summary import RunSummary

__all__ = [
    "EventSink",
    "Phase",
    "PhaseStarted",
    "RunFinished",
    "RunStarted",
    "Spend",
    "StepFinished",
    "StepStatus",
    "TaskDone",
    "TrainEvent",
]


class Phase(str, enum.Enum):
    """What the trainer is doing."""

    INITIAL = "initial"  # evaluating the starting set on the training tasks
    OPTIMIZE = "optimize"  # the optimizer LLM proposes actions
    EVALUATE = "evaluate"  # evaluating the trial set on the training tasks (or batch)
    BASELINE = "baseline"  # batch mode: evaluating the best set on this step's batch
    TEST = "test"  # evaluating the best set on the test split
    VALIDATE = "validate"  # evaluating the initial set or an accepted trial on the validation split


class StepStatus(str, enum.Enum):
    """How a step ended. ``UNCHANGED``: the optimizer changed nothing (no commit)."""

    INITIAL = "initial"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True, kw_only=True)
class Spend:
    """Tokens and US dollars the run has spent on LLM calls so far (cache hits are free).

    ``prompt_tokens`` is the prompt part of ``tokens``; ``cached_tokens`` the part of it the provider
    served from its prompt cache (``usage.prompt_tokens_details.cached_tokens``), which providers bill
    at a discount (``cost`` prices every token in full).
    """

    tokens: int = 0
    cost: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Spend) -> Spend:
        return Spend(tokens=self.tokens + other.tokens, cost=self.cost + other.cost,
                     prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                     cached_tokens=self.cached_tokens + other.cached_tokens)

    def __sub__(self, other: Spend) -> Spend:
        return Spend(tokens=self.tokens - other.tokens, cost=self.cost - other.cost,
                     prompt_tokens=self.prompt_tokens - other.prompt_tokens,
                     cached_tokens=self.cached_tokens - other.cached_tokens)

    @property
    def cached_share(self) -> float:
        """The share of prompt tokens served from the provider's prompt cache (0 with no prompt tokens).

        Example:
            >>> Spend(prompt_tokens=1000, cached_tokens=250).cached_share
            0.25
        """
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted:
    """A run (new or resumed) begins.

    ``max_steps`` is None when unbounded; ``step`` is the last step already done
    (0 for a new run).
    """

    run_id: str
    branch: str
    resumed: bool
    train_tasks: int
    test_tasks: int
    epochs: int
    patience: int
    max_steps: int | None
    step: int
    spent: Spend


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseStarted:
    """Step ``step`` enters ``phase``; ``total`` tasks will be evaluated (0 for OPTIMIZE)."""

    step: int
    phase: Phase
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDone:
    """One task of the current phase finished (``cached``: no LLM call was made)."""

    step: int
    phase: Phase
    done: int
    total: int
    correct: int
    cached: bool
    spent: Spend


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFinished:
    """A step ended.

    Attributes:
        record: the step as the summary keeps it (step, epoch, status, scores, commits, optimizer requests).
        rejections: proposals rejected at validation during the step.
        stale: consecutive non-improving steps after this one.
        spent: the run's spend so far.
    """

    record: StepRecord
    rejections: int
    stale: int
    spent: Spend


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished:
    """The run ended; ``summary`` is what :meth:`Trainer.run` returns."""

    summary: RunSummary


TrainEvent = Union[RunStarted, PhaseStarted, TaskDone, StepFinished, RunFinished]
"""Any event of the stream."""

EventSink = Callable[[TrainEvent], None]
"""The ``on_event`` callback type."""
