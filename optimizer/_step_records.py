"""What a training step leaves in the registry: its trailers, its notes, its roll-back and its transcript.

The :class:`~optimizer.Trainer` inherits these from :class:`StepRecords`; they
read the trainer's tasks, clients, configuration and run id, and write
nothing but commits' metadata and ``runs/<run>/steps/``. Trailers a run adds
beyond the paper's (issue 15): ``Val-Score``, ``Val-Tasks`` and ``Select`` on
the initial and accepted commits of a run with validation tasks (the registry's
best rule reads them), ``Rollouts`` with more than one rollout, ``P-Value``
under ``--accept significant``, ``Partial: k/n`` on a trial early rejection
stopped after k of its n units.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fnforge.tasks import selection_hash
from fnforge.optimizer._run_state import run_dir

if TYPE_CHECKING:
    from fnforge.agents import LLMClient
    from fnforge.optimizer._agent_optimizer import AgentOptimizer, StepResult
    from fnforge.optimizer._evaluation import Report
    from fnforge.optimizer._train_config import TrainConfig
    from fnforge.registry import Repository, Version
    from fnforge.tasks import Task

__all__ = ["StepRecords", "step_body", "val_score"]


class StepRecords:
    """The registry side of a trainer (a mixin: :class:`~optimizer.Trainer` sets these attributes)."""

    repo: Repository
    branch: str
    train: tuple[Task, ...]
    val: tuple[Task, ...]
    label: str
    select: str
    config: TrainConfig
    client: LLMClient
    optimizer: AgentOptimizer
    _run_id: str

    def _trailers(self, report: Report, status: str, *, epoch: int, step: int, tasks: Sequence[Task],
                  val: Report | None = None) -> dict[str, str | int | float]:
        trailers: dict[str, str | int | float] = {
            "Score": report.accuracy, "Metric": "accuracy", "Split": "train", "Status": status, "Epoch": epoch,
            "Step": step, "Tasks": self._describe(tasks), "Model": self.client.config.model,
            "Optimizer-Model": self.optimizer.client.config.model, "Run": self._run_id}
        if self.config.rollouts > 1:
            trailers["Rollouts"] = self.config.rollouts
        if val is not None:  # registry._best: a run selecting on validation is judged by these
            trailers.update({"Val-Score": val.accuracy, "Val-Tasks": self._describe(self.val), "Select": self.select})
        return trailers

    def _describe(self, tasks: Sequence[Task]) -> str:
        """The ``Tasks`` trailer; equals ``tasks.TaskSplit.describe()`` for the whole training split."""
        digest = selection_hash(tasks)[:12]
        if len(tasks) == len(self.train) or tasks is self.val:
            return f"{self.label} ({len(tasks)} tasks, sha256:{digest})"
        full = selection_hash(self.train)[:12]  # names the task set the batch was drawn from (registry's best rule)
        return f"{self.label} (batch of {len(tasks)}/{len(self.train)} tasks, sha256:{digest}, of sha256:{full})"

    def _rollback(self, best: Version, *, epoch: int, step: int) -> Version:
        return self.repo.rollback(to=best.sha, branch=self.branch, epoch=epoch, run=self._run_id,
                                  trailers={"Step": step})

    def _note(self, sha: str, report: Report, step: int, tasks: Sequence[Task],
              result: StepResult | None = None, *, val: Report | None = None) -> None:
        data = report.notes_dict("train", split="train", run=self._run_id, step=step, tasks=self._describe(tasks),
                                 model=self.client.config.model)
        if val is not None:
            data.update(val.notes_dict("val", split="val", run=self._run_id, step=step,
                                       tasks=self._describe(self.val), model=self.client.config.model))
        if result is not None:
            data["optimizer"] = {"model": self.optimizer.client.config.model, "actions": result.describe(),
                                 "rejections": list(result.rejections), "llm_calls": result.llm_calls,
                                 "cached_calls": result.cached_calls, "tokens": result.tokens, "cost": result.cost,
                                 "cut": list(result.cut), "prompt_tokens_estimate": result.prompt_tokens_estimate,
                                 "conversation_tokens_estimate": result.conversation_tokens_estimate}
        self.repo.add_note(sha, data)

    def _save_transcript(self, step: int, result: StepResult) -> None:
        path = run_dir(self.repo, self._run_id) / "steps" / f"{step:04d}-optimizer.json"
        path.parent.mkdir(exist_ok=True)
        data = {"step": step, "actions": result.describe(), "rejections": list(result.rejections),
                "terminated": result.terminated, "cut": list(result.cut), "llm_calls": result.llm_calls,
                "cached_calls": result.cached_calls, "tokens": result.tokens, "cost": result.cost,
                "transcript": list(result.transcript)}
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def val_score(version: Version) -> float | None:
    try:
        return float(version.trailer("Val-Score") or "")
    except ValueError:
        return None


def step_body(result: StepResult) -> str:
    parts = [result.rationale.strip()] if result.rationale.strip() else []
    if result.rejections:
        parts.append("Rejected proposals:\n" + "\n".join(f"- {r}" for r in result.rejections))
    return "\n\n".join(parts)
