"""``fnforge train --dry-run``: how many LLM calls and tokens a run will take, without calling a model.

The figures are estimates from the task texts, the function set and the
limits; tokens are counted like the optimizer prompt's budget
(:func:`~optimizer._prompt.estimate_tokens`, 4 characters a token). Per agent
task: *typically* 2 calls (one tool call, then the answer), at most
``max_turns``; each call resends the system prompt, the tool schemas, the
question and the turns so far. Per optimizer step: typically
``max_actions + 1`` calls (the actions, then TERMINATE), at most
``max_actions * (1 + max_retries)``; the first prompt is the histories of the
step's tasks under the best set, capped by the budget less room for the later
turns, and each later call resends the conversation (List B's code is not sent again).

The expected prompt-cache share counts, as a provider's prefix cache would
serve them, each call's start that an earlier call sent: the previous turns of
the same conversation, the agents' system prompt and tool schemas, and the
optimizer prompt's stable start (instructions, List A, its histories), which
the step before sent unless it was accepted. Starts under
:data:`CACHE_MIN_TOKENS` are not cached.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any  # Any: JSON values (dict forms of records, request and reply bodies)

from fnforge.optimizer._agent_optimizer import TURN_TOKENS
from fnforge.optimizer._prompt import estimate_tokens, render_function_set
from fnforge.optimizer._train_config import TrainConfig

if TYPE_CHECKING:
    from fnforge.agents import AgentConfig
    from fnforge.functions import FunctionSet
    from fnforge.tasks import Task

__all__ = ["CACHE_MIN_TOKENS", "CallEstimate", "DryRunPlan", "plan_run"]

_SYSTEM_PROMPT_TOKENS = 250  # the agents' system prompts are about 1,000 characters
_REPLY_TOKENS = 150  # a tool call or an answer
_OBSERVATION_TOKENS = 100  # a tool result
_TEMPLATE_TOKENS = 1_600  # the optimizer prompt's fixed text (templates/optimizer.md)
_TYPICAL_TURNS = 2

CACHE_MIN_TOKENS = 1024
"""The shortest repeated start a provider's prompt cache serves (OpenAI's rule), for the dry run's estimate."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEstimate:
    """LLM calls (fewest, typical, most) and typical tokens of one phase.

    ``prompt_tokens`` is the prompt part of ``tokens`` and ``cached_tokens`` the part of it a provider's
    prompt cache is expected to serve: a request's start that an earlier request sent, when it is at
    least :data:`CACHE_MIN_TOKENS` long (OpenAI's rule; other providers differ).
    """

    calls_min: int
    calls_typical: int
    calls_max: int
    tokens: int
    prompt_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: CallEstimate) -> CallEstimate:
        return CallEstimate(calls_min=self.calls_min + other.calls_min,
                            calls_typical=self.calls_typical + other.calls_typical,
                            calls_max=self.calls_max + other.calls_max, tokens=self.tokens + other.tokens,
                            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                            cached_tokens=self.cached_tokens + other.cached_tokens)

    def times(self, k: int) -> CallEstimate:
        """This estimate ``k`` times over."""
        return CallEstimate(calls_min=self.calls_min * k, calls_typical=self.calls_typical * k,
                            calls_max=self.calls_max * k, tokens=self.tokens * k,
                            prompt_tokens=self.prompt_tokens * k, cached_tokens=self.cached_tokens * k)

    @property
    def cached_share(self) -> float:
        """Expected share of prompt tokens served from the provider's prompt cache."""
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def to_dict(self) -> dict[str, int]:
        """JSON-safe form."""
        return {"calls_min": self.calls_min, "calls_typical": self.calls_typical, "calls_max": self.calls_max,
                "tokens": self.tokens, "prompt_tokens": self.prompt_tokens, "cached_tokens": self.cached_tokens}


@dataclass(frozen=True, slots=True, kw_only=True)
class DryRunPlan:
    """What a run would cost, phase by phase (see the module docstring for the model).

    Attributes:
        train_tasks, step_tasks, test_tasks: task counts (``step_tasks`` < ``train_tasks`` in batch mode).
        initial: evaluating the starting set.
        optimizer_step: one optimizer step.
        evaluation_step: evaluating one trial (plus, in batch mode, the best set on the batch).
        test: the final test evaluation.
        max_steps: the most optimizer steps the stop rules allow.
        cost_per_million: (agent, optimizer) US dollars per million tokens, blended
            input/output 3:1 (0 when the model is unpriced).
    """

    train_tasks: int
    step_tasks: int
    test_tasks: int
    initial: CallEstimate
    optimizer_step: CallEstimate
    evaluation_step: CallEstimate
    test: CallEstimate
    max_steps: int
    cost_per_million: tuple[float, float]

    @property
    def step(self) -> CallEstimate:
        """One whole step: optimizer plus evaluation."""
        return self.optimizer_step + self.evaluation_step

    def cost(self, steps: int) -> float:
        """Estimated US dollars of a run of ``steps`` steps (typical tokens)."""
        agent_price, optimizer_price = self.cost_per_million
        agent = self.initial.tokens + self.test.tokens + steps * self.evaluation_step.tokens
        return (agent * agent_price + steps * self.optimizer_step.tokens * optimizer_price) / 1e6

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"train_tasks": self.train_tasks, "step_tasks": self.step_tasks, "test_tasks": self.test_tasks,
                "initial": self.initial.to_dict(), "optimizer_step": self.optimizer_step.to_dict(),
                "evaluation_step": self.evaluation_step.to_dict(), "test": self.test.to_dict(),
                "max_steps": self.max_steps, "cost_per_million": list(self.cost_per_million)}


def _cacheable(tokens: int) -> int:
    return tokens if tokens >= CACHE_MIN_TOKENS else 0


def _conversation(first_prompt: int, shared_start: int, turn_tokens: int, calls: int) -> CallEstimate:
    """One conversation of ``calls`` calls: call k resends the prompt and k turns of ``turn_tokens`` and
    writes a reply. Call 0's first ``shared_start`` tokens were sent before (by another task or step);
    every later call starts with the whole previous request."""
    prompts = [first_prompt + k * turn_tokens for k in range(calls)]
    cached = [_cacheable(shared_start)] + [_cacheable(p) for p in prompts[:-1]]
    return CallEstimate(calls_min=1, calls_typical=calls, calls_max=calls, tokens=sum(prompts) + calls * _REPLY_TOKENS,
                        prompt_tokens=sum(prompts), cached_tokens=sum(cached[:calls]))


def _evaluation(tasks: Sequence[Task], tools_tokens: int, max_turns: int) -> CallEstimate:
    turns = min(_TYPICAL_TURNS, max_turns)
    shared = _SYSTEM_PROMPT_TOKENS + tools_tokens  # the same for every task
    runs = [_conversation(shared + estimate_tokens(t.question), shared, _REPLY_TOKENS + _OBSERVATION_TOKENS, turns)
            for t in tasks]
    return CallEstimate(calls_min=len(tasks), calls_typical=turns * len(tasks), calls_max=max_turns * len(tasks),
                        tokens=sum(r.tokens for r in runs), prompt_tokens=sum(r.prompt_tokens for r in runs),
                        cached_tokens=sum(r.cached_tokens for r in runs))


def plan_run(function_set: FunctionSet, train: Sequence[Task], test: Sequence[Task], agent: AgentConfig,
             config: TrainConfig, *, max_actions: int = 3, max_retries: int = 3,
             prompt_budget_tokens: int = 60_000,
             prices: Mapping[str, tuple[float, float]] | None = None, model: str = "",
             optimizer_model: str = "") -> DryRunPlan:
    """Estimate a run's LLM calls and tokens (no model is called).

    Args:
        function_set: the starting set.
        train, test: the tasks.
        agent: the agent system (its ``max_turns`` bounds the calls per task).
        config: the training configuration (batch, epochs, patience, max_steps).
        max_actions, max_retries, prompt_budget_tokens: the AgentOptimizer's limits.
        prices: ``{model: (usd per 1M input, per 1M output)}``.
        model, optimizer_model: the agents' and the optimizer's model.

    Example:
        >>> from fnforge.agents import AgentConfig
        >>> plan = plan_run(FunctionSet(), train, test, AgentConfig(), TrainConfig())
        >>> plan.step.calls_typical  # 4 optimizer calls, 2 agent calls for each of 2 tasks
        8
    """
    step_tasks = list(train[: config.batch] if config.batch is not None else train)
    tools = function_set.to_openai_tools()
    tools_tokens = estimate_tokens(json.dumps(tools)) + 120  # + run_python
    evaluation = _evaluation(step_tasks, tools_tokens, agent.max_turns)
    if config.batch is not None and config.batch < len(train):
        evaluation = evaluation.times(2)  # the best set is re-scored on each batch (cached for repeats)
    histories = sum(estimate_tokens(t.question) + _TYPICAL_TURNS * (_REPLY_TOKENS + _OBSERVATION_TOKENS) + 20
                    for t in step_tasks)
    calls = max_actions + 1
    # List A's code once (List B starts as "same as List A"); the first prompt leaves room for the later turns
    first = min(prompt_budget_tokens - min(calls * TURN_TOKENS, prompt_budget_tokens // 2),
                _TEMPLATE_TOKENS + estimate_tokens(render_function_set(function_set)) + histories)
    # the stable start (instructions, List A, its histories) was sent by the step before, unless it was accepted
    conversation = _conversation(first, first, 2 * _REPLY_TOKENS + 300, calls)
    optimizer = replace(conversation, calls_max=max_actions * (1 + max_retries))
    bound = config.epochs * config.patience
    max_steps = min(bound, config.max_steps) if config.max_steps is not None else bound
    table = dict(prices or {})
    k = config.rollouts  # every evaluation runs each task k times (early rejection can only spend less)
    return DryRunPlan(
        train_tasks=len(train), step_tasks=len(step_tasks), test_tasks=len(test),
        initial=_evaluation(step_tasks, tools_tokens, agent.max_turns).times(k), optimizer_step=optimizer,
        evaluation_step=evaluation.times(k), test=_evaluation(list(test), tools_tokens, agent.max_turns).times(k),
        max_steps=max_steps, cost_per_million=(_blended(table.get(model)), _blended(table.get(optimizer_model))))


def _blended(price: tuple[float, float] | None) -> float:
    return 0.0 if price is None else (3 * price[0] + price[1]) / 4
