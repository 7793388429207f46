"""``TrainConfig``: the knobs of Algorithm 2 (epochs, patience, acceptance, batches, budget)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal  # Any: JSON values (dict forms of records, request and reply bodies)

__all__ = ["TrainConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainConfig:
    """The knobs of Algorithm 2 (paper defaults: 10 accepted epochs, patience 10).

    Args:
        epochs: stop after this many accepted updates (the paper's E).
        patience: stop after this many consecutive non-improving steps (the paper's C).
        max_steps: stop after this many optimizer steps in all (None: no cap).
        accept: ``"strict"`` accepts a trial only when it beats the best (the paper);
            ``"ties"`` also accepts an equal score (the authors' code); ``"significant"``
            only when it beats the best and the exact sign test on the paired (task,
            rollout) outcomes gives p < ``alpha``. A step that changed nothing is never accepted.
        alpha: the significance level of ``accept="significant"``.
        rollouts: evaluate each training task this many times (rollout indices 0..K-1,
            distinct cached runs); scores are means over the (task, rollout) units.
        early_reject: stop evaluating a trial once it can no longer be accepted (the
            decision is the same as a full evaluation's; it costs fewer agent requests).
        select: what picks the run's best and drives the early stop: ``"train"``
            scores, or ``"val"`` scores of the validation tasks; None: ``"val"`` when
            the trainer has validation tasks, else ``"train"``. Acceptance is always on train.
        batch: evaluate each step on a seeded random batch of this many training
            tasks (paper §3.3.4); None uses every training task.
        seed: seeds the batches (step ``s`` always draws the same batch).
        concurrency: tasks evaluated at once.
        test_functions: ``"all"`` functions of the best set at test time, or only
            those ``"used"`` successfully in its last training evaluation.
        max_tokens, max_cost: stop cleanly once the run spent this much (LLM tokens,
            US dollars; cache hits are free).

    Raises:
        ValueError: a value is out of range.

    Example:
        >>> TrainConfig(epochs=5, accept="ties").patience
        10
    """

    epochs: int = 10
    patience: int = 10
    max_steps: int | None = None
    accept: Literal["strict", "ties", "significant"] = "strict"
    alpha: float = 0.05
    rollouts: int = 1
    early_reject: bool = True
    select: Literal["train", "val"] | None = None
    batch: int | None = None
    seed: int = 0
    concurrency: int = 8
    test_functions: Literal["all", "used"] = "all"
    max_tokens: int | None = None
    max_cost: float | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.patience < 1 or self.concurrency < 1:
            raise ValueError("TrainConfig needs epochs, patience and concurrency >= 1")
        if self.max_steps is not None and self.max_steps < 0:
            raise ValueError(f"TrainConfig.max_steps must be >= 0, got {self.max_steps}")
        if self.batch is not None and self.batch < 1:
            raise ValueError(f"TrainConfig.batch must be >= 1, got {self.batch}")
        if self.accept not in ("strict", "ties", "significant"):
            raise ValueError(f"TrainConfig.accept must be 'strict', 'ties' or 'significant', got {self.accept!r}")
        if not 0.0 < self.alpha < 1.0 or self.rollouts < 1:
            raise ValueError("TrainConfig needs 0 < alpha < 1 and rollouts >= 1")
        if self.select not in (None, "train", "val"):
            raise ValueError(f"TrainConfig.select must be 'train' or 'val', got {self.select!r}")
        if self.test_functions not in ("all", "used"):
            raise ValueError(f"TrainConfig.test_functions must be 'all' or 'used', got {self.test_functions!r}")
        if (self.max_tokens is not None and self.max_tokens < 1) or (self.max_cost is not None and self.max_cost <= 0):
            raise ValueError("TrainConfig.max_tokens and max_cost must be positive")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Read :meth:`to_dict` output (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
