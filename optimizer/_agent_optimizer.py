"""AgentOptimizer.step: the paper's Algorithm 1 (progressive function update).

One step is one conversation with the optimizer LLM:

1. The first user message is the full prompt (:func:`~optimizer._prompt.build_prompt`)
   with List B equal to List A.
2. Each reply may call one of ``add_function``/``revise_function``/``remove_function``.
   Only the *first* tool call of a reply is considered; any others are answered
   "ignored" (the reference implementation applied them all, so one "action"
   could make several edits).
3. The action is validated (:func:`~optimizer._actions.validate_action`): static
   rules, the sandbox check, then a smoke call. Accepted: it is applied to List B
   and the tool result says what List B now is by reference (each function
   marked as in List A, added or revised in this step: the code is in the
   prompt or in the model's own accepted call), so List B's code is sent once,
   not again with every action. Rejected: the tool result carries the concrete
   reason (cut to :data:`~optimizer._conversation.MAX_REASON_CHARS`); the conversation has grown, so the
   retry is never the identical request (and never the same cache key).
4. A reply with no tool call ends the step (TERMINATE), whatever its text says,
   unless it was cut off at the token limit, removed by a content filter, or
   writes a tool call as text that cannot be read: that is answered like a
   rejected proposal.
   The step also ends after ``max_actions`` actions. An action slot that is
   rejected ``1 + max_retries`` times is dropped and counts towards
   ``max_actions`` (so a step makes at most ``max_actions * (1 + max_retries)``
   LLM calls).

The budget covers the whole conversation: every request of the step (prompt,
tool schemas, the turns so far) stays within ``prompt_budget_tokens``. The
first prompt is built for the budget minus room for ``max_actions + 1``
follow-up turns (:data:`TURN_TOKENS` each, at most half the budget); should retries grow the
conversation past the budget anyway, the step ends there (reported in
``StepResult.cut``) with the actions accepted so far.

Each request is a fresh sample: with ``sample`` (the trainer passes run and
step) the response cache keys every call by that name and the call's index, so
a later step never replays an earlier step's reply from the cache, while a
resumed run replays its own steps exactly.

Provider failures (``agents.LLMError``) propagate; model mistakes never raise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any  # Any: chat messages as JSON

from fnforge.agents import LLMClient
from fnforge.functions import FunctionSet
from fnforge.optimizer._actions import ACTION_TOOLS, Action
from fnforge.optimizer._conversation import StepConversation
from fnforge.optimizer._prompt import build_prompt, check_template, estimate_tokens

if TYPE_CHECKING:
    from fnforge.optimizer._evaluation import Report
    from fnforge.sandbox import Sandbox, SandboxPolicy

__all__ = ["Action", "AgentOptimizer", "Failure", "History", "StepResult"]

DEFAULT_PROMPT_BUDGET_TOKENS = 60_000
"""Default budget of every optimizer request of a step (estimated tokens).

Leaves room in a 128k-token context for the replies and for a tokenizer denser
than 4 characters per token.
"""

TURN_TOKENS = 1_500
"""Room kept in the budget for one follow-up turn: a reply with one function, and our short answer."""

@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """One entry of the failure record: a trial set that did not score better than the best (lower, or a tie).

    Attributes:
        function_set: the rejected trial set.
        score: its training success rate (0..1).
    """

    function_set: FunctionSet
    score: float


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """What the optimizer knows at a step (the paper's H).

    Attributes:
        best: the best set so far (List A).
        best_score: its training success rate (0..1).
        report: the evaluation of ``best`` on the training tasks (histories, per-task table).
        failures: the failure record since ``best`` became the best (any order;
            the prompt sorts it ascending by score).
        expected: task id -> reference answer, shown as "expected X, got Y" next to each
            failure in the per-task table. The trainer gives the training tasks' answers
            only: validation and test answers never reach the optimizer.

    Example:
        >>> History(best=fs, best_score=report.accuracy, report=report).failures
        ()
    """

    best: FunctionSet
    best_score: float
    report: Report
    failures: tuple[Failure, ...] = ()
    expected: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """The outcome of one :meth:`AgentOptimizer.step`.

    Attributes:
        function_set: the trial set (List B after the accepted actions).
        actions: the accepted actions, in order.
        rejections: one line per rejected proposal, ``"<tool>(<name>): <reason>"``.
        terminated: the model ended the step itself (a reply with no tool call),
            as opposed to running out of action slots.
        rationale: the assistant's text across the step (for the commit body), without
            a closing TERMINATE.
        prompt_tokens_estimate: estimated tokens of the first request (prompt and tool schemas).
        prompt_budget_tokens: the budget of every request of the step.
        conversation_tokens_estimate: estimated tokens of the step's largest request.
        cut: what was cut to fit the budget, and whether the budget ended the step (empty: nothing).
        llm_calls: chat completions made (cache hits included).
        cached_calls: how many of them came from the response cache.
        tokens: prompt + completion tokens the provider reported for those replies.
        cost: their cost in US dollars (as priced by the client's config).
        transcript: the whole conversation, as OpenAI message dicts, for run artifacts.
    """

    function_set: FunctionSet
    actions: tuple[Action, ...]
    rejections: tuple[str, ...]
    terminated: bool
    rationale: str
    prompt_tokens_estimate: int
    prompt_budget_tokens: int
    conversation_tokens_estimate: int
    cut: tuple[str, ...]
    llm_calls: int
    cached_calls: int
    tokens: int
    cost: float
    transcript: tuple[dict[str, Any], ...] = field(repr=False)

    def describe(self) -> str:
        """``"add solve; revise parse"``, or ``"no change"``: a commit-subject phrase."""
        return "; ".join(a.describe() for a in self.actions) or "no change"


class AgentOptimizer:
    """Proposes function-set updates with an LLM (the paper's AgentOptimizer).

    Args:
        client: an open :class:`agents.LLMClient` for the optimizer model.
        sandbox: the sandbox used for the validation checks and smoke calls.
        policy: the sandbox policy actions are checked against (its allow-list is
            also shown to the model); default: ``sandbox.policy``. The smoke call
            itself runs under ``sandbox.policy``.
        max_actions: accepted actions per step at most (the paper's MAX_NUM = 3).
        max_retries: corrected attempts allowed after a rejected proposal, per action.
        prompt_budget_tokens: budget of every request of a step, tool schemas and the
            turns so far included (estimated tokens, see :func:`optimizer._prompt.estimate_tokens`).
        template: the optimizer prompt template (a toolset's ``prompts/optimizer.md``); default: the package's.

    Raises:
        ValueError: a limit is out of range.
        agents.PromptTemplateError: ``template`` lacks a placeholder or has an unknown one.

    Example (async or needs a provider, so shown, not run)::

        optimizer = AgentOptimizer(client, sandbox, policy=policy)
        result = await optimizer.step(history.best, history)
        result.describe()
        # -> 'add evaluate_expression'
    """

    def __init__(
        self,
        client: LLMClient,
        sandbox: Sandbox,
        *,
        policy: SandboxPolicy | None = None,
        max_actions: int = 3,
        max_retries: int = 3,
        prompt_budget_tokens: int = DEFAULT_PROMPT_BUDGET_TOKENS,
        template: str | None = None,
    ) -> None:
        if max_actions < 1:
            raise ValueError(f"max_actions must be >= 1, got {max_actions}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self._tools_tokens = estimate_tokens(json.dumps(ACTION_TOOLS))
        # room for the follow-up turns, at most half the budget (the budget check ends a longer talk)
        self._turns_reserve = min((max_actions + 1) * TURN_TOKENS, prompt_budget_tokens // 2)
        floor = self._tools_tokens + self._turns_reserve
        if prompt_budget_tokens <= floor:
            raise ValueError(f"prompt_budget_tokens must exceed {floor} (tool schemas and room for "
                             f"the step's turns), got {prompt_budget_tokens}")
        self.client = client
        self.sandbox = sandbox
        self.policy = policy if policy is not None else sandbox.policy
        self.max_actions = max_actions
        self.max_retries = max_retries
        self.prompt_budget_tokens = prompt_budget_tokens
        self.template = None if template is None else check_template(template)

    async def step(self, best: FunctionSet, history: History, *, sample: str = "") -> StepResult:
        """Ask the optimizer LLM for up to ``max_actions`` validated actions on ``best``.

        Args:
            best: List A, the set the actions start from (must equal ``history.best``).
            history: the scores, histories and failure record shown in the prompt.
            sample: names this step's conversation for the response cache (e.g.
                ``"<run>/step-3"``): its calls never share a cache entry with another
                name's. Empty: calls are cached by their content alone.

        Returns:
            The trial set and how it came about.

        Raises:
            ValueError: ``best`` differs from ``history.best``.
            agents.LLMError: the optimizer LLM could not be reached or refused the request.
        """
        if best != history.best:
            raise ValueError("step(best, history): best must equal history.best (List A)")
        prompt = build_prompt(
            best=best,
            best_score=history.best_score,
            report=history.report,
            failures=[(f.function_set, f.score) for f in history.failures],
            max_actions=self.max_actions,
            allowed_modules=self.policy.allowed_modules,
            budget_tokens=self.prompt_budget_tokens - self._tools_tokens - self._turns_reserve,
            expected=history.expected,
            template=self.template,
        )
        run = StepConversation(self, best, sample=sample, tools_tokens=self._tools_tokens)
        await run.converse([{"role": "user", "content": prompt.text}])
        return StepResult(
            function_set=run.trial,
            actions=tuple(run.actions),
            rejections=tuple(run.rejections),
            terminated=run.terminated,
            rationale="\n\n".join(run.rationale),
            prompt_tokens_estimate=prompt.tokens_estimate + self._tools_tokens,
            prompt_budget_tokens=self.prompt_budget_tokens,
            conversation_tokens_estimate=run.largest_request,
            cut=prompt.cut + tuple(run.cut),
            llm_calls=run.calls,
            cached_calls=run.cached,
            tokens=run.tokens,
            cost=run.cost,
            transcript=tuple(run.messages),
        )
