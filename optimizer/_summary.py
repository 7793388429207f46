"""What a training run returns and leaves behind: ``RunSummary`` and ``runs/<run>/summary.json``."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any  # Any: JSON values (dict forms of records, request and reply bodies)

from fnforge.functions import write_atomic
from fnforge.optimizer._run_state import StepRecord

__all__ = ["RunStop", "RunSummary", "TestScore", "read_summary", "write_summary"]

SCHEMA_VERSION = 1


class RunStop(str, enum.Enum):
    """Why training stopped."""

    EPOCHS = "epochs"  # `epochs` accepted updates
    PATIENCE = "patience"  # `patience` non-improving steps in a row (early stop)
    MAX_STEPS = "max_steps"  # the step cap
    BUDGET = "budget"  # --max-tokens / --max-cost spent (the test evaluation is skipped)


@dataclass(frozen=True, slots=True, kw_only=True)
class TestScore:
    """The best set's evaluation on the test split.

    ``functions`` are the functions the agent was given (``policy`` ``"used"``
    keeps only those called successfully in the last training evaluation).
    """

    accuracy: float
    n: int
    correct: int
    ci95: tuple[float, float]
    policy: str
    functions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"accuracy": self.accuracy, "n": self.n, "correct": self.correct, "ci95": list(self.ci95),
                "policy": self.policy, "functions": list(self.functions)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestScore:
        """Read :meth:`to_dict` output."""
        lo, hi = data["ci95"]
        return cls(accuracy=float(data["accuracy"]), n=int(data["n"]), correct=int(data["correct"]),
                   ci95=(float(lo), float(hi)), policy=str(data["policy"]), functions=tuple(data["functions"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """The outcome of :meth:`~optimizer.Trainer.run` (also written as ``summary.json``).

    Attributes:
        run_id, branch: the run and the branch it trained.
        stop: why it stopped.
        steps: optimizer steps taken (the initial evaluation is step 0).
        epochs: accepted updates.
        rejected, unchanged: steps whose trial was rejected / that changed nothing.
        initial_score, best_score: training scores of the starting and best sets.
        best_val: the best set's validation score (None without validation tasks).
        best_commit, best_tree: the best set's commit and ``functions/`` tree hash.
        best_functions: its function names.
        test: its test-split score, or None (no test tasks, or stopped by the budget).
        tokens, cost: LLM tokens and US dollars the run spent (cache hits are free).
        prompt_tokens, cached_tokens: the prompt part of ``tokens``, and the part of that the
            provider served from its prompt cache (see :attr:`cached_share`).
        wall_s: wall time of this invocation.
        resumed: this invocation continued an interrupted run.
        history: every step, in order (the learning curve).
        path: where the summary JSON was written.
    """

    run_id: str
    branch: str
    stop: RunStop
    steps: int
    epochs: int
    rejected: int
    unchanged: int
    initial_score: float
    best_score: float
    best_commit: str
    best_tree: str
    best_functions: tuple[str, ...]
    test: TestScore | None
    tokens: int
    cost: float
    wall_s: float
    resumed: bool
    history: tuple[StepRecord, ...]
    path: str
    best_val: float | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0

    @property
    def cached_share(self) -> float:
        """The share of the run's prompt tokens the provider served from its prompt cache."""
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form with ``schema_version``."""
        return {
            "schema_version": SCHEMA_VERSION, "run_id": self.run_id, "branch": self.branch,
            "stop": self.stop.value, "steps": self.steps, "epochs": self.epochs, "rejected": self.rejected,
            "unchanged": self.unchanged, "initial_score": self.initial_score, "best_score": self.best_score,
            "best_commit": self.best_commit, "best_tree": self.best_tree,
            "best_functions": list(self.best_functions),
            "test": self.test.to_dict() if self.test is not None else None, "tokens": self.tokens,
            "cost": self.cost, "wall_s": self.wall_s, "resumed": self.resumed,
            "history": [r.to_dict() for r in self.history], "path": self.path, "best_val": self.best_val,
            "prompt_tokens": self.prompt_tokens, "cached_tokens": self.cached_tokens,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        """Read :meth:`to_dict` output.

        Raises:
            ValueError: another schema version, or a missing or invalid field.
        """
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"run summary schema_version {data.get('schema_version')!r} is not supported")
        try:
            return cls(
                run_id=str(data["run_id"]), branch=str(data["branch"]), stop=RunStop(data["stop"]),
                steps=int(data["steps"]), epochs=int(data["epochs"]), rejected=int(data["rejected"]),
                unchanged=int(data["unchanged"]), initial_score=float(data["initial_score"]),
                best_score=float(data["best_score"]), best_commit=str(data["best_commit"]),
                best_tree=str(data["best_tree"]), best_functions=tuple(data["best_functions"]),
                test=TestScore.from_dict(data["test"]) if data.get("test") else None, tokens=int(data["tokens"]),
                cost=float(data["cost"]), wall_s=float(data["wall_s"]), resumed=bool(data["resumed"]),
                history=tuple(StepRecord.from_dict(r) for r in data["history"]), path=str(data["path"]),
                best_val=float(data["best_val"]) if data.get("best_val") is not None else None,
                prompt_tokens=int(data.get("prompt_tokens", 0)), cached_tokens=int(data.get("cached_tokens", 0)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"run summary is invalid: {type(exc).__name__}: {exc}") from exc


def write_summary(summary: RunSummary, path: Path) -> None:
    """Write ``summary`` as JSON at ``path`` (atomically)."""
    write_atomic(path, json.dumps(summary.to_dict(), indent=2) + "\n")


def read_summary(path: Path) -> RunSummary:
    """Read a ``summary.json``.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not a run summary.
    """
    return RunSummary.from_dict(json.loads(path.read_text(encoding="utf-8")))
