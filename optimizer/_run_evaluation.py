"""How a training run evaluates sets and counts what it spends: the step's tasks, the evaluations and the budget.

The :class:`~optimizer.Trainer` inherits these from :class:`RunEvaluations`.
Every evaluation of a run goes through :meth:`RunEvaluations._evaluate`: it
announces the phase, reports each result as a :class:`~optimizer.TaskDone`
event with the spend so far, scores every (task, rollout) unit
(:mod:`optimizer._rollouts`) and, given the best's report on the same units,
stops a trial early once it can no longer be accepted
(:mod:`optimizer._early_reject`). A report with a provider outage raises
:class:`~optimizer.ProviderOutage` before anything is committed. The spend is
the clients' token and cost counters since the run (re)started, on top of what
the checkpoint had spent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fnforge.optimizer._early_reject import EarlyRejector
from fnforge.optimizer._evaluation import ProgressCallback, Report, TaskResult, evaluate
from fnforge.optimizer._live import EventSink, Phase, PhaseStarted, Spend, TaskDone, TrainEvent
from fnforge.optimizer._rollouts import Evaluated, evaluate_units, units_of
from fnforge.optimizer._run_state import check_measured

if TYPE_CHECKING:
    from fnforge.agents import AgentConfig, LLMClient
    from fnforge.functions import FunctionSet
    from fnforge.optimizer._eval_cache import EvalCache
    from fnforge.optimizer._train_config import TrainConfig
    from fnforge.sandbox import Sandbox
    from fnforge.tasks import ScoringPool, Task

__all__ = ["RunEvaluations"]


class RunEvaluations:
    """The evaluating and accounting side of a trainer (a mixin: :class:`~optimizer.Trainer` sets these
    attributes)."""

    train: tuple[Task, ...]
    val: tuple[Task, ...]
    agent: AgentConfig
    client: LLMClient
    sandbox: Sandbox
    cache: EvalCache | None
    config: TrainConfig
    _scorer: ScoringPool | None
    _clients: tuple[LLMClient, ...]
    _spent_base: Spend
    _stats_base: Spend
    _on_event: EventSink | None

    def _tasks_for(self, step: int) -> tuple[Task, ...]:
        """The step's training tasks: all of them, or its seeded batch (file order kept)."""
        size = self.config.batch
        if size is None or size >= len(self.train):
            return self.train
        rng = random.Random(f"fnforge-batch:{self.config.seed}:{step}")
        return tuple(self.train[i] for i in sorted(rng.sample(range(len(self.train)), size)))

    async def _validate(self, function_set: FunctionSet, step: int) -> Report | None:
        if not self.val:
            return None
        return (await self._evaluate(function_set, self.val, step, Phase.VALIDATE)).report

    async def _evaluate(self, function_set: FunctionSet, tasks: Sequence[Task], step: int, phase: Phase, *,
                        against: Report | None = None) -> Evaluated:
        """Evaluate on every (task, rollout) unit; with ``against`` (the best's report on the same units) and
        early rejection on, stop once the set can no longer be accepted over it."""
        cfg = self.config
        self._emit(PhaseStarted(step=step, phase=phase, total=len(tasks) * cfg.rollouts))
        correct = 0

        def progress(done: int, total: int, result: TaskResult) -> None:
            nonlocal correct
            correct += result.correct
            self._emit(TaskDone(step=step, phase=phase, done=done, total=total, correct=correct,
                                cached=result.cached, spent=self._spent()))

        async def run(rollout: int, concurrency: int, on_result: ProgressCallback) -> Report:
            return await evaluate(function_set, tasks, self.agent, client=self.client, sandbox=self.sandbox,
                                  cache=self.cache, concurrency=concurrency, progress=on_result, rollout=rollout,
                                  scorer=self._scorer)

        rejector = None
        if against is not None and cfg.early_reject:
            rejector = EarlyRejector(units_of(against), cfg.accept, cfg.alpha)
        evaluated = await evaluate_units(run, tasks, rollouts=cfg.rollouts, concurrency=cfg.concurrency,
                                         progress=progress, rejector=rejector)
        report = evaluated.report
        check_measured(report, "nothing was committed for this step; run `fnforge train --resume` to continue")
        return evaluated

    def _client_spend(self) -> Spend:
        total = Spend()
        for client in self._clients:
            stats = client.stats
            total += Spend(tokens=stats.prompt_tokens + stats.completion_tokens, cost=stats.cost_usd,
                           prompt_tokens=stats.prompt_tokens, cached_tokens=stats.cached_prompt_tokens)
        return total

    def _spent(self) -> Spend:
        now, base = self._client_spend(), self._stats_base
        return self._spent_base + (now - base)

    def _over_budget(self) -> bool:
        cfg, spent = self.config, self._spent()
        return (cfg.max_tokens is not None and spent.tokens >= cfg.max_tokens) or (
            cfg.max_cost is not None and spent.cost >= cfg.max_cost)

    def _emit(self, event: TrainEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)
